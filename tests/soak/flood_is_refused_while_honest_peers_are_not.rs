//! One hostile origin floods alice's server while bob's server and alice's
//! follow each other and post. alice's server answers from its inbound
//! queue, bob's after running the handler. Admission runs with its defaults, so the
//! figures this test prints are what the defaults do under a flood.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use archipel::delivery::Timestamp;

use crate::node::{self, Handling, Node};
use crate::support::shout;
use crate::{flood, spoof};

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(10);
/// Concurrent flood connections.
const CONNECTIONS: usize = 8;
/// Concurrent connections sending spoofed-origin requests, from the same
/// address as the flood.
const SPOOFERS: usize = 4;
/// Concurrent connections impersonating bob's origin, from an address of
/// their own.
const IMPOSTORS: usize = 4;
/// Activities signed before the flood: more than the defaults admit in
/// `FLOOD` (a burst of 200, then 50/s).
const PRESIGNED: usize = 1_000;
/// The hostile server's actors.
const FLOODERS: [&str; 10] = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9"];
/// Posts by each honest user during the flood.
const POSTS: usize = 10;

/// Waits, at most 30 s, until `check` holds.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `node`'s delivery queue has nothing left.
async fn drained(node: &Node) {
    eventually("the delivery and fan-out queues drain", || async {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        node.fed.queue().stats(now).await.unwrap().total == 0
            && node.fed.fanout_queue().stats(now).await.unwrap().total == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_is_refused_while_honest_peers_are_not() {
    let started = Instant::now();
    // alice's server, the flood's target, answers from its inbound queue;
    // bob's handles inline: nothing accepted may be lost either way.
    let a = node::start(&["alice"], Handling::Queued, None).await;
    let b = node::start(&["bob"], Handling::Inline, None).await;
    let hostile = node::start(&FLOODERS, Handling::Inline, None).await;
    let (alice, bob) = (a.user("alice"), b.user("bob"));
    let target = format!("{}/inbox", a.base);

    let spoof = tokio::spawn({
        let target = target.clone();
        async move { spoof::run(&target, SPOOFERS, FLOOD).await }
    });
    // An impostor names bob's origin in its keyId, from an address of its
    // own, to spend bob's budget at alice's server: its requests fail
    // verification, so they must cost bob nothing.
    let impostor = tokio::spawn({
        let target = target.clone();
        let bob_id = bob.id().as_str().to_owned();
        async move { spoof::impersonate(&target, &bob_id, IMPOSTORS, FLOOD).await }
    });
    let flood = tokio::spawn(async move {
        let tally = flood::run(&hostile, &FLOODERS, &target, PRESIGNED, CONNECTIONS, FLOOD).await;
        (tally, hostile)
    });

    // The honest exchange, during the flood: follows both ways, then posts.
    b.fed.follow(&bob, alice.id()).await.unwrap();
    a.fed.follow(&alice, bob.id()).await.unwrap();
    eventually("alice and bob follow each other", || async {
        b.fed
            .graph()
            .following(bob.id())
            .await
            .unwrap()
            .contains(alice.id())
            && a.fed
                .graph()
                .following(alice.id())
                .await
                .unwrap()
                .contains(bob.id())
    })
    .await;
    let mut from_bob = Vec::new();
    let mut from_alice = Vec::new();
    for i in 0..POSTS {
        from_bob.push(b.post("bob", &format!("bob {i}")).await);
        from_alice.push(a.post("alice", &format!("alice {i}")).await);
        tokio::time::sleep(FLOOD / (2 * POSTS as u32)).await;
    }
    let (tally, _hostile) = flood.await.unwrap();
    let spoofed = spoof.await.unwrap();
    let impersonated = impostor.await.unwrap();

    // Every honest post was processed by the other side.
    let id = |p: &archipel::federation::outbox::Posted| {
        p.activity().id.as_ref().unwrap().as_str().to_owned()
    };
    eventually("every honest post is handled", || async {
        from_bob.iter().all(|p| a.has_handled(&id(p)))
            && from_alice.iter().all(|p| b.has_handled(&id(p)))
    })
    .await;
    drained(&a).await;
    drained(&b).await;

    // Honest traffic was never refused: every delivery either server made
    // was accepted on its first attempt.
    let mut honest = 0;
    for node in [&a, &b] {
        let report = node.fed.delivery_report().await.unwrap();
        for job in report.jobs.values() {
            assert_eq!(
                (job.attempts, job.last_status),
                (1, Some(202)),
                "honest delivery to {} not accepted at once: {job:?}",
                job.inbox
            );
            honest += 1;
        }
    }
    // bob's Follow, alice's Accept and Follow, bob's Accept, the posts.
    assert_eq!(honest, 4 + 2 * POSTS);

    // The flood was refused with Retry-After, and nothing else went wrong.
    assert!(tally.refused > 0, "the flood was never refused: {tally:?}");
    assert_eq!(tally.refused_without_retry_after, 0);
    assert!(tally.unexpected.is_empty(), "{:?}", tally.unexpected);
    let stats = a.fed.admission().stats();
    assert_eq!(
        stats.refused_origin + stats.refused_address + stats.refused_busy,
        tally.refused + spoofed.refused + impersonated.refused,
        "every refusal the server made went to the flood: {stats:?}"
    );
    // Spoofing a new origin per request does not widen the budget: the
    // flood's address is refused, and no spoofed activity gets in.
    assert!(stats.refused_address > 0, "{stats:?} {spoofed:?}");
    assert!(spoofed.refused > 0, "{spoofed:?}");
    assert_eq!(spoofed.accepted, 0, "{spoofed:?}");
    // The impostor sent more than bob's origin budget allows in the
    // flood's time (a burst of 200, then 50/s), none of it verified, and
    // bob's deliveries above were still accepted at once.
    assert!(impersonated.sent > 700, "{impersonated:?}");
    assert_eq!(impersonated.accepted, 0, "{impersonated:?}");

    // Nothing accepted is lost: every flood activity answered 202 is handled.
    eventually("every accepted flood activity is handled", || async {
        tally.accepted.iter().all(|id| a.has_handled(id))
    })
    .await;
    let handled_flood: HashSet<String> = a
        .handled
        .lock()
        .unwrap()
        .iter()
        .filter(|id| id.contains("/activities/flood-"))
        .cloned()
        .collect();
    assert_eq!(handled_flood, tally.accepted);

    shout(&format!(
        "soak: flood sent {} requests in {:?} over {CONNECTIONS} connections, {} answered 429; \
         {SPOOFERS} spoofing connections sent {}, {} answered 429, {} refused after admission; \
         {IMPOSTORS} connections impersonating bob's origin sent {}, {} answered 429, {} refused \
         after admission; \
         the server refused {} by origin, {} by address, {} as busy; {} flood activities \
         accepted (202) and all handled; {honest} honest deliveries, all 202 on the first \
         attempt; admitted {}; {:?} in all",
        tally.sent,
        FLOOD,
        tally.refused,
        spoofed.sent,
        spoofed.refused,
        spoofed.rejected,
        impersonated.sent,
        impersonated.refused,
        impersonated.rejected,
        stats.refused_origin,
        stats.refused_address,
        stats.refused_busy,
        tally.accepted.len(),
        stats.admitted,
        started.elapsed(),
    ));
    assert!(started.elapsed() < Duration::from_secs(60));
}
