//! A crash in the middle of an expansion, on SQLite queues: the first
//! server dies after its third batch's deliveries are enqueued and before
//! that batch is checkpointed; a second server on the same files resumes
//! after the second checkpoint. Every inbox receives the post, and only
//! the third batch's inboxes receive it twice (at least once: receivers
//! drop the copy by id).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use archipel::delivery::queue::sqlite::SqliteQueue;
use archipel::delivery::{
    DeliveryError, DeliveryQueue, JobId, NewActivity, Timestamp, WorkerConfig,
};
use archipel::federation::fanout::FanoutConfig;
use archipel::federation::graph::page_order;
use archipel::vocab::Iri;

use crate::common::{Stores, arrivals, farm, followers, now, public_note, server, within};
use crate::support::queue::hooked::{Hooked, Hooks};

const HOSTS: usize = 20;
const PER_HOST: usize = 25;
/// Four hosts per batch.
const BATCH: usize = 100;
/// The batch whose enqueue is the crash point (the third).
const CRASH_AT: usize = 3;

/// A delivery queue that never returns from its `CRASH_AT`-th enqueue,
/// once the jobs are written: the worker is stuck between the enqueue and
/// the checkpoint when the process dies.
struct StallAfter {
    enqueues: AtomicUsize,
    stalled: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl Hooks for StallAfter {
    async fn enqueue_activity(
        &self,
        inner: &dyn DeliveryQueue,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        let ids = inner.enqueue_activity(activity, now).await?;
        if self.enqueues.fetch_add(1, Ordering::SeqCst) + 1 == CRASH_AT {
            self.stalled.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(ids)
    }
}

#[test]
fn a_crash_mid_expansion_resumes_from_the_checkpoint_and_resends_one_batch() {
    let dir = std::env::temp_dir().join(format!(
        "archipel-fanout-restart-{}-{}",
        std::process::id(),
        now().as_millis()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stores = Stores::memory();
    let config = FanoutConfig::default()
        .with_batch(BATCH)
        .with_workers(1)
        .with_lease(Duration::from_secs(1));

    // The farm lives on the main runtime, through both lives of the server.
    let (hosts, all) = main.block_on(async {
        let fanout = Arc::new(SqliteQueue::open(dir.join("fanout.sqlite3")).await.unwrap());
        let delivery = Arc::new(
            SqliteQueue::open(dir.join("delivery.sqlite3"))
                .await
                .unwrap(),
        );
        let (_, alice) = server(&stores, fanout, delivery, config.clone()).await;
        let hosts = farm(HOSTS, &alice).await;
        let all = followers(&stores, &alice, &hosts, PER_HOST).await;
        (hosts, all)
    });

    // First life, on its own runtime: expansion only; it stalls in the
    // third batch's enqueue, and the runtime is dropped there (a crash).
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (id, job) = first.block_on(async {
        let fanout = Arc::new(SqliteQueue::open(dir.join("fanout.sqlite3")).await.unwrap());
        let delivery = Arc::new(Hooked::new(
            SqliteQueue::open(dir.join("delivery.sqlite3"))
                .await
                .unwrap(),
            StallAfter {
                enqueues: AtomicUsize::new(0),
                stalled: tokio::sync::Notify::new(),
            },
        ));
        let (fed, alice) = server(&stores, fanout, delivery.clone(), config.clone()).await;
        fed.start_fanout().await;
        let create = public_note(&fed, &alice, "through a crash");
        let sent = fed.send(&alice, &create).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), delivery.hooks.stalled.notified())
            .await
            .expect("the third batch was enqueued");
        (create.id.clone().unwrap().to_string(), sent.fanout.unwrap())
    });
    first.shutdown_timeout(Duration::from_secs(5));

    main.block_on(async {
        // On disk: two checkpoints, three batches of deliveries (four hosts each).
        let fanout = Arc::new(SqliteQueue::open(dir.join("fanout.sqlite3")).await.unwrap());
        let delivery = Arc::new(
            SqliteQueue::open(dir.join("delivery.sqlite3"))
                .await
                .unwrap(),
        );
        let record = fanout.get(job).await.unwrap().expect("the job survived");
        assert!(record.progress.is_some(), "{record:?}");
        assert_eq!(
            delivery.stats(now()).await.unwrap().total,
            CRASH_AT * BATCH / PER_HOST
        );

        // Second life on the same files: resumes once the lease lapses.
        let (fed, _alice) = server(&stores, fanout.clone(), delivery, config.clone()).await;
        fed.start_delivery(WorkerConfig::default()).await;
        within(
            Duration::from_secs(60),
            "every host received the post",
            || hosts.iter().all(|h| !arrivals(h, &id).is_empty()),
        )
        .await;
        within(Duration::from_secs(20), "the fan-out job is done", || {
            fed.fanout_stats().expanded == 1
        })
        .await;
        let stopped = fed.stop_delivery().await.unwrap();
        assert!(stopped.unsettled.is_empty(), "{stopped:?}");
        assert_eq!(fanout.stats(now()).await.unwrap().total, 0);

        // The hosts of the re-sent batch, from the order the graph pages in.
        let mut ordered: Vec<Iri> = all.clone();
        ordered.sort_by(|a, b| page_order(a).cmp(&page_order(b)));
        let resent: BTreeSet<String> = ordered[(CRASH_AT - 1) * BATCH..CRASH_AT * BATCH]
            .iter()
            .map(|f| page_order(f).0)
            .collect();
        assert_eq!(resent.len(), BATCH / PER_HOST);
        for host in &hosts {
            let copies = arrivals(host, &id).len();
            let twice = resent.contains(&host.authority());
            assert_eq!(copies, if twice { 2 } else { 1 }, "{}", host.base);
        }
        // The second life did the rest: batches 3 to 5.
        assert_eq!(
            fed.fanout_stats().batches as usize,
            HOSTS * PER_HOST / BATCH - (CRASH_AT - 1)
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
