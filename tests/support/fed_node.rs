//! A small federating server built only on `archipel::federation`, for the
//! `federation` test area: real axum on 127.0.0.1, real delivery workers,
//! the library's routes, dispatcher, serving guard and fan-out. Its only
//! application logic: accept every Follow, keep what it receives, keep what
//! its users post.
//!
//! Every POST to one of its inboxes is recorded (path and activity id), so
//! tests can say exactly which server received what.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::outbox::Posted;
use archipel::federation::{Federation, LocalActor, Sent};
use archipel::fetch::Fetcher;
use archipel::vocab::AnyObject;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// An inbound POST as it arrived (before verification).
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The request path (`/inbox`, `/users/bob/inbox`).
    pub path: String,
    /// The raw body.
    pub body: String,
    /// The answer's status.
    pub status: u16,
}

pub use crate::support::loopback::Objects;

/// One running node.
pub struct Node {
    /// The node's handle.
    pub fed: Federation,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// What its users posted, as stored.
    pub objects: Arc<Objects>,
    /// Objects its handlers received (Create), in arrival order.
    pub received: Arc<Mutex<Vec<AnyObject>>>,
    /// Every inbox POST, in arrival order.
    pub arrivals: Arc<Mutex<Vec<Arrival>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a node with these users on 127.0.0.1 (port chosen by the OS).
pub async fn start(users: &[&str], authorized_fetch: bool) -> Node {
    let (listener, fed) = crate::support::loopback::federation(users, authorized_fetch).await;
    let base = fed.paths().base().as_str().trim_end_matches('/').to_owned();

    let received = Arc::new(Mutex::new(Vec::new()));
    let objects = Arc::new(Objects::default());
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = crate::support::loopback::accepting_follows(&fed).on_create({
        let received = received.clone();
        move |_cx, create| {
            let received = received.clone();
            async move {
                received.lock().unwrap().push(create.object);
                Ok(())
            }
        }
    });
    let recorder = arrivals.clone();
    let app = fed
        .routes(dispatcher)
        .with_objects(objects.clone())
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
        base,
        objects,
        received,
        arrivals,
        server,
    }
}

async fn record(arrivals: Arc<Mutex<Vec<Arrival>>>, req: Request, next: Next) -> Response {
    if req.method() != http::Method::POST {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 2 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    arrivals.lock().unwrap().push(Arrival {
        path,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        status: response.status().as_u16(),
    });
    response
}

impl Node {
    /// The loaded local actor `name`.
    pub fn user(&self, name: &str) -> LocalActor {
        self.fed.local(name).unwrap()
    }

    /// Posts a client-to-server body for `name`: prepared by the library's
    /// outbox, stored in its served form, sent to its recipients.
    pub async fn post(&self, name: &str, body: serde_json::Value) -> (Posted, Sent) {
        let author = self.user(name);
        let draft = self
            .fed
            .outbox()
            .prepare(&author, &serde_json::to_vec(&body).unwrap())
            .unwrap();
        let posted = draft.finish(None).unwrap();
        if let Some(object) = posted.object() {
            self.objects.put(object.clone(), author.id());
        }
        self.objects.put(
            AnyObject::Activity(Box::new(posted.activity().clone())),
            author.id(),
        );
        let sent = self.fed.publish(&author, &posted).await.unwrap();
        (posted, sent)
    }

    /// A fetcher on this node's client signed by `signer` (a user's key,
    /// not the instance actor's).
    pub fn fetcher_signed_by(&self, actor: &LocalActor) -> Fetcher {
        Fetcher::new(self.fed.client().clone()).signed(actor.signer().clone())
    }

    /// Inbox POSTs whose body mentions `needle`.
    pub fn arrivals_with(&self, needle: &str) -> Vec<Arrival> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.body.contains(needle))
            .cloned()
            .collect()
    }

    /// The received objects with this id.
    pub fn received_id(&self, id: &str) -> Vec<AnyObject> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.id().is_some_and(|i| i.as_str() == id))
            .cloned()
            .collect()
    }
}

/// Waits (at most 20 s) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the node's delivery queue has nothing left due or leased,
/// so a test can then assert that something did *not* arrive.
pub async fn drained(node: &Node) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = node
            .fed
            .queue()
            .stats(archipel::delivery::Timestamp::from_system_time(
                std::time::SystemTime::now(),
            ))
            .await
            .unwrap();
        if stats.total == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "delivery queue never drained: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
