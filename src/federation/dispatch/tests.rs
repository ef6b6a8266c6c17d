//! Each rule with an allowed and a refused case; a log of handler calls
//! proves a refused activity reached no handler.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::client::{ClientError, HttpClient};
use crate::federation::graph::GraphError;
use crate::federation::{MemoryGraph, SentFollow};
use crate::fetch::FetchError;
use crate::signatures::{Algorithm, Spec, Verified};

const BASE: &str = "https://a.example";
const ALICE: &str = "https://a.example/users/alice";
const BOB: &str = "https://b.example/users/bob";
const CAROL: &str = "https://b.example/users/carol";
const MALLORY: &str = "https://m.example/users/mallory";
const NOTE: &str = "https://b.example/notes/1";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

/// An `Incoming` as the inbox hands it over, signed by the doc's `actor`.
fn incoming(doc: Value) -> Incoming {
    let body = doc.to_string();
    let activity = AnyObject::from_slice(body.as_bytes()).unwrap();
    let actor = iri(doc["actor"].as_str().unwrap());
    Incoming {
        id: iri(doc["id"].as_str().unwrap()),
        kind: doc["type"].as_str().unwrap().to_owned(),
        actor: actor.clone(),
        verified: Verified {
            key_id: iri(&format!("{actor}#main-key")),
            owner: actor,
            spec: Spec::Cavage,
            algorithm: Algorithm::RsaV1_5Sha256,
        },
        authenticity: crate::inbox::Authenticity::HttpSignature,
        forwarded_by: None,
        activity,
        body: Bytes::from(body),
    }
}

/// Every handler call, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A handler that logs `$msg` and succeeds.
macro_rules! rec {
    ($log:expr, |$cx:ident, $v:ident| $msg:expr) => {{
        let log = $log.clone();
        move |$cx: Cx, $v| {
            let log = log.clone();
            async move {
                log.push($msg);
                Ok(())
            }
        }
    }};
}

fn paths() -> Paths {
    Paths::new(BASE.parse().unwrap()).unwrap()
}

/// A dispatcher with every handler logging, and no `on_other`.
fn logging(graph: Arc<MemoryGraph>, log: &Log) -> Dispatcher {
    Dispatcher::new(paths(), graph)
        .with_local_actor_check(|name| name == "alice")
        .on_follow(rec!(log, |cx, f| format!(
            "follow {} -> {} ({})",
            cx.actor(),
            f.followee,
            f.name
        )))
        .on_accept(rec!(log, |_cx, r| format!("accept {}", r.follow.id)))
        .on_reject(rec!(log, |_cx, r| format!("reject {}", r.follow.id)))
        .on_undo(rec!(log, |_cx, u| format!(
            "undo {} {:?} {:?}",
            u.undone,
            u.kind,
            u.object.map(Iri::into_string)
        )))
        .on_create(rec!(log, |_cx, w| format!(
            "create {} {}",
            w.object.id().map_or("-", Iri::as_str),
            w.object
                .as_object()
                .and_then(|o| o.content.clone())
                .unwrap_or_default()
        )))
        .on_update(rec!(log, |_cx, w| format!(
            "update {}",
            w.object.id().map_or("-", Iri::as_str)
        )))
        .on_delete(rec!(log, |_cx, d| format!(
            "delete {} actor={}",
            d.object, d.is_actor
        )))
        .on_like(rec!(log, |_cx, a| format!(
            "like {}",
            a.object_id().unwrap()
        )))
        .on_move(rec!(log, |_cx, a| format!(
            "move {}",
            a.object_id().unwrap()
        )))
}

fn setup() -> (Arc<MemoryGraph>, Log, Dispatcher) {
    let graph = Arc::new(MemoryGraph::new());
    let log = Log::default();
    let d = logging(graph.clone(), &log);
    (graph, log, d)
}

#[tokio::test]
async fn follow_of_a_local_actor_reaches_its_handler() {
    let (_, log, d) = setup();
    let follow = json!({"type":"Follow","id":"https://b.example/f/1","actor":BOB,"object":ALICE});
    assert_eq!(
        d.dispatch(incoming(follow)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), [format!("follow {BOB} -> {ALICE} (alice)")]);
}

#[tokio::test]
async fn follow_of_a_remote_or_missing_actor_is_refused() {
    let (_, log, d) = setup();
    let remote = json!({"type":"Follow","id":"https://b.example/f/1","actor":BOB,"object":CAROL});
    let err = d.dispatch(incoming(remote)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotLocal { object } if object == CAROL),
        "{err}"
    );
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    // A look-alike host is not this server either.
    let lookalike = json!({"type":"Follow","id":"https://b.example/f/2","actor":BOB,
        "object":"https://a.example.evil/users/alice"});
    assert!(matches!(
        d.dispatch(incoming(lookalike)).await,
        Err(DispatchError::NotLocal { .. })
    ));
    let missing = json!({"type":"Follow","id":"https://b.example/f/3","actor":BOB,
        "object":"https://a.example/users/nobody"});
    let err = d.dispatch(incoming(missing)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NoSuchActor { object } if object == "https://a.example/users/nobody")
    );
    assert_eq!(err.status(), StatusCode::NOT_FOUND);
    assert!(log.take().is_empty());
}

async fn sent(graph: &MemoryGraph, id: &str, followee: &str) {
    graph
        .record_sent_follow(SentFollow {
            id: iri(id),
            follower: iri(ALICE),
            followee: iri(followee),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn accept_of_a_sent_follow_records_following_then_calls_the_handler() {
    let (graph, log, d) = setup();
    sent(&graph, "https://a.example/f/1", BOB).await;
    let accept = json!({"type":"Accept","id":"https://b.example/a/1","actor":BOB,
        "object":"https://a.example/f/1"});
    assert_eq!(
        d.dispatch(incoming(accept)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), ["accept https://a.example/f/1"]);
    assert_eq!(graph.following(&iri(ALICE)).await.unwrap(), [iri(BOB)]);
    assert_eq!(
        graph
            .sent_follow(&iri("https://a.example/f/1"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn accept_of_an_embedded_follow_is_matched_by_the_pair() {
    let (graph, log, d) = setup();
    sent(&graph, "https://a.example/f/1", BOB).await;
    // Some servers embed the Follow without (or with a rewritten) id.
    let accept = json!({"type":"Accept","id":"https://b.example/a/1","actor":BOB,
        "object":{"type":"Follow","actor":ALICE,"object":BOB}});
    assert_eq!(
        d.dispatch(incoming(accept)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), ["accept https://a.example/f/1"]);
    assert_eq!(graph.following(&iri(ALICE)).await.unwrap(), [iri(BOB)]);
}

#[tokio::test]
async fn accept_of_a_follow_never_sent_is_refused() {
    let (graph, log, d) = setup();
    let accept = json!({"type":"Accept","id":"https://b.example/a/1","actor":BOB,
        "object":"https://a.example/f/404"});
    let err = d.dispatch(incoming(accept)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::UnknownFollow { kind: "Accept", follow, actor }
            if follow == "https://a.example/f/404" && actor == BOB),
        "{err}"
    );
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    // An embedded Follow by the pair, never sent: refused too.
    let accept = json!({"type":"Accept","id":"https://b.example/a/2","actor":BOB,
        "object":{"type":"Follow","actor":ALICE,"object":BOB}});
    assert!(matches!(
        d.dispatch(incoming(accept)).await,
        Err(DispatchError::UnknownFollow { .. })
    ));
    assert!(log.take().is_empty());
    assert!(graph.following(&iri(ALICE)).await.unwrap().is_empty());
}

#[tokio::test]
async fn accept_from_another_actor_than_the_followee_is_refused() {
    let (graph, log, d) = setup();
    sent(&graph, "https://a.example/f/1", BOB).await;
    let accept = json!({"type":"Accept","id":"https://m.example/a/1","actor":MALLORY,
        "object":"https://a.example/f/1"});
    let err = d.dispatch(incoming(accept)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::WrongFollowee { followee, actor, .. }
            if followee == BOB && actor == MALLORY),
        "{err}"
    );
    // Nothing recorded: the Follow is still pending, nobody is followed.
    assert!(log.take().is_empty());
    assert!(graph.following(&iri(ALICE)).await.unwrap().is_empty());
    assert!(
        graph
            .sent_follow(&iri("https://a.example/f/1"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn reject_forgets_the_sent_follow_and_the_following() {
    let (graph, log, d) = setup();
    sent(&graph, "https://a.example/f/1", BOB).await;
    graph.add_following(&iri(ALICE), &iri(BOB)).await.unwrap();
    let reject = json!({"type":"Reject","id":"https://b.example/r/1","actor":BOB,
        "object":"https://a.example/f/1"});
    assert_eq!(
        d.dispatch(incoming(reject)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), ["reject https://a.example/f/1"]);
    assert!(graph.following(&iri(ALICE)).await.unwrap().is_empty());
    assert_eq!(
        graph
            .sent_follow(&iri("https://a.example/f/1"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn bookkeeping_is_done_without_a_handler() {
    let graph = Arc::new(MemoryGraph::new());
    let d = Dispatcher::new(paths(), graph.clone());
    sent(&graph, "https://a.example/f/1", BOB).await;
    let accept = json!({"type":"Accept","id":"https://b.example/a/1","actor":BOB,
        "object":"https://a.example/f/1"});
    assert_eq!(
        d.dispatch(incoming(accept)).await.unwrap(),
        Dispatched::Recorded
    );
    assert_eq!(graph.following(&iri(ALICE)).await.unwrap(), [iri(BOB)]);
}

#[tokio::test]
async fn undo_of_a_follow_removes_the_follower() {
    let (graph, log, d) = setup();
    graph.add_follower(&iri(ALICE), &iri(BOB)).await.unwrap();
    let undo = json!({"type":"Undo","id":"https://b.example/u/1","actor":BOB,
        "object":{"type":"Follow","id":"https://b.example/f/1","actor":BOB,"object":ALICE}});
    assert_eq!(
        d.dispatch(incoming(undo)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(
        log.take(),
        [format!(
            "undo https://b.example/f/1 Some(Follow) Some(\"{ALICE}\")"
        )]
    );
    assert!(!graph.is_follower(&iri(ALICE), &iri(BOB)).await.unwrap());
}

#[tokio::test]
async fn undo_of_another_actors_like_is_refused() {
    let (graph, log, d) = setup();
    graph.add_follower(&iri(ALICE), &iri(CAROL)).await.unwrap();
    let undo = json!({"type":"Undo","id":"https://b.example/u/1","actor":BOB,
        "object":{"type":"Like","id":"https://b.example/l/1","actor":CAROL,
                  "object":"https://a.example/objects/1"}});
    let err = d.dispatch(incoming(undo)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { kind: "Undo", object, owner, actor }
            if object == "https://b.example/l/1" && owner == CAROL && actor == BOB),
        "{err}"
    );
    // And of another actor's Follow: the follower stays.
    let undo = json!({"type":"Undo","id":"https://b.example/u/2","actor":BOB,
        "object":{"type":"Follow","id":"https://b.example/f/1","actor":CAROL,"object":ALICE}});
    assert!(matches!(
        d.dispatch(incoming(undo)).await,
        Err(DispatchError::NotOwner { .. })
    ));
    assert!(graph.is_follower(&iri(ALICE), &iri(CAROL)).await.unwrap());
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn undo_by_iri_needs_the_same_origin_without_a_lookup() {
    let (_, log, d) = setup();
    let own = json!({"type":"Undo","id":"https://b.example/u/1","actor":BOB,
        "object":"https://b.example/l/1"});
    assert_eq!(
        d.dispatch(incoming(own)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), ["undo https://b.example/l/1 None None"]);
    let foreign = json!({"type":"Undo","id":"https://b.example/u/2","actor":BOB,
        "object":"https://c.example/l/1"});
    let err = d.dispatch(incoming(foreign)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::ForeignOrigin { kind: "Undo", object, .. }
            if object == "https://c.example/l/1"),
        "{err}"
    );
    assert!(log.take().is_empty());
}

/// Owners the application stored.
struct Stored(HashMap<&'static str, &'static str>);

#[async_trait::async_trait]
impl OwnerLookup for Stored {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        Ok(self.0.get(object.as_str()).map(|o| iri(o)))
    }
}

fn with_owners(d: Dispatcher) -> Dispatcher {
    d.with_owner_lookup(Arc::new(Stored(HashMap::from([
        (NOTE, CAROL),
        ("https://b.example/l/1", CAROL),
        ("https://b.example/notes/2", BOB),
        // An actor owns itself.
        (CAROL, CAROL),
    ]))))
}

#[tokio::test]
async fn the_stored_owner_decides_on_a_shared_origin() {
    let (_, log, d) = setup();
    let d = with_owners(d);
    // Bob and Carol share b.example; Carol owns the note and the Like.
    for doc in [
        json!({"type":"Delete","id":"https://b.example/d/1","actor":BOB,"object":NOTE}),
        // Carol's account, named by IRI only.
        json!({"type":"Delete","id":"https://b.example/d/3","actor":BOB,"object":CAROL}),
        json!({"type":"Undo","id":"https://b.example/u/1","actor":BOB,"object":"https://b.example/l/1"}),
        json!({"type":"Update","id":"https://b.example/up/1","actor":BOB,
               "object":{"type":"Note","id":NOTE,"attributedTo":BOB,"content":"mine now"}}),
    ] {
        let err = d.dispatch(incoming(doc)).await.unwrap_err();
        assert!(
            matches!(&err, DispatchError::NotOwner { object, owner, .. }
                if owner == CAROL && object.starts_with("https://b.example/")),
            "{err}"
        );
    }
    assert!(log.take().is_empty());
    // Bob's own note.
    let delete = json!({"type":"Delete","id":"https://b.example/d/2","actor":BOB,
        "object":"https://b.example/notes/2"});
    assert_eq!(
        d.dispatch(incoming(delete)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), ["delete https://b.example/notes/2 actor=false"]);
}

#[tokio::test]
async fn delete_of_oneself_or_of_an_own_object() {
    let (_, log, d) = setup();
    let me = json!({"type":"Delete","id":"https://b.example/d/1","actor":BOB,"object":BOB});
    assert_eq!(d.dispatch(incoming(me)).await.unwrap(), Dispatched::Handled);
    let tombstone = json!({"type":"Delete","id":"https://b.example/d/2","actor":BOB,
        "object":{"type":"Tombstone","id":NOTE}});
    assert_eq!(
        d.dispatch(incoming(tombstone)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(
        log.take(),
        [
            format!("delete {BOB} actor=true"),
            format!("delete {NOTE} actor=false")
        ]
    );
}

#[tokio::test]
async fn delete_of_another_actor_or_origin_is_refused() {
    let (_, log, d) = setup();
    let other_actor = json!({"type":"Delete","id":"https://b.example/d/1","actor":BOB,
        "object":{"type":"Person","id":CAROL}});
    let err = d.dispatch(incoming(other_actor)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { kind: "Delete", object, owner, .. }
            if object == CAROL && owner == CAROL),
        "{err}"
    );
    let foreign = json!({"type":"Delete","id":"https://b.example/d/2","actor":BOB,
        "object":"https://a.example/objects/1"});
    assert!(matches!(
        d.dispatch(incoming(foreign)).await,
        Err(DispatchError::ForeignOrigin { kind: "Delete", .. })
    ));
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn create_of_an_own_embedded_note_gets_the_embedded_copy() {
    let (_, log, d) = setup();
    let create = json!({"type":"Create","id":"https://b.example/c/1","actor":BOB,
        "object":{"type":"Note","id":NOTE,"attributedTo":BOB,"content":"hello"}});
    assert_eq!(
        d.dispatch(incoming(create)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), [format!("create {NOTE} hello")]);
}

#[tokio::test]
async fn create_or_update_naming_another_author_is_refused() {
    let (_, log, d) = setup();
    for kind in ["Create", "Update"] {
        let doc = json!({"type":kind,"id":"https://b.example/x/1","actor":BOB,
            "object":{"type":"Note","id":NOTE,"attributedTo":CAROL,"content":"forged"}});
        let err = d.dispatch(incoming(doc)).await.unwrap_err();
        assert!(
            matches!(&err, DispatchError::NotOwner { kind: k, object, owner, actor }
                if *k == kind && object == NOTE && owner == CAROL && actor == BOB),
            "{err}"
        );
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
    }
    assert!(log.take().is_empty());
}

/// An origin in process: serves each document at its URL, 404 elsewhere.
struct Origin(HashMap<String, Value>);

#[async_trait::async_trait]
impl HttpClient for Origin {
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let response = match self.0.get(&req.uri().to_string()) {
            Some(doc) => http::Response::builder()
                .status(200)
                .header("content-type", "application/activity+json")
                .body(Bytes::from(doc.to_string())),
            None => http::Response::builder().status(404).body(Bytes::new()),
        };
        response.map_err(|e| ClientError::InvalidRequest {
            reason: e.to_string(),
        })
    }
}

fn fetching(d: Dispatcher, docs: Vec<Value>) -> Dispatcher {
    let served = docs
        .into_iter()
        .map(|doc| (doc["id"].as_str().unwrap().to_owned(), doc))
        .collect();
    d.with_fetcher(Fetcher::new(Arc::new(Origin(served))))
}

/// A Create whose embedded Note names no author: the signature does not
/// vouch for it, so the handler must get its origin's copy.
fn unvouched_create() -> Value {
    json!({"type":"Create","id":"https://b.example/c/1","actor":BOB,
        "object":{"type":"Note","id":NOTE,"content":"embedded claim"}})
}

#[tokio::test]
async fn an_unvouched_object_is_fetched_from_its_origin() {
    let (_, log, d) = setup();
    let d = fetching(
        d,
        vec![json!({"type":"Note","id":NOTE,"attributedTo":BOB,"content":"origin copy"})],
    );
    assert_eq!(
        d.dispatch(incoming(unvouched_create())).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), [format!("create {NOTE} origin copy")]);
}

#[tokio::test]
async fn a_fetched_copy_by_another_author_or_at_another_id_is_refused() {
    let (_, log, d) = setup();
    let other_author = fetching(
        d.clone(),
        vec![json!({"type":"Note","id":NOTE,"attributedTo":CAROL,"content":"carol's"})],
    );
    let err = other_author
        .dispatch(incoming(unvouched_create()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { kind: "Create", object, owner, .. }
            if object == NOTE && owner == CAROL),
        "{err}"
    );
    // The origin answers the note's IRI with another document of its own.
    // Served at NOTE's URL: a document whose id is notes/9.
    let elsewhere = {
        let mut served = HashMap::new();
        served.insert(
            NOTE.to_owned(),
            json!({"type":"Note","id":"https://b.example/notes/9","attributedTo":BOB}),
        );
        served.insert(
            "https://b.example/notes/9".to_owned(),
            json!({"type":"Note","id":"https://b.example/notes/9","attributedTo":BOB}),
        );
        d.clone()
            .with_fetcher(Fetcher::new(Arc::new(Origin(served))))
    };
    let err = elsewhere
        .dispatch(incoming(unvouched_create()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DispatchError::FetchedOther { object, fetched, .. }
            if object == NOTE && fetched == "https://b.example/notes/9"),
        "{err}"
    );
    assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
    // Gone at its origin.
    let gone = fetching(d, vec![]);
    let err = gone
        .dispatch(incoming(unvouched_create()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DispatchError::Fetch { source, .. }
            if matches!(**source, FetchError::NotFound { .. })),
        "{err}"
    );
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn an_unvouched_object_without_a_fetcher_is_refused() {
    let (_, log, d) = setup();
    let err = d.dispatch(incoming(unvouched_create())).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NoFetcher { kind: "Create", object } if object == NOTE),
        "{err}"
    );
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn update_of_an_own_note_or_of_oneself() {
    let (_, log, d) = setup();
    let d = with_owners(d);
    let note = json!({"type":"Update","id":"https://b.example/up/1","actor":BOB,
        "object":{"type":"Note","id":"https://b.example/notes/2","attributedTo":BOB}});
    let me = json!({"type":"Update","id":"https://b.example/up/2","actor":BOB,
        "object":{"type":"Person","id":BOB,"name":"Bob"}});
    assert_eq!(
        d.dispatch(incoming(note)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(d.dispatch(incoming(me)).await.unwrap(), Dispatched::Handled);
    assert_eq!(
        log.take(),
        [
            "update https://b.example/notes/2".to_owned(),
            format!("update {BOB}")
        ]
    );
}

#[tokio::test]
async fn unknown_types_go_to_on_other_or_are_ignored() {
    let (_, log, d) = setup();
    let react = json!({"type":"EmojiReact","id":"https://b.example/e/1","actor":BOB,
        "object":"https://a.example/objects/1","content":"🦀"});
    let custom = json!({"type":"bookwyrm:Review","id":"https://b.example/r/1","actor":BOB});
    // No handler and no on_other: ignored, never an error.
    assert_eq!(
        d.dispatch(incoming(react.clone())).await.unwrap(),
        Dispatched::Ignored
    );
    assert_eq!(
        d.dispatch(incoming(custom.clone())).await.unwrap(),
        Dispatched::Ignored
    );
    let d = d.on_other(rec!(log, |_cx, o| format!(
        "other {}",
        o.type_name().unwrap_or("-")
    )));
    assert_eq!(
        d.dispatch(incoming(react)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(
        d.dispatch(incoming(custom)).await.unwrap(),
        Dispatched::Handled
    );
    // A known type without its own handler goes there too.
    let block = json!({"type":"Block","id":"https://b.example/b/1","actor":BOB,"object":ALICE});
    assert_eq!(
        d.dispatch(incoming(block)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(
        log.take(),
        ["other EmojiReact", "other bookwyrm:Review", "other Block"]
    );
}

#[tokio::test]
async fn on_other_sees_no_refused_activity() {
    let graph = Arc::new(MemoryGraph::new());
    let log = Log::default();
    let d = Dispatcher::new(paths(), graph).on_other(rec!(log, |_cx, o| format!(
        "other {}",
        o.type_name().unwrap_or("-")
    )));
    let follow = json!({"type":"Follow","id":"https://b.example/f/1","actor":BOB,"object":CAROL});
    assert!(matches!(
        d.dispatch(incoming(follow)).await,
        Err(DispatchError::NotLocal { .. })
    ));
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn the_context_names_the_sender_key_and_local_actors() {
    let graph = Arc::new(MemoryGraph::new());
    let log = Log::default();
    let d = Dispatcher::new(paths(), graph).on_like(rec!(log, |cx, _a| format!(
        "{} {} {} {:?}",
        cx.actor(),
        cx.key_id(),
        cx.activity_id(),
        cx.local_actors()
            .iter()
            .map(Iri::as_str)
            .collect::<Vec<_>>()
    )));
    let like = json!({"type":"Like","id":"https://b.example/l/1","actor":BOB,
        "to":[ALICE,"https://www.w3.org/ns/activitystreams#Public"],
        "cc":["https://a.example/users/carl", ALICE, "https://a.example/users/alice/followers"],
        "object":"https://a.example/objects/1"});
    assert_eq!(
        d.dispatch(incoming(like)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(
        log.take(),
        [format!(
            "{BOB} {BOB}#main-key https://b.example/l/1 [\"{ALICE}\", \"https://a.example/users/carl\"]"
        )]
    );
}

#[tokio::test]
async fn a_failing_handler_is_a_500_naming_the_type() {
    let d = Dispatcher::new(paths(), Arc::new(MemoryGraph::new()))
        .on_like(|_cx, _like| async move { Err("database is down".into()) });
    let like = json!({"type":"Like","id":"https://b.example/l/1","actor":BOB,
        "object":"https://a.example/objects/1"});
    let err = d.dispatch(incoming(like)).await.unwrap_err();
    assert_eq!(err.to_string(), "Like handler: database is down");
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn statuses() {
    let m = DispatchError::Malformed {
        kind: "Undo",
        activity: "x".into(),
        reason: "no activity to undo",
    };
    assert_eq!(m.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        DispatchError::Graph(GraphError::Store("down".into())).status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn malformed_activities_are_400() {
    let (_, log, d) = setup();
    let undo = json!({"type":"Undo","id":"https://b.example/u/1","actor":BOB});
    let err = d.dispatch(incoming(undo)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            DispatchError::Malformed {
                kind: "Undo",
                reason: "no activity to undo",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    let create = json!({"type":"Create","id":"https://b.example/c/1","actor":BOB,
        "object":{"type":"Note","content":"no id, no author"}});
    assert!(matches!(
        d.dispatch(incoming(create)).await,
        Err(DispatchError::Malformed { kind: "Create", .. })
    ));
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn a_move_is_of_the_senders_own_account() {
    let (_, log, d) = setup();
    let own = json!({"type":"Move","id":"https://b.example/m/1","actor":BOB,"object":BOB,
        "target":"https://c.example/users/bob"});
    assert_eq!(
        d.dispatch(incoming(own)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), [format!("move {BOB}")]);
    let other = json!({"type":"Move","id":"https://b.example/m/2","actor":BOB,"object":CAROL,
        "target":"https://m.example/users/mallory"});
    let err = d.dispatch(incoming(other)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { kind: "Move", object, owner, actor }
            if object == CAROL && owner == CAROL && actor == BOB),
        "{err}"
    );
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn a_block_of_a_local_actor_severs_both_follows() {
    let graph = Arc::new(MemoryGraph::new());
    let d = Dispatcher::new(paths(), graph.clone());
    graph.add_follower(&iri(ALICE), &iri(BOB)).await.unwrap();
    graph.add_follower(&iri(ALICE), &iri(CAROL)).await.unwrap();
    graph.add_following(&iri(ALICE), &iri(BOB)).await.unwrap();
    sent(&graph, "https://a.example/f/1", BOB).await;
    let block = json!({"type":"Block","id":"https://b.example/b/1","actor":BOB,"object":ALICE});
    assert_eq!(
        d.dispatch(incoming(block)).await.unwrap(),
        Dispatched::Recorded
    );
    assert_eq!(graph.followers(&iri(ALICE)).await.unwrap(), [iri(CAROL)]);
    assert!(graph.following(&iri(ALICE)).await.unwrap().is_empty());
    assert_eq!(
        graph
            .sent_follow(&iri("https://a.example/f/1"))
            .await
            .unwrap(),
        None
    );
    // A Block of someone elsewhere changes nothing here.
    graph.add_follower(&iri(ALICE), &iri(BOB)).await.unwrap();
    let block = json!({"type":"Block","id":"https://b.example/b/2","actor":BOB,"object":CAROL});
    assert_eq!(
        d.dispatch(incoming(block)).await.unwrap(),
        Dispatched::Ignored
    );
    assert!(graph.is_follower(&iri(ALICE), &iri(BOB)).await.unwrap());
}

#[tokio::test]
async fn undo_of_a_forged_copy_of_someone_elses_activity_is_refused() {
    let (_, log, d) = setup();
    // The embedded Like claims Bob as its actor, but its id is on c.example.
    let foreign = json!({"type":"Undo","id":"https://b.example/u/1","actor":BOB,
        "object":{"type":"Like","id":"https://c.example/l/1","actor":BOB,
                  "object":"https://a.example/objects/1"}});
    let err = d.dispatch(incoming(foreign)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::ForeignOrigin { kind: "Undo", object, .. }
            if object == "https://c.example/l/1"),
        "{err}"
    );
    // On Bob's origin, but stored as Carol's.
    let d = with_owners(d);
    let shared = json!({"type":"Undo","id":"https://b.example/u/2","actor":BOB,
        "object":{"type":"Like","id":"https://b.example/l/1","actor":BOB,
                  "object":"https://a.example/objects/1"}});
    let err = d.dispatch(incoming(shared)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { kind: "Undo", object, owner, .. }
            if object == "https://b.example/l/1" && owner == CAROL),
        "{err}"
    );
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn create_of_an_object_stored_as_someone_elses_is_refused() {
    let (_, log, d) = setup();
    let d = with_owners(d);
    // Bob's own Create, with Carol's note id: it would overwrite her note.
    let create = json!({"type":"Create","id":"https://b.example/c/1","actor":BOB,
        "object":{"type":"Note","id":NOTE,"attributedTo":BOB,"content":"overwrite"}});
    let err = d.dispatch(incoming(create)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { kind: "Create", object, owner, .. }
            if object == NOTE && owner == CAROL),
        "{err}"
    );
    assert!(log.take().is_empty());
    // A new note, unknown to the store, is created.
    let create = json!({"type":"Create","id":"https://b.example/c/2","actor":BOB,
        "object":{"type":"Note","id":"https://b.example/notes/3","attributedTo":BOB,"content":"new"}});
    assert_eq!(
        d.dispatch(incoming(create)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(log.take(), ["create https://b.example/notes/3 new"]);
}

#[tokio::test]
async fn on_every_sees_exactly_the_activities_that_passed_the_rules() {
    let graph = Arc::new(MemoryGraph::new());
    let log = Log::default();
    let d = logging(graph.clone(), &log).on_every(rec!(log, |cx, a| format!(
        "every {} {} from {}",
        a.type_name().unwrap_or("-"),
        cx.activity_id(),
        cx.actor()
    )));
    let follow = json!({"type":"Follow","id":"https://b.example/f/1","actor":BOB,"object":ALICE});
    assert_eq!(
        d.dispatch(incoming(follow)).await.unwrap(),
        Dispatched::Handled
    );
    assert_eq!(
        log.take(),
        [
            format!("every Follow https://b.example/f/1 from {BOB}"),
            format!("follow {BOB} -> {ALICE} (alice)"),
        ]
    );
    // Refused: a Follow of someone elsewhere, a Create naming another author.
    let remote = json!({"type":"Follow","id":"https://b.example/f/2","actor":BOB,"object":CAROL});
    let err = d.dispatch(incoming(remote)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotLocal { object } if object == CAROL),
        "{err}"
    );
    let forged = json!({"type":"Create","id":"https://b.example/c/1","actor":BOB,
        "object":{"type":"Note","id":NOTE,"attributedTo":MALLORY,"content":"x"}});
    let err = d.dispatch(incoming(forged)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::NotOwner { object, .. } if object == NOTE),
        "{err}"
    );
    assert_eq!(log.take(), Vec::<String>::new());
    // A type nobody handles passed no rule that refuses it: observed, then ignored.
    let react = json!({"type":"EmojiReact","id":"https://b.example/e/1","actor":BOB,
        "object":"https://a.example/objects/1"});
    assert_eq!(
        d.dispatch(incoming(react)).await.unwrap(),
        Dispatched::Ignored
    );
    assert_eq!(
        log.take(),
        [format!("every EmojiReact https://b.example/e/1 from {BOB}")]
    );
    // A type ignored before its rules ran is not observed.
    let bare = Dispatcher::new(paths(), graph).on_every(rec!(log, |_cx, a| format!(
        "every {}",
        a.type_name().unwrap_or("-")
    )));
    let forged = json!({"type":"Create","id":"https://b.example/c/2","actor":BOB,
        "object":{"type":"Note","id":NOTE,"attributedTo":MALLORY,"content":"x"}});
    assert_eq!(
        bare.dispatch(incoming(forged)).await.unwrap(),
        Dispatched::Ignored
    );
    assert_eq!(log.take(), Vec::<String>::new());
}

#[tokio::test]
async fn a_failing_observer_stops_the_handler() {
    let (_, log, d) = setup();
    let d = d.on_every(|_cx, _a| async { Err::<(), BoxError>("no room".into()) });
    let like = json!({"type":"Like","id":"https://b.example/l/1","actor":BOB,"object":NOTE});
    let err = d.dispatch(incoming(like)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::Handler { kind, .. } if kind == "Like"),
        "{err}"
    );
    assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(log.take(), Vec::<String>::new());
}
