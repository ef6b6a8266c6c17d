//! A sending server built on the library alone, its followers on farm
//! hosts (their actors already in the cache, so the expansion fetches
//! nothing), and what the farm received.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use archipel::client::ReqwestClient;
use archipel::delivery::{DeliveryQueue, Timestamp};
use archipel::federation::fanout::FanoutConfig;
use archipel::federation::graph::Graph;
use archipel::federation::keys::{KeyStore, MemoryKeyStore};
use archipel::federation::remote::{ActorStore, MemoryActorStore, StoredActor};
use archipel::federation::{Federation, LocalActor, MemoryGraph};
use archipel::vocab::{Activity, AnyObject, Audience, Iri, Object};

use crate::support::farm::{Behavior, FarmHost};

/// What one sending server is made of, shared across a restart.
#[derive(Clone)]
pub struct Stores {
    pub keys: Arc<dyn KeyStore>,
    pub graph: Arc<dyn Graph>,
    pub actors: Arc<dyn ActorStore>,
}

impl Stores {
    pub fn memory() -> Stores {
        Stores {
            keys: Arc::new(MemoryKeyStore::new()),
            graph: Arc::new(MemoryGraph::new()),
            actors: Arc::new(MemoryActorStore::new().with_max_entries(100_000)),
        }
    }
}

/// `https://a.example` with alice loaded, its queues as given.
pub async fn server(
    stores: &Stores,
    fanout: Arc<dyn DeliveryQueue>,
    delivery: Arc<dyn DeliveryQueue>,
    config: FanoutConfig,
) -> (Federation, LocalActor) {
    let client = ReqwestClient::new(crate::support::local_policy()).unwrap();
    let fed = Federation::builder("https://a.example".parse().unwrap())
        .with_client(Arc::new(client))
        .with_key_store(stores.keys.clone())
        .with_graph(stores.graph.clone())
        .with_actor_store(stores.actors.clone())
        .with_queue(delivery)
        .with_fanout_queue(fanout)
        .with_fanout_config(config)
        .build()
        .await
        .unwrap();
    let alice = fed.actor("alice").await.unwrap();
    (fed, alice)
}

/// `per_host` followers of `alice` on each farm host, each with the
/// host's shared inbox, their actors put in the cache; returns them.
pub async fn followers(
    stores: &Stores,
    alice: &LocalActor,
    hosts: &[FarmHost],
    per_host: usize,
) -> Vec<Iri> {
    let mut all = Vec::new();
    for host in hosts {
        for k in 0..per_host {
            let id = host.base.join(&format!("/users/{k}")).unwrap();
            let doc = serde_json::json!({
                "id": id.as_str(), "type": "Person",
                "inbox": host.inbox(k).as_str(),
                "endpoints": {"sharedInbox": host.base.join("/inbox").unwrap().as_str()},
            });
            let stored = StoredActor::decode(&doc.to_string(), SystemTime::now()).unwrap();
            stores.actors.put(stored).await.unwrap();
            let iri = Iri::parse(id.as_str()).unwrap();
            stores.graph.add_follower(alice.id(), &iri).await.unwrap();
            all.push(iri);
        }
    }
    all
}

/// `n` farm hosts answering 202, verifying alice's signatures.
pub async fn farm(n: usize, alice: &LocalActor) -> Vec<FarmHost> {
    crate::support::farm::start(
        vec![Behavior::Accept; n],
        alice.key_id().as_str(),
        alice.keys().rsa.public_key(),
    )
    .await
}

/// A public note to alice's followers, and its Create.
pub fn public_note(fed: &Federation, alice: &LocalActor, text: &str) -> Activity {
    public_note_cc(fed, alice, text, Vec::new())
}

/// A public note to alice's followers and `cc`, and its Create.
pub fn public_note_cc(fed: &Federation, alice: &LocalActor, text: &str, cc: Vec<Iri>) -> Activity {
    let mut note = Object::new("Note").with_content(text);
    Audience::public(alice.followers().clone())
        .with_cc(cc)
        .apply(&mut note);
    fed.create(alice, AnyObject::from(note)).unwrap()
}

/// The paths of `host`'s verified requests carrying `activity`, in
/// arrival order.
pub fn arrivals(host: &FarmHost, activity: &str) -> Vec<String> {
    host.stats
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(id, ..)| id == activity)
        .map(|(_, path, ..)| path.clone())
        .collect()
}

/// The activity ids `host` received, in arrival order.
pub fn received(host: &FarmHost) -> Vec<String> {
    host.stats
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|(id, ..)| id.clone())
        .collect()
}

/// Waits until `check` holds, at most `limit`.
pub async fn within(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Now, as the queues count.
pub fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}
