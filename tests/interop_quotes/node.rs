//! An archipel server built only on `archipel::federation`, for the Fedify
//! interop tests: real axum on 127.0.0.1, real delivery workers, the
//! library's routes and dispatcher. It accepts every Follow, serves what its
//! users post, and records every activity that passed the dispatcher's rules
//! (as received) and every object it received in a `Create` or `Update`.
//! A test adds the handlers it exercises with [`start_with`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::dispatch::{BoxError, Dispatcher};
use archipel::federation::quotes::{QuotePolicy, QuoteTarget, QuoteTargets, Quotes};
use archipel::federation::{Federation, LocalActor, Sent};
use archipel::vocab::{AnyObject, Iri};
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

/// An inbound POST: its body's `type`, and the answer's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The activity's `type`, as sent.
    pub kind: String,
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub answer: String,
}

pub use crate::support::loopback::Objects;

/// The node's posts as quote targets: the stored post's own
/// `interactionPolicy` decides (none: only its author may quote).
struct Targets {
    objects: Arc<Objects>,
    fed: Federation,
}

#[async_trait::async_trait]
impl QuoteTargets for Targets {
    async fn target(&self, post: &Iri) -> Result<Option<QuoteTarget>, BoxError> {
        let Some(stored) = self.objects.get(post) else {
            return Ok(None);
        };
        let Some(author) = self.fed.local_by_id(&stored.author) else {
            return Ok(None);
        };
        let policy = stored
            .object
            .as_object()
            .and_then(|o| o.interaction_policy.as_deref());
        let policy = QuotePolicy::from_interaction_policy(policy, &author);
        Ok(Some(QuoteTarget::new(stored.author, policy)))
    }
}

/// One running node.
pub struct Node {
    /// The node's handle.
    pub fed: Federation,
    /// What its users posted, as served.
    pub objects: Arc<Objects>,
    /// Every activity that passed the rules, as received (raw JSON).
    pub activities: Arc<Mutex<Vec<Value>>>,
    /// Objects received in a `Create` or `Update`, in arrival order.
    pub received: Arc<Mutex<Vec<AnyObject>>>,
    /// Every POST, with the status it was answered.
    pub arrivals: Arc<Mutex<Vec<Arrival>>>,
    /// Quote posts (FEP-044f): requests decided by the stored post's
    /// policy, answers to this node's requests, revocations (a `Delete`).
    pub quotes: Quotes,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a node with these users and the default handlers.
pub async fn start(users: &[&str]) -> Node {
    start_with(users, |_fed, _objects, dispatcher| dispatcher).await
}

/// Starts a node with these users on 127.0.0.1 (port chosen by the OS);
/// `extend` adds handlers to the dispatcher (after the node's own
/// `on_follow`, `on_create`, `on_update` and `on_every`).
pub async fn start_with(
    users: &[&str],
    extend: impl FnOnce(&Federation, &Arc<Objects>, Dispatcher) -> Dispatcher,
) -> Node {
    let (listener, fed) = crate::support::loopback::federation(users, false).await;

    let objects = Arc::new(Objects::default());
    let quotes = Quotes::new(&fed).with_targets(Arc::new(Targets {
        objects: objects.clone(),
        fed: fed.clone(),
    }));
    let activities = Arc::new(Mutex::new(Vec::new()));
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = |received: &Arc<Mutex<Vec<AnyObject>>>| {
        let received = received.clone();
        move |_cx, with: archipel::federation::dispatch::WithObject| {
            let received = received.clone();
            async move {
                received.lock().unwrap().push(with.object);
                Ok(())
            }
        }
    };
    let dispatcher = crate::support::loopback::accepting_follows(&fed)
        .on_every({
            let activities = activities.clone();
            move |cx, _activity| {
                let activities = activities.clone();
                async move {
                    let raw: Value = serde_json::from_slice(cx.body())?;
                    activities.lock().unwrap().push(raw);
                    Ok(())
                }
            }
        })
        .on_create(keep(&received))
        .on_update(keep(&received))
        .with_quotes(&quotes)
        .on_delete({
            let quotes = quotes.clone();
            move |cx, delete| {
                let quotes = quotes.clone();
                async move {
                    quotes.handle_revocation(cx.actor(), &delete.object).await?;
                    Ok(())
                }
            }
        });
    let dispatcher = extend(&fed, &objects, dispatcher);
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let recorder = arrivals.clone();
    let app = fed
        .routes(dispatcher)
        .with_objects(objects.clone())
        .with_quotes(quotes.clone())
        .into_router()
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let recorder = recorder.clone();
                async move { record(recorder, req, next).await }
            },
        ));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Node {
        fed,
        objects,
        activities,
        received,
        arrivals,
        quotes,
        server,
    }
}

async fn record(arrivals: Arc<Mutex<Vec<Arrival>>>, req: Request, next: Next) -> Response {
    if req.method() != http::Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 2 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let kind = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let answer = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    arrivals.lock().unwrap().push(Arrival {
        kind,
        status: parts.status.as_u16(),
        answer: String::from_utf8_lossy(&answer).into_owned(),
    });
    Response::from_parts(parts, Body::from(answer))
}

impl Node {
    /// The loaded local actor `name`.
    pub fn user(&self, name: &str) -> LocalActor {
        self.fed.local(name).unwrap()
    }

    /// Posts a client-to-server body for `name`: prepared by the library's
    /// outbox, stored in its served form, sent to its recipients.
    pub async fn post(&self, name: &str, body: Value) -> (AnyObject, Sent) {
        let author = self.user(name);
        let draft = self
            .fed
            .outbox()
            .prepare(&author, &serde_json::to_vec(&body).unwrap())
            .unwrap();
        let posted = draft.finish(None).unwrap();
        let object = posted.object().unwrap().clone();
        self.objects.put(object.clone(), author.id());
        let sent = self.fed.publish(&author, &posted).await.unwrap();
        (object, sent)
    }

    /// The activities received of type `kind`, as received.
    pub fn activities_of(&self, kind: &str) -> Vec<Value> {
        self.activities
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == kind)
            .cloned()
            .collect()
    }

    /// The statuses of the POSTs of activities of type `kind`.
    pub fn answered(&self, kind: &str) -> Vec<u16> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.status)
            .collect()
    }

    /// The latest received version of the object `id`.
    pub fn received_latest(&self, id: &str) -> Option<AnyObject> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|o| o.id().is_some_and(|i| i.as_str() == id))
            .cloned()
    }

    /// Who `name` follows (accepted), as the graph says.
    pub async fn following(&self, name: &str) -> Vec<String> {
        let me = self.user(name);
        let list = self.fed.graph().following(me.id()).await.unwrap();
        list.iter().map(|i| i.as_str().to_owned()).collect()
    }
}

/// Waits (at most 20 s) until the async `check` holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
