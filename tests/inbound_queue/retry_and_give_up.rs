//! Outcomes of processing: a failing handler is retried until it
//! succeeds; a refusal the sender caused is given up at once with its
//! reason; a handler that keeps failing is given up once its attempts are
//! spent, and the give-up record says why.

use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::queue::sqlite::SqliteQueue;
use archipel::delivery::{MemoryQueue, RetryPolicy};
use archipel::inbox::queue::{InboundConfig, InboundQueue, InboundWorkers};

use crate::common::{self, Calls};

fn quick(max_attempts: u32) -> InboundConfig {
    InboundConfig::default()
        .with_poll_interval(Duration::from_millis(20))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(max_attempts)
                .with_initial_delay(Duration::from_millis(20))
                .with_factor(1.0)
                .with_jitter(0.0),
        )
}

#[tokio::test]
async fn a_failed_handler_is_retried_until_it_succeeds() {
    let (inbox, peers) = common::inbox_with_peers(1, 1);
    let inbound = InboundQueue::new(Arc::new(MemoryQueue::new()));
    let calls = Calls::new(2);
    let (id, request) = common::like(&peers[0], 1);
    common::accept(&inbox, &inbound, &request).await;

    let workers = InboundWorkers::start(
        inbound.clone(),
        common::dispatcher(calls.clone(), "w", Duration::ZERO),
        quick(5),
    );
    common::wait_until("the third attempt", Duration::from_secs(10), || {
        calls.done_count() == 1
    })
    .await;
    let stopped = workers.shutdown().await;

    assert_eq!(
        calls.seen.lock().unwrap().len(),
        3,
        "two failures, one success"
    );
    assert_eq!(calls.done_of(&id), 1);
    assert_eq!(
        (stopped.processed, stopped.retried, stopped.failed),
        (1, 2, 0)
    );
    let stats = inbound.stats().await.unwrap();
    assert_eq!((stats.processed, stats.retried, stats.failed), (1, 2, 0));
    assert_eq!(
        (stats.depth, stats.leased, stats.oldest_created_at),
        (0, 0, None)
    );
}

#[tokio::test]
async fn a_refusal_is_given_up_at_once_with_its_reason() {
    let (inbox, peers) = common::inbox_with_peers(1, 1);
    let backend = Arc::new(SqliteQueue::open_in_memory().await.unwrap());
    let inbound = InboundQueue::new(backend.clone());
    let calls = Calls::new(0);
    let actor = &peers[0].actor;
    // An Accept of a Follow this server never sent: the dispatcher refuses
    // it (403), which no retry can change.
    let body = format!(
        r#"{{"type":"Accept","id":"{actor}/accepts/1","actor":"{actor}","object":"{}/follows/never"}}"#,
        common::BASE
    );
    common::accept(&inbox, &inbound, &common::signed(&peers[0], body)).await;

    let workers = InboundWorkers::start(
        inbound.clone(),
        common::dispatcher(calls.clone(), "w", Duration::ZERO),
        quick(5),
    );
    common::eventually("the give-up", Duration::from_secs(10), || async {
        common::failed(&inbound).await == 1
    })
    .await;
    let stopped = workers.shutdown().await;

    assert_eq!(
        (stopped.processed, stopped.retried, stopped.failed),
        (0, 0, 1)
    );
    let given_up = backend.given_up(10).await.unwrap();
    assert_eq!(given_up.len(), 1);
    let record = &given_up[0].record;
    assert_eq!(record.activity_id.as_str(), format!("{actor}/accepts/1"));
    assert_eq!(record.last_status, Some(403));
    let reason = record.last_error.as_deref().unwrap();
    assert!(
        reason.contains("no such Follow was sent by this server"),
        "{reason}"
    );
    assert_eq!(record.claims, 1, "given up at the first attempt");
}

#[tokio::test]
async fn a_handler_failing_every_time_is_given_up_when_attempts_are_spent() {
    let (inbox, peers) = common::inbox_with_peers(1, 1);
    let backend = Arc::new(SqliteQueue::open_in_memory().await.unwrap());
    let inbound = InboundQueue::new(backend.clone());
    let calls = Calls::new(usize::MAX);
    let (id, request) = common::like(&peers[0], 7);
    common::accept(&inbox, &inbound, &request).await;

    let workers = InboundWorkers::start(
        inbound.clone(),
        common::dispatcher(calls.clone(), "w", Duration::ZERO),
        quick(3),
    );
    common::eventually("the give-up", Duration::from_secs(10), || async {
        common::failed(&inbound).await == 1
    })
    .await;
    let stopped = workers.shutdown().await;

    assert_eq!(calls.seen.lock().unwrap().len(), 3);
    assert_eq!(
        (stopped.processed, stopped.retried, stopped.failed),
        (0, 2, 1)
    );
    let given_up = backend.given_up(10).await.unwrap();
    assert_eq!(given_up.len(), 1);
    let record = &given_up[0].record;
    assert_eq!(record.activity_id.as_str(), id);
    assert_eq!(record.last_status, Some(500));
    assert_eq!(
        record.last_error.as_deref(),
        Some("attempts spent: Like handler: store unavailable (call 2)")
    );
}
