//! Three servers: A's account moves to B, and its follower on C follows
//! along; forged `Move`s sent to C are refused with their reason.

use archipel::federation::migration::MigrationError;
use archipel::vocab::Iri;
use serde_json::json;

use crate::node::{self, drained, eventually, post_signed};

fn sorted(mut v: Vec<Iri>) -> Vec<Iri> {
    v.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    v
}

/// `follower` (on `c`) follows each of `followed` (on `a`), accepted.
async fn follow_all(c: &node::Node, follower: &str, a: &node::Node, followed: &[&str]) {
    let me = c.user(follower);
    for name in followed {
        c.fed.follow(&me, a.user(name).id()).await.unwrap();
    }
    let want: Vec<Iri> = sorted(followed.iter().map(|n| a.user(n).id().clone()).collect());
    eventually("the follows are accepted", || async {
        sorted(c.following(follower).await) == want
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_on_a_third_server_follow_the_moved_account() {
    let a = node::start(&["alice"]).await;
    let b = node::start(&["bob"]).await;
    let c = node::start(&["carol"]).await;
    let (alice, carol) = (a.user("alice"), c.user("carol"));
    follow_all(&c, "carol", &a, &["alice"]).await;
    assert_eq!(a.followers("alice").await, vec![carol.id().clone()]);

    // bob names alice as an earlier account of his; alice moves to bob.
    let bob = b.user("bob").with_also_known_as(vec![alice.id().clone()]);
    b.fed.register(bob.clone());
    let moved = a.fed.move_account(&alice, bob.id()).await.unwrap();
    assert_eq!(moved.actor.moved_to(), Some(bob.id()));
    assert_eq!(a.user("alice").document().moved_to.as_ref(), Some(bob.id()));

    // C checked both accounts, then carol followed bob (his Accept came
    // back) and stopped following alice (her server got the Undo).
    eventually("carol follows bob, not alice", || async {
        c.following("carol").await == vec![bob.id().clone()]
    })
    .await;
    eventually("bob has carol as a follower", || async {
        b.followers("bob").await == vec![carol.id().clone()]
    })
    .await;
    eventually("alice has no follower left", || async {
        a.followers("alice").await.is_empty()
    })
    .await;
    assert_eq!(c.moves(), vec![Ok(vec![carol.id().clone()])]);
    assert!(
        c.fed
            .graph()
            .sent_follow_between(carol.id(), bob.id())
            .await
            .unwrap()
            .is_none(),
        "the Follow of bob is still pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_moves_are_refused_with_their_reason_and_move_nobody() {
    let a = node::start(&["alice", "dave", "frank", "mallory"]).await;
    let b = node::start(&["erin", "gina"]).await;
    let c = node::start(&["carol"]).await;
    let carol = c.user("carol");
    follow_all(&c, "carol", &a, &["alice", "dave", "frank"]).await;
    let (dave, frank, erin) = (a.user("dave"), a.user("frank"), b.user("erin"));
    let gina = b.user("gina").with_also_known_as(vec![frank.id().clone()]);
    b.fed.register(gina.clone());
    let move_of = |actor: &Iri, object: &Iri, target: &Iri, n: u32| {
        json!({"@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}#moves/{n}"), "type": "Move",
            "actor": actor, "object": object, "target": target, "to": [carol.id()]})
    };

    // dave says he moved to erin, who never named him: refused.
    let dave = dave.with_moved_to(Some(erin.id().clone()));
    a.fed.register(dave.clone());
    let status = post_signed(
        &dave,
        carol.inbox(),
        move_of(dave.id(), dave.id(), erin.id(), 1),
    )
    .await;
    assert_eq!(status, 403);
    // The sending side refuses the same move before sending anything.
    let err = a.fed.move_account(&dave, erin.id()).await.unwrap_err();
    assert!(matches!(err, MigrationError::NotAnAlias { .. }), "{err}");

    // gina names frank, but frank never said he moved: refused.
    let status = post_signed(
        &frank,
        carol.inbox(),
        move_of(frank.id(), frank.id(), gina.id(), 1),
    )
    .await;
    assert_eq!(status, 403);

    // mallory moves alice's account: refused by the dispatcher's rule,
    // before the Move handler runs.
    let mallory = a.user("mallory");
    let alice = a.user("alice");
    let status = post_signed(
        &mallory,
        carol.inbox(),
        move_of(mallory.id(), alice.id(), gina.id(), 1),
    )
    .await;
    assert_eq!(status, 403);

    let moves = c.moves();
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert!(
        matches!(&moves[0], Err(e) if e.starts_with("NotAnAlias {")),
        "{moves:?}"
    );
    assert!(
        matches!(&moves[1], Err(e) if e.starts_with("NotMovedTo {") && e.contains("found: None")),
        "{moves:?}"
    );
    // Nobody moved: carol follows the same three, asked nobody else.
    drained(&c).await;
    let want = sorted(vec![
        alice.id().clone(),
        dave.id().clone(),
        frank.id().clone(),
    ]);
    assert_eq!(sorted(c.following("carol").await), want);
    for target in [erin.id(), gina.id()] {
        let pending = c.fed.graph().sent_follow_between(carol.id(), target).await;
        assert_eq!(pending.unwrap(), None);
    }
    assert!(b.followers("erin").await.is_empty());
    assert!(b.followers("gina").await.is_empty());
}
