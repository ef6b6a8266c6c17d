//! A loopback relay, written for these tests, behaving like pub-relay (a
//! `Follow` of `Public` accepted, then every activity re-sent unchanged to
//! the other subscribers) or like Pleroma's LitePub relay (a `Follow` of
//! its actor accepted, then an `Announce` of every activity sent to the
//! other subscribers). Everything it sends is HTTP-signed by its actor.
//! It checks no signature: what it passes on must be checked by those who
//! receive it, which is what the tests are about.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use archipel::signatures::{PrivateKey, Signer};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

const AS: &str = "https://www.w3.org/ns/activitystreams";
const SECURITY: &str = "https://w3id.org/security/v1";
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// How the relay behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// pub-relay: re-sends each activity unchanged.
    PubRelay,
    /// LitePub: sends an `Announce` embedding each activity.
    LitePub,
}

/// A subscriber: its (instance) actor and the inbox it gets activities at.
#[derive(Debug, Clone)]
struct Subscriber {
    actor: String,
    inbox: String,
}

/// One POST the relay made to a subscriber, and the answer.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The id of the activity passed on (not of the Announce).
    pub activity: String,
    pub status: u16,
}

struct Shared {
    style: Style,
    base: String,
    signer: Signer,
    subscribers: Mutex<Vec<Subscriber>>,
    /// The ids of the activities received from subscribers.
    received: Mutex<Vec<String>>,
    sent: Mutex<Vec<Sent>>,
    /// The actors that accepted the relay's follow-back (LitePub).
    followed_back: Mutex<Vec<String>>,
    /// Alter the content of what is passed on from now on.
    tamper: AtomicBool,
    /// Move the signed content aside with an inline context, and forge
    /// `content`, from now on.
    redefine: AtomicBool,
    counter: AtomicU32,
    client: reqwest::Client,
}

/// A running relay.
pub struct Relay {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const KEY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/keys/rsa-2048-pkcs8.pem"
));

/// Starts a relay of `style` on 127.0.0.1, port chosen by the OS.
pub async fn start(style: Style) -> Relay {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = PrivateKey::from_pem(KEY).unwrap();
    let shared = Arc::new(Shared {
        style,
        signer: Signer::new(format!("{base}/actor#main-key"), key),
        base,
        subscribers: Mutex::new(Vec::new()),
        received: Mutex::new(Vec::new()),
        sent: Mutex::new(Vec::new()),
        followed_back: Mutex::new(Vec::new()),
        tamper: AtomicBool::new(false),
        redefine: AtomicBool::new(false),
        counter: AtomicU32::new(0),
        client: reqwest::Client::new(),
    });
    let app = Router::new()
        .route("/actor", get(actor))
        .route("/inbox", post(inbox))
        .with_state(shared.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Relay { shared, server }
}

impl Relay {
    /// The relay's inbox (what a Mastodon-style subscription names).
    pub fn inbox(&self) -> String {
        format!("{}/inbox", self.shared.base)
    }

    /// The relay's actor (what a LitePub subscription names).
    pub fn actor(&self) -> String {
        format!("{}/actor", self.shared.base)
    }

    /// The actors subscribed now.
    pub fn subscribers(&self) -> Vec<String> {
        let subs = self.shared.subscribers.lock().unwrap();
        subs.iter().map(|s| s.actor.clone()).collect()
    }

    /// The ids of the activities subscribers sent it.
    pub fn received(&self) -> Vec<String> {
        self.shared.received.lock().unwrap().clone()
    }

    /// What it passed on, and the answers.
    pub fn sent(&self) -> Vec<Sent> {
        self.shared.sent.lock().unwrap().clone()
    }

    /// The actors that accepted the relay's follow-back (LitePub).
    pub fn followed_back(&self) -> Vec<String> {
        self.shared.followed_back.lock().unwrap().clone()
    }

    /// From now on, alter the content of every activity passed on.
    pub fn tamper(&self, on: bool) {
        self.shared.tamper.store(on, Ordering::SeqCst);
    }

    /// From now on, pass each activity on with its signed content moved
    /// aside by an inline context and a forged `content` (see [`redefine`]).
    pub fn redefine(&self, on: bool) {
        self.shared.redefine.store(on, Ordering::SeqCst);
    }
}

async fn actor(State(s): State<Arc<Shared>>) -> ([(&'static str, &'static str); 1], String) {
    let key = PrivateKey::from_pem(KEY)
        .unwrap()
        .public_key()
        .to_spki_pem();
    let doc = json!({
        "@context": [AS, SECURITY],
        "id": format!("{}/actor", s.base), "type": "Application",
        "preferredUsername": "relay",
        "inbox": format!("{}/inbox", s.base),
        "outbox": format!("{}/outbox", s.base),
        "followers": format!("{}/followers", s.base),
        "endpoints": {"sharedInbox": format!("{}/inbox", s.base)},
        "publicKey": {"id": format!("{}/actor#main-key", s.base),
            "owner": format!("{}/actor", s.base), "publicKeyPem": key},
    });
    (
        [("content-type", "application/activity+json")],
        doc.to_string(),
    )
}

async fn inbox(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let Ok(activity) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let kind = activity["type"].as_str().unwrap_or_default().to_owned();
    let actor = activity["actor"].as_str().unwrap_or_default().to_owned();
    match kind.as_str() {
        "Follow" => {
            let wanted = match s.style {
                Style::PubRelay => PUBLIC.to_owned(),
                Style::LitePub => format!("{}/actor", s.base),
            };
            if activity["object"].as_str() != Some(wanted.as_str()) {
                return StatusCode::UNPROCESSABLE_ENTITY;
            }
            tokio::spawn(async move { s.accept(actor, activity).await });
            StatusCode::ACCEPTED
        }
        "Accept" => {
            s.followed_back.lock().unwrap().push(actor);
            StatusCode::ACCEPTED
        }
        "Undo" => {
            s.subscribers.lock().unwrap().retain(|x| x.actor != actor);
            StatusCode::ACCEPTED
        }
        _ => {
            let id = activity["id"].as_str().unwrap_or_default().to_owned();
            s.received.lock().unwrap().push(id);
            tokio::spawn(async move { s.pass_on(activity, body).await });
            StatusCode::ACCEPTED
        }
    }
}

fn origin(iri: &str) -> String {
    let url = url::Url::parse(iri).unwrap();
    url.origin().ascii_serialization()
}

impl Shared {
    fn next_id(&self, what: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        format!("{}/{what}/{n}", self.base)
    }

    /// Records the subscriber and sends it an `Accept` of its `Follow`.
    async fn accept(&self, actor: String, follow: Value) {
        let doc = self
            .client
            .get(&actor)
            .header("accept", "application/activity+json")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        let inbox = doc["endpoints"]["sharedInbox"]
            .as_str()
            .or(doc["inbox"].as_str())
            .unwrap()
            .to_owned();
        self.subscribers.lock().unwrap().push(Subscriber {
            actor: actor.clone(),
            inbox: inbox.clone(),
        });
        let accept = json!({
            "@context": AS, "id": self.next_id("accepts"), "type": "Accept",
            "actor": format!("{}/actor", self.base), "to": [actor], "object": follow,
        });
        self.post(&inbox, serde_json::to_vec(&accept).unwrap())
            .await;
        // Pleroma's relay follows its subscribers back.
        if self.style == Style::LitePub {
            let follow = json!({
                "@context": AS, "id": self.next_id("follows"), "type": "Follow",
                "actor": format!("{}/actor", self.base), "object": actor,
            });
            self.post(&inbox, serde_json::to_vec(&follow).unwrap())
                .await;
        }
    }

    /// Passes `activity` on to every subscriber on another origin than
    /// its actor's.
    async fn pass_on(&self, mut activity: Value, body: Bytes) {
        let id = activity["id"].as_str().unwrap_or_default().to_owned();
        let from = origin(
            activity["actor"]
                .as_str()
                .unwrap_or("http://nowhere.invalid"),
        );
        let mut tampered = self.tamper.load(Ordering::SeqCst);
        if tampered {
            activity["object"]["content"] = "altered by the relay".into();
        }
        if self.redefine.load(Ordering::SeqCst) {
            redefine(&mut activity);
            tampered = true;
        }
        let bytes = match (self.style, tampered) {
            // pub-relay passes the bytes on as received.
            (Style::PubRelay, false) => body.to_vec(),
            (Style::PubRelay, true) => serde_json::to_vec(&activity).unwrap(),
            (Style::LitePub, _) => {
                let announce = json!({
                    "@context": AS, "id": self.next_id("announces"), "type": "Announce",
                    "actor": format!("{}/actor", self.base),
                    "to": [format!("{}/followers", self.base)],
                    "object": activity,
                });
                serde_json::to_vec(&announce).unwrap()
            }
        };
        let targets: Vec<Subscriber> = self.subscribers.lock().unwrap().clone();
        for sub in targets.iter().filter(|t| origin(&t.actor) != from) {
            let status = self.post(&sub.inbox, bytes.clone()).await;
            self.sent.lock().unwrap().push(Sent {
                activity: id.clone(),
                status,
            });
        }
    }

    /// POSTs `body` to `inbox`, signed by the relay; the answer's status.
    async fn post(&self, inbox: &str, body: Vec<u8>) -> u16 {
        let url = url::Url::parse(inbox).unwrap();
        let mut request = http::Request::post(inbox)
            .header("content-type", "application/activity+json")
            .header("host", url.authority())
            .body(Bytes::from(body))
            .unwrap();
        self.signer.sign(&mut request).unwrap();
        let mut send = self.client.post(inbox);
        for (name, value) in request.headers() {
            if name != http::header::HOST {
                send = send.header(name.as_str(), value.to_str().unwrap());
            }
        }
        let answer = send.body(request.into_body()).send().await.unwrap();
        answer.status().as_u16()
    }
}

/// The inline-context forgery: `{"content": null, "c2": "as:content"}`
/// moves the signed text to `c2` (the RDF graph, and so an LD signature,
/// stay the same) and `content`, now dropped by JSON-LD, says what the
/// forger wrote.
pub fn redefine(activity: &mut Value) {
    let mut context = match activity["@context"].take() {
        Value::Array(items) => items,
        other => vec![other],
    };
    context.push(json!({"content": null, "c2": "as:content"}));
    activity["@context"] = Value::Array(context);
    let object = &mut activity["object"];
    object["c2"] = object["content"].take();
    object["content"] = "forged by the relay".into();
}
