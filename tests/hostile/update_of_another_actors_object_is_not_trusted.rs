//! Issue 12, item 3: on a multi-user origin, mallory signs an `Update` of
//! bob's note. Same origin, so the inbox cannot refuse it outright; the
//! embedded copy is not trusted, and `may_modify` tells the application that
//! mallory does not own what it stored as bob's.

use archipel::inbox::EmbeddedObject;
use serde_json::json;

use crate::inbox_peers::{Peers, iri};

#[tokio::test]
async fn update_of_a_neighbours_note_is_not_trusted_nor_permitted() {
    let p = Peers::start().await;
    let defaced = json!({
        "id": format!("{}/activities/u1", p.victim.base()), "type": "Update",
        "actor": p.mallory(),
        "object": {"id": p.bobs_note(), "type": "Note", "attributedTo": p.bob(),
                   "content": "defaced"}
    });
    let incoming = p
        .inbox
        .receive(&p.signed_by_mallory(defaced))
        .await
        .unwrap();
    match incoming.object() {
        EmbeddedObject::FetchFromOrigin(i) => assert_eq!(i.as_str(), p.bobs_note()),
        other => panic!("bob's note as updated by mallory handed over as {other:?}"),
    }
    // The application stored the note as bob's: mallory may not change it.
    assert!(!incoming.may_modify(&iri(&p.bob())));
    assert!(incoming.may_modify(&iri(&p.mallory())));

    // Mallory lies about the author instead: the copy is "hers" as far as
    // the signature goes, but the stored owner still refuses the change.
    let relabelled = json!({
        "id": format!("{}/activities/u2", p.victim.base()), "type": "Update",
        "actor": p.mallory(),
        "object": {"id": p.bobs_note(), "type": "Note", "attributedTo": p.mallory(),
                   "content": "defaced"}
    });
    let incoming = p
        .inbox
        .receive(&p.signed_by_mallory(relabelled))
        .await
        .unwrap();
    assert!(!incoming.may_modify(&iri(&p.bob())));
}
