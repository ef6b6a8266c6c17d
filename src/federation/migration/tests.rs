use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::client::{ClientError, HttpClient};
use crate::federation::dispatch::DispatchError;
use crate::federation::remote::StoredActor;
use crate::fetch::FetchError;
use crate::inbox::Incoming;
use crate::signatures::{Algorithm, Spec, Verified};

const ORIGIN: &str = "https://b.example/users/bob";
const TARGET: &str = "https://c.example/users/bob";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

/// Remote servers in process: each document at its URL (404 elsewhere),
/// changeable between requests; every GET is counted.
#[derive(Default)]
struct Origins {
    docs: Mutex<HashMap<String, Value>>,
    gets: Mutex<Vec<String>>,
}

impl Origins {
    fn serve(&self, url: &str, doc: Value) {
        self.docs.lock().unwrap().insert(url.to_owned(), doc);
    }
    fn gets_of(&self, url: &str) -> usize {
        self.gets
            .lock()
            .unwrap()
            .iter()
            .filter(|u| *u == url)
            .count()
    }
}

#[async_trait::async_trait]
impl HttpClient for Origins {
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let url = req.uri().to_string();
        let doc = if req.method() == http::Method::GET {
            self.gets.lock().unwrap().push(url.clone());
            self.docs.lock().unwrap().get(&url).cloned()
        } else {
            // Deliveries are accepted and forgotten.
            Some(json!({}))
        };
        let response = match doc {
            Some(doc) => http::Response::builder()
                .status(if req.method() == http::Method::GET {
                    200
                } else {
                    202
                })
                .header("content-type", "application/activity+json")
                .body(Bytes::from(doc.to_string())),
            None => http::Response::builder().status(404).body(Bytes::new()),
        };
        response.map_err(|e| ClientError::InvalidRequest {
            reason: e.to_string(),
        })
    }
}

fn person(id: &str, extra: Value) -> Value {
    let mut doc = json!({"@context": "https://www.w3.org/ns/activitystreams",
        "id": id, "type": "Person", "inbox": format!("{id}/inbox"),
        "followers": format!("{id}/followers")});
    if let (Some(doc), Value::Object(extra)) = (doc.as_object_mut(), extra) {
        doc.extend(extra);
    }
    doc
}

/// `a.example` with alice, carol and dave, and the two remote accounts:
/// the target lists the origin, the origin moved to the target.
async fn setup() -> (Federation, Arc<Origins>) {
    let origins = Arc::new(Origins::default());
    origins.serve(ORIGIN, person(ORIGIN, json!({"movedTo": TARGET})));
    origins.serve(TARGET, person(TARGET, json!({"alsoKnownAs": [ORIGIN]})));
    let fed = Federation::builder("https://a.example".parse().unwrap())
        .with_client(origins.clone())
        .build()
        .await
        .unwrap();
    for name in ["alice", "carol", "dave"] {
        fed.actor(name).await.unwrap();
    }
    (fed, origins)
}

fn move_of(origin: &str, object: &str, target: Option<&str>) -> Activity {
    let mut activity = Activity::new(Kind::Move, iri(&format!("{origin}#moves/1")), iri(origin));
    activity.object = Some(iri(object).into());
    activity.target = target.map(|t| iri(t).into());
    activity
}

fn incoming(activity: &Activity) -> Incoming {
    let body = serde_json::to_string(activity).unwrap();
    let actor = activity.actor_id().unwrap().clone();
    Incoming {
        id: activity.id.clone().unwrap(),
        kind: "Move".into(),
        actor: actor.clone(),
        verified: Verified {
            key_id: iri(&format!("{actor}#main-key")),
            owner: actor,
            spec: Spec::Cavage,
            algorithm: Algorithm::RsaV1_5Sha256,
        },
        authenticity: crate::inbox::Authenticity::HttpSignature,
        forwarded_by: None,
        activity: AnyObject::from_slice(body.as_bytes()).unwrap(),
        body: Bytes::from(body),
    }
}

async fn verify(fed: &Federation, activity: &Activity) -> Result<VerifiedMove, MigrationError> {
    Migration::new(fed).verify(&iri(ORIGIN), activity).await
}

#[tokio::test]
async fn a_move_both_accounts_agree_on_is_verified() {
    let (fed, origins) = setup().await;
    let verified = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    assert_eq!(
        verified,
        VerifiedMove {
            origin: iri(ORIGIN),
            target: iri(TARGET),
            activity: Some(iri(&format!("{ORIGIN}#moves/1"))),
        }
    );
    assert_eq!((origins.gets_of(ORIGIN), origins.gets_of(TARGET)), (1, 1));
}

#[tokio::test]
async fn a_target_that_does_not_name_the_origin_is_refused() {
    let (fed, origins) = setup().await;
    origins.serve(
        TARGET,
        person(
            TARGET,
            json!({"alsoKnownAs": ["https://b.example/users/other"]}),
        ),
    );
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::NotAnAlias { origin, target }
            if origin.as_str() == ORIGIN && target.as_str() == TARGET),
        "{err}"
    );
    assert!(err.is_refusal());
    // Refused on the target: the origin was never fetched.
    assert_eq!(origins.gets_of(ORIGIN), 0);
    // No alsoKnownAs at all: the same refusal.
    origins.serve(TARGET, person(TARGET, json!({})));
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(matches!(err, MigrationError::NotAnAlias { .. }), "{err}");
}

#[tokio::test]
async fn an_origin_that_does_not_say_moved_to_the_target_is_refused() {
    let (fed, origins) = setup().await;
    origins.serve(ORIGIN, person(ORIGIN, json!({})));
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::NotMovedTo { found: None, .. }),
        "{err}"
    );
    let elsewhere = "https://d.example/users/bob";
    origins.serve(ORIGIN, person(ORIGIN, json!({"movedTo": elsewhere})));
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::NotMovedTo { found: Some(f), .. } if f.as_str() == elsewhere),
        "{err}"
    );
}

#[tokio::test]
async fn both_documents_are_read_fresh_never_from_the_actor_cache() {
    let (fed, origins) = setup().await;
    // The cache holds an origin that says it moved; the origin itself no
    // longer does (the move was cancelled): the origin's word now counts.
    let cached = person(ORIGIN, json!({"movedTo": TARGET}));
    let cached = StoredActor::decode(&cached.to_string(), SystemTime::now()).unwrap();
    fed.actors().store().put(cached).await.unwrap();
    origins.serve(ORIGIN, person(ORIGIN, json!({})));
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(matches!(err, MigrationError::NotMovedTo { .. }), "{err}");
    assert_eq!(origins.gets_of(ORIGIN), 1);
}

#[tokio::test]
async fn a_target_served_from_another_origin_is_refused() {
    let (fed, origins) = setup().await;
    // c.example answers with a document claiming to be on d.example.
    let mut forged = person(
        "https://d.example/users/bob",
        json!({"alsoKnownAs": [ORIGIN]}),
    );
    forged["inbox"] = json!(format!("{TARGET}/inbox"));
    origins.serve(TARGET, forged);
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::Fetch { account: Account::Target, source, .. }
            if matches!(**source, FetchError::OriginMismatch { .. })),
        "{err}"
    );
    assert!(err.is_refusal());
    // A target that does not answer is not a refusal: it may later.
    origins.docs.lock().unwrap().remove(TARGET);
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(matches!(&err, MigrationError::Fetch { .. }), "{err}");
}

#[tokio::test]
async fn a_target_that_moved_on_is_refused_but_a_move_back_is_not() {
    let (fed, origins) = setup().await;
    let third = "https://d.example/users/bob";
    origins.serve(
        TARGET,
        person(TARGET, json!({"alsoKnownAs": [ORIGIN], "movedTo": third})),
    );
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::TargetMoved { moved_to, .. } if moved_to.as_str() == third),
        "{err}"
    );
    // The target had moved to the origin, which now moves back to it.
    origins.serve(
        TARGET,
        person(TARGET, json!({"alsoKnownAs": [ORIGIN], "movedTo": ORIGIN})),
    );
    let verified = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    assert_eq!(verified.target.as_str(), TARGET);
}

#[tokio::test]
async fn malformed_moves_are_refused_before_any_fetch() {
    let (fed, origins) = setup().await;
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, None))
        .await
        .unwrap_err();
    assert!(matches!(err, MigrationError::MissingTarget { .. }), "{err}");
    let err = verify(&fed, &move_of(ORIGIN, ORIGIN, Some(ORIGIN)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::SameAccount { origin } if origin.as_str() == ORIGIN),
        "{err}"
    );
    let other = "https://b.example/users/carol";
    let err = verify(&fed, &move_of(ORIGIN, other, Some(TARGET)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::NotTheSender { object: Some(o), .. } if o == other),
        "{err}"
    );
    let mut like = move_of(ORIGIN, ORIGIN, Some(TARGET));
    like.base.kind = Some(crate::vocab::OneOrMany::One("Like".to_owned()));
    let err = verify(&fed, &like).await.unwrap_err();
    assert!(
        matches!(&err, MigrationError::NotAMove { found, .. } if found == "Like"),
        "{err}"
    );
    assert!(origins.gets.lock().unwrap().is_empty());
}

#[tokio::test]
async fn followers_of_the_origin_follow_the_target_instead() {
    let (fed, _) = setup().await;
    let graph = fed.graph();
    let [alice, carol, dave] = ["alice", "carol", "dave"].map(|n| fed.local(n).unwrap());
    let (origin, target) = (iri(ORIGIN), iri(TARGET));
    fed.follow(&alice, &origin).await.unwrap();
    graph.add_following(alice.id(), &origin).await.unwrap();
    graph
        .forget_sent_follow(
            &graph
                .sent_follow_between(alice.id(), &origin)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    // dave follows both already; carol follows someone else.
    graph.add_following(dave.id(), &origin).await.unwrap();
    graph.add_following(dave.id(), &target).await.unwrap();
    let elsewhere = iri("https://b.example/users/bobby");
    graph.add_following(carol.id(), &elsewhere).await.unwrap();

    let migration = Migration::new(&fed);
    let verified = migration
        .verify(&origin, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    let mut candidates = vec![alice.clone(), carol.clone(), dave.clone()];
    candidates.push(alice.clone()); // listed twice, moved once
    let done = migration
        .follow_along(&verified, &candidates)
        .await
        .unwrap();
    assert_eq!(done.moved, vec![alice.id().clone()]);
    assert_eq!(done.already_following, vec![dave.id().clone()]);
    assert!(done.failed.is_empty(), "{:?}", done.failed);
    assert_eq!(done.over_cap, 0);
    // alice asked to follow the target, and no longer follows the origin.
    let sent = graph
        .sent_follow_between(alice.id(), &target)
        .await
        .unwrap();
    assert_eq!(sent.map(|s| s.followee), Some(target.clone()));
    assert!(
        graph
            .sent_follow_between(alice.id(), &origin)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        graph.following(alice.id()).await.unwrap(),
        Vec::<Iri>::new()
    );
    assert_eq!(
        graph.following(dave.id()).await.unwrap(),
        vec![target.clone()]
    );
    assert_eq!(graph.following(carol.id()).await.unwrap(), vec![elsewhere]);

    // The same origin's move again, within the cooldown: refused.
    let err = migration
        .follow_along(&verified, &candidates)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MigrationError::Cooldown { origin, cooldown_secs }
            if origin.as_str() == ORIGIN && *cooldown_secs == DEFAULT_COOLDOWN.as_secs()),
        "{err}"
    );
    assert!(err.is_refusal());
}

#[tokio::test]
async fn at_most_max_follows_local_actors_follow_along_per_move() {
    let (fed, _) = setup().await;
    let origin = iri(ORIGIN);
    let actors: Vec<LocalActor> = ["alice", "carol", "dave"]
        .map(|n| fed.local(n).unwrap())
        .to_vec();
    for me in &actors {
        fed.graph().add_following(me.id(), &origin).await.unwrap();
    }
    let migration = Migration::new(&fed).with_config(
        MigrationConfig::default()
            .with_max_follows(2)
            .with_cooldown(Duration::ZERO),
    );
    let verified = migration
        .verify(&origin, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    let done = migration.follow_along(&verified, &actors).await.unwrap();
    assert_eq!(done.moved.len(), 2);
    assert_eq!(done.over_cap, 1);
    // No cooldown: the rest follow on the next Move.
    let again = migration.follow_along(&verified, &actors).await.unwrap();
    assert_eq!(again.moved.len(), 1);
    assert_eq!(again.over_cap, 0);
}

#[tokio::test]
async fn the_cooldown_table_is_bounded() {
    let (fed, _) = setup().await;
    let migration = Migration::new(&fed).with_config(MigrationConfig::default().with_remembered(2));
    for n in 0..5 {
        migration.remember(&iri(&format!("https://b.example/users/u{n}")));
    }
    let recent = migration.recent.lock().unwrap();
    assert_eq!(recent.at.len(), 2);
    assert_eq!(recent.order.len(), 2);
    assert!(recent.at.contains_key("https://b.example/users/u4"));
}

#[tokio::test]
async fn following_is_found_by_page_among_many_neighbours() {
    let graph = crate::federation::MemoryGraph::new();
    let me = iri("https://a.example/users/alice");
    // Many IRIs that sort between the origin's prefix and the origin.
    for n in 0..300 {
        let other = iri(&format!("https://b.example/users/bo{n:03}"));
        graph.add_following(&me, &other).await.unwrap();
    }
    assert!(!follows(&graph, &me, &iri(ORIGIN)).await.unwrap());
    graph.add_following(&me, &iri(ORIGIN)).await.unwrap();
    assert!(follows(&graph, &me, &iri(ORIGIN)).await.unwrap());
    // Case of the host does not change the order it is looked up in.
    assert!(
        !follows(&graph, &me, &iri("https://B.example/users/bobby"))
            .await
            .unwrap()
    );
    assert!(
        !follows(&graph, &iri("https://a.example/users/nobody"), &iri(ORIGIN))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn moving_needs_the_target_to_name_the_account_first() {
    let (fed, origins) = setup().await;
    let alice = fed.local("alice").unwrap();
    let err = fed.move_account(&alice, &iri(TARGET)).await.unwrap_err();
    assert!(
        matches!(&err, MigrationError::NotAnAlias { origin, .. } if origin == alice.id()),
        "{err}"
    );
    // Nothing changed: alice has not moved.
    assert_eq!(fed.local("alice").unwrap().moved_to(), None);
    assert_eq!(fed.local("alice").unwrap().document().moved_to, None);
    // Another server's actor cannot be moved from here.
    let remote = LocalActor::person(
        &crate::federation::Paths::new("https://x.example".parse().unwrap()).unwrap(),
        "alice",
        alice.keys().clone(),
    )
    .unwrap();
    let err = fed.move_account(&remote, &iri(TARGET)).await.unwrap_err();
    assert!(matches!(err, MigrationError::NotLocal { .. }), "{err}");
    let _ = origins;
}

#[tokio::test]
async fn moving_sets_moved_to_and_sends_the_move_mastodon_expects() {
    let (fed, origins) = setup().await;
    let alice = fed.local("alice").unwrap().with_display_name("Alice");
    fed.register(alice.clone());
    origins.serve(
        TARGET,
        person(TARGET, json!({"alsoKnownAs": [alice.id().as_str()]})),
    );
    let moved = fed.move_account(&alice, &iri(TARGET)).await.unwrap();
    // The registered actor (display name kept) publishes movedTo.
    let now = fed.local("alice").unwrap();
    assert_eq!(now.moved_to().map(Iri::as_str), Some(TARGET));
    assert_eq!(now.display_name(), Some("Alice"));
    let doc = serde_json::to_value(now.document()).unwrap();
    assert_eq!(doc["movedTo"], TARGET);
    let context = doc["@context"].to_string();
    assert!(
        context.contains(r#""movedTo":{"@id":"as:movedTo","@type":"@id"}"#),
        "{context}"
    );
    let activity = serde_json::to_value(&moved.activity).unwrap();
    let id = activity["id"].clone();
    assert_eq!(
        activity,
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": id, "type": "Move",
            "actor": alice.id().as_str(), "object": alice.id().as_str(), "target": TARGET,
            "to": [alice.followers().as_str()]})
    );
    assert_eq!(moved.sent.activity.as_ref().map(Iri::as_str), id.as_str());
}

#[tokio::test]
async fn an_alias_is_published_in_the_actor_document() {
    let (fed, _) = setup().await;
    let alice = fed
        .local("alice")
        .unwrap()
        .with_also_known_as(vec![iri(ORIGIN)]);
    let doc = serde_json::to_value(alice.document()).unwrap();
    assert_eq!(doc["alsoKnownAs"], json!([ORIGIN]));
    assert!(doc.get("movedTo").is_none());
    let context = doc["@context"].to_string();
    assert!(
        context.contains(r#""alsoKnownAs":{"@id":"as:alsoKnownAs","@type":"@id"}"#),
        "{context}"
    );
    // Without one, neither the property nor its term.
    let plain = serde_json::to_value(fed.local("carol").unwrap().document()).unwrap();
    assert!(plain.get("alsoKnownAs").is_none());
    assert!(!plain["@context"].to_string().contains("alsoKnownAs"));
}

#[tokio::test]
async fn the_ready_made_handler_moves_follows_and_refuses_forgeries_with_403() {
    let (fed, origins) = setup().await;
    let alice = fed.local("alice").unwrap();
    fed.graph()
        .add_following(alice.id(), &iri(ORIGIN))
        .await
        .unwrap();
    let dispatcher = fed.dispatcher().with_migration(&Migration::new(&fed));

    // The target never named the origin: refused, 403, nothing moved.
    origins.serve(TARGET, person(TARGET, json!({})));
    let err = dispatcher
        .dispatch(incoming(&move_of(ORIGIN, ORIGIN, Some(TARGET))))
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    let DispatchError::Handler { source, .. } = &err else {
        panic!("{err}");
    };
    assert!(
        matches!(
            source.downcast_ref::<MigrationError>(),
            Some(MigrationError::NotAnAlias { .. })
        ),
        "{source}"
    );
    assert_eq!(
        fed.graph().following(alice.id()).await.unwrap(),
        vec![iri(ORIGIN)]
    );

    // Someone else's account: the dispatcher's own rule refuses it first.
    let err = dispatcher
        .dispatch(incoming(&move_of(
            ORIGIN,
            "https://b.example/users/carol",
            Some(TARGET),
        )))
        .await
        .unwrap_err();
    assert!(matches!(err, DispatchError::NotOwner { .. }), "{err}");

    // Once the target names the origin, the same Move moves alice.
    origins.serve(TARGET, person(TARGET, json!({"alsoKnownAs": [ORIGIN]})));
    let done = dispatcher
        .dispatch(incoming(&move_of(ORIGIN, ORIGIN, Some(TARGET))))
        .await
        .unwrap();
    assert_eq!(done, crate::federation::dispatch::Dispatched::Handled);
    assert!(fed.graph().following(alice.id()).await.unwrap().is_empty());
    let sent = fed
        .graph()
        .sent_follow_between(alice.id(), &iri(TARGET))
        .await
        .unwrap();
    assert!(sent.is_some());
}

#[tokio::test]
async fn a_move_to_a_local_account_is_checked_and_followed_here() {
    let (fed, origins) = setup().await;
    // dave, on this server, is the new account of the remote origin.
    let dave = fed
        .local("dave")
        .unwrap()
        .with_also_known_as(vec![iri(ORIGIN)]);
    fed.register(dave.clone());
    origins.serve(
        ORIGIN,
        person(ORIGIN, json!({"movedTo": dave.id().as_str()})),
    );
    let alice = fed.local("alice").unwrap();
    fed.graph()
        .add_following(alice.id(), &iri(ORIGIN))
        .await
        .unwrap();
    let migration = Migration::new(&fed);
    let mut activity = move_of(ORIGIN, ORIGIN, Some(TARGET));
    activity.target = Some(dave.id().clone().into());
    let verified = migration.verify(&iri(ORIGIN), &activity).await.unwrap();
    // dave's document was read here, not fetched over HTTP.
    assert_eq!(origins.gets_of(dave.id().as_str()), 0);
    let done = migration
        .follow_along(&verified, &fed.loaded_actors())
        .await
        .unwrap();
    assert_eq!(done.moved, vec![alice.id().clone()]);
    // Both sides of the follow are recorded at once; none pending.
    assert_eq!(
        fed.graph().following(alice.id()).await.unwrap(),
        vec![dave.id().clone()]
    );
    assert_eq!(
        fed.graph().followers(dave.id()).await.unwrap(),
        vec![alice.id().clone()]
    );
    assert!(
        fed.graph()
            .sent_follow_between(alice.id(), dave.id())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_follow_that_cannot_be_addressed_keeps_the_origin() {
    let (fed, origins) = setup().await;
    let alice = fed.local("alice").unwrap();
    fed.graph()
        .add_following(alice.id(), &iri(ORIGIN))
        .await
        .unwrap();
    let migration = Migration::new(&fed);
    let verified = migration
        .verify(&iri(ORIGIN), &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    // The target's server stops answering between the check and the Follow.
    origins.docs.lock().unwrap().remove(TARGET);
    let done = migration
        .follow_along(&verified, std::slice::from_ref(&alice))
        .await
        .unwrap();
    assert!(done.moved.is_empty());
    assert!(
        matches!(&done.failed[..], [(who, MigrationError::FollowNotSent { target, .. })]
            if who == alice.id() && target.as_str() == TARGET),
        "{:?}",
        done.failed
    );
    // alice still follows the origin, and no Follow is pending.
    assert_eq!(
        fed.graph().following(alice.id()).await.unwrap(),
        vec![iri(ORIGIN)]
    );
    let pending = fed
        .graph()
        .sent_follow_between(alice.id(), &iri(TARGET))
        .await;
    assert_eq!(pending.unwrap(), None);
    // Nothing was moved: the origin's re-sent Move is not refused for the
    // cooldown, and is followed once the target answers again.
    assert!(migration.check_cooldown(&iri(ORIGIN)).is_ok());
}

/// A graph that counts the pages of following it is asked for.
struct CountingGraph {
    inner: crate::federation::MemoryGraph,
    pages: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Graph for CountingGraph {
    async fn followers(&self, l: &Iri) -> Result<Vec<Iri>, GraphError> {
        self.inner.followers(l).await
    }
    async fn is_follower(&self, l: &Iri, r: &Iri) -> Result<bool, GraphError> {
        self.inner.is_follower(l, r).await
    }
    async fn has_follower_on(&self, l: &Iri, a: &str) -> Result<bool, GraphError> {
        self.inner.has_follower_on(l, a).await
    }
    async fn add_follower(&self, l: &Iri, r: &Iri) -> Result<(), GraphError> {
        self.inner.add_follower(l, r).await
    }
    async fn remove_follower(&self, l: &Iri, r: &Iri) -> Result<bool, GraphError> {
        self.inner.remove_follower(l, r).await
    }
    async fn record_sent_follow(&self, f: crate::federation::SentFollow) -> Result<(), GraphError> {
        self.inner.record_sent_follow(f).await
    }
    async fn sent_follow(
        &self,
        id: &Iri,
    ) -> Result<Option<crate::federation::SentFollow>, GraphError> {
        self.inner.sent_follow(id).await
    }
    async fn sent_follow_between(
        &self,
        a: &Iri,
        b: &Iri,
    ) -> Result<Option<crate::federation::SentFollow>, GraphError> {
        self.inner.sent_follow_between(a, b).await
    }
    async fn forget_sent_follow(&self, id: &Iri) -> Result<bool, GraphError> {
        self.inner.forget_sent_follow(id).await
    }
    async fn add_following(&self, l: &Iri, r: &Iri) -> Result<(), GraphError> {
        self.inner.add_following(l, r).await
    }
    async fn remove_following(&self, l: &Iri, r: &Iri) -> Result<bool, GraphError> {
        self.inner.remove_following(l, r).await
    }
    async fn following(&self, _: &Iri) -> Result<Vec<Iri>, GraphError> {
        panic!("the whole following list was read")
    }
    async fn following_page(
        &self,
        l: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        self.pages
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.following_page(l, after, limit).await
    }
}

#[tokio::test]
async fn whether_a_local_actor_follows_the_origin_costs_one_page() {
    let graph = CountingGraph {
        inner: crate::federation::MemoryGraph::new(),
        pages: Default::default(),
    };
    let me = iri("https://a.example/users/alice");
    // 10,000 followed accounts on 100 servers that sort before b.example
    // (and c.example), then the origin.
    for host in 0..100 {
        for user in 0..100 {
            let other = iri(&format!("https://a{host}.example/users/u{user}"));
            graph.inner.add_following(&me, &other).await.unwrap();
        }
    }
    graph.inner.add_following(&me, &iri(ORIGIN)).await.unwrap();
    assert!(follows(&graph, &me, &iri(ORIGIN)).await.unwrap());
    assert!(!follows(&graph, &me, &iri(TARGET)).await.unwrap());
    assert_eq!(graph.pages.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_move_concerning_no_local_follower_leaves_no_cooldown() {
    let (fed, _) = setup().await;
    let candidates: Vec<_> = ["alice", "carol", "dave"]
        .map(|n| fed.local(n).unwrap())
        .to_vec();
    let migration = Migration::new(&fed);
    let verified = migration
        .verify(&iri(ORIGIN), &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    // Nobody here follows the origin: nothing moved, nothing remembered,
    // so the table a peer could fill with such moves stays empty.
    for _ in 0..2 {
        let done = migration
            .follow_along(&verified, &candidates)
            .await
            .unwrap();
        assert!(done.moved.is_empty() && done.already_following.is_empty());
    }
    assert!(migration.recent.lock().unwrap().at.is_empty());
}

#[tokio::test]
async fn a_second_move_of_an_origin_being_followed_waits_its_turn() {
    let (fed, _) = setup().await;
    let alice = fed.local("alice").unwrap();
    let origin = iri(ORIGIN);
    fed.graph()
        .add_following(alice.id(), &origin)
        .await
        .unwrap();
    let migration = Migration::new(&fed);
    let verified = migration
        .verify(&origin, &move_of(ORIGIN, ORIGIN, Some(TARGET)))
        .await
        .unwrap();
    // Another Move of the same origin is being followed right now.
    let claim = migration.claim(&origin).unwrap();
    let busy = migration
        .follow_along(&verified, std::slice::from_ref(&alice))
        .await;
    assert!(
        matches!(&busy, Err(MigrationError::InProgress { .. })),
        "{busy:?}"
    );
    assert!(!busy.unwrap_err().is_refusal(), "a retry is worth it");
    // Once it is done (and remembered), the retry meets the cooldown.
    drop(claim);
    migration.remember(&origin);
    let later = migration
        .follow_along(&verified, std::slice::from_ref(&alice))
        .await;
    assert!(
        matches!(&later, Err(MigrationError::Cooldown { .. })),
        "{later:?}"
    );
}
