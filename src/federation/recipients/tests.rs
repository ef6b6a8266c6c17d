use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::federation::MemoryGraph;
use crate::federation::keys::ActorKeys;
use crate::federation::remote::testing::FakeServer;
use crate::federation::remote::{MemoryActorStore, RemoteActors};
use crate::fetch::{FetchError, Fetcher};
use crate::signatures::PrivateKey;
use crate::vocab::{AnyObject, OneOrMany, Reference};

const BOB: &str = "https://b.example/users/bob";
const CAROL: &str = "https://c.example/users/carol";
const DAVE: &str = "https://a.example/users/dave";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn refs(list: &[&str]) -> Option<OneOrMany<Reference>> {
    Some(OneOrMany::Many(
        list.iter()
            .map(|s| Reference::from(Iri::new_unchecked(*s)))
            .collect(),
    ))
}

struct World {
    paths: Paths,
    alice: LocalActor,
    graph: MemoryGraph,
    server: Arc<FakeServer>,
    remote: RemoteActors,
}

impl World {
    fn new() -> World {
        let paths = Paths::new("https://a.example".parse().unwrap()).unwrap();
        let pem = include_str!("../../../tests/interop/keys/cavage-test-rsa-1024-pkcs1.pem");
        let keys = ActorKeys {
            rsa: PrivateKey::from_pem(pem).unwrap(),
            ed25519: None,
        };
        let alice = LocalActor::person(&paths, "alice", keys).unwrap();
        let server = Arc::new(FakeServer::new());
        server.person(BOB);
        server.person(CAROL);
        let remote = RemoteActors::new(
            Fetcher::new(server.clone()),
            Arc::new(MemoryActorStore::new()),
        );
        World {
            paths,
            alice,
            graph: MemoryGraph::new(),
            server,
            remote,
        }
    }

    async fn follow(&self, follower: &str) {
        self.graph
            .add_follower(self.alice.id(), &iri(follower))
            .await
            .unwrap();
    }

    /// A `Create` of a note by alice with this addressing on the activity.
    fn create(&self, set: impl FnOnce(&mut Object)) -> Activity {
        let note = Object::new("Note").with_content("hi");
        let mut create = Activity::create(
            self.paths.activity("1").unwrap(),
            self.alice.id().clone(),
            AnyObject::from(note),
        );
        set(&mut create.base);
        create
    }

    async fn resolve(&self, activity: &Activity) -> Resolved {
        RecipientResolver::new(&self.graph, &self.remote, &self.paths)
            .resolve(activity, &self.alice)
            .await
    }

    async fn resolve_capped(&self, activity: &Activity, cap: usize) -> Resolved {
        RecipientResolver::new(&self.graph, &self.remote, &self.paths)
            .with_max_recipients(cap)
            .resolve(activity, &self.alice)
            .await
    }
}

fn inboxes(r: &Resolved) -> Vec<&str> {
    r.recipients.iter().map(|r| r.inbox.as_str()).collect()
}

#[tokio::test]
async fn public_is_never_a_target() {
    let w = World::new();
    let a = w.create(|o| {
        o.to = refs(&[
            "https://www.w3.org/ns/activitystreams#Public",
            "http://www.w3.org/ns/activitystreams#Public",
        ]);
        o.cc = refs(&["as:Public", "Public"]);
    });
    let r = w.resolve(&a).await;
    assert!(r.recipients.is_empty());
    assert!(r.local.is_empty());
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
    assert_eq!(w.server.total(), 0);
}

#[tokio::test]
async fn followers_are_expanded_with_shared_inboxes() {
    let w = World::new();
    w.follow(BOB).await;
    w.follow(CAROL).await;
    w.follow(DAVE).await;
    let followers = w.alice.followers().as_str().to_owned();
    let a = w.create(|o| {
        o.to = refs(&["as:Public"]);
        o.cc = refs(&[&followers]);
    });
    let r = w.resolve(&a).await;
    assert_eq!(
        inboxes(&r),
        [
            "https://b.example/users/bob/inbox",
            "https://c.example/users/carol/inbox"
        ]
    );
    let shared: Vec<_> = r
        .recipients
        .iter()
        .map(|r| r.shared_inbox.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(
        shared,
        ["https://b.example/inbox", "https://c.example/inbox"]
    );
    assert_eq!(r.local, [iri(DAVE)]);
    assert!(r.unresolved.is_empty());
}

#[tokio::test]
async fn a_direct_message_reaches_only_its_addressee() {
    let w = World::new();
    w.follow(BOB).await;
    w.follow(CAROL).await;
    let a = w.create(|o| o.to = refs(&[BOB]));
    let r = w.resolve(&a).await;
    assert_eq!(inboxes(&r), ["https://b.example/users/bob/inbox"]);
    assert_eq!(w.server.hits(CAROL), 0);
}

#[tokio::test]
async fn bto_and_bcc_recipients_are_delivered_to() {
    let w = World::new();
    let a = w.create(|o| {
        o.bto = refs(&[BOB]);
        o.bcc = refs(&[CAROL]);
    });
    let r = w.resolve(&a).await;
    assert_eq!(
        inboxes(&r),
        [
            "https://b.example/users/bob/inbox",
            "https://c.example/users/carol/inbox"
        ]
    );
}

#[tokio::test]
async fn local_addressees_go_to_local_without_http() {
    let w = World::new();
    let other_followers = "https://a.example/users/dave/followers";
    let a = w.create(|o| o.to = refs(&[DAVE, w.alice.id().as_str(), other_followers]));
    let r = w.resolve(&a).await;
    assert_eq!(r.local, [iri(DAVE)], "alice herself is skipped");
    assert!(r.recipients.is_empty());
    assert_eq!(r.unresolved.len(), 1);
    assert_eq!(r.unresolved[0].0, iri(other_followers));
    assert!(matches!(r.unresolved[0].1, Unresolved::LocalNotActor));
    assert_eq!(w.server.total(), 0);
}

#[tokio::test]
async fn a_remote_collection_is_not_expanded() {
    let w = World::new();
    let bobs_followers = format!("{BOB}/followers");
    w.server.serve(
        &bobs_followers,
        &json!({"id": bobs_followers, "type": "OrderedCollection", "totalItems": 40}),
    );
    let a = w.create(|o| {
        o.to = refs(&[BOB]);
        o.cc = refs(&[&bobs_followers]);
    });
    let r = w.resolve(&a).await;
    assert_eq!(inboxes(&r), ["https://b.example/users/bob/inbox"]);
    assert_eq!(r.unresolved.len(), 1);
    assert_eq!(r.unresolved[0].0.as_str(), bobs_followers);
    assert!(matches!(r.unresolved[0].1, Unresolved::Collection));
}

#[tokio::test]
async fn duplicates_are_removed() {
    let w = World::new();
    w.follow(BOB).await;
    let followers = w.alice.followers().as_str().to_owned();
    let a = w.create(|o| {
        o.to = refs(&[BOB, "https://B.example/users/bob"]);
        o.cc = refs(&[BOB, &followers, &followers]);
        o.bcc = refs(&["https://b.example/users/bob#main-key"]);
    });
    let r = w.resolve(&a).await;
    assert_eq!(inboxes(&r), ["https://b.example/users/bob/inbox"]);
    assert!(r.unresolved.is_empty(), "{:?}", r.unresolved);
    assert_eq!(w.server.hits(BOB), 1);
}

#[tokio::test]
async fn the_cap_is_enforced() {
    let w = World::new();
    for n in 0..5 {
        let id = format!("https://d{n}.example/users/u");
        w.server.person(&id);
        w.follow(&id).await;
    }
    let followers = w.alice.followers().as_str().to_owned();
    let a = w.create(|o| o.cc = refs(&[&followers]));
    let r = w.resolve_capped(&a, 3).await;
    assert_eq!(r.recipients.len(), 3);
    assert_eq!(r.skipped, 2);
    assert_eq!(w.server.total(), 3, "nothing fetched past the cap");
}

#[tokio::test]
async fn failures_are_reported_and_do_not_abort() {
    let w = World::new();
    let gone = "https://e.example/users/gone";
    let down = "https://f.example/users/down";
    w.server.serve_raw(gone, 410, String::new());
    w.server.serve_raw(down, 599, String::new());
    let a = w.create(|o| o.to = refs(&[gone, BOB, down, CAROL]));
    let r = w.resolve(&a).await;
    assert_eq!(
        inboxes(&r),
        [
            "https://b.example/users/bob/inbox",
            "https://c.example/users/carol/inbox"
        ]
    );
    assert_eq!(r.unresolved.len(), 2);
    assert_eq!(r.unresolved[0].0.as_str(), gone);
    assert!(matches!(
        r.unresolved[0].1,
        Unresolved::Remote(RemoteError::Fetch(FetchError::Gone { .. }))
    ));
    assert_eq!(r.unresolved[1].0.as_str(), down);
    assert!(matches!(
        r.unresolved[1].1,
        Unresolved::Remote(RemoteError::Fetch(FetchError::Client(_)))
    ));
}

#[tokio::test]
async fn the_embedded_object_addressing_counts_for_a_create() {
    let w = World::new();
    let mut note = Object::new("Note");
    note.to = refs(&[BOB]);
    note.bcc = refs(&[CAROL]);
    let create = Activity::create(
        w.paths.activity("2").unwrap(),
        w.alice.id().clone(),
        AnyObject::from(note.clone()),
    );
    let r = w.resolve(&create).await;
    assert_eq!(r.recipients.len(), 2);
    // Not for other activities: an Announce's object is someone else's.
    let mut announce = Activity::new(
        Kind::Announce,
        w.paths.activity("3").unwrap(),
        w.alice.id().clone(),
    );
    announce.object = Some(OneOrMany::One(Reference::from(AnyObject::from(note))));
    let r = w.resolve(&announce).await;
    assert!(r.recipients.is_empty());
}

#[tokio::test]
async fn concurrent_fetches_keep_addressing_order() {
    let w = World::new();
    let ids: Vec<String> = (0..7)
        .map(|n| format!("https://g{n}.example/users/u"))
        .collect();
    for id in &ids {
        w.server.person(id);
    }
    w.server.delay(std::time::Duration::from_millis(5));
    let list: Vec<&str> = ids.iter().map(String::as_str).collect();
    let a = w.create(|o| o.to = refs(&list));
    let r = RecipientResolver::new(&w.graph, &w.remote, &w.paths)
        .with_concurrency(3)
        .resolve(&a, &w.alice)
        .await;
    let got: Vec<String> = r
        .recipients
        .iter()
        .map(|r| r.id.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
}

/// A graph whose store is down.
struct DownGraph;

#[async_trait::async_trait]
impl Graph for DownGraph {
    async fn followers(&self, _: &Iri) -> Result<Vec<Iri>, GraphError> {
        Err(GraphError::Store("connection reset".into()))
    }
    async fn is_follower(&self, _: &Iri, _: &Iri) -> Result<bool, GraphError> {
        Ok(false)
    }
    async fn has_follower_on(&self, _: &Iri, _: &str) -> Result<bool, GraphError> {
        Ok(false)
    }
    async fn add_follower(&self, _: &Iri, _: &Iri) -> Result<(), GraphError> {
        Ok(())
    }
    async fn remove_follower(&self, _: &Iri, _: &Iri) -> Result<bool, GraphError> {
        Ok(false)
    }
    async fn record_sent_follow(&self, _: crate::federation::SentFollow) -> Result<(), GraphError> {
        Ok(())
    }
    async fn sent_follow(
        &self,
        _: &Iri,
    ) -> Result<Option<crate::federation::SentFollow>, GraphError> {
        Ok(None)
    }
    async fn sent_follow_between(
        &self,
        _: &Iri,
        _: &Iri,
    ) -> Result<Option<crate::federation::SentFollow>, GraphError> {
        Ok(None)
    }
    async fn forget_sent_follow(&self, _: &Iri) -> Result<bool, GraphError> {
        Ok(false)
    }
    async fn add_following(&self, _: &Iri, _: &Iri) -> Result<(), GraphError> {
        Ok(())
    }
    async fn remove_following(&self, _: &Iri, _: &Iri) -> Result<bool, GraphError> {
        Ok(false)
    }
    async fn following(&self, _: &Iri) -> Result<Vec<Iri>, GraphError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_graph_failure_is_reported_and_named_actors_still_resolve() {
    let w = World::new();
    let followers = w.alice.followers().as_str().to_owned();
    let a = w.create(|o| {
        o.to = refs(&[BOB]);
        o.cc = refs(&[&followers]);
    });
    let r = RecipientResolver::new(&DownGraph, &w.remote, &w.paths)
        .resolve(&a, &w.alice)
        .await;
    assert_eq!(inboxes(&r), ["https://b.example/users/bob/inbox"]);
    assert_eq!(r.unresolved.len(), 1);
    assert_eq!(r.unresolved[0].0.as_str(), followers);
    assert!(matches!(
        &r.unresolved[0].1,
        Unresolved::Graph(GraphError::Store(m)) if m == "connection reset"
    ));
}
