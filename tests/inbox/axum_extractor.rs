//! `archipel::axum::VerifiedActivity` runs the whole inbox pipeline as an
//! axum extractor on a real server: a signed delivery reaches the handler,
//! refusals are answered with the pipeline's status and never reach it.
#![cfg(all(feature = "axum", feature = "rfc9421"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use archipel::axum::VerifiedActivity;
use archipel::inbox::Inbox;
use archipel::signatures::{MemoryKeyResolver, PrivateKey, Signer, Spec, Verifier, VerifyPolicy};
use axum::Router;
use axum::extract::FromRef;
use axum::routing::post;
use bytes::Bytes;
use serde_json::json;

#[derive(Clone)]
struct State {
    inbox: Inbox,
    handled: Arc<AtomicUsize>,
}

impl FromRef<State> for Inbox {
    fn from_ref(state: &State) -> Inbox {
        state.inbox.clone()
    }
}

async fn handler(
    axum::extract::State(state): axum::extract::State<State>,
    VerifiedActivity(incoming): VerifiedActivity,
) -> (axum::http::StatusCode, String) {
    state.handled.fetch_add(1, Ordering::SeqCst);
    (
        axum::http::StatusCode::ACCEPTED,
        format!(
            "{} by {} ({})",
            incoming.kind, incoming.actor, incoming.verified.spec
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_activity_extractor_accepts_signed_and_refuses_the_rest() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let key = PrivateKey::generate_rsa(2048).unwrap();
    let key_id = "https://b.example/users/bob#main-key";
    let mut keys = MemoryKeyResolver::new();
    keys.insert(key_id, key.public_key(), "https://b.example/users/bob");
    let inbox = Inbox::new(Arc::new(Verifier::new(keys, VerifyPolicy::default())))
        .with_public_base(url::Url::parse(&base).unwrap());
    let state = State {
        inbox,
        handled: Arc::new(AtomicUsize::new(0)),
    };
    let router = Router::new()
        .route("/inbox", post(handler))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let client = reqwest::Client::new();
    let url = format!("{base}/inbox");
    let send = |body: Bytes, spec: Option<Spec>| {
        let client = client.clone();
        let url = url.clone();
        let key = key.clone();
        async move {
            let mut request = http::Request::post(&url)
                .header("content-type", "application/activity+json")
                .body(body.clone())
                .unwrap();
            if let Some(spec) = spec {
                Signer::new(key_id, key)
                    .spec(spec)
                    .sign(&mut request)
                    .unwrap();
            }
            let mut post = client.post(&url).body(body);
            for (name, value) in request.headers() {
                post = post.header(name.as_str(), value.to_str().unwrap());
            }
            let response = post.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let like = |n: u32| {
        Bytes::from(
            json!({"id": format!("https://b.example/likes/{n}"), "type": "Like",
                   "actor": "https://b.example/users/bob", "object": "https://a.example/o/1"})
            .to_string(),
        )
    };

    let (status, text) = send(like(1), Some(Spec::Rfc9421)).await;
    assert_eq!(
        (status, text.as_str()),
        (202, "Like by https://b.example/users/bob (rfc9421)")
    );
    let (status, text) = send(like(2), Some(Spec::Cavage)).await;
    assert_eq!(
        (status, text.as_str()),
        (202, "Like by https://b.example/users/bob (cavage)")
    );
    // Replay: 202 from the extractor, handler not called again.
    let (status, text) = send(like(2), Some(Spec::Cavage)).await;
    assert_eq!(status, 202);
    assert!(text.contains("already received"), "{text}");
    // Unsigned: 401 with the reason in the body.
    let (status, text) = send(like(3), None).await;
    assert_eq!(status, 401);
    assert!(text.contains("Signature header: missing"), "{text}");
    // Oversize: 413 while reading.
    let (status, _) = send(Bytes::from(vec![b' '; 300 * 1024]), Some(Spec::Cavage)).await;
    assert_eq!(status, 413);
    assert_eq!(state.handled.load(Ordering::SeqCst), 2);
}
