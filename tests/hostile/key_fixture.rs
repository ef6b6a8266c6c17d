//! Shared pieces of the key-resolution attacks: our inbox on a real
//! server (axum, `ActorKeyResolver` over a loopback-permitting client), a
//! victim server publishing `bob`, and a sender that signs as anyone.

use std::sync::{Arc, Mutex};

use archipel::client::ReqwestClient;
use archipel::inbox::{ActorKeyResolver, Inbox, InboxError};
use archipel::signatures::{PrivateKey, Signer, Spec, Verifier, VerifyPolicy};
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bytes::Bytes;
use serde_json::json;

pub use crate::support::{Reply, TestServer, local_policy};

/// Bob's real key (published by the victim).
pub fn bob_key() -> PrivateKey {
    PrivateKey::from_pem(include_str!("../interop/keys/rsa-2048-pkcs8.pem")).unwrap()
}

/// The attacker's key, generated once.
pub fn evil_key() -> PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa(2048).unwrap())
        .clone()
}

/// A victim server publishing `/users/bob` with `extra_keys` listed after
/// `#main-key` in `publicKey`.
pub async fn victim(extra_keys: &[&str]) -> TestServer {
    let v = TestServer::start().await;
    let bob = v.url("/users/bob");
    let mut keys = vec![json!({
        "id": format!("{bob}#main-key"), "owner": bob,
        "publicKeyPem": bob_key().public_key().to_spki_pem()
    })];
    keys.extend(extra_keys.iter().map(|k| json!(k)));
    v.route(
        "/users/bob",
        Reply::ok("application/activity+json", actor(&bob, keys)),
    );
    v
}

/// An actor document.
pub fn actor(id: &str, public_key: Vec<serde_json::Value>) -> String {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "inbox": format!("{id}/inbox"),
        "publicKey": public_key
    })
    .to_string()
}

/// What our server's application saw.
#[derive(Default)]
pub struct Seen {
    /// Ids of activities handed to the application.
    pub accepted: Mutex<Vec<String>>,
    /// Refusals, in order.
    pub refused: Mutex<Vec<InboxError>>,
}

/// Our server: an inbox at `/inbox` on 127.0.0.1:0.
pub struct Ours {
    pub url: String,
    pub seen: Arc<Seen>,
}

#[derive(Clone)]
struct AppState {
    inbox: Inbox,
    seen: Arc<Seen>,
}

async fn inbox_route(
    State(st): State<AppState>,
    request: axum::extract::Request,
) -> axum::http::StatusCode {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return axum::http::StatusCode::PAYLOAD_TOO_LARGE;
    };
    match st
        .inbox
        .receive(&http::Request::from_parts(parts, bytes))
        .await
    {
        Ok(incoming) => {
            st.seen
                .accepted
                .lock()
                .unwrap()
                .push(incoming.id.into_string());
            axum::http::StatusCode::ACCEPTED
        }
        Err(e) => {
            let status = e.status();
            st.seen.refused.lock().unwrap().push(e);
            status
        }
    }
}

/// Starts our server with `resolver` customised by `configure`, and the
/// public base `base` (its own URL when `None`).
pub async fn ours(
    base: Option<&str>,
    configure: impl FnOnce(ActorKeyResolver) -> ActorKeyResolver,
) -> Ours {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let client = Arc::new(ReqwestClient::new(local_policy()).unwrap());
    let resolver = configure(ActorKeyResolver::new(client));
    let inbox = Inbox::new(Arc::new(Verifier::new(resolver, VerifyPolicy::default())))
        .with_public_base(url::Url::parse(base.unwrap_or(&url)).unwrap());
    let seen = Arc::new(Seen::default());
    let router = Router::new()
        .route("/inbox", post(inbox_route))
        .with_state(AppState {
            inbox,
            seen: seen.clone(),
        });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Ours { url, seen }
}

/// A `Like` by `actor`, with an id on the actor's origin.
pub fn like(actor: &str, n: u32) -> Bytes {
    let origin = url::Url::parse(actor)
        .unwrap()
        .origin()
        .ascii_serialization();
    Bytes::from(
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{origin}/likes/{n}"), "type": "Like", "actor": actor,
            "object": "https://social.example/notes/1"
        })
        .to_string(),
    )
}

/// Signs `body` for `signed_for` (absolute URL: its authority is the
/// signed `Host`), then POSTs it to `send_to` with the signed headers,
/// `Host` included. Returns the status.
pub async fn post_signed(
    signed_for: &str,
    send_to: &str,
    body: Bytes,
    key_id: &str,
    key: &PrivateKey,
    spec: Spec,
) -> u16 {
    let mut request = http::Request::post(signed_for)
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .unwrap();
    Signer::new(key_id, key.clone())
        .spec(spec)
        .sign(&mut request)
        .unwrap();
    let mut post = reqwest::Client::new().post(send_to).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    tokio::time::timeout(std::time::Duration::from_secs(30), post.send())
        .await
        .expect("inbox answered within 30 s")
        .unwrap()
        .status()
        .as_u16()
}

/// Requests `server` received for `path` (exact path and query).
pub fn hits(server: &TestServer, target: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.target == target)
        .count()
}
