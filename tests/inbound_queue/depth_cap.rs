//! The inbound queue's depth cap: past `InboundConfig::max_depth` kept
//! activities the inbox answers `503` with `Retry-After` before reading or
//! verifying the request, the origin's admission token is given back, and
//! the in-memory count the route reads follows the workers' settles and
//! the backend's own count.

use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::MemoryQueue;
use archipel::inbox::admission::{AdmissionConfig, Rate};
use archipel::inbox::queue::{InboundConfig, InboundQueue, QueueFull};
use archipel::signatures::{PrivateKey, Signer};

use crate::common::{self, Calls};
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
    assert_eq!(inbound.check_room(), Ok(()));

    for n in 1..=3 {
        let (status, _) = common::post(&server.base, &bob, like(&actor, n, &server.base)).await;
        assert_eq!(status, 202, "like {n} is stored");
    }
    let full: QueueFull = inbound.check_room().unwrap_err();
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
        inbound.check_room().is_ok()
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
async fn the_count_is_refreshed_from_the_backend_shared_with_another_machine() {
    let (inbox, peers) = common::inbox_with_peers(3, 3);
    let backend = Arc::new(MemoryQueue::new());
    // Two machines: `a` stores, `b` runs the workers, on one backend.
    let a = InboundQueue::new(backend.clone());
    let b = InboundQueue::new(backend);
    for (n, peer) in peers.iter().enumerate() {
        let (_, request) = common::like(peer, n);
        common::accept(&inbox, &a, &request).await;
    }
    // `b` has not read the backend yet: it knows of no activity.
    assert_eq!(b.check_room(), Ok(()));

    // Handlers that never finish in the test's time: the jobs stay kept.
    let calls = Calls::new(0);
    let slow = common::dispatcher(calls.clone(), "slow", Duration::from_secs(3600));
    let config = InboundConfig::default()
        .with_max_depth(3)
        .with_depth_refresh(Duration::from_millis(50));
    let workers = archipel::inbox::queue::InboundWorkers::start(b.clone(), slow, config);
    common::eventually(
        "b's refresh sees a's three",
        Duration::from_secs(10),
        || {
            let b = b.clone();
            async move { b.check_room().is_err() }
        },
    )
    .await;
    let full = b.check_room().unwrap_err();
    assert_eq!((full.kept, full.max_depth), (3, 3));
    workers.abort().await;
}
