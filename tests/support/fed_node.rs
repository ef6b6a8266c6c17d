//! A small federating server built only on `archipel::federation`, for the
//! `federation` test area: real axum on 127.0.0.1, real delivery workers,
//! the library's routes, dispatcher, serving guard and fan-out. Its only
//! application logic: accept every Follow, keep what it receives, keep what
//! its users post.
//!
//! Every POST to one of its inboxes is recorded (path and activity id), so
//! tests can say exactly which server received what.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::client::ReqwestClient;
use archipel::delivery::WorkerConfig;
use archipel::federation::outbox::Posted;
use archipel::federation::routes::ObjectSource;
use archipel::federation::serve::StoredObject;
use archipel::federation::{Federation, LocalActor, Sent};
use archipel::fetch::Fetcher;
use archipel::vocab::{AnyObject, Iri};
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

/// The objects a node's users posted, as stored (never with bto/bcc).
#[derive(Default)]
pub struct Objects(Mutex<HashMap<String, StoredObject>>);

#[async_trait::async_trait]
impl ObjectSource for Objects {
    async fn object(&self, id: &Iri) -> Option<StoredObject> {
        self.0.lock().unwrap().get(id.as_str()).cloned()
    }
}

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = ReqwestClient::new(crate::support::local_policy()).unwrap();
    let fed = Federation::builder(base.parse().unwrap())
        .with_client(Arc::new(client))
        .with_authorized_fetch(authorized_fetch)
        .build()
        .await
        .unwrap();
    for user in users {
        fed.actor(user).await.unwrap();
    }
    fed.start_delivery(
        WorkerConfig::default()
            .with_poll_interval(Duration::from_millis(50))
            .with_attempt_timeout(Duration::from_secs(10)),
    )
    .await;

    let received = Arc::new(Mutex::new(Vec::new()));
    let objects = Arc::new(Objects::default());
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = fed
        .dispatcher()
        .on_follow({
            let fed = fed.clone();
            move |_cx, follow| {
                let fed = fed.clone();
                async move {
                    let me = fed.local(&follow.name).ok_or("no such user")?;
                    fed.accept(&me, &follow).await?;
                    Ok(())
                }
            }
        })
        .on_create({
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
        {
            let mut store = self.objects.0.lock().unwrap();
            if let Some(object) = posted.object() {
                store.insert(
                    object.id().unwrap().as_str().to_owned(),
                    StoredObject {
                        object: object.clone(),
                        author: author.id().clone(),
                    },
                );
            }
            store.insert(
                posted.activity().id.as_ref().unwrap().as_str().to_owned(),
                StoredObject {
                    object: AnyObject::Activity(Box::new(posted.activity().clone())),
                    author: author.id().clone(),
                },
            );
        }
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
