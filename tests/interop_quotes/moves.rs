//! Account migration (`Move`) between archipel and Fedify 2, both ways.
//!
//! Fedify to archipel: alice (archipel) follows bob (Fedify); bob moves to
//! carol (Fedify). Before carol lists bob in `alsoKnownAs` the `Move` is
//! refused (`403`, alice still follows bob: Fedify's second knock in the
//! other signature dialect is answered `202` as a duplicate, and runs no
//! handler); once she does, archipel's
//! `Migration` checks both documents and alice follows carol, no longer
//! bob. Fedify's `successor`/`aliases` are read as `movedTo`/`alsoKnownAs`.
//!
//! archipel to Fedify: bob (Fedify) follows alice on server A; alice moves
//! to alice on server B (which lists her in `alsoKnownAs`) with
//! `Federation::move_account`; the peer, checking both documents as
//! Mastodon does, unfollows A's alice and follows B's.

use archipel::federation::migration::Migration;
use archipel::vocab::Iri;
use serde_json::json;

use crate::node::{self, eventually};
use crate::peer::{self, Peer, has};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fedify_move_is_followed_by_archipel_and_a_forged_one_refused() {
    let Some(nodejs) = peer::installed() else {
        return;
    };
    let peer = Peer::start(&nodejs);
    let a = node::start_with(&["alice"], |fed, _objects, dispatcher| {
        dispatcher.with_migration(&Migration::new(fed))
    })
    .await;
    let alice = a.user("alice");
    let bob = Iri::parse(peer.actor("bob")).unwrap();
    let carol = Iri::parse(peer.actor("carol")).unwrap();

    a.fed.follow(&alice, &bob).await.unwrap();
    eventually("bob accepted alice", || async {
        a.following("alice").await == vec![bob.to_string()]
    })
    .await;

    // bob says he moved to carol, who does not name him: refused with 403.
    peer.control("move", json!({"target": carol.as_str()}))
        .await;
    eventually("archipel answered the forged Move", || async {
        !a.answered("Move").is_empty()
    })
    .await;
    // Fedify knocks again in the other signature dialect after a 4xx; the
    // inbox has seen that id and answers the second knock 202 as a
    // duplicate, but no handler runs and nobody follows along.
    assert_eq!(
        a.answered("Move")[0],
        403,
        "{:?}",
        a.arrivals.lock().unwrap()
    );
    assert_eq!(a.following("alice").await, vec![bob.to_string()]);

    // carol names bob; bob moves again: alice follows carol, not bob.
    peer.control("aliases", json!({"as": "carol", "aliases": [bob.as_str()]}))
        .await;
    peer.control("move", json!({"target": carol.as_str()}))
        .await;
    eventually("alice follows carol instead of bob", || async {
        a.following("alice").await == vec![carol.to_string()]
    })
    .await;
    let s = peer
        .until("carol lists alice, bob no longer", |s| {
            has(&s["actors"]["carol"]["followers"], alice.id().as_str())
                && !has(&s["actors"]["bob"]["followers"], alice.id().as_str())
        })
        .await;
    assert_eq!(a.answered("Move").last(), Some(&202));
    // Both Moves passed the dispatcher's rule (each moves its sender).
    assert_eq!(a.activities_of("Move").len(), 2, "{s:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archipel_move_is_followed_by_fedify() {
    let Some(nodejs) = peer::installed() else {
        return;
    };
    let peer = Peer::start(&nodejs);
    let a = node::start(&["alice"]).await;
    let b = node::start(&["alice"]).await;
    let old = a.user("alice");
    let new = b.user("alice");
    let bob = peer.actor("bob");

    // B's alice names A's alice.
    b.fed
        .register(new.clone().with_also_known_as(vec![old.id().clone()]));

    peer.control("follow", json!({"target": old.id().as_str()}))
        .await;
    peer.until("A's alice accepted bob", |s| {
        has(&s["actors"]["bob"]["following"], old.id().as_str())
    })
    .await;

    let moved = a.fed.move_account(&old, new.id()).await.unwrap();
    assert_eq!(moved.actor.moved_to(), Some(new.id()));
    let s = peer
        .until("bob follows B's alice instead of A's", |s| {
            has(&s["actors"]["bob"]["following"], new.id().as_str())
                && !has(&s["actors"]["bob"]["following"], old.id().as_str())
        })
        .await;
    assert_eq!(
        s["moves"],
        json!([{
            "origin": old.id().as_str(),
            "target": new.id().as_str(),
            "accepted": true,
            "reason": null,
            "movedFollowers": ["bob"],
        }]),
        "{s:#}"
    );
    let bob = Iri::parse(bob).unwrap();
    eventually("B's alice has bob as follower, A's no longer", || async {
        let followers = |n: &node::Node| {
            let graph = n.fed.graph().clone();
            let me = n.user("alice");
            async move { graph.followers(me.id()).await.unwrap() }
        };
        followers(&b).await == vec![bob.clone()] && followers(&a).await.is_empty()
    })
    .await;
    assert_eq!(s["errors"], json!([]), "{s:#}");
}
