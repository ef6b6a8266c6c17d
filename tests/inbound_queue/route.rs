//! The inbox route with an inbound queue: it answers `202` once the
//! activity is stored, before any handler runs; the workers started with
//! `Federation::start_inbound` handle it later; a repeat is not stored
//! again; and when storing fails the route answers `503` and the sender's
//! retry is accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use archipel::delivery::{
    DeliveryError, DeliveryQueue, JobId, MemoryQueue, NewActivity, Timestamp,
};
use archipel::inbox::queue::InboundConfig;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_answers_once_stored_and_workers_handle_it_later() {
    let (_peer, bob, actor) = peer_with_bob().await;
    let calls = Calls::new(0);
    let inline = Calls::new(0);
    let server = common::serve(
        |b| b.with_inbound_queue(Arc::new(MemoryQueue::new())),
        |_| common::dispatcher(inline.clone(), "route", Duration::ZERO),
    )
    .await;
    let fed = &server.fed;

    let (status, _) = common::post(&server.base, &bob, like(&actor, 1, &server.base)).await;
    assert_eq!(status, 202);
    let inbound = fed.inbound().expect("an inbound queue");
    let stats = inbound.stats().await.unwrap();
    assert_eq!(
        (stats.depth, stats.processed),
        (1, 0),
        "stored, not handled"
    );
    assert!(stats.oldest_created_at.is_some());
    assert_eq!(calls.done_count() + inline.done_count(), 0);

    let dispatcher = common::dispatcher(calls.clone(), "worker", Duration::ZERO);
    assert!(
        fed.start_inbound(dispatcher, InboundConfig::default())
            .await
    );
    common::wait_until("the worker's handling", Duration::from_secs(10), || {
        calls.done_count() == 1
    })
    .await;
    assert_eq!(calls.done_of(&format!("{actor}/likes/1")), 1);

    // A repeat is answered but neither stored nor handled again.
    let (status, _) = common::post(&server.base, &bob, like(&actor, 1, &server.base)).await;
    assert_eq!(status, 202);
    let stopped = fed.stop_inbound().await.expect("workers ran");
    assert_eq!((stopped.processed, stopped.failed), (1, 0));
    assert_eq!(inbound.stats().await.unwrap().depth, 0);
    assert_eq!(calls.seen.lock().unwrap().len(), 1);
    assert_eq!(
        inline.seen.lock().unwrap().len(),
        0,
        "the route never dispatched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_to_store_is_503_and_the_retry_is_accepted() {
    let (_peer, bob, actor) = peer_with_bob().await;
    let queue = Arc::new(Hooked::new(
        MemoryQueue::new(),
        Flaky {
            failures: AtomicUsize::new(1),
        },
    ));
    let server = common::serve(
        |b| b.with_inbound_queue(queue.clone()),
        |_| common::dispatcher(Calls::new(0), "route", Duration::ZERO),
    )
    .await;

    let (status, body) = common::post(&server.base, &bob, like(&actor, 2, &server.base)).await;
    assert_eq!((status, body.as_str()), (503, "try again later"));
    let inbound = server.fed.inbound().unwrap();
    assert_eq!(inbound.stats().await.unwrap().depth, 0);
    // The sender retries: the id was forgotten, so it is stored now.
    let (status, _) = common::post(&server.base, &bob, like(&actor, 2, &server.base)).await;
    assert_eq!(status, 202);
    assert_eq!(inbound.stats().await.unwrap().depth, 1);
}

/// The first `failures` enqueues fail.
struct Flaky {
    failures: AtomicUsize,
}

#[async_trait::async_trait]
impl Hooks for Flaky {
    async fn enqueue_activity(
        &self,
        inner: &dyn DeliveryQueue,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        if self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeliveryError::Queue("disk full".into()));
        }
        inner.enqueue_activity(activity, now).await
    }
}
