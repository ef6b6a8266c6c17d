//! Worker behaviour against scripted receivers: double-knocking with
//! per-host dialect memory, `Retry-After` pauses, the dead-host breaker,
//! and outcome classification.
#![cfg(feature = "delivery")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::delivery::{
    BreakerConfig, DeadHostAction, Delivery, DeliveryError, DeliveryEvent, DeliveryQueue,
    GiveUpReason, JobOutcome, MemoryQueue, NewActivity, PreparedBody, RetryPolicy, SendRequest,
    Timestamp, WorkerConfig, Workers,
};
use archipel::signatures::Spec;
use archipel::vocab::Iri;
use bytes::Bytes;

type Script =
    dyn Fn(&str, Spec, usize) -> Result<http::Response<Bytes>, DeliveryError> + Send + Sync;

/// Answers by a script of (host, dialect, nth request to that host).
struct Scripted {
    script: Box<Script>,
    log: Mutex<Vec<(String, Spec, Instant)>>,
}

impl Scripted {
    fn new(
        f: impl Fn(&str, Spec, usize) -> Result<http::Response<Bytes>, DeliveryError>
        + Send
        + Sync
        + 'static,
    ) -> Arc<Self> {
        Arc::new(Scripted {
            script: Box::new(f),
            log: Mutex::new(Vec::new()),
        })
    }

    fn knocks(&self, host: &str) -> Vec<Spec> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(h, _, _)| h == host)
            .map(|(_, d, _)| *d)
            .collect()
    }
}

#[async_trait::async_trait]
impl Delivery for Scripted {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        let host = r.inbox.host_str().unwrap().to_owned();
        let n = {
            let mut log = self.log.lock().unwrap();
            let n = log.iter().filter(|(h, _, _)| *h == host).count();
            log.push((host.clone(), r.dialect, Instant::now()));
            n
        };
        (self.script)(&host, r.dialect, n)
    }
}

fn status(code: u16) -> Result<http::Response<Bytes>, DeliveryError> {
    Ok(http::Response::builder()
        .status(code)
        .body(Bytes::new())
        .unwrap())
}

fn activity(inboxes: &[String]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked("https://me.example/activities/k"),
        PreparedBody::new(Bytes::from_static(b"{}")),
        Iri::new_unchecked("https://me.example/users/alice#main-key"),
        inboxes
            .iter()
            .map(|s| url::Url::parse(s).unwrap())
            .collect(),
    )
}

fn inboxes(host: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://{host}/users/{i}/inbox"))
        .collect()
}

fn fast_config() -> WorkerConfig {
    WorkerConfig::default()
        .with_concurrency(8)
        .with_per_host(1)
        .with_lease(Duration::from_secs(10))
        .with_poll_interval(Duration::from_millis(10))
        .with_retry(
            RetryPolicy::default()
                .with_initial_delay(Duration::from_millis(10))
                .with_factor(1.0)
                .with_jitter(0.0)
                .with_max_attempts(5),
        )
}

async fn drain(queue: &MemoryQueue) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        if queue.stats(now).await.unwrap().total == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "queue did not drain");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn double_knock_falls_back_and_remembers_per_host() {
    let delivery = Scripted::new(|host, dialect, _| match (host, dialect) {
        ("modern.example", Spec::Rfc9421) => status(202),
        ("modern.example", _) => status(401),
        // A server that crashes on the signature format it does not know.
        ("crashy.example", Spec::Rfc9421) => status(500),
        ("crashy.example", _) => status(202),
        ("legacy.example", Spec::Cavage) => status(202),
        ("legacy.example", _) => status(403),
        _ => status(404),
    });
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(queue.clone(), delivery.clone(), fast_config());
    let mut all = inboxes("modern.example", 3);
    all.extend(inboxes("legacy.example", 3));
    workers.enqueue(activity(&all)).await.unwrap();
    drain(&queue).await;
    assert_eq!(
        delivery.knocks("modern.example"),
        [Spec::Cavage, Spec::Rfc9421, Spec::Rfc9421, Spec::Rfc9421]
    );
    assert_eq!(delivery.knocks("legacy.example"), [Spec::Cavage; 3]);
    assert_eq!(
        workers.remembered_dialect("modern.example"),
        Some(Spec::Rfc9421)
    );
    assert_eq!(
        workers.remembered_dialect("legacy.example"),
        Some(Spec::Cavage)
    );
    let report = workers.shutdown().await.report;
    assert_eq!(report.delivered, 6);
    assert!(report.jobs.values().all(|j| j.attempts == 1));

    // RFC 9421 first: a 5xx at the first knock also triggers the fallback.
    let queue = Arc::new(MemoryQueue::new());
    let config = fast_config().with_first_dialect(Spec::Rfc9421);
    let workers = Workers::start(queue.clone(), delivery.clone(), config);
    workers
        .enqueue(activity(&inboxes("crashy.example", 2)))
        .await
        .unwrap();
    drain(&queue).await;
    assert_eq!(
        delivery.knocks("crashy.example"),
        [Spec::Rfc9421, Spec::Cavage, Spec::Cavage]
    );
    assert_eq!(workers.shutdown().await.report.delivered, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_host_5xx_is_retried_not_double_knocked() {
    let delivery = Scripted::new(|_, _, n| if n == 1 { status(503) } else { status(202) });
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(queue.clone(), delivery.clone(), fast_config());
    workers
        .enqueue(activity(&inboxes("flaky.example", 2)))
        .await
        .unwrap();
    drain(&queue).await;
    // Job 1: 202 (Cavage remembered). Job 2: 503, no second knock, retried: 202.
    assert_eq!(delivery.knocks("flaky.example"), [Spec::Cavage; 3]);
    let report = workers.shutdown().await.report;
    assert_eq!((report.delivered, report.retries), (2, 1));
    let attempts: Vec<u32> = report.jobs.values().map(|j| j.attempts).collect();
    assert_eq!(attempts, [1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_keeps_counters_but_bounded_job_lines() {
    let delivery = Scripted::new(|_, _, _| status(202));
    let queue = Arc::new(MemoryQueue::new());
    let config = fast_config().with_report_jobs(3).with_per_host(8);
    let workers = Workers::start(queue.clone(), delivery, config);
    let ids = workers
        .enqueue(activity(&inboxes("many.example", 10)))
        .await
        .unwrap();
    drain(&queue).await;
    assert_eq!(workers.finished(), 10);
    let backlog = workers.backlog().await.unwrap();
    assert_eq!((backlog.total, backlog.due), (0, 0));
    let report = workers.shutdown().await.report;
    assert_eq!(report.delivered, 10);
    assert_eq!(report.jobs.len(), 3);
    // The newest lines are kept.
    assert!(report.jobs.contains_key(&ids[9]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_pauses_the_whole_host() {
    let delivery = Scripted::new(|_, _, n| {
        if n == 0 {
            Ok(http::Response::builder()
                .status(429)
                .header("retry-after", "1")
                .body(Bytes::new())
                .unwrap())
        } else {
            status(202)
        }
    });
    let queue = Arc::new(MemoryQueue::new());
    let config = fast_config().with_per_host(4).with_double_knock(false);
    let workers = Workers::start(queue.clone(), delivery.clone(), config);
    workers
        .enqueue(activity(&inboxes("busy.example", 1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // More work for the paused host: it must wait too.
    workers
        .enqueue(activity(&inboxes("busy.example", 3)))
        .await
        .unwrap();
    drain(&queue).await;
    let log = delivery.log.lock().unwrap().clone();
    assert_eq!(log.len(), 5);
    let first = log[0].2;
    for (_, _, at) in &log[1..] {
        assert!(
            at.duration_since(first) >= Duration::from_millis(950),
            "{:?}",
            at.duration_since(first)
        );
    }
    let report = workers.shutdown().await.report;
    assert_eq!(report.delivered, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classification_drops_gone_and_rejected_and_exhausts_retries() {
    let delivery = Scripted::new(|host, _, _| match host {
        "gone.example" => status(410),
        "reject.example" => status(422),
        "down.example" => Err(DeliveryError::Connect {
            inbox: host.into(),
            reason: "connection refused".into(),
        }),
        "policy.example" => Err(DeliveryError::Refused {
            inbox: host.into(),
            reason: "private address".into(),
        }),
        _ => status(202),
    });
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(queue.clone(), delivery.clone(), fast_config());
    let mut all = Vec::new();
    for h in [
        "gone.example",
        "reject.example",
        "down.example",
        "policy.example",
        "ok.example",
    ] {
        all.extend(inboxes(h, 1));
    }
    let ids = workers.enqueue(activity(&all)).await.unwrap();
    drain(&queue).await;
    let report = workers.shutdown().await.report;
    let outcome = |i: usize| report.jobs[&ids[i]].outcome.clone();
    assert_eq!(outcome(0), JobOutcome::GaveUp(GiveUpReason::Gone));
    assert_eq!(
        outcome(1),
        JobOutcome::GaveUp(GiveUpReason::Rejected { status: 422 })
    );
    assert_eq!(
        outcome(2),
        JobOutcome::GaveUp(GiveUpReason::Exhausted { attempts: 5 })
    );
    assert!(
        matches!(outcome(3), JobOutcome::GaveUp(GiveUpReason::Refused { reason }) if reason.contains("private address"))
    );
    assert_eq!(outcome(4), JobOutcome::Delivered);
    assert_eq!(report.jobs[&ids[2]].attempts, 5);
    // 422 and 410 are not signature refusals: no second knock.
    assert_eq!(delivery.knocks("reject.example").len(), 1);
    assert_eq!(delivery.knocks("gone.example").len(), 1);
    assert_eq!(
        (
            report.delivered,
            report.gone,
            report.given_up,
            report.retries
        ),
        (1, 1, 3, 4)
    );
}

fn breaker_config(action: DeadHostAction) -> WorkerConfig {
    fast_config()
        .with_dead_host(action)
        .with_breaker(
            BreakerConfig::default()
                .with_dead_after(Duration::from_millis(100))
                .with_probe_after(Duration::from_millis(300))
                .with_max_hosts(100),
        )
        .with_retry(
            RetryPolicy::default()
                .with_initial_delay(Duration::from_millis(20))
                .with_factor(1.0)
                .with_jitter(0.0)
                .with_max_attempts(1000),
        )
}

fn flippable(up: Arc<AtomicBool>) -> Arc<Scripted> {
    Scripted::new(move |host, _, _| {
        if up.load(Ordering::SeqCst) {
            status(202)
        } else {
            Err(DeliveryError::Timeout { inbox: host.into() })
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_host_jobs_are_given_up_and_host_is_probed_later() {
    let up = Arc::new(AtomicBool::new(false));
    let delivery = flippable(up.clone());
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(
        queue.clone(),
        delivery.clone(),
        breaker_config(DeadHostAction::GiveUp),
    );
    let mut events = workers.subscribe();
    let ids = workers
        .enqueue(activity(&inboxes("dead.example", 4)))
        .await
        .unwrap();
    drain(&queue).await;
    let report = workers.report();
    assert_eq!(report.hosts_dead, 1);
    for id in &ids {
        assert_eq!(
            report.jobs[id].outcome,
            JobOutcome::GaveUp(GiveUpReason::HostDead)
        );
    }
    let sends_while_dead = delivery.knocks("dead.example").len();
    // The host comes back; after the cooldown one probe revives it.
    up.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let more = workers
        .enqueue(activity(&inboxes("dead.example", 3)))
        .await
        .unwrap();
    drain(&queue).await;
    let report = workers.shutdown().await.report;
    for id in &more {
        assert_eq!(report.jobs[id].outcome, JobOutcome::Delivered);
    }
    assert_eq!(delivery.knocks("dead.example").len(), sends_while_dead + 3);
    let mut saw = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let DeliveryEvent::HostDead { host } | DeliveryEvent::HostRevived { host } = &e {
            assert_eq!(host, "dead.example");
            saw.push(matches!(e, DeliveryEvent::HostDead { .. }));
        }
    }
    assert_eq!(saw, [true, false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_host_jobs_are_deferred_until_a_probe_succeeds() {
    let up = Arc::new(AtomicBool::new(false));
    let delivery = flippable(up.clone());
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(
        queue.clone(),
        delivery.clone(),
        breaker_config(DeadHostAction::Defer),
    );
    let ids = workers
        .enqueue(activity(&inboxes("sleepy.example", 4)))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while workers.report().hosts_dead == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the host was not marked dead within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sends_at_death = delivery.knocks("sleepy.example").len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Nothing sent during the cooldown.
    assert_eq!(delivery.knocks("sleepy.example").len(), sends_at_death);
    up.store(true, Ordering::SeqCst);
    drain(&queue).await;
    let report = workers.shutdown().await.report;
    let outcomes: HashMap<_, _> = ids
        .iter()
        .map(|id| (*id, report.jobs[id].outcome.clone()))
        .collect();
    assert!(
        outcomes.values().all(|o| *o == JobOutcome::Delivered),
        "{outcomes:?}"
    );
    assert!(report.deferrals >= 1);
}
