//! A small server for the relay tests, built only on the library: users
//! with RSA and Ed25519 keys, public activities signed as configured,
//! posts stored and served, and the `Create`s its handler accepted
//! recorded with how they were established.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::outbox::ObjectSigning;
use archipel::federation::relay::{RelayKind, RelayState};
use archipel::federation::store::{MemoryPosts, Posts};
use archipel::federation::{Federation, LocalActor, Sent};
use archipel::inbox::Authenticity;
use archipel::vocab::Iri;
use serde_json::Value;

/// One `Create` a node's handler accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The activity's id.
    pub id: Iri,
    /// Its actor, as dispatched.
    pub actor: Iri,
    /// The created object's content.
    pub content: Option<String>,
    pub authenticity: Authenticity,
    pub forwarded_by: Option<Iri>,
}

/// One running server.
pub struct Node {
    pub fed: Federation,
    pub posts: Posts,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a server with these users on 127.0.0.1 (port chosen by the OS),
/// signing its public activities as `signing` says.
pub async fn start(users: &[&str], signing: ObjectSigning) -> Node {
    let (listener, fed) = crate::support::loopback::federation_with("127.0.0.1", users, |b| {
        b.with_ed25519(true).with_object_signing(signing)
    })
    .await;
    let posts = Posts::new(Arc::new(MemoryPosts::new()), fed.graph().clone());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = crate::support::loopback::accepting_follows(&fed).on_create({
        let seen = seen.clone();
        move |cx, create| {
            let seen = seen.clone();
            async move {
                let content = create.object.as_object().and_then(|o| o.content.clone());
                seen.lock().unwrap().push(Seen {
                    id: cx.activity_id().clone(),
                    actor: cx.actor().clone(),
                    content,
                    authenticity: cx.authenticity().clone(),
                    forwarded_by: cx.forwarded_by().cloned(),
                });
                Ok(())
            }
        }
    });
    let app = fed
        .routes(dispatcher)
        .with_objects(Arc::new(posts.clone()))
        .into_router();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Node {
        fed,
        posts,
        seen,
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

    /// `user` posts `note` (a client-to-server `Note`) through the outbox;
    /// the activity's id and what was sent.
    pub async fn post(&self, user: &str, note: Value) -> (Iri, Sent) {
        let author = self.user(user);
        let body = serde_json::to_vec(&note).unwrap();
        let (posted, sent) = self.posts.post(&self.fed, &author, &body).await.unwrap();
        (posted.activity().id.clone().unwrap(), sent)
    }

    /// Subscribes to `relay` and waits until it accepted.
    pub async fn subscribe(&self, relay: &str, kind: RelayKind) {
        let relay = Iri::parse(relay).unwrap();
        self.fed.subscribe_relay(&relay, kind).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let relays = self.fed.relays().await.unwrap();
            if relays
                .iter()
                .any(|r| r.id == relay && r.state == RelayState::Accepted)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{relay} never accepted: {relays:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
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

pub use crate::support::loopback::post_signed;
