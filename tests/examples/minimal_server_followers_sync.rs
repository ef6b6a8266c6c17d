//! Two `minimal_server` instances reconcile their follow graphs (FEP-8fcf)
//! with no code of the example's own: A forgets carol as alice's follower
//! without an `Undo`; alice's next post carries the digest of her
//! followers on B, which no longer matches B's, so B fetches alice's
//! partial followers collection and drops carol's follow. bob stays.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::minimal_server as support;

use archipel::vocab::Iri;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_dropped_without_undo_is_reconciled_between_two_servers() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob", "carol"], &[], &[]).await;
    let alice = a.app.actor_iri("alice");
    let handle = format!("acct:alice@127.0.0.1:{}", a.addr.port());
    for user in ["bob", "carol"] {
        let (status, _) = post_outbox(
            &b,
            user,
            json!({"type": "Follow", "object": handle.clone()}),
        )
        .await;
        assert_eq!(status, 201);
    }
    eventually("bob and carol follow alice", || async {
        following(&b, "bob").await == vec![alice.clone()]
            && following(&b, "carol").await == vec![alice.clone()]
    })
    .await;

    // A forgets carol; B is not told.
    let carol = Iri::parse(b.app.actor_iri("carol")).unwrap();
    let alice_iri = Iri::parse(alice.clone()).unwrap();
    assert!(
        a.app
            .store
            .graph
            .remove_follower(&alice_iri, &carol)
            .await
            .unwrap()
    );

    let (status, create) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "to whoever still follows"}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("bob received the post", || async {
        read_inbox(&b, "bob")
            .await
            .iter()
            .any(|act| act["id"] == create.as_str())
    })
    .await;
    eventually("carol's follow of alice is gone on B", || async {
        following(&b, "carol").await.is_empty()
    })
    .await;
    assert_eq!(following(&b, "bob").await, vec![alice.clone()]);
    assert_eq!(followers(&a, "alice").await, vec![b.app.actor_iri("bob")]);
}
