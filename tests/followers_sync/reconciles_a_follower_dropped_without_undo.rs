//! alice (server A) loses carol (server B) as a follower without an
//! `Undo` reaching B. Her next post to followers carries the digest of
//! her followers on B (bob only); B's digest (bob and carol) differs, so B
//! fetches the partial collection and unfollows carol; bob stays.

use std::time::{Duration, Instant};

use archipel::federation::Graph;
use archipel::federation::followers_sync::{FollowersDigest, HEADER_NAME, SyncCheck, SyncOutcome};
use archipel::vocab::Iri;
use serde_json::json;

use crate::fed_node::{self, eventually};

/// Waits (at most 20 s) until the local followers of `remote` on `graph`
/// are exactly `want`.
async fn local_followers_become(graph: &dyn Graph, remote: &Iri, want: &[&Iri], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let want: Vec<Iri> = want.iter().map(|i| (*i).clone()).collect();
    loop {
        let now = graph.local_followers_of(remote, 10).await.unwrap();
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {now:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_removed_on_one_side_without_undo_is_reconciled() {
    let a = fed_node::start(&["alice"], true).await;
    let b = fed_node::start(&["bob", "carol"], true).await;
    let (alice, bob, carol) = (a.user("alice"), b.user("bob"), b.user("carol"));

    b.fed.follow(&bob, alice.id()).await.unwrap();
    b.fed.follow(&carol, alice.id()).await.unwrap();
    local_followers_become(
        b.fed.graph().as_ref(),
        alice.id(),
        &[bob.id(), carol.id()],
        "bob and carol follow alice",
    )
    .await;

    // A forgets carol; no Undo goes anywhere.
    assert!(
        a.fed
            .graph()
            .remove_follower(alice.id(), carol.id())
            .await
            .unwrap()
    );
    let inbox = url::Url::parse(&format!("{}/inbox", b.base)).unwrap();
    let header = a
        .fed
        .followers_sync_header(alice.id(), &inbox)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header.digest, FollowersDigest::of([bob.id()]));
    assert_eq!(&header.collection_id, alice.followers());

    let (posted, _) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "to my followers", "to": [alice.followers().as_str()]}),
        )
        .await;
    let note = posted.object().unwrap().id().unwrap().as_str().to_owned();
    eventually("B received the note", || b.received_id(&note).len() == 1).await;

    local_followers_become(
        b.fed.graph().as_ref(),
        alice.id(),
        &[bob.id()],
        "carol no longer follows alice on B",
    )
    .await;
    // B told A, as Mastodon does: an Undo of carol's Follow.
    eventually("A received carol's Undo", || {
        a.arrivals_with("\"Undo\"")
            .iter()
            .any(|r| r.body.contains(carol.id().as_str()) && r.status == 202)
    })
    .await;
    assert!(b.fed.graph().following(bob.id()).await.unwrap() == vec![alice.id().clone()]);
    assert!(
        b.fed
            .graph()
            .following(carol.id())
            .await
            .unwrap()
            .is_empty()
    );

    // In sync now: the same digest costs B nothing on the next delivery.
    assert_eq!(
        b.fed.synchronize_followers(alice.id(), &header).await,
        Ok(SyncOutcome::InSync)
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        HEADER_NAME,
        http::HeaderValue::from_str(&header.to_header_value()).unwrap(),
    );
    assert_eq!(
        b.fed.check_followers_sync(alice.id(), &headers),
        Ok(SyncCheck::InSync)
    );
}
