//! 2,500 followers on 50 loopback hosts: the expansion, in batches that
//! end in the middle of a host, sends exactly one copy to each host's
//! shared inbox, and none again for a named recipient who is also there.

use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::{MemoryQueue, WorkerConfig};
use archipel::federation::fanout::FanoutConfig;
use archipel::vocab::Iri;

use crate::common::{Stores, arrivals, farm, followers, public_note_cc, server, within};

const HOSTS: usize = 50;
const PER_HOST: usize = 50;
/// Not a divisor of 50: most batches end in the middle of a host.
const BATCH: usize = 128;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shared_inbox_gets_one_copy_of_a_post_to_2500_followers() {
    let stores = Stores::memory();
    let (fed, alice) = server(
        &stores,
        Arc::new(MemoryQueue::new()),
        Arc::new(MemoryQueue::new()),
        FanoutConfig::default().with_batch(BATCH),
    )
    .await;
    let hosts = farm(HOSTS, &alice).await;
    let all = followers(&stores, &alice, &hosts, PER_HOST).await;
    assert_eq!(all.len(), HOSTS * PER_HOST);
    fed.start_delivery(WorkerConfig::default()).await;

    // Also named in `cc`: a follower on host 7, whose server has the post
    // through the followers already.
    let named = Iri::parse(hosts[7].base.join("/users/3").unwrap().as_str()).unwrap();
    let create = public_note_cc(&fed, &alice, "to 2,500 followers", vec![named]);
    let sent = fed.send(&alice, &create).await.unwrap();
    assert!(sent.fanout.is_some() && sent.jobs.is_empty(), "{sent:?}");
    let id = create.id.clone().unwrap().to_string();

    within(
        Duration::from_secs(60),
        "every host received the post",
        || hosts.iter().all(|h| !arrivals(h, &id).is_empty()),
    )
    .await;
    within(Duration::from_secs(10), "the fan-out finished", || {
        fed.fanout_stats().expanded == 1
    })
    .await;
    // Anything extra would have been enqueued before the ack.
    let report = fed.stop_delivery().await.unwrap();
    assert!(report.unsettled.is_empty(), "{report:?}");
    for (n, host) in hosts.iter().enumerate() {
        assert_eq!(arrivals(host, &id), vec!["/inbox".to_owned()], "host {n}");
        assert_eq!(
            host.stats
                .bad_signatures
                .load(std::sync::atomic::Ordering::SeqCst),
            0
        );
    }
    let stats = fed.fanout_stats();
    // 2,500 / 128: 19 full batches and a last short one.
    assert_eq!(stats.batches, 20, "{stats:?}");
    assert_eq!(stats.deliveries, HOSTS as u64, "{stats:?}");
    assert_eq!(stats.unresolved, 0, "{stats:?}");
}
