//! Issue 12, item 3: `Update`/`Delete` of an actor must name the actor
//! itself, and neither may reach across origins. Each refusal is a typed
//! `403` before the activity id is recorded.

use archipel::inbox::InboxError;
use http::StatusCode;
use serde_json::json;

use crate::inbox_peers::{Peers, iri};

#[tokio::test]
async fn delete_of_an_actor_on_another_origin_is_403_foreign_object() {
    let p = Peers::start().await;
    let delete = json!({
        "id": format!("{}/activities/d1", p.evil.base()), "type": "Delete",
        "actor": p.eve(), "object": p.bob()
    });
    let err = p.inbox.receive(&p.signed_by_eve(delete)).await.unwrap_err();
    match &err {
        InboxError::ForeignObject {
            kind,
            object,
            actor,
        } => assert_eq!(
            (*kind, object.as_str(), actor.as_str()),
            ("Delete", p.bob().as_str(), p.eve().as_str())
        ),
        other => panic!("expected ForeignObject, got {other:?}"),
    }
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(p.seen.len(), 0);
}

#[tokio::test]
async fn update_or_delete_of_a_neighbour_actor_is_403_foreign_actor() {
    let p = Peers::start().await;
    for (n, kind) in ["Update", "Delete"].into_iter().enumerate() {
        let activity = json!({
            "id": format!("{}/activities/a{n}", p.victim.base()), "type": kind,
            "actor": p.mallory(),
            "object": {"id": p.bob(), "type": "Person", "name": "bob (hacked)",
                       "inbox": format!("{}/inbox", p.bob())}
        });
        let err = p
            .inbox
            .receive(&p.signed_by_mallory(activity))
            .await
            .unwrap_err();
        match &err {
            InboxError::ForeignActor {
                kind: k, object, ..
            } => {
                assert_eq!((*k, object.as_str()), (kind, p.bob().as_str()));
            }
            other => panic!("{kind}: expected ForeignActor, got {other:?}"),
        }
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(p.seen.len(), 0);

    // By IRI only, the inbox cannot tell an actor from a note on the same
    // origin; the application's ownership check refuses it (an actor owns
    // itself).
    let by_iri = json!({
        "id": format!("{}/activities/a9", p.victim.base()), "type": "Delete",
        "actor": p.mallory(), "object": p.bob()
    });
    let incoming = p.inbox.receive(&p.signed_by_mallory(by_iri)).await.unwrap();
    assert!(!incoming.may_modify(&iri(&p.bob())));

    // Deleting oneself is accepted.
    let own = json!({
        "id": format!("{}/activities/a10", p.victim.base()), "type": "Delete",
        "actor": p.mallory(), "object": p.mallory()
    });
    let incoming = p.inbox.receive(&p.signed_by_mallory(own)).await.unwrap();
    assert!(incoming.may_modify(&iri(&p.mallory())));
    assert_eq!(p.seen.len(), 2);
}
