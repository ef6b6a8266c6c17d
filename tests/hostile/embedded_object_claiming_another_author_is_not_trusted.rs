//! Issue 12, item 3: eve (evil origin) signs a `Create` whose embedded note
//! claims `attributedTo` = bob (victim origin). The signature is valid, so
//! the inbox accepts the activity, but the application never gets the note
//! as verified: only its IRI, and fetching that from its origin yields what
//! bob really wrote.

use archipel::inbox::EmbeddedObject;
use archipel::vocab::AnyObject;
use serde_json::json;

use crate::inbox_peers::{Peers, REAL_WORDS};

fn content(o: &AnyObject) -> Option<&str> {
    o.as_object()?.content.as_deref()
}

#[tokio::test]
async fn note_claiming_a_victims_authorship_is_only_an_iri() {
    let p = Peers::start().await;
    // The forgery reuses the IRI of bob's real note.
    let forged = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activities/1", p.evil.base()), "type": "Create", "actor": p.eve(),
        "object": {"id": p.bobs_note(), "type": "Note", "attributedTo": p.bob(),
                   "content": "words bob never wrote"}
    });
    let incoming = p.inbox.receive(&p.signed_by_eve(forged)).await.unwrap();
    assert_eq!(incoming.actor, p.eve());
    let iri = match incoming.object() {
        EmbeddedObject::FetchFromOrigin(iri) => iri.clone(),
        other => panic!("forged note handed over as {other:?}"),
    };
    assert_eq!(iri.as_str(), p.bobs_note());
    assert!(incoming.objects().all(|o| o.trusted().is_none()));
    // Following the IRI to its origin gives bob's real note, not the forgery.
    let real = p.fetcher.fetch_any(&iri.to_url().unwrap()).await.unwrap();
    assert_eq!(content(&real), Some(REAL_WORDS));

    // A fresh IRI on eve's own origin, still claiming bob: not trusted either.
    let own_origin = json!({
        "id": format!("{}/activities/2", p.evil.base()), "type": "Create", "actor": p.eve(),
        "object": {"id": format!("{}/notes/2", p.evil.base()), "type": "Note",
                   "attributedTo": p.bob(), "content": "words bob never wrote"}
    });
    let incoming = p.inbox.receive(&p.signed_by_eve(own_origin)).await.unwrap();
    assert_eq!(
        incoming.object().iri().map(|i| i.as_str().to_owned()),
        Some(format!("{}/notes/2", p.evil.base()))
    );
    assert_eq!(incoming.object().trusted(), None);
}

#[tokio::test]
async fn note_by_its_own_author_on_its_origin_is_trusted() {
    let p = Peers::start().await;
    let honest = json!({
        "id": format!("{}/activities/3", p.evil.base()), "type": "Create", "actor": p.eve(),
        "object": {"id": format!("{}/notes/3", p.evil.base()), "type": "Note",
                   "attributedTo": p.eve(), "content": "eve's own words"}
    });
    let incoming = p.inbox.receive(&p.signed_by_eve(honest)).await.unwrap();
    match incoming.object() {
        EmbeddedObject::Trusted(note) => assert_eq!(content(note), Some("eve's own words")),
        other => panic!("honest note not trusted: {other:?}"),
    }
}
