//! Two inbound worker pools on two PostgreSQL connections to one schema
//! (two machines, in effect) process 500 activities: each exactly once
//! when nobody crashes, and both pools take part.
#![cfg(feature = "postgres")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};
use archipel::inbox::queue::{InboundConfig, InboundQueue, InboundWorkers};

use crate::common::{self, Calls};
use crate::support::queue::pg;

const ACTIVITIES: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_schema_process_each_activity_once() {
    let Some(url) = pg::url("two_workers_on_one_schema_process_each_activity_once") else {
        return;
    };
    let schema = pg::unique_schema("inbound_two");
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let a = InboundQueue::new(Arc::new(
        PostgresQueue::connect_with(&url, options.clone())
            .await
            .unwrap(),
    ));
    let b = InboundQueue::new(Arc::new(
        PostgresQueue::connect_with(&url, options).await.unwrap(),
    ));

    let (inbox, peers) = common::inbox_with_peers(50, 10);
    let mut ids = Vec::new();
    let accepting = Instant::now();
    let mut stored = Duration::ZERO;
    for n in 0..ACTIVITIES {
        let (id, request) = common::like(&peers[n % peers.len()], n);
        // Accepted by either machine's inbox.
        let target = if n % 2 == 0 { &a } else { &b };
        let incoming = inbox.receive(&request).await.unwrap();
        let storing = Instant::now();
        target.enqueue(&incoming).await.unwrap();
        stored += storing.elapsed();
        ids.push(id);
    }
    let accepted = accepting.elapsed();
    assert_eq!(a.stats().await.unwrap().depth, ACTIVITIES);

    let calls = Calls::new(0);
    let config = InboundConfig::default()
        .with_concurrency(8)
        .with_poll_interval(Duration::from_millis(20));
    let work = Duration::from_millis(2);
    let processing = Instant::now();
    let wa = InboundWorkers::start(
        a.clone(),
        common::dispatcher(calls.clone(), "a", work),
        config.clone(),
    );
    let wb = InboundWorkers::start(
        b.clone(),
        common::dispatcher(calls.clone(), "b", work),
        config,
    );
    common::wait_until("every activity handled", Duration::from_secs(60), || {
        calls.done_count() == ACTIVITIES
    })
    .await;
    common::eventually("an empty queue", Duration::from_secs(10), || async {
        a.stats().await.unwrap().depth == 0
    })
    .await;
    let processed = processing.elapsed();
    let (sa, sb) = (wa.shutdown().await, wb.shutdown().await);
    crate::support::shout(&format!(
        "inbound queue on PostgreSQL: {ACTIVITIES} activities verified and stored in {accepted:?} \
         (storing {stored:?}, {:.0}/s), processed by two pools (2 ms handlers, 8 at once each) in {processed:?} ({:.0}/s)",
        ACTIVITIES as f64 / stored.as_secs_f64(),
        ACTIVITIES as f64 / processed.as_secs_f64(),
    ));

    let seen = calls.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), ACTIVITIES, "an activity was handled twice");
    for id in &ids {
        assert_eq!(calls.done_of(id), 1, "{id}");
    }
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for (_, worker) in &seen {
        *per_worker.entry(worker.clone()).or_default() += 1;
    }
    assert_eq!(per_worker.len(), 2, "both pools took part: {per_worker:?}");
    assert_eq!(
        (sa.processed + sb.processed, sa.failed + sb.failed),
        (ACTIVITIES as u64, 0)
    );
    assert_eq!(sa.processed as usize, per_worker["a"]);
    pg::drop_schema(&url, &schema).await;
}
