//! Delivery-queue throughput, every backend side by side in one run:
//! enqueue (one activity to 100 inboxes), claim + ack (batches of 64),
//! the latter also with ordering keys (each claim then checks, through an
//! index, that no older job about the same object to the same inbox is
//! pending), and claims alone (batches of 16, as a drain makes them).
//!
//! `cargo bench --all-features --bench queue`; the PostgreSQL rows need
//! `ARCHIPEL_TEST_PG_URL` (see `.ci/postgres.sh`) and are skipped without it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::delivery::{
    AttemptRecord, ClaimRequest, DeliveryQueue, MemoryQueue, NewActivity, PreparedBody, Timestamp,
};
use archipel::vocab::Iri;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const FAN_OUT: usize = 100;
const BATCH: usize = 64;
/// The claims of a drain with 128 slots (see `queue_claim`).
const CLAIM: usize = 16;

fn activity(n: usize) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked("https://me.example/activities/bench"),
        PreparedBody::new(Bytes::from(vec![b'x'; 1500])),
        Iri::new_unchecked("https://me.example/users/alice#main-key"),
        (0..n)
            .map(|i| {
                url::Url::parse(&format!("https://host{}.example/users/u{i}/inbox", i % 50))
                    .unwrap()
            })
            .collect(),
    )
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

fn claim_request() -> ClaimRequest {
    ClaimRequest {
        now: now(),
        limit: BATCH,
        lease_for: Duration::from_secs(600),
        per_host_limit: usize::MAX,
        busy: Default::default(),
        paused: Default::default(),
    }
}

/// Untimed set-up of the claim groups: `need` due jobs, in activities of
/// at most 2,000 inboxes, each with an ordering key when `ordered` (as
/// `DeliveryPlan` derives it: the object's id).
async fn enqueue_due(q: &dyn DeliveryQueue, need: usize, ordered: bool) {
    let mut queued = 0;
    while queued < need {
        let n = (need - queued).min(2_000);
        let mut a = activity(n);
        if ordered {
            a = a.with_order_key(format!("https://me.example/notes/{queued}"));
        }
        q.enqueue_activity(a, Timestamp::EPOCH).await.unwrap();
        queued += n;
    }
}

/// Every backend available in this build and environment, named; each
/// call opens fresh, empty queues (`tag` keeps their storage apart).
// Without the queue features only the memory queue exists, and `rt` and
// `tag` are unused.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(unused_variables)
)]
fn backends(rt: &Runtime, tag: &str) -> Vec<(String, Arc<dyn DeliveryQueue>)> {
    #[allow(unused_mut)]
    let mut out: Vec<(String, Arc<dyn DeliveryQueue>)> =
        vec![("memory".into(), Arc::new(MemoryQueue::new()))];
    #[cfg(feature = "sqlite")]
    {
        use archipel::delivery::queue::sqlite::{SqliteOptions, SqliteQueue, Synchronous};
        let dir = std::env::temp_dir().join(format!("archipel-bench-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, sync) in [
            ("sqlite-full", Synchronous::Full),
            ("sqlite", Synchronous::Enqueue),
            ("sqlite-normal", Synchronous::Normal),
        ] {
            let options = SqliteOptions {
                synchronous: sync,
                prune_every: None,
                ..SqliteOptions::default()
            };
            let q = rt
                .block_on(SqliteQueue::open_with(
                    dir.join(format!("{name}.sqlite3")),
                    options,
                ))
                .unwrap();
            out.push((name.into(), Arc::new(q)));
        }
    }
    #[cfg(feature = "postgres")]
    match std::env::var("ARCHIPEL_TEST_PG_URL") {
        Ok(url) => {
            use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};
            let schema = format!("bench_{}_{tag}", std::process::id());
            let options = PostgresOptions {
                schema,
                prune_every: None,
                ..PostgresOptions::default()
            };
            let q = rt
                .block_on(PostgresQueue::connect_with(&url, options))
                .unwrap();
            out.push(("postgres".into(), Arc::new(q)));
        }
        Err(_) => eprintln!("notice: ARCHIPEL_TEST_PG_URL not set, PostgreSQL not benchmarked"),
    }
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let queues = backends(&rt, "enqueue");

    let mut g = c.benchmark_group("queue_enqueue");
    g.throughput(Throughput::Elements(FAN_OUT as u64));
    for (name, q) in &queues {
        g.bench_function(BenchmarkId::new("fan_out_100", name), |b| {
            b.iter(|| {
                rt.block_on(q.enqueue_activity(activity(FAN_OUT), now()))
                    .unwrap()
            })
        });
    }
    g.finish();

    drop(queues);
    let queues = backends(&rt, "claim");

    let mut g = c.benchmark_group("queue_claim_ack");
    g.throughput(Throughput::Elements(BATCH as u64));
    let cases = queues.iter().flat_map(|(name, q)| {
        [("batch_64", false), ("batch_64_ordered", true)].map(|c| (c, name, q))
    });
    for ((case, ordered), name, q) in cases {
        g.bench_function(BenchmarkId::new(case, name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    enqueue_due(q.as_ref(), iters as usize * BATCH, ordered).await;
                    let start = Instant::now();
                    for _ in 0..iters {
                        let jobs = q.claim(&claim_request()).await.unwrap();
                        assert_eq!(jobs.len(), BATCH);
                        for j in jobs {
                            q.ack(
                                &j.lease,
                                AttemptRecord {
                                    status: Some(202),
                                    ..Default::default()
                                },
                            )
                            .await
                            .unwrap();
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();

    // Claims alone, of 16 jobs: what a drain's pool of 128 slots claims
    // at a time (it waits for an eighth of its slots to be free). The jobs
    // stay leased, so each claim takes the next 16.
    let mut g = c.benchmark_group("queue_claim");
    g.throughput(Throughput::Elements(CLAIM as u64));
    for (name, q) in &queues {
        g.bench_function(BenchmarkId::new("batch_16", name), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    enqueue_due(q.as_ref(), iters as usize * CLAIM, false).await;
                    let request = ClaimRequest {
                        limit: CLAIM,
                        ..claim_request()
                    };
                    let start = Instant::now();
                    for _ in 0..iters {
                        let jobs = q.claim(&request).await.unwrap();
                        assert_eq!(jobs.len(), CLAIM);
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
    drop(queues);
    for tag in ["enqueue", "claim"] {
        let dir = std::env::temp_dir().join(format!("archipel-bench-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(dir);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
