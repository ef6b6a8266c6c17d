//! Two servers built on `archipel::federation`, both in authorized-fetch
//! mode (documents only to signed requests), follow each other, accept,
//! and deliver posts both ways. Every GET one makes of the other is signed
//! by its instance actor; the key subset an unsigned request still gets is
//! not enough to pass for the full document, which the tests check.

use archipel::vocab::Iri;
use serde_json::json;

use crate::fed_node::{self, eventually};

async fn unsigned_get(url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_require_signed_fetches_and_still_follow_accept_and_deliver_both_ways() {
    let a = fed_node::start(&["alice"], true).await;
    let b = fed_node::start(&["bob"], true).await;
    let alice = a.user("alice");
    let bob = b.user("bob");

    // What an unsigned request gets: the key subset of an actor, the whole
    // instance actor, and 401 for everything else.
    let (status, body) = unsigned_get(alice.id().as_str()).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["publicKey"]["id"], alice.key_id().as_str());
    assert!(
        doc.get("followers").is_none() && doc.get("outbox").is_none(),
        "{doc}"
    );
    assert_eq!(
        unsigned_get(&format!("{}/users/alice/followers", a.base))
            .await
            .0,
        401
    );
    let (status, body) = unsigned_get(&format!("{}/actor", a.base)).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"Application\""), "{body}");

    // bob follows alice; alice (unlocked) accepts.
    b.fed.follow(&bob, alice.id()).await.unwrap();
    eventually("alice has bob as a follower", || {
        futures_block(a.fed.graph().is_follower(alice.id(), bob.id()))
    })
    .await;
    eventually("bob follows alice (her Accept arrived)", || {
        futures_block(b.fed.graph().following(bob.id())).contains(alice.id())
    })
    .await;

    // alice follows bob back.
    a.fed.follow(&alice, bob.id()).await.unwrap();
    eventually("alice follows bob", || {
        futures_block(a.fed.graph().following(alice.id())).contains(bob.id())
    })
    .await;

    // Each server fetched the other's actor in full: signed GETs.
    let seen_by_b = b.fed.actors().get(alice.id()).await.unwrap();
    assert_eq!(seen_by_b.followers(), Some(alice.followers()));
    let seen_by_a = a.fed.actors().get(bob.id()).await.unwrap();
    assert_eq!(seen_by_a.followers(), Some(bob.followers()));

    // Each walks the other's followers collection: paged, signed GETs.
    let mut walker = archipel::federation::collection::CollectionWalker::new(
        b.fed.fetcher().clone(),
        alice.followers().clone(),
    );
    let mut items = Vec::new();
    while let Some(item) = walker.next().await {
        items.push(item.unwrap().id().unwrap().clone());
    }
    assert_eq!(items, vec![bob.id().clone()]);
    let unsigned = archipel::fetch::Fetcher::new(b.fed.client().clone());
    let mut walker = archipel::federation::collection::CollectionWalker::new(
        unsigned,
        alice.followers().clone(),
    );
    assert!(
        matches!(walker.next().await, Some(Err(_))),
        "an unsigned walk of a collection in authorized-fetch mode"
    );

    // Posts flow both ways.
    let (posted, sent) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "from alice",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"],
                   "cc": [alice.followers().as_str()]}),
        )
        .await;
    assert!(sent.fanout.is_some() && sent.jobs.is_empty(), "{sent:?}");
    let note_a = posted.object().unwrap().id().unwrap().as_str().to_owned();
    eventually("bob's server received alice's note", || {
        b.received_id(&note_a).len() == 1
    })
    .await;

    let (posted, _) = b
        .post(
            "bob",
            json!({"type": "Note", "content": "from bob",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"],
                   "cc": [bob.followers().as_str()]}),
        )
        .await;
    let note_b = posted.object().unwrap().id().unwrap().as_str().to_owned();
    eventually("alice's server received bob's note", || {
        a.received_id(&note_b).len() == 1
    })
    .await;

    // Even a public note is only served to a signed request.
    assert_eq!(unsigned_get(&note_a).await.0, 401);
    let fetched = b
        .fed
        .fetcher()
        .fetch_any(&note_a.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(fetched.id().map(Iri::as_str), Some(note_a.as_str()));

    // Every inbox POST either way was accepted.
    for node in [&a, &b] {
        let arrivals = node.arrivals.lock().unwrap().clone();
        assert!(!arrivals.is_empty());
        assert!(arrivals.iter().all(|x| x.status == 202), "{arrivals:?}");
    }
}

/// Runs a graph query to completion from a synchronous check.
fn futures_block<T>(
    f: impl std::future::Future<Output = Result<T, archipel::federation::graph::GraphError>>,
) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f)).unwrap()
}
