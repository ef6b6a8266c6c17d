//! Crash test: a worker process is killed with SIGKILL while it holds
//! claimed jobs; a second worker process takes over. Every job is delivered
//! exactly once, or twice only where its lease lapsed (the killed worker
//! had sent it but not acked it). Runs against SQLite and, when
//! a server is available (see `support::queue::pg`), PostgreSQL.
#![cfg(feature = "delivery")]
#![allow(dead_code)]

use crate::support::queue::{child, farm, pg};

use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::delivery::{DeliveryQueue, JobId, Timestamp};

const JOBS: usize = 400;
const LEASE_MS: u64 = 1_500;

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// How a job ended, per backend: (claims, delivered?).
type Finished = Box<
    dyn Fn(JobId) -> std::pin::Pin<Box<dyn std::future::Future<Output = (u32, bool)> + Send>>
        + Send
        + Sync,
>;

async fn run(
    name: &str,
    test: &str,
    queue: Arc<dyn DeliveryQueue>,
    backend: child::Backend,
    finished: Finished,
) {
    let farm = farm::Farm::start(4, Duration::from_millis(30)).await;
    let ids = queue
        .enqueue_activity(child::fan_out(JOBS, &farm.hosts), now())
        .await
        .unwrap();
    assert_eq!(ids.len(), JOBS);
    let spec = |worker: &str| child::Spec {
        backend: backend.clone(),
        worker: worker.into(),
        lease_ms: LEASE_MS,
        concurrency: 32,
        per_host: 8,
        enqueue: 0,
        hosts: farm.hosts.clone(),
    };

    let mut first = child::spawn(test, &spec("first"));
    farm.wait_for(JOBS / 4, Duration::from_secs(60)).await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let killed_at = Instant::now();
    let at_kill = queue.stats(now()).await.unwrap();
    assert!(
        at_kill.leased > 0,
        "the killed worker held no claimed job: {at_kill:?}"
    );
    assert!(at_kill.total > 0 && at_kill.total < JOBS, "{at_kill:?}");

    let mut second = child::spawn(test, &spec("second"));
    child::wait(&mut second, Duration::from_secs(90));
    assert!(
        killed_at.elapsed() >= Duration::from_millis(LEASE_MS - 200),
        "lapsed leases were waited for"
    );
    assert_eq!(queue.stats(now()).await.unwrap().total, 0);

    let received = farm.received();
    let by_inbox = farm::per_inbox(&received);
    assert_eq!(by_inbox.len(), JOBS, "some inbox never got the activity");
    let (mut once, mut twice, mut reclaimed) = (0, 0, 0);
    for id in &ids {
        let (claims, delivered) = finished(*id).await;
        assert!(delivered, "{id} not settled as delivered");
        if claims > 1 {
            reclaimed += 1;
        }
        let copies = received.iter().filter(|r| r.job == id.0).count();
        match copies {
            1 => once += 1,
            2 => {
                assert!(
                    claims >= 2,
                    "{id} delivered twice without its lease lapsing"
                );
                twice += 1;
            }
            n => panic!("{id} delivered {n} times"),
        }
        // Both copies went from different workers, never at the same time.
    }
    assert!(
        farm.overlaps().is_empty(),
        "a job was sent by two workers at once"
    );
    assert!(
        reclaimed >= at_kill.leased,
        "every job held at the kill was re-claimed"
    );
    crate::support::shout(&format!(
        "{name}: {JOBS} jobs, SIGKILL with {} claimed: delivered exactly once {once}, \
         twice (lease lapsed) {twice}, re-claimed {reclaimed}",
        at_kill.leased
    ));
    assert_eq!(once + twice, JOBS);
    assert!(twice <= reclaimed);
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_worker_killed_holding_claims() {
    use archipel::delivery::queue::sqlite::{Settled, SqliteQueue};
    if child::is_child() {
        return child::child_main().await;
    }
    let dir = std::env::temp_dir().join(format!("archipel-crash-worker-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("queue.sqlite3");
    let queue = SqliteQueue::open(&path).await.unwrap();
    let q = queue.clone();
    let finished: Finished = Box::new(move |id| {
        let q = q.clone();
        Box::pin(async move {
            let f = q.finished(id).await.unwrap().unwrap();
            (f.record.claims, f.settled == Settled::Delivered)
        })
    });
    run(
        "sqlite",
        concat!(module_path!(), "::sqlite_worker_killed_holding_claims"),
        Arc::new(queue),
        child::Backend::Sqlite(path),
        finished,
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_worker_killed_holding_claims() {
    use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue, Settled};
    if child::is_child() {
        return child::child_main().await;
    }
    let Some(url) = pg::url("postgres_worker_killed_holding_claims") else {
        return;
    };
    let schema = pg::unique_schema("crash");
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let queue = PostgresQueue::connect_with(&url, options).await.unwrap();
    let q = queue.clone();
    let finished: Finished = Box::new(move |id| {
        let q = q.clone();
        Box::pin(async move {
            let f = q.finished(id).await.unwrap().unwrap();
            (f.record.claims, f.settled == Settled::Delivered)
        })
    });
    let backend = child::Backend::Postgres {
        url: url.clone(),
        schema: schema.clone(),
    };
    run(
        "postgres",
        concat!(module_path!(), "::postgres_worker_killed_holding_claims"),
        Arc::new(queue),
        backend,
        finished,
    )
    .await;
    pg::drop_schema(&url, &schema).await;
}
