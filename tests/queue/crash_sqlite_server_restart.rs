//! Crash test: a whole server process (SQLite queue in its data directory,
//! delivery workers, and the code that enqueued a 1,000-inbox fan-out) is
//! killed with SIGKILL mid fan-out and started again on the same file. Not
//! one delivery is lost; each is delivered exactly once, or twice only
//! where the killed process had sent it without settling it (its lease
//! lapsed and the restarted server re-claimed it).
#![cfg(all(feature = "delivery", feature = "sqlite"))]
#![allow(dead_code)]

use crate::support::queue::{child, farm};

use std::time::{Duration, Instant};

use archipel::delivery::queue::sqlite::{Settled, SqliteQueue};
use archipel::delivery::{DeliveryQueue, JobId, Timestamp};

const CHILD_TEST: &str = concat!(
    module_path!(),
    "::sqlite_server_killed_mid_fan_out_and_restarted"
);
const INBOXES: usize = 1_000;
const LEASE_MS: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_server_killed_mid_fan_out_and_restarted() {
    if child::is_child() {
        return child::child_main().await;
    }
    let dir = std::env::temp_dir().join(format!("archipel-crash-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("delivery.sqlite3");
    let farm = farm::Farm::start(8, Duration::from_millis(20)).await;
    let spec = |worker: &str, enqueue: usize| child::Spec {
        backend: child::Backend::Sqlite(path.clone()),
        worker: worker.into(),
        lease_ms: LEASE_MS,
        concurrency: 48,
        per_host: 6,
        enqueue,
        hosts: farm.hosts.clone(),
    };

    let mut server = child::spawn(CHILD_TEST, &spec("before-crash", INBOXES));
    farm.wait_for(INBOXES / 3, Duration::from_secs(60)).await;
    server.kill().unwrap(); // SIGKILL: no shutdown, no lease released
    server.wait().unwrap();
    let killed_at = Instant::now();
    let delivered_before = farm.count();

    let queue = SqliteQueue::open(&path).await.unwrap();
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let at_kill = queue.stats(now).await.unwrap();
    assert!(
        at_kill.leased > 0,
        "nothing was in flight at the kill: {at_kill:?}"
    );
    assert!(
        at_kill.total > 0,
        "fan-out finished before the kill: {at_kill:?}"
    );

    let mut restarted = child::spawn(CHILD_TEST, &spec("after-restart", 0));
    child::wait(&mut restarted, Duration::from_secs(90));
    assert!(killed_at.elapsed() >= Duration::from_millis(LEASE_MS - 200));

    let received = farm.received();
    assert_eq!(
        farm::per_inbox(&received).len(),
        INBOXES,
        "a delivery was lost"
    );
    assert!(
        farm.overlaps().is_empty(),
        "a job was sent twice at the same time"
    );
    let (mut once, mut twice, mut reclaimed) = (0usize, 0usize, 0usize);
    // A fresh file numbers the fan-out's jobs 1..=INBOXES.
    for n in 1..=INBOXES as u64 {
        let f = queue.finished(JobId(n)).await.unwrap().unwrap();
        assert_eq!(f.settled, Settled::Delivered);
        if f.record.claims > 1 {
            reclaimed += 1;
        }
        match received.iter().filter(|r| r.job == n).count() {
            1 => once += 1,
            2 => {
                assert!(
                    f.record.claims >= 2,
                    "job {n} sent twice without a lapsed lease"
                );
                twice += 1;
            }
            c => panic!("job {n} delivered {c} times"),
        }
    }
    assert_eq!(
        queue.finished(JobId(INBOXES as u64 + 1)).await.unwrap(),
        None
    );
    assert_eq!(
        queue
            .stats(Timestamp::from_millis(u64::MAX / 2))
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(once + twice, INBOXES);
    crate::support::shout(&format!(
        "sqlite server restart: {INBOXES} inboxes, killed after {delivered_before} POSTs with {} \
         jobs claimed and {} unsettled: delivered exactly once {once}, twice (lease lapsed) {twice}, \
         re-claimed {reclaimed}",
        at_kill.leased, at_kill.total
    ));
    drop(queue);
    let _ = std::fs::remove_dir_all(&dir);
}
