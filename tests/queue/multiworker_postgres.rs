//! Multi-worker test: four worker processes share one PostgreSQL queue and
//! drain 20,000 jobs into a loopback inbox farm of eight hosts. No job is
//! lost, none is delivered twice or by two workers at once, and the run
//! prints the throughput in jobs per second.
#![cfg(all(feature = "delivery", feature = "postgres"))]
#![allow(dead_code)]

use crate::support::queue::{child, farm, pg};

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};
use archipel::delivery::{DeliveryQueue, NewActivity, PreparedBody, Timestamp};
use archipel::vocab::Iri;
use bytes::Bytes;

const CHILD_TEST: &str = concat!(
    module_path!(),
    "::four_worker_processes_drain_20000_jobs_without_sharing_one"
);
const WORKERS: usize = 4;
const ACTIVITIES: usize = 20;
const INBOXES_EACH: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_drain_20000_jobs_without_sharing_one() {
    if child::is_child() {
        return child::child_main().await;
    }
    let Some(url) = pg::url("four_worker_processes_drain_20000_jobs_without_sharing_one") else {
        return;
    };
    let schema = pg::unique_schema("multiworker");
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let queue = PostgresQueue::connect_with(&url, options).await.unwrap();
    let farm = farm::Farm::start(8, Duration::ZERO).await;

    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let mut ids = Vec::new();
    for a in 0..ACTIVITIES {
        let id = format!("https://me.example/activities/{a}");
        let activity = NewActivity::new(
            Iri::new_unchecked(id.clone()),
            PreparedBody::new(Bytes::from(format!(
                "{{\"id\":\"{id}\",\"type\":\"Note\"}}"
            ))),
            Iri::new_unchecked("https://me.example/users/alice#main-key"),
            farm.inboxes(INBOXES_EACH, &format!("a{a}u")),
        );
        ids.extend(queue.enqueue_activity(activity, now).await.unwrap());
    }
    let total = ACTIVITIES * INBOXES_EACH;
    assert_eq!(ids.len(), total);

    let started = Instant::now();
    let mut children: Vec<_> = (0..WORKERS)
        .map(|w| {
            child::spawn(
                CHILD_TEST,
                &child::Spec {
                    backend: child::Backend::Postgres {
                        url: url.clone(),
                        schema: schema.clone(),
                    },
                    worker: format!("w{w}"),
                    lease_ms: 60_000,
                    concurrency: 64,
                    per_host: 16,
                    enqueue: 0,
                    hosts: farm.hosts.clone(),
                },
            )
        })
        .collect();
    for c in &mut children {
        child::wait(c, Duration::from_secs(300));
    }
    let elapsed = started.elapsed();

    let received = farm.received();
    assert!(
        farm.overlaps().is_empty(),
        "a job was sent by two workers at once"
    );
    let jobs: HashSet<u64> = received.iter().map(|r| r.job).collect();
    assert_eq!(jobs.len(), total, "a job was lost");
    assert_eq!(received.len(), total, "a job was delivered twice");
    assert_eq!(jobs, ids.iter().map(|j| j.0).collect::<HashSet<_>>());
    assert_eq!(farm::per_inbox(&received).len(), total);
    assert!(
        received
            .iter()
            .all(|r| r.body_len > 20 && r.activity.starts_with("https://me.example/activities/"))
    );
    let mut per_worker: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &received {
        *per_worker.entry(r.worker.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_worker.len(),
        WORKERS,
        "every worker took part: {per_worker:?}"
    );

    // The queue agrees: every job settled as delivered, each claimed once.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE state = 1), count(*), max(claims) FROM {schema}.jobs"
            ),
            &[],
        )
        .await
        .unwrap();
    let (delivered, all, max_claims): (i64, i64, i32) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (delivered, all, max_claims),
        (total as i64, total as i64, 1)
    );
    assert_eq!(
        queue
            .stats(Timestamp::from_millis(u64::MAX / 2))
            .await
            .unwrap()
            .total,
        0
    );

    crate::support::shout(&format!(
        "postgres multi-worker: {WORKERS} processes drained {total} jobs in {:.2} s = {:.0} jobs/s \
         (per worker {per_worker:?})",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    ));
    drop(client);
    pg::drop_schema(&url, &schema).await;
}
