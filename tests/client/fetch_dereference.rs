//! The `Fetcher` against real servers on 127.0.0.1: content negotiation,
//! redirects with the origin checked on the final URL, status mapping,
//! media types, signed GET (verified with archipel's own `Verifier`),
//! cache hooks and domain policy.
#![cfg(feature = "client")]

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use archipel::client::{ClientError, HttpClient, ReqwestClient};
use archipel::fetch::{ACCEPT_ACTIVITYSTREAMS, FetchCache, FetchError, Fetcher};
use archipel::policy::DomainPolicy;
use archipel::signatures::{MemoryKeyResolver, PrivateKey, Signer, Verifier, VerifyPolicy};
use bytes::Bytes;
use serde_json::Value;
use support::{Reply, TestServer, local_policy};
use url::Url;

const ACTOR: &str = r#"{"@context":"https://www.w3.org/ns/activitystreams","id":"{base}/users/alice",
  "type":"Person","preferredUsername":"alice","inbox":"{base}/users/alice/inbox"}"#;

fn fetcher() -> Fetcher {
    Fetcher::new(Arc::new(ReqwestClient::new(local_policy()).unwrap()))
}

fn iri(s: &str) -> Url {
    Url::parse(s).unwrap()
}

#[tokio::test]
async fn fetches_with_activitystreams_accept_through_redirects() {
    let s = TestServer::start().await;
    s.route("/@alice", Reply::redirect(301, "/users/alice"));
    s.route(
        "/users/alice",
        Reply::ok("application/activity+json", ACTOR),
    );
    let doc = fetcher()
        .fetch_value(&iri(&s.url("/@alice")))
        .await
        .unwrap();
    assert_eq!(doc["id"], s.url("/users/alice"));
    assert_eq!(doc["preferredUsername"], "alice");
    for r in s.requests() {
        assert_eq!(r.header("accept"), Some(ACCEPT_ACTIVITYSTREAMS));
    }

    #[derive(serde::Deserialize)]
    struct Person {
        #[serde(rename = "preferredUsername")]
        preferred_username: String,
        inbox: String,
    }
    let p: Person = fetcher().fetch(&iri(&s.url("/users/alice"))).await.unwrap();
    assert_eq!(p.preferred_username, "alice");
    assert_eq!(p.inbox, s.url("/users/alice/inbox"));
}

#[tokio::test]
async fn origin_mismatch_is_refused() {
    let s = TestServer::start().await;
    s.route(
        "/users/mallory",
        Reply::ok(
            "application/activity+json",
            r#"{"id":"https://victim.example/users/alice","type":"Person"}"#,
        ),
    );
    let err = fetcher()
        .fetch_value(&iri(&s.url("/users/mallory")))
        .await
        .unwrap_err();
    match err {
        FetchError::OriginMismatch { id, fetched } => {
            assert_eq!(id, "https://victim.example/users/alice");
            assert_eq!(fetched, s.url("/users/mallory"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn origin_is_checked_against_the_final_url_after_redirects() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    // A redirects to B, B serves a document claiming to be on A.
    a.route("/users/alice", Reply::redirect(302, b.url("/evil")));
    b.route(
        "/evil",
        Reply::ok(
            "application/activity+json",
            format!(r#"{{"id":"{}","type":"Person"}}"#, a.url("/users/alice")),
        ),
    );
    let err = fetcher()
        .fetch_value(&iri(&a.url("/users/alice")))
        .await
        .unwrap_err();
    match err {
        FetchError::OriginMismatch { fetched, .. } => assert_eq!(fetched, b.url("/evil")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn statuses_media_types_and_shapes() {
    let s = TestServer::start().await;
    s.route("/gone", Reply::status(410));
    s.route("/secure", Reply::status(401));
    s.route("/html", Reply::ok("text/html", "<html></html>"));
    s.route(
        "/noid",
        Reply::ok("application/activity+json", r#"{"type":"Note"}"#),
    );
    s.route("/array", Reply::ok("application/activity+json", "[1]"));
    s.route(
        "/broken",
        Reply::ok("application/activity+json", "{\"id\":"),
    );
    let f = fetcher();
    let get = |p: &str| {
        let f = f.clone();
        let u = iri(&s.url(p));
        async move { f.fetch_value(&u).await.unwrap_err() }
    };
    assert!(matches!(get("/missing").await, FetchError::NotFound { .. }));
    assert!(matches!(get("/gone").await, FetchError::Gone { .. }));
    assert!(matches!(
        get("/secure").await,
        FetchError::Status { status: 401, .. }
    ));
    assert!(matches!(
        get("/html").await,
        FetchError::NotActivityStreams { content_type, .. } if content_type == "text/html"
    ));
    assert!(matches!(get("/noid").await, FetchError::MissingId { .. }));
    assert!(matches!(
        get("/array").await,
        FetchError::InvalidJson { reason, .. } if reason == "not a JSON object"
    ));
    assert!(matches!(
        get("/broken").await,
        FetchError::InvalidJson { .. }
    ));
    let decode = f
        .fetch::<Vec<String>>(&iri(&s.url("/gone")))
        .await
        .unwrap_err();
    assert!(matches!(decode, FetchError::Gone { .. }));
}

#[tokio::test]
async fn signed_get_verifies_with_the_signature_module() {
    let s = TestServer::start().await;
    s.route(
        "/users/alice",
        Reply::ok("application/activity+json", ACTOR),
    );
    let pem = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
    let key = PrivateKey::from_pem(pem).unwrap();
    let key_id = "https://local.example/actor#main-key";
    let signer = Arc::new(Signer::new(key_id, key.clone()));
    let f = fetcher().signed(signer);
    f.fetch_value(&iri(&s.url("/users/alice"))).await.unwrap();
    let rec = &s.requests()[0];
    let sig = rec.header("signature").unwrap();
    assert!(sig.contains(&format!("keyId=\"{key_id}\"")), "{sig}");
    assert!(
        sig.contains("headers=\"(request-target) host date\""),
        "{sig}"
    );
    // Rebuild the request as the server saw it and verify it.
    let mut b = http::Request::get(rec.target.as_str());
    for (n, v) in &rec.headers {
        b = b.header(n.as_str(), v.as_str());
    }
    let req = b.body(Bytes::new()).unwrap();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(key_id, key.public_key(), "https://local.example/actor");
    let verified = Verifier::new(keys, VerifyPolicy::default())
        .verify(&req)
        .await
        .unwrap();
    assert_eq!(verified.key_id, key_id);
}

#[derive(Default)]
struct MapCache {
    map: Mutex<HashMap<String, Value>>,
    puts: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl FetchCache for MapCache {
    async fn get(&self, iri: &Url) -> Option<Value> {
        self.map.lock().unwrap().get(iri.as_str()).cloned()
    }
    async fn put(&self, iri: &Url, document: &Value) {
        self.puts.lock().unwrap().push(iri.to_string());
        self.map
            .lock()
            .unwrap()
            .insert(iri.to_string(), document.clone());
    }
}

#[tokio::test]
async fn cache_gets_only_verified_documents() {
    let s = TestServer::start().await;
    s.route(
        "/users/alice",
        Reply::ok("application/activity+json", ACTOR),
    );
    s.route(
        "/spoof",
        Reply::ok(
            "application/activity+json",
            r#"{"id":"https://x.example/1"}"#,
        ),
    );
    let cache = Arc::new(MapCache::default());
    let f = fetcher().cache(cache.clone());
    let u = iri(&s.url("/users/alice"));
    let first = f.fetch_value(&u).await.unwrap();
    let second = f.fetch_value(&u).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(s.requests().len(), 1, "second fetch served from cache");
    let _ = f.fetch_value(&iri(&s.url("/spoof"))).await.unwrap_err();
    assert_eq!(*cache.puts.lock().unwrap(), [u.to_string()]);
}

/// A client that must never be called.
struct Unreachable;

#[async_trait::async_trait]
impl HttpClient for Unreachable {
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        panic!("contacted {}", req.uri());
    }
}

#[tokio::test]
async fn blocked_domains_are_never_contacted() {
    let d = DomainPolicy::new();
    d.block("blocked.example").unwrap();
    let f = Fetcher::new(Arc::new(Unreachable)).with_domain_policy(d);
    let err = f
        .fetch_value(&iri("https://a.Blocked.example/users/x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Blocked { host, .. } if host == "a.blocked.example"),
        "{err:?}"
    );
}

#[tokio::test]
async fn decodes_into_the_vocabulary() {
    let s = TestServer::start().await;
    s.route(
        "/users/alice",
        Reply::ok("application/activity+json", ACTOR),
    );
    s.route(
        "/notes/1",
        Reply::ok(
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            r#"{"id":"{base}/notes/1","type":"Note","content":"hi"}"#,
        ),
    );
    let f = fetcher();
    let actor = f.fetch_actor(&iri(&s.url("/users/alice"))).await.unwrap();
    assert_eq!(actor.preferred_username.as_deref(), Some("alice"));
    assert_eq!(
        actor.inbox.as_ref().map(|i| i.as_str().to_owned()),
        Some(s.url("/users/alice/inbox"))
    );
    let note = f.fetch_any(&iri(&s.url("/notes/1"))).await.unwrap();
    assert_eq!(note.type_name(), Some("Note"));
    let err = f.fetch_actor(&iri(&s.url("/notes/1"))).await.unwrap_err();
    assert!(
        matches!(&err, FetchError::UnexpectedType { expected: "actor", found, .. } if found == "Note"),
        "{err:?}"
    );
}
