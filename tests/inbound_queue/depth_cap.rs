//! The inbound queue's depth cap: past `InboundConfig::max_depth` kept
//! activities the inbox answers `503` with `Retry-After` before reading or
//! verifying the request, the origin's admission token is given back, and
//! the in-memory count the route reads follows the workers' settles and,
//! once per interval, the backend's own count (what other machines
//! sharing it stored and settled).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use archipel::delivery::{DeliveryError, DeliveryQueue, MemoryQueue, QueueStats, Timestamp};
use archipel::inbox::admission::{AdmissionConfig, Rate};
use archipel::inbox::queue::{InboundConfig, InboundQueue, InboundWorkers, QueueFull};
use archipel::signatures::{PrivateKey, Signer};

use crate::common::{self, Calls};
use crate::support::queue::hooked::{Hooked, Hooks};
use crate::support::{Reply, TestServer};

/// A peer origin serving bob's actor document with his key.
async fn peer_with_bob() -> (TestServer, Signer, String) {
    let peer = TestServer::start().await;
    let key = PrivateKey::generate_ed25519().unwrap();
    let actor = peer.url("/users/bob");
    let document = format!(
        r#"{{"@context":["https://www.w3.org/ns/activitystreams","https://w3id.org/security/v1"],
        "id":"{actor}","type":"Person","inbox":"{actor}/inbox","preferredUsername":"bob",
        "publicKey":{{"id":"{actor}#main-key","owner":"{actor}","publicKeyPem":{pem:?}}}}}"#,
        pem = key.public_key().to_spki_pem()
    );
    peer.route(
        "/users/bob",
        Reply::ok("application/activity+json", document),
    );
    (peer, Signer::new(format!("{actor}#main-key"), key), actor)
}

fn like(actor: &str, n: usize, base: &str) -> String {
    format!(
        r#"{{"@context":"https://www.w3.org/ns/activitystreams","type":"Like","id":"{actor}/likes/{n}","actor":"{actor}","object":"{base}/objects/{n}"}}"#
    )
}

/// POSTs an unsigned body: a request the inbox would refuse `401` once read.
async fn post_unsigned(base: &str) -> (u16, Option<String>, String) {
    let response = tokio::time::timeout(
        Duration::from_secs(20),
        reqwest::Client::new()
            .post(format!("{base}/inbox"))
            .header("content-type", "application/activity+json")
            .body("{}")
            .send(),
    )
    .await
    .expect("the inbox answers within 20 s")
    .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        retry_after,
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_503_before_verification_and_refunds_the_origin() {
    let (_peer, bob, actor) = peer_with_bob().await;
    let calls = Calls::new(0);
    // bob's origin may send 4 requests, and gets one more a minute.
    let admission = AdmissionConfig::default()
        .with_per_origin(Some(Rate::per_minute(1, 4)))
        .with_per_address(None);
    let server = common::serve(
        |b| {
            b.with_inbound_queue(Arc::new(MemoryQueue::new()))
                .with_admission(admission)
        },
        |_| common::dispatcher(Calls::new(0), "route", Duration::ZERO),
    )
    .await;
    let fed = &server.fed;
    let inbound = fed.inbound().expect("an inbound queue");
    // Workers set the cap on the queue; stopped at once, so nothing drains
    // until they start again.
    let config = InboundConfig::default()
        .with_max_depth(3)
        .with_depth_refresh(Duration::from_secs(3600));
    let idle = common::dispatcher(Calls::new(0), "idle", Duration::ZERO);
    assert!(fed.start_inbound(idle, config.clone()).await);
    fed.stop_inbound().await.expect("workers ran");
    assert_eq!(inbound.check_room().await, Ok(()));

    for n in 1..=3 {
        let (status, _) = common::post(&server.base, &bob, like(&actor, n, &server.base)).await;
        assert_eq!(status, 202, "like {n} is stored");
    }
    let full: QueueFull = inbound.check_room().await.unwrap_err();
    assert_eq!((full.kept, full.max_depth), (3, 3));
    for _ in 0..10 {
        let (status, body) = common::post(&server.base, &bob, like(&actor, 4, &server.base)).await;
        assert_eq!(
            (status, body.as_str()),
            (
                503,
                "inbound queue: full, 3 activities kept of at most 3; retry after 30 s"
            )
        );
    }
    // Refused before the body is read: an unsigned request, which the
    // inbox would answer 401, is 503 too.
    let (status, retry_after, _) = post_unsigned(&server.base).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("30")));
    // Eleven requests, and the check this test made itself.
    assert_eq!(inbound.refused_full(), 12);
    assert_eq!(inbound.stats().await.unwrap().depth, 3, "nothing stored");
    assert_eq!(fed.admission().stats().refused_origin, 0);

    // The workers drain the queue; each settle lowers the count the route
    // reads (the refresh from the backend is an hour away).
    let worker = common::dispatcher(calls.clone(), "worker", Duration::ZERO);
    assert!(fed.start_inbound(worker, config).await);
    common::wait_until("the three likes handled", Duration::from_secs(10), || {
        calls.done_count() == 3
    })
    .await;
    common::eventually("room again", Duration::from_secs(10), || async {
        inbound.check_room().await.is_ok()
    })
    .await;
    // bob's origin spent 3 of its 4 tokens: the refusals gave theirs back.
    let (status, _) = common::post(&server.base, &bob, like(&actor, 4, &server.base)).await;
    assert_eq!(status, 202, "the retry is accepted, not 429");
    common::wait_until("the fourth like handled", Duration::from_secs(10), || {
        calls.done_count() == 4
    })
    .await;
    fed.stop_inbound().await.expect("workers ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_without_workers_reads_the_shared_count_once_per_interval() {
    let (inbox, peers) = common::inbox_with_peers(3, 3);
    let backend = Arc::new(MemoryQueue::new());
    // Two machines on one backend: `a` runs workers elsewhere, `b` only
    // serves the inbox. Workers started and stopped on `b` before anything
    // is stored set its cap (3) and refresh interval (50 ms).
    let a = InboundQueue::new(backend.clone());
    let b = InboundQueue::new(backend);
    let config = InboundConfig::default()
        .with_max_depth(3)
        .with_depth_refresh(Duration::from_millis(50));
    let idle = common::dispatcher(Calls::new(0), "idle", Duration::ZERO);
    InboundWorkers::start(b.clone(), idle, config)
        .shutdown()
        .await;
    assert_eq!(b.check_room().await, Ok(()));

    for (n, peer) in peers.iter().enumerate() {
        let (_, request) = common::like(peer, n);
        common::accept(&inbox, &a, &request).await;
    }
    // `b` stored nothing itself; within an interval its check reads the
    // backend's count and refuses.
    common::eventually("b's check reads a's three", Duration::from_secs(10), || {
        let b = b.clone();
        async move { b.check_room().await.is_err() }
    })
    .await;
    let full = b.check_room().await.unwrap_err();
    assert_eq!((full.kept, full.max_depth), (3, 3));

    // Workers on `a` settle them: `b` sees room again, also by reading.
    let calls = Calls::new(0);
    let workers = InboundWorkers::start(
        a.clone(),
        common::dispatcher(calls.clone(), "a", Duration::ZERO),
        InboundConfig::default().with_poll_interval(Duration::from_millis(20)),
    );
    common::wait_until(
        "a's workers handle the three",
        Duration::from_secs(10),
        || calls.done_count() == 3,
    )
    .await;
    common::eventually("b sees room again", Duration::from_secs(10), || {
        let b = b.clone();
        async move { b.check_room().await.is_ok() }
    })
    .await;
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_checks_reads_the_backend_once_per_interval() {
    let backend = Arc::new(Hooked::new(
        MemoryQueue::new(),
        SlowStats {
            reads: AtomicUsize::new(0),
        },
    ));
    let inbound = InboundQueue::new(backend.clone());
    let idle = common::dispatcher(Calls::new(0), "idle", Duration::ZERO);
    let config = InboundConfig::default().with_depth_refresh(Duration::from_secs(3600));
    InboundWorkers::start(inbound.clone(), idle, config)
        .shutdown()
        .await;
    // 200 requests at once: the first reads the backend's count, the
    // others read the count in memory without waiting for it.
    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let inbound = inbound.clone();
        checks.spawn(async move { inbound.check_room().await });
    }
    while let Some(room) = checks.join_next().await {
        assert_eq!(room.unwrap(), Ok(()));
    }
    assert_eq!(backend.hooks.reads.load(Ordering::SeqCst), 1);
}

/// `stats` takes 20 ms and is counted.
struct SlowStats {
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl Hooks for SlowStats {
    async fn stats(
        &self,
        inner: &dyn DeliveryQueue,
        now: Timestamp,
    ) -> Result<QueueStats, DeliveryError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        inner.stats(now).await
    }
}
