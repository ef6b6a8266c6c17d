//! Interoperability with Fedify (npm `@fedify/fedify`, run by
//! `tests/interop/fedify/peer.mjs`) with signed fetches required on both
//! sides: the peer runs with `REQUIRE_SIGNED_FETCH=1` (its actor answers
//! `401` to unsigned GETs, and it signs its own lookups with bob's key), and
//! the archipel server runs in authorized-fetch mode. They follow each
//! other, accept, and deliver a post each way.
//!
//! Needs the peer installed (`bash tests/interop/fedify/setup.sh`, run by
//! `tests/setup.sh`); without it the test skips with a notice, or fails
//! under `ARCHIPEL_REQUIRE_PEERS=1`.

use archipel::vocab::Iri;
use serde_json::{Value, json};

use crate::fed_node::{self, eventually};
use crate::support::fedify_peer::{self, Peer, control, state};

fn has(list: &Value, item: &str) -> bool {
    list.as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(item)))
}

/// Polls the peer's state until `check` holds (at most 20 s).
async fn peer_eventually(peer: &Peer, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let s = state(peer).await;
        if check(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for the peer: {what}; state {s:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_and_archipel_federate_with_signed_fetches_required_on_both_sides() {
    let Some(node) = fedify_peer::node_binary() else {
        crate::support::skip_or_fail(
            "the Fedify peer",
            "tests/interop/fedify/node_modules is absent (run bash tests/interop/fedify/setup.sh)",
        );
        return;
    };
    let peer = fedify_peer::start(&node, &[("REQUIRE_SIGNED_FETCH", "1")]);
    let a = fed_node::start(&["alice"], true).await;
    let alice = a.user("alice");
    let bob = Iri::parse(format!("{}/users/bob", peer.base)).unwrap();

    // The peer really requires signed fetches, and so do we.
    let unsigned = reqwest::Client::new()
        .get(bob.as_str())
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);

    // alice follows bob: our signed GET of his actor, his signed GET of hers.
    a.fed.follow(&alice, &bob).await.unwrap();
    eventually("bob's Accept arrived", || {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(a.fed.graph().following(alice.id()))
        })
        .unwrap()
        .contains(&bob)
    })
    .await;
    let s = state(&peer).await;
    assert!(has(&s["followers"], alice.id().as_str()), "{s:#}");
    // Our copy of bob is the full document: the GET was signed.
    let cached = a.fed.actors().get(&bob).await.unwrap();
    assert_eq!(
        cached.followers().map(Iri::as_str),
        Some(format!("{}/users/bob/followers", peer.base).as_str())
    );

    // bob follows alice; we accept.
    control(&peer, "follow", json!({"target": alice.id().as_str()})).await;
    peer_eventually(&peer, "alice's Accept", |s| {
        has(&s["following"], alice.id().as_str())
    })
    .await;

    // A post each way.
    let (posted, _) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "hello bob",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"],
                   "cc": [alice.followers().as_str()]}),
        )
        .await;
    let note = posted.object().unwrap().id().unwrap().as_str().to_owned();
    peer_eventually(&peer, "alice's note", |s| {
        s["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x["id"] == note.as_str()))
    })
    .await;

    let posted = control(&peer, "post", json!({"content": "hello alice"})).await;
    let bobs = posted["note"].as_str().unwrap().to_owned();
    eventually("bob's note", || a.received_id(&bobs).len() == 1).await;

    let s = state(&peer).await;
    assert_eq!(s["errors"], json!([]), "{s:#}");
    assert!(
        s["inbound"].as_array().unwrap().iter().all(|x| x["status"]
            .as_u64()
            .is_some_and(|c| (200..300).contains(&c))),
        "{s:#}"
    );
    let ours = a.arrivals.lock().unwrap().clone();
    assert!(ours.iter().all(|x| x.status == 202), "{ours:?}");
}
