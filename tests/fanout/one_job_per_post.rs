//! The poster's call writes one fan-out job and no delivery job, for 3
//! followers as for 5,000, and reads none of them.

use std::sync::Arc;

use archipel::delivery::{DeliveryQueue as _, MemoryQueue};
use archipel::federation::fanout::FanoutConfig;
use archipel::vocab::Iri;

use crate::common::{Stores, now, public_note, server};

#[tokio::test]
async fn a_post_to_followers_is_one_fanout_job_whatever_the_follower_count() {
    for count in [3usize, 5_000] {
        let stores = Stores::memory();
        let fanout = Arc::new(MemoryQueue::new());
        let delivery = Arc::new(MemoryQueue::new());
        let (fed, alice) = server(
            &stores,
            fanout.clone(),
            delivery.clone(),
            FanoutConfig::default(),
        )
        .await;
        for n in 0..count {
            let f = Iri::parse(format!("https://h{}.example/users/{n}", n % 50)).unwrap();
            stores.graph.add_follower(alice.id(), &f).await.unwrap();
        }
        let create = public_note(&fed, &alice, "hello");
        let sent = fed.send(&alice, &create).await.unwrap();
        assert!(sent.jobs.is_empty(), "{count}: {sent:?}");
        let job = sent.fanout.expect("a fan-out job");
        // No follower was resolved: none is unresolved either (their
        // actors are not in the cache, and nothing was fetched).
        assert!(sent.unresolved.is_empty(), "{count}: {sent:?}");
        let stats = fed.fanout_queue().stats(now()).await.unwrap();
        assert_eq!((stats.total, stats.due), (1, 1), "{count} followers");
        assert_eq!(delivery.stats(now()).await.unwrap().total, 0);
        let record = fed.fanout_queue().get(job).await.unwrap().unwrap();
        assert_eq!(record.inbox.as_str(), alice.followers().as_str());
        assert_eq!(record.activity_id, create.id.clone().unwrap());
        assert_eq!(record.key_id, *alice.key_id());
        assert_eq!(record.progress, None);
        assert_eq!(fed.fanout_stats().enqueued, 1);
    }
}
