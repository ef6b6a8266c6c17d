//! Two (or three) instances of the `minimal_server` example on loopback
//! ports federate for real: WebFinger lookup, Follow → Accept, locked
//! accounts, Undo, posting through the outbox, verified delivery, and domain
//! blocks in both directions.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::minimal_server as support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_by_webfinger_accept_then_post_is_delivered_and_verified() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob"], &[], &[]).await;
    let alice = a.app.actor_iri("alice");
    let bob = b.app.actor_iri("bob");

    // A's alice follows B's bob by handle: WebFinger on B, then Follow.
    let handle = format!("acct:bob@127.0.0.1:{}", b.addr.port());
    let (status, _) = post_outbox(&a, "alice", json!({"type": "Follow", "object": handle})).await;
    assert_eq!(status, 201);
    eventually("bob has alice as follower", || async {
        followers(&b, "bob").await == vec![alice.clone()]
    })
    .await;
    eventually("alice's follow of bob is accepted", || async {
        following(&a, "alice").await == vec![bob.clone()]
    })
    .await;

    // B's bob posts a note through the C2S outbox; it reaches A's alice.
    let (status, create_id) = post_outbox(
        &b,
        "bob",
        json!({"type": "Note", "content": "Hello from bob"}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("alice's inbox has bob's Create", || async {
        read_inbox(&a, "alice")
            .await
            .iter()
            .any(|act| act["id"] == create_id.as_str())
    })
    .await;
    let inbox = read_inbox(&a, "alice").await;
    let create = inbox
        .iter()
        .find(|x| x["id"] == create_id.as_str())
        .unwrap();
    assert_eq!(create["type"], "Create");
    assert_eq!(create["actor"], bob.as_str());
    assert_eq!(create["object"]["content"], "Hello from bob");
    // The note is stored, and the Create was accepted with a verified signature by bob's key.
    let note_id = create["object"]["id"].as_str().unwrap();
    assert_eq!(note_content(&a, note_id), Some(json!("Hello from bob")));
    let verification = a.app.store.verification(create_id.as_str()).unwrap();
    assert!(
        verification.ends_with(&format!("{bob}#main-key")),
        "verification record: {verification}"
    );
    let note_id = note_id.to_owned();

    // alice likes and announces the note: B counts both.
    for kind in ["Like", "Announce"] {
        let (status, _) = post_outbox(&a, "alice", json!({"type": kind, "object": note_id})).await;
        assert_eq!(status, 201);
    }
    eventually("bob's note has alice's like and announce", || async {
        reactions_of(&b, "Like", &note_id) == vec![alice.clone()]
            && reactions_of(&b, "Announce", &note_id) == vec![alice.clone()]
    })
    .await;

    // bob edits the note, then deletes it: A follows both.
    let (status, _) = post_outbox(
        &b,
        "bob",
        json!({"type": "Update", "object": {"id": note_id, "content": "Hello again"}}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("alice's copy is updated", || async {
        note_content(&a, &note_id) == Some(json!("Hello again"))
    })
    .await;
    // b serves the edited note (public), then, once deleted, no longer.
    let served = http()
        .get(&note_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(served.status().as_u16(), 200);
    let served: serde_json::Value = serde_json::from_str(&served.text().await.unwrap()).unwrap();
    assert_eq!(served["content"], "Hello again");
    assert_eq!(served["attributedTo"], bob.as_str());
    let (status, _) = post_outbox(&b, "bob", json!({"type": "Delete", "object": note_id})).await;
    assert_eq!(status, 201);
    let gone = http().get(&note_id).send().await.unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    eventually("alice's copy is deleted", || async {
        note_content(&a, &note_id).is_none()
    })
    .await;
    // Someone else's note cannot be deleted through bob's outbox.
    let (status, _) = post_outbox(&b, "bob", json!({"type": "Delete", "object": alice})).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_account_keeps_follow_pending_until_approved_and_undo_removes_follower() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob"], &["bob"], &[]).await;
    let alice = a.app.actor_iri("alice");
    let bob = b.app.actor_iri("bob");

    let handle = format!("bob@127.0.0.1:{}", b.addr.port());
    let (status, follow_id) =
        post_outbox(&a, "alice", json!({"type": "Follow", "object": handle})).await;
    assert_eq!(status, 201);
    eventually("bob has a pending request", || async {
        pending_follows(&b, &bob.parse().unwrap()).len() == 1
    })
    .await;
    // Still pending: no follower, no Accept. Once alice's Follow got its
    // 202 it is stored, and once bob's inbound queue is settled his inbox
    // handler has run to the end (it enqueues what it sends before it
    // returns), so "nothing queued or sent" is final.
    eventually("alice's Follow was delivered", || async {
        report(&a).await.delivered == 1
    })
    .await;
    inbound_settled(&b).await;
    assert_eq!(backlog(&b).await, 0, "bob queued an Accept");
    let report = report(&b).await;
    assert!(report.jobs.is_empty(), "bob sent something: {report:?}");
    assert!(followers(&b, "bob").await.is_empty());
    assert!(following(&a, "alice").await.is_empty());

    // The pending list is readable with the token; bob approves through his outbox.
    let pending: serde_json::Value = serde_json::from_str(
        &http()
            .get(format!("{bob}/followers/pending?page=true"))
            .bearer_auth(&b.app.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(pending["orderedItems"][0]["id"], follow_id.as_str());
    let (status, _) = post_outbox(&b, "bob", json!({"type": "Accept", "object": alice})).await;
    assert_eq!(status, 201);
    eventually("alice follows bob after approval", || async {
        following(&a, "alice").await == vec![bob.clone()]
    })
    .await;
    assert_eq!(followers(&b, "bob").await, vec![alice.clone()]);

    // Undo Follow (by handle) removes alice from bob's followers.
    let (status, _) = post_outbox(
        &a,
        "alice",
        json!({"type": "Undo", "object": format!("acct:{handle}")}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("alice is no longer bob's follower", || async {
        followers(&b, "bob").await.is_empty()
    })
    .await;
    assert!(following(&a, "alice").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_domain_is_refused_with_403_and_gets_no_deliveries() {
    // A blocks "localhost"; C is public as http://localhost:PORT.
    let a = start("127.0.0.1", &["alice"], &[], &["localhost"]).await;
    let c = start("localhost", &["carol"], &[], &[]).await;
    let alice = a.app.actor_iri("alice");
    let carol = c.app.actor_iri("carol");

    // A signed Follow from carol is refused with 403 before any key fetch.
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{carol}#follow-1"), "type": "Follow", "actor": carol, "object": alice
    });
    let body = bytes::Bytes::from(follow.to_string());
    let mut request = http::Request::post(format!("{alice}/inbox"))
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .unwrap();
    signer(&c, "carol").sign(&mut request).unwrap();
    let mut post = http().post(format!("{alice}/inbox")).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    let response = post.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert!(followers(&a, "alice").await.is_empty());

    // Even if carol were a follower (e.g. from before the block), nothing is delivered to her.
    a.app
        .store
        .graph
        .add_follower(&alice.parse().unwrap(), &carol.parse().unwrap())
        .await
        .unwrap();
    let (status, _) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "not for carol"}),
    )
    .await;
    assert_eq!(status, 201);
    // The outbox answers once the fan-out job is queued; its expansion
    // plans carol's inbox out (blocked domain), so the queues empty
    // without a delivery, and nothing was ever sent.
    eventually(
        "the fan-out is expanded and nothing is left queued",
        || async { backlog(&a).await == 0 },
    )
    .await;
    let report = report(&a).await;
    assert!(report.jobs.is_empty(), "{report:?}");
    assert!(read_inbox(&c, "carol").await.is_empty());
}
