//! Many origins at once on the memory queue: 50 origins × 400 activities
//! stored from 50 concurrent tasks while the workers run, with the
//! per-origin limit and same-object ordering both in play. Every stored
//! activity is handled exactly once, by id, and nothing is left behind:
//! no job due, leased, waiting for a retry or given up. A second run makes
//! the first 2,000 handler calls fail, so retries go through the same
//! path. A third runs the first on SQLite.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::queue::sqlite::SqliteQueue;
use archipel::delivery::{DeliveryQueue, MemoryQueue, RetryPolicy, Timestamp};
use archipel::inbox::Incoming;
use archipel::inbox::queue::{InboundConfig, InboundQueue, InboundWorkers};
use archipel::vocab::{AnyObject, Iri};
use bytes::Bytes;

use crate::common::{self, BASE, Calls};

const ORIGINS: usize = 50;
const PER_ORIGIN: usize = 400;

/// The `n`-th `Like` of `template`'s actor: a copy of a verified activity
/// with its own id and object (50 objects per actor, so several of its
/// likes share an object and are processed in order).
fn nth(template: &Incoming, n: usize) -> Incoming {
    let actor = template.actor.as_str();
    let id = format!("{actor}/likes/{n}");
    let body = format!(
        r#"{{"@context":"https://www.w3.org/ns/activitystreams","type":"Like","id":"{id}","actor":"{actor}","object":"{BASE}/objects/{}"}}"#,
        n % 50
    );
    let mut incoming = template.clone();
    incoming.activity = AnyObject::from_slice(body.as_bytes()).unwrap();
    incoming.id = Iri::parse(id).unwrap();
    incoming.body = Bytes::from(body);
    incoming
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_activity_of_fifty_busy_origins_is_handled_exactly_once() {
    run(0).await;
}

/// As above, with the first 2,000 handler calls failing: retried after
/// 20 ms, in order behind the same object, still handled exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_failures_and_retries_every_activity_is_still_handled_exactly_once() {
    run(2_000).await;
}

/// The same on SQLite (its own file): the claim and settle statements
/// under the same load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_every_activity_of_fifty_busy_origins_is_handled_exactly_once() {
    let dir = std::env::temp_dir().join(format!("archipel-inbound-stress-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = SqliteQueue::open_with(dir.join("inbound.sqlite3"), InboundQueue::sqlite_options())
        .await
        .unwrap();
    run_on(Arc::new(file), 0).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run(failures: usize) {
    run_on(Arc::new(MemoryQueue::new()), failures).await;
}

async fn run_on(backend: Arc<dyn DeliveryQueue>, failures: usize) {
    let (inbox, peers) = common::inbox_with_peers(ORIGINS, ORIGINS);
    let inbound = InboundQueue::new(backend.clone());
    // One verified activity per origin, the template of its 400.
    let mut templates = Vec::new();
    for peer in &peers {
        let (_, request) = common::like(peer, 1_000_000);
        templates.push(inbox.receive(&request).await.unwrap());
    }

    let calls = Calls::new(failures);
    let config = InboundConfig::default()
        .with_poll_interval(Duration::from_millis(20))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(10)
                .with_initial_delay(Duration::from_millis(20))
                .with_factor(1.0)
                .with_jitter(0.0),
        );
    let workers = InboundWorkers::start(
        inbound.clone(),
        common::dispatcher(calls.clone(), "w", Duration::ZERO),
        config,
    );
    let mut senders = tokio::task::JoinSet::new();
    for template in templates {
        let inbound = inbound.clone();
        senders.spawn(async move {
            for n in 0..PER_ORIGIN {
                inbound.enqueue(&nth(&template, n)).await.unwrap();
                if n % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    let total = ORIGINS * PER_ORIGIN;
    common::wait_until(
        "every stored activity handled",
        Duration::from_secs(180),
        || calls.done_count() == total,
    )
    .await;
    let stopped = workers.shutdown().await;

    // Exactly once, by id: no activity handled twice, none missing.
    assert_eq!(calls.seen.lock().unwrap().len(), total + failures, "calls");
    let per_id: HashMap<String, usize> = calls.done.lock().unwrap().clone();
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "handled twice: {:?}",
        &twice[..twice.len().min(5)]
    );
    for peer in &peers {
        for n in 0..PER_ORIGIN {
            let id = format!("{}/likes/{n}", peer.actor);
            assert_eq!(per_id.get(id.as_str()), Some(&1), "{id}");
        }
    }
    assert_eq!(
        (stopped.processed, stopped.retried, stopped.failed),
        (total as u64, failures as u64, 0)
    );
    assert!(stopped.unsettled.is_empty());
    // Nothing left: not due, not leased, not waiting for a retry.
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let q = backend.stats(now).await.unwrap();
    // (SQLite drops the bodies of processed activities at its next prune.)
    assert_eq!((q.total, q.due, q.leased), (0, 0, 0));
    assert_eq!(inbound.check_room().await, Ok(()));
}
