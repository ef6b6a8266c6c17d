//! A `Create` and its `Delete`, sent back to back to the same followers:
//! the `Delete`'s fan-out is not claimed while the `Create`'s is
//! unfinished, and no inbox receives the `Delete` before the `Create`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::{ClaimRequest, MemoryQueue, WorkerConfig};
use archipel::federation::fanout::FanoutConfig;
use archipel::vocab::{Activity, Iri, Kind};

use crate::common::{Stores, farm, followers, now, public_note, received, server, within};

const HOSTS: usize = 30;
const PER_HOST: usize = 10;

/// The Delete of `create`'s object, addressed as the Create is.
fn delete_of(fed: &archipel::federation::Federation, create: &Activity) -> Activity {
    let object = create.object_id().unwrap().clone();
    let mut delete = Activity::new(
        Kind::Delete,
        fed.new_activity_id().unwrap(),
        create.actor_id().unwrap().clone(),
    );
    delete.base.to = create.base.to.clone();
    delete.base.cc = create.base.cc.clone();
    delete.object = Some(archipel::vocab::Reference::Iri(object).into());
    delete
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delete_fanout_waits_for_the_create_fanout() {
    let stores = Stores::memory();
    let (fed, alice) = server(
        &stores,
        Arc::new(MemoryQueue::new()),
        Arc::new(MemoryQueue::new()),
        FanoutConfig::default(),
    )
    .await;
    for n in 0..3 {
        let f = Iri::parse(format!("https://h{n}.example/users/f")).unwrap();
        stores.graph.add_follower(alice.id(), &f).await.unwrap();
    }
    let create = public_note(&fed, &alice, "soon gone");
    let delete = delete_of(&fed, &create);
    let first = fed.send(&alice, &create).await.unwrap().fanout.unwrap();
    let second = fed.send(&alice, &delete).await.unwrap().fanout.unwrap();
    assert!(first < second);
    let request = ClaimRequest {
        now: now(),
        limit: 10,
        lease_for: Duration::from_secs(60),
        per_host_limit: 10,
        busy: BTreeMap::new(),
        paused: BTreeSet::new(),
    };
    let claimed = fed.fanout_queue().claim(&request).await.unwrap();
    let ids: Vec<_> = claimed.iter().map(|c| c.lease.job).collect();
    assert_eq!(ids, vec![first], "only the Create's fan-out is claimable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_inbox_gets_the_delete_before_the_create() {
    let stores = Stores::memory();
    let (fed, alice) = server(
        &stores,
        Arc::new(MemoryQueue::new()),
        Arc::new(MemoryQueue::new()),
        // Small batches and two workers: without the ordering key the two
        // expansions would run side by side.
        FanoutConfig::default().with_batch(PER_HOST).with_workers(2),
    )
    .await;
    let hosts = farm(HOSTS, &alice).await;
    followers(&stores, &alice, &hosts, PER_HOST).await;
    fed.start_delivery(WorkerConfig::default()).await;

    let create = public_note(&fed, &alice, "soon gone");
    let delete = delete_of(&fed, &create);
    fed.send(&alice, &create).await.unwrap();
    fed.send(&alice, &delete).await.unwrap();
    let (c, d) = (
        create.id.clone().unwrap().to_string(),
        delete.id.clone().unwrap().to_string(),
    );
    within(Duration::from_secs(60), "every host received both", || {
        hosts.iter().all(|h| {
            let got = received(h);
            got.contains(&c) && got.contains(&d)
        })
    })
    .await;
    fed.stop_delivery().await.unwrap();
    for (n, host) in hosts.iter().enumerate() {
        assert_eq!(received(host), vec![c.clone(), d.clone()], "host {n}");
    }
}
