//! Account migration between three `minimal_server` instances: a user
//! moves from instance 1 to instance 2 (an outbox `Move`, after
//! `--also-known-as` named the old account on the new one) and back, and
//! a follower on instance 3 follows along both times.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::app::{self, Config, Running};
use crate::minimal_server as support;

use archipel::vocab::Iri;
use serde_json::{Value, json};
use support::*;

/// Starts a server on a listener bound beforehand, with these aliases.
async fn start_on(
    listener: tokio::net::TcpListener,
    users: &[&str],
    also_known_as: Vec<(String, Iri)>,
) -> Running {
    let addr = listener.local_addr().unwrap();
    let config = Config {
        bind: addr,
        base_url: Some(url::Url::parse(&format!("http://127.0.0.1:{}", addr.port())).unwrap()),
        users: users.iter().map(|s| s.to_string()).collect(),
        token: Some(format!("token-{}", addr.port())),
        allow_private_addresses: true,
        also_known_as,
        ..Config::default()
    };
    app::start_on(listener, config).await.unwrap()
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, base)
}

async fn actor_document(iri: &str) -> Value {
    let response = http()
        .get(iri)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_moves_to_another_instance_and_back_and_a_follower_follows_along() {
    // Instances 1 and 2 name each other's user as an earlier account.
    let ((l1, base1), (l2, base2)) = (listener().await, listener().await);
    let (alice, bob) = (format!("{base1}/users/alice"), format!("{base2}/users/bob"));
    let one = start_on(
        l1,
        &["alice"],
        vec![("alice".into(), Iri::parse(&bob).unwrap())],
    )
    .await;
    let two = start_on(
        l2,
        &["bob"],
        vec![("bob".into(), Iri::parse(&alice).unwrap())],
    )
    .await;
    let three = start("127.0.0.1", &["carol"], &[], &[]).await;
    let carol = three.app.actor_iri("carol");
    assert_eq!(actor_document(&bob).await["alsoKnownAs"], json!([alice]));

    let (status, _) =
        post_outbox(&three, "carol", json!({"type": "Follow", "object": alice})).await;
    assert_eq!(status, 201);
    eventually("carol follows alice", || async {
        following(&three, "carol").await == vec![alice.clone()]
    })
    .await;

    // alice moves to bob (named by handle).
    let handle = format!("bob@127.0.0.1:{}", two.addr.port());
    let (status, body) =
        post_outbox(&one, "alice", json!({"type": "Move", "target": handle})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(actor_document(&alice).await["movedTo"], bob.as_str());
    eventually("carol follows bob instead of alice", || async {
        following(&three, "carol").await == vec![bob.clone()]
    })
    .await;
    eventually("bob has carol as a follower, alice has none", || async {
        followers(&two, "bob").await == vec![carol.clone()]
            && followers(&one, "alice").await.is_empty()
    })
    .await;

    // And back: bob moves to alice (named by IRI).
    let (status, body) = post_outbox(&two, "bob", json!({"type": "Move", "target": alice})).await;
    assert_eq!(status, 201, "{body}");
    eventually("carol follows alice again, not bob", || async {
        following(&three, "carol").await == vec![alice.clone()]
    })
    .await;
    eventually(
        "alice has carol as a follower again, bob has none",
        || async {
            followers(&one, "alice").await == vec![carol.clone()]
                && followers(&two, "bob").await.is_empty()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_to_an_account_that_does_not_name_the_user_is_refused() {
    let one = start("127.0.0.1", &["alice"], &[], &[]).await;
    let two = start("127.0.0.1", &["bob"], &[], &[]).await;
    let bob = two.app.actor_iri("bob");
    let (status, body) = post_outbox(&one, "alice", json!({"type": "Move", "target": bob})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("alsoKnownAs does not name the origin"),
        "{body}"
    );
    let alice = one.app.actor_iri("alice");
    assert!(actor_document(&alice).await.get("movedTo").is_none());
    // Nor may a user move someone else.
    let (status, _) = post_outbox(
        &one,
        "alice",
        json!({"type": "Move", "object": bob, "target": alice}),
    )
    .await;
    assert_eq!(status, 403);
}
