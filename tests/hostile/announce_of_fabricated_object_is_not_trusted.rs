//! Issue 12, item 3: eve announces a note she fabricated in bob's name. The
//! announcer is not the author, so only the IRI reaches the application,
//! and the origin serves bob's real note.

use archipel::inbox::EmbeddedObject;
use serde_json::json;

use crate::inbox_peers::{Peers, REAL_WORDS};

#[tokio::test]
async fn announced_fabrication_is_only_an_iri() {
    let p = Peers::start().await;
    let announce = json!({
        "id": format!("{}/activities/b1", p.evil.base()), "type": "Announce",
        "actor": p.eve(),
        "object": {"id": p.bobs_note(), "type": "Note", "attributedTo": p.bob(),
                   "content": "a fabricated quote"}
    });
    let incoming = p.inbox.receive(&p.signed_by_eve(announce)).await.unwrap();
    let iri = match incoming.object() {
        EmbeddedObject::FetchFromOrigin(iri) => iri.clone(),
        other => panic!("fabricated announce handed over as {other:?}"),
    };
    let real = p.fetcher.fetch_any(&iri.to_url().unwrap()).await.unwrap();
    assert_eq!(
        real.as_object().and_then(|o| o.content.as_deref()),
        Some(REAL_WORDS)
    );

    // Announcing a copy "by bob" minted on eve's own origin: still untrusted.
    let minted = json!({
        "id": format!("{}/activities/b2", p.evil.base()), "type": "Announce",
        "actor": p.eve(),
        "object": {"id": format!("{}/notes/b2", p.evil.base()), "type": "Note",
                   "attributedTo": p.bob(), "content": "a fabricated quote"}
    });
    let incoming = p.inbox.receive(&p.signed_by_eve(minted)).await.unwrap();
    assert_eq!(incoming.object().trusted(), None);
}
