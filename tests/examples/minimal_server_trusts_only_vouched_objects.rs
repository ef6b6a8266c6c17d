//! The `minimal_server` example follows the inbox's verdict on embedded
//! objects: on a multi-user origin, bob cannot make alice's server store a
//! note in carol's name, nor update or delete carol's note; carol can.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::app;
use crate::minimal_server as support;

use archipel::signatures::Signer;
use serde_json::{Value, json};
use support::*;

/// POSTs `activity` to `inbox` signed by `signer`; returns the status.
async fn deliver(inbox: &str, activity: Value, signer: &Signer) -> u16 {
    let body = activity.to_string();
    let mut request = http::Request::post(inbox)
        .header("content-type", "application/activity+json")
        .body(bytes::Bytes::from(body.clone()))
        .unwrap();
    signer.sign(&mut request).unwrap();
    let mut post = http().post(inbox).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    post.send().await.unwrap().status().as_u16()
}

/// The stored content of note `id` on `server`, if it is stored.
async fn content(server: &app::Running, id: &str) -> Option<Value> {
    // The refusals below happen after the inbox answered 202 (the inbound
    // queue gives them up): wait for the handling before reading.
    support::inbound_settled(server).await;
    support::note_content(server, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neighbour_cannot_forge_update_or_delete_anothers_note() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob", "carol"], &[], &[]).await;
    let inbox = format!("{}/inbox", a.app.base());
    let (bob, carol) = (b.app.actor_iri("bob"), b.app.actor_iri("carol"));
    let bob_signer = signer(&b, "bob");
    let carol_signer = signer(&b, "carol");
    let note = format!("{}/objects/carol-1", b.app.base());
    let activity = |actor: &str, n: u32, kind: &str, object: Value| {
        json!({"@context": "https://www.w3.org/ns/activitystreams",
               "id": format!("{actor}/activities/{n}"), "type": kind, "actor": actor,
               "object": object})
    };

    // carol's own note, embedded by carol: stored as sent.
    let real = json!({"id": note, "type": "Note", "attributedTo": carol, "content": "carol's"});
    assert_eq!(
        deliver(&inbox, activity(&carol, 1, "Create", real), &carol_signer).await,
        202
    );
    assert_eq!(content(&a, &note).await, Some(json!("carol's")));

    // bob embeds a note claiming carol as author, at an IRI b does not
    // serve: refused (the library's dispatcher), and not stored.
    let forged_id = format!("{}/objects/carol-2", b.app.base());
    let forged = json!({"id": forged_id, "type": "Note", "attributedTo": carol,
                        "content": "forged"});
    assert_eq!(
        deliver(&inbox, activity(&bob, 2, "Create", forged), &bob_signer).await,
        202
    );
    assert_eq!(content(&a, &forged_id).await, None);

    // bob updates carol's note, claiming her as author or himself: refused
    // (the stored owner decides), unchanged.
    for (n, author) in [(3, &carol), (4, &bob)] {
        let defaced = json!({"id": note, "type": "Note", "attributedTo": author,
                             "content": "defaced"});
        assert_eq!(
            deliver(&inbox, activity(&bob, n, "Update", defaced), &bob_signer).await,
            202
        );
        assert_eq!(content(&a, &note).await, Some(json!("carol's")));
    }

    // bob deletes carol's note: refused, still there. carol deletes it: gone.
    assert_eq!(
        deliver(
            &inbox,
            activity(&bob, 5, "Delete", json!(note)),
            &bob_signer
        )
        .await,
        202
    );
    assert_eq!(content(&a, &note).await, Some(json!("carol's")));
    assert_eq!(
        deliver(
            &inbox,
            activity(&carol, 6, "Delete", json!(note)),
            &carol_signer
        )
        .await,
        202
    );
    assert_eq!(content(&a, &note).await, None);
}
