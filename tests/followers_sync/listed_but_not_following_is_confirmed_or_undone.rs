//! The other direction: alice's server A still lists carol and dave as
//! followers on server B, but B lost them. dave's `Follow` is still
//! pending on B (its `Accept` lost): B records him as following. carol's
//! relationship is gone on B: B sends an `Undo` of her `Follow`, and A
//! drops her.

use std::time::{Duration, Instant};

use archipel::federation::SentFollow;
use archipel::vocab::Iri;
use serde_json::json;

use crate::fed_node::{self, eventually};

async fn becomes<T: PartialEq + std::fmt::Debug>(
    what: &str,
    want: T,
    mut read: impl AsyncFnMut() -> T,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = read().await;
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {now:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_follower_the_receiver_lost_is_confirmed_or_undone() {
    let a = fed_node::start(&["alice"], false).await;
    let b = fed_node::start(&["bob", "carol", "dave"], false).await;
    let alice = a.user("alice");
    let (bob, carol, dave) = (b.user("bob"), b.user("carol"), b.user("dave"));
    for who in [&bob, &carol, &dave] {
        b.fed.follow(who, alice.id()).await.unwrap();
    }
    let all: Vec<Iri> = [&bob, &carol, &dave]
        .iter()
        .map(|u| u.id().clone())
        .collect();
    becomes("all three follow alice on B", all.clone(), async || {
        b.fed
            .graph()
            .local_followers_of(alice.id(), 10)
            .await
            .unwrap()
    })
    .await;
    becomes("A lists all three", all, async || {
        a.fed.graph().followers(alice.id()).await.unwrap()
    })
    .await;

    // B loses carol's relationship, and dave's Accept (his Follow pending).
    let graph = b.fed.graph();
    assert!(
        graph
            .remove_following(carol.id(), alice.id())
            .await
            .unwrap()
    );
    assert!(graph.remove_following(dave.id(), alice.id()).await.unwrap());
    let pending = Iri::parse(format!("{}/activities/dave-follow", b.base)).unwrap();
    graph
        .record_sent_follow(SentFollow {
            id: pending.clone(),
            follower: dave.id().clone(),
            followee: alice.id().clone(),
        })
        .await
        .unwrap();

    let (posted, _) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "hello", "to": [alice.followers().as_str()]}),
        )
        .await;
    let note = posted.object().unwrap().id().unwrap().as_str().to_owned();
    eventually("B received the note", || b.received_id(&note).len() == 1).await;

    becomes(
        "dave confirmed, carol not",
        vec![bob.id().clone(), dave.id().clone()],
        async || {
            b.fed
                .graph()
                .local_followers_of(alice.id(), 10)
                .await
                .unwrap()
        },
    )
    .await;
    assert_eq!(b.fed.graph().sent_follow(&pending).await.unwrap(), None);
    becomes(
        "A dropped carol on her Undo",
        vec![bob.id().clone(), dave.id().clone()],
        async || a.fed.graph().followers(alice.id()).await.unwrap(),
    )
    .await;
}
