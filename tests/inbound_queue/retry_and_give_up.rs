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

/// A handler that panics is a failed attempt: the job is retried with the
/// panic's message on record, the worker's slot is freed (with one slot,
/// the next activity is still processed), and the pool keeps running.
#[tokio::test]
async fn a_panicking_handler_is_retried_and_frees_its_slot() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use archipel::federation::dispatch::Dispatcher;
    use archipel::federation::{MemoryGraph, Paths};

    let (inbox, peers) = common::inbox_with_peers(1, 1);
    let inbound = InboundQueue::new(Arc::new(MemoryQueue::new()));
    let (first, request) = common::like(&peers[0], 1);
    common::accept(&inbox, &inbound, &request).await;
    let (second, request) = common::like(&peers[0], 2);
    common::accept(&inbox, &inbound, &request).await;

    let calls = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let paths = Paths::new(common::BASE.parse().unwrap()).unwrap();
    let dispatcher = Dispatcher::new(paths, Arc::new(MemoryGraph::new())).on_like({
        let (calls, done, first) = (calls.clone(), done.clone(), first.clone());
        move |_cx, like| {
            let (calls, done, first) = (calls.clone(), done.clone(), first.clone());
            async move {
                let id = like.id.as_ref().map(|i| i.as_str().to_owned()).unwrap();
                // The first activity's first call panics.
                if calls.fetch_add(1, Ordering::SeqCst) == 0 && id == first {
                    panic!("handler bug on {id}");
                }
                done.lock().unwrap().push(id);
                Ok(())
            }
        }
    });
    let workers = InboundWorkers::start(
        inbound.clone(),
        dispatcher,
        quick(5).with_concurrency(1).with_per_origin(1),
    );
    common::wait_until("both processed", Duration::from_secs(10), || {
        done.lock().unwrap().len() == 2
    })
    .await;
    let stopped = workers.shutdown().await;

    let mut done = done.lock().unwrap().clone();
    done.sort();
    let mut expected = vec![first.clone(), second];
    expected.sort();
    assert_eq!(
        done, expected,
        "each processed once, the panicked one on its retry"
    );
    assert_eq!(
        (stopped.processed, stopped.retried, stopped.failed),
        (2, 1, 0)
    );
    let stats = inbound.stats().await.unwrap();
    assert_eq!((stats.depth, stats.leased), (0, 0), "nothing left leased");
}
