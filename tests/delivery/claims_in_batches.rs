//! The dispatcher's slots: a saturated worker pool claims in batches (one
//! claim, a transaction on a durable queue, per several finished attempts,
//! not one per attempt) and still delivers everything, never more at once
//! than its limits; attempts hanging on a slow host do not keep the free
//! slots from other hosts; a panicking attempt gives its slot back and is
//! a failed attempt, retried later.
#![cfg(feature = "delivery")]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use archipel::delivery::{
    ClaimRequest, ClaimedJob, Delivery, DeliveryError, DeliveryQueue, MemoryQueue, NewActivity,
    PreparedBody, SendRequest, WorkerConfig, Workers,
};
use archipel::vocab::Iri;
use bytes::Bytes;

use crate::support::queue::hooked::{Hooked, Hooks};

/// Records the size of every claim a queue answers.
#[derive(Default)]
struct Counting {
    claims: Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl Hooks for Counting {
    async fn claim(
        &self,
        inner: &dyn DeliveryQueue,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimedJob>, DeliveryError> {
        let claimed = inner.claim(request).await?;
        if !claimed.is_empty() {
            self.claims.lock().unwrap().push(claimed.len());
        }
        Ok(claimed)
    }
}

/// Answers 202 after a short, uneven wait; tracks how many are in flight.
#[derive(Default)]
struct Slow {
    running: AtomicUsize,
    peak: AtomicUsize,
    sent: AtomicUsize,
}

#[async_trait::async_trait]
impl Delivery for Slow {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2 + r.job.0 % 5)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(http::Response::builder()
            .status(202)
            .body(Bytes::new())
            .unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_claims_in_batches_and_delivers_everything() {
    const JOBS: usize = 1_200;
    const CONCURRENCY: usize = 32;
    let queue = Arc::new(Hooked::new(MemoryQueue::new(), Counting::default()));
    let delivery = Arc::new(Slow::default());
    let workers = Workers::start(
        queue.clone(),
        delivery.clone(),
        WorkerConfig::default()
            .with_concurrency(CONCURRENCY)
            .with_per_host(4)
            .with_poll_interval(Duration::from_millis(20)),
    );
    let inboxes = (0..JOBS)
        .map(|i| url::Url::parse(&format!("https://h{}.example/inbox/{i}", i % 200)).unwrap())
        .collect();
    workers
        .enqueue(NewActivity::new(
            Iri::new_unchecked("https://me.example/activities/1"),
            PreparedBody::new(Bytes::from_static(b"{}")),
            Iri::new_unchecked("https://me.example/users/alice#main-key"),
            inboxes,
        ))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while workers.finished() < JOBS {
        assert!(tokio::time::Instant::now() < deadline, "not drained");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopped = workers.shutdown().await;
    assert_eq!(stopped.report.delivered, JOBS);
    assert_eq!(delivery.sent.load(Ordering::SeqCst), JOBS);
    assert!(delivery.peak.load(Ordering::SeqCst) <= CONCURRENCY);
    let claims = queue.hooks.claims.lock().unwrap().clone();
    assert_eq!(claims.iter().sum::<usize>(), JOBS);
    // Once the pool is full, a claim waits for an eighth of it (4 slots)
    // to free: about JOBS / 4 claims. One per finished attempt would be
    // about JOBS.
    assert!(
        claims.len() <= JOBS / 3,
        "{} claims for {JOBS} jobs: {claims:?}",
        claims.len()
    );
}

/// Hangs on `stuck.example`, panics on `panic.example`, answers 202 elsewhere.
struct Troubled;

#[async_trait::async_trait]
impl Delivery for Troubled {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        match r.inbox.host_str() {
            Some("stuck.example") => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Some("panic.example") => panic!("a deliberate panic in an attempt"),
            _ => {}
        }
        Ok(http::Response::builder()
            .status(202)
            .body(Bytes::new())
            .unwrap())
    }
}

fn activity(n: u32, inboxes: &[String]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked(format!("https://me.example/activities/{n}")),
        PreparedBody::new(Bytes::from_static(b"{}")),
        Iri::new_unchecked("https://me.example/users/alice#main-key"),
        inboxes
            .iter()
            .map(|i| url::Url::parse(i).unwrap())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_hanging_on_a_slow_host_do_not_keep_the_free_slots_from_others() {
    // 16 slots: claims wait for 2 free. 15 attempts hang, so one slot is
    // free and stays the only one.
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(
        queue.clone(),
        Arc::new(Troubled),
        WorkerConfig::default()
            .with_concurrency(16)
            .with_per_host(15)
            .with_poll_interval(Duration::from_millis(20)),
    );
    let stuck: Vec<String> = (0..15)
        .map(|i| format!("https://stuck.example/inbox/{i}"))
        .collect();
    workers.enqueue(activity(1, &stuck)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while workers.in_flight().len() < 15 {
        assert!(tokio::time::Instant::now() < deadline, "not all claimed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let healthy: Vec<String> = (0..3)
        .map(|i| format!("https://fine.example/inbox/{i}"))
        .collect();
    workers.enqueue(activity(2, &healthy)).await.unwrap();
    while workers.report().delivered < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the healthy host's jobs waited behind the hanging ones"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workers.abort().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_attempt_gives_its_slot_back() {
    // One slot: were the panicked attempt's slot kept, nothing after it
    // would ever be claimed.
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(
        queue.clone(),
        Arc::new(Troubled),
        WorkerConfig::default()
            .with_concurrency(1)
            .with_poll_interval(Duration::from_millis(20)),
    );
    let panicking = workers
        .enqueue(activity(1, &["https://panic.example/inbox".to_owned()]))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while workers.in_flight().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never claimed");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let fine: Vec<String> = (0..3)
        .map(|i| format!("https://fine.example/inbox/{i}"))
        .collect();
    workers.enqueue(activity(2, &fine)).await.unwrap();
    while workers.report().delivered < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool stopped claiming after a panicked attempt"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(workers.in_flight().len() <= 1);
    // The panic was a failed attempt, retried later with its reason, not
    // a job left leased to be claimed again when the lease lapses.
    let job = queue.get(panicking[0]).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1);
    assert!(
        job.last_error
            .as_deref()
            .is_some_and(|e| e.contains("the attempt panicked")),
        "{job:?}"
    );
    assert!(job.next_attempt_at > job.created_at, "{job:?}");
    workers.abort().await;
}
