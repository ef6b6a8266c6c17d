//! Restart tests: stop the workers mid-run with jobs claimed, start new
//! workers on the same queue, and every job completes; duplicates only where
//! a lease lapsed.
#![cfg(feature = "delivery")]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::delivery::{
    Delivery, DeliveryError, DeliveryQueue, JobId, MemoryQueue, NewActivity, PreparedBody,
    SendRequest, Timestamp, WorkerConfig, Workers,
};
use archipel::vocab::Iri;
use bytes::Bytes;

/// A receiver that records every POST as it arrives (before answering), the
/// way a real inbox would have stored it, and dedupes by activity id.
#[derive(Default)]
struct Recorder {
    received: Mutex<Vec<(String, String, JobId)>>,
}

#[async_trait::async_trait]
impl Delivery for Recorder {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        self.received.lock().unwrap().push((
            r.activity_id.to_string(),
            r.inbox.as_str().to_owned(),
            r.job,
        ));
        tokio::time::sleep(Duration::from_millis(25)).await;
        Ok(http::Response::builder()
            .status(202)
            .body(Bytes::new())
            .unwrap())
    }
}

fn activity(n: usize) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked("https://me.example/activities/restart"),
        PreparedBody::new(Bytes::from_static(b"{\"type\":\"Create\"}")),
        Iri::new_unchecked("https://me.example/users/alice#main-key"),
        (0..n)
            .map(|i| url::Url::parse(&format!("https://host{}.example/inbox/{i}", i % 30)).unwrap())
            .collect(),
    )
}

fn config(lease_ms: u64) -> WorkerConfig {
    WorkerConfig::default()
        .with_concurrency(16)
        .with_per_host(2)
        .with_lease(Duration::from_millis(lease_ms))
        .with_poll_interval(Duration::from_millis(20))
}

async fn wait_empty(queue: &MemoryQueue) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        if queue.stats(now).await.unwrap().total == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue did not drain"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_delivered(workers: &Workers, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while workers.report().delivered < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} delivered within 20 s",
            workers.report().delivered
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn counts(recorder: &Recorder) -> HashMap<String, Vec<JobId>> {
    let mut by_inbox: HashMap<String, Vec<JobId>> = HashMap::new();
    for (_, inbox, job) in recorder.received.lock().unwrap().iter() {
        by_inbox.entry(inbox.clone()).or_default().push(*job);
    }
    by_inbox
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_run_redelivers_only_lapsed_leases() {
    let queue = Arc::new(MemoryQueue::new());
    let recorder = Arc::new(Recorder::default());
    let first = Workers::start(queue.clone(), recorder.clone(), config(300));
    let ids = first.enqueue(activity(300)).await.unwrap();
    assert_eq!(ids.len(), 300);
    wait_delivered(&first, 60).await;
    let crashed = first.abort().await;
    assert!(
        !crashed.unsettled.is_empty(),
        "no job was claimed at the crash"
    );
    let crash_time = std::time::Instant::now();

    let second = Workers::start(queue.clone(), recorder.clone(), config(300));
    wait_empty(&queue).await;
    let stopped = second.shutdown().await;

    // Every job acked exactly once across both pools.
    assert_eq!(crashed.report.delivered + stopped.report.delivered, 300);
    assert_eq!(stopped.report.given_up + stopped.report.gone, 0);
    // The crashed jobs waited for their lease to lapse.
    assert!(crash_time.elapsed() >= Duration::from_millis(250));

    let by_inbox = counts(&recorder);
    assert_eq!(
        by_inbox.len(),
        300,
        "some inbox never received the activity"
    );
    let unsettled: HashSet<JobId> = crashed.unsettled.iter().copied().collect();
    for (inbox, jobs) in &by_inbox {
        if jobs.len() > 1 {
            assert_eq!(jobs.len(), 2, "{inbox} received {} copies", jobs.len());
            assert!(
                unsettled.contains(&jobs[0]),
                "{inbox}: duplicate without lapsed lease"
            );
        }
    }
    // Receivers dedupe by activity id: one activity per inbox.
    let unique: HashSet<(String, String)> = recorder
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(a, i, _)| (a.clone(), i.clone()))
        .collect();
    assert_eq!(unique.len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_and_leaves_the_rest_queued() {
    let queue = Arc::new(MemoryQueue::new());
    let recorder = Arc::new(Recorder::default());
    // A long lease: if anything were left leased, the second pool would stall.
    let first = Workers::start(queue.clone(), recorder.clone(), config(60_000));
    first.enqueue(activity(200)).await.unwrap();
    wait_delivered(&first, 40).await;
    let stopped = first.shutdown().await;
    assert!(stopped.unsettled.is_empty());
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let left = queue.stats(now).await.unwrap();
    assert_eq!(left.total, 200 - stopped.report.delivered);
    assert_eq!(left.leased, 0);
    assert!(
        left.total > 0,
        "shutdown came too late to leave work queued"
    );

    let started = std::time::Instant::now();
    let second = Workers::start(queue.clone(), recorder.clone(), config(60_000));
    wait_empty(&queue).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let second = second.shutdown().await;
    assert_eq!(stopped.report.delivered + second.report.delivered, 200);
    let by_inbox = counts(&recorder);
    assert_eq!(by_inbox.len(), 200);
    assert!(
        by_inbox.values().all(|jobs| jobs.len() == 1),
        "duplicate without a crash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_after_grace_releases_unfinished_leases_at_once() {
    let queue = Arc::new(MemoryQueue::new());
    let recorder = Arc::new(Recorder::default());
    let cfg = config(60_000).with_shutdown_grace(Duration::ZERO);
    let first = Workers::start(queue.clone(), recorder.clone(), cfg);
    first.enqueue(activity(100)).await.unwrap();
    wait_delivered(&first, 10).await;
    let stopped = first.shutdown().await;
    assert!(!stopped.unsettled.is_empty());
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let stats = queue.stats(now).await.unwrap();
    assert_eq!(stats.leased, 0);
    for id in &stopped.unsettled {
        let job = queue.get(*id).await.unwrap().unwrap();
        assert_eq!(job.attempts, 0, "a released job must not count an attempt");
    }
    let second = Workers::start(queue.clone(), recorder.clone(), config(60_000));
    wait_empty(&queue).await;
    let second = second.shutdown().await;
    assert_eq!(stopped.report.delivered + second.report.delivered, 100);
}
