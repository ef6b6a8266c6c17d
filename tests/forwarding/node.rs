//! A small server for the forwarding tests, built only on the library:
//! users with RSA and Ed25519 keys, follows accepted, posted objects and
//! activities served, every `Create` forwarded to the followers it
//! concerns (ActivityPub §7.1.2), and what its handlers saw recorded.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::dispatch::{BoxError, OwnerLookup};
use archipel::federation::forwarding::Forwarded;
use archipel::federation::{Federation, LocalActor};
use archipel::inbox::Authenticity;
use archipel::policy::DomainPolicy;
use archipel::vocab::{AnyObject, Iri};
use bytes::Bytes;
use serde_json::Value;

use crate::support::loopback::{Objects, accepting_follows};

/// Who owns a served object, for forwarding: its stored author.
struct Owners(Arc<Objects>);

#[async_trait::async_trait]
impl OwnerLookup for Owners {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        Ok(self.0.get(object).map(|stored| stored.author))
    }

    async fn distributable(&self, object: &Iri) -> Result<bool, BoxError> {
        Ok(self.0.get(object).is_some_and(|stored| {
            stored.object.as_object().is_some_and(|o| {
                matches!(
                    o.visibility(None),
                    archipel::vocab::Visibility::Public | archipel::vocab::Visibility::Unlisted
                )
            })
        }))
    }
}

/// One `Create` a node's handler accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: Iri,
    pub authenticity: Authenticity,
    pub forwarded_by: Option<Iri>,
}

/// One running server.
pub struct Node {
    pub fed: Federation,
    pub objects: Arc<Objects>,
    pub policy: DomainPolicy,
    /// The `Create`s accepted, in order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// What forwarding did for each `Create` accepted.
    pub forwarded: Arc<Mutex<Vec<Forwarded>>>,
    /// What a second call did for each, as a retried handler's would.
    pub retried: Arc<Mutex<Vec<Forwarded>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a server with these users on 127.0.0.1 (port chosen by the OS),
/// known as `http://{host}:{port}`: `host` is `127.0.0.1`, or `localhost`
/// for a node a test blocks by name. Every GET is signed.
pub async fn start(host: &str, users: &[&str]) -> Node {
    let policy = DomainPolicy::new();
    let (listener, fed) = crate::support::loopback::federation_with(host, users, |b| {
        b.with_authorized_fetch(true)
            .with_ed25519(true)
            .with_domain_policy(policy.clone())
    })
    .await;
    let objects = Arc::new(Objects::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let forwarded = Arc::new(Mutex::new(Vec::new()));
    let retried = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = accepting_follows(&fed).on_create({
        let (fed, seen, forwarded) = (fed.clone(), seen.clone(), forwarded.clone());
        let (objects, retried) = (objects.clone(), retried.clone());
        move |cx, create| {
            let (fed, seen, forwarded) = (fed.clone(), seen.clone(), forwarded.clone());
            let retried = retried.clone();
            let objects = objects.clone();
            async move {
                seen.lock().unwrap().push(Seen {
                    id: cx.activity_id().clone(),
                    authenticity: cx.authenticity().clone(),
                    forwarded_by: cx.forwarded_by().cloned(),
                });
                let owners = Owners(objects.clone());
                let done = fed.forward_from(&cx, &create.activity, &owners).await?;
                forwarded.lock().unwrap().push(done);
                // As a handler retried after a later step failed would.
                let again = fed.forward_from(&cx, &create.activity, &owners).await?;
                retried.lock().unwrap().push(again);
                Ok(())
            }
        }
    });
    let app = fed
        .routes(dispatcher)
        .with_objects(objects.clone())
        .into_router();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Node {
        fed,
        objects,
        policy,
        seen,
        forwarded,
        retried,
        server,
    }
}

impl Node {
    pub fn user(&self, name: &str) -> LocalActor {
        self.fed.local(name).unwrap()
    }

    /// The `Create`s accepted so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Serves `document` (a local object or activity) at its `id`, as
    /// `author`'s.
    pub fn serve(&self, document: &Value, author: &LocalActor) {
        let object = AnyObject::from_value(document).unwrap();
        self.objects.put(object, author.id());
    }
}

/// POSTs `body` to `inbox` signed by `by` (HTTP signature, draft-cavage);
/// the answer's status and body.
pub async fn post_signed(inbox: &Iri, by: &LocalActor, body: &Value) -> (u16, String) {
    let url = url::Url::parse(inbox.as_str()).unwrap();
    let mut request = http::Request::post(inbox.as_str())
        .header("content-type", "application/activity+json")
        .header("host", url.authority())
        .body(Bytes::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    by.signer().sign(&mut request).unwrap();
    let mut send = reqwest::Client::new().post(inbox.as_str());
    for (name, value) in request.headers() {
        if name != http::header::HOST {
            send = send.header(name.as_str(), value.to_str().unwrap());
        }
    }
    let answer = send.body(request.into_body()).send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap())
}

/// Waits (at most 20 s) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
