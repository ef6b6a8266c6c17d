//! The inbox pipeline refuses each kind of bad request with its own error
//! and HTTP status: unsigned, wrong key owner, replayed id, oversize body,
//! wrong content type, digest mismatch, blocked domain, id on a foreign
//! origin; and accepts a correctly signed one in both signature dialects.

use std::sync::Arc;

use archipel::inbox::{Inbox, InboxConfig, InboxError};
use archipel::policy::DomainPolicy;
use archipel::signatures::{
    MemoryKeyResolver, PrivateKey, SignatureError, Signer, Spec, Verifier, VerifyPolicy,
};
use bytes::Bytes;
use http::StatusCode;
use serde_json::json;

const BOB: &str = "https://b.example/users/bob";
const BOB_KEY: &str = "https://b.example/users/bob#main-key";
const MALLORY: &str = "https://m.example/users/mallory";
const MALLORY_KEY: &str = "https://m.example/users/mallory#main-key";
const INBOX: &str = "https://a.example/users/alice/inbox";

struct Fixture {
    inbox: Inbox,
    bob: PrivateKey,
    mallory: PrivateKey,
}

/// Two RSA keys, generated once for all tests (key generation is slow in debug builds).
fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: std::sync::OnceLock<(PrivateKey, PrivateKey)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (
            PrivateKey::generate_rsa(2048).unwrap(),
            PrivateKey::generate_rsa(2048).unwrap(),
        )
    })
}

fn fixture(policy: DomainPolicy, config: InboxConfig) -> Fixture {
    let (bob, mallory) = keys().clone();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(BOB_KEY, bob.public_key(), BOB);
    keys.insert(MALLORY_KEY, mallory.public_key(), MALLORY);
    let verifier = Verifier::new(keys, VerifyPolicy::default());
    let inbox = Inbox::new(Arc::new(verifier))
        .with_domain_policy(policy)
        .with_config(config)
        .with_public_base(url::Url::parse("https://a.example").unwrap());
    Fixture {
        inbox,
        bob,
        mallory,
    }
}

fn default_fixture() -> Fixture {
    fixture(DomainPolicy::new(), InboxConfig::default())
}

fn like(id: &str, actor: &str) -> Bytes {
    Bytes::from(
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Like", "actor": actor,
            "object": "https://a.example/objects/1"
        })
        .to_string(),
    )
}

fn signed(body: Bytes, key_id: &str, key: &PrivateKey, spec: Spec) -> http::Request<Bytes> {
    // Signed for the absolute URL, received path-only with a lying Host header:
    // the inbox rebuilds @target-uri from its public base URL.
    let mut request = http::Request::post(INBOX)
        .header("content-type", "application/activity+json")
        .header("host", "a.example")
        .body(body)
        .unwrap();
    Signer::new(key_id, key.clone())
        .spec(spec)
        .sign(&mut request)
        .unwrap();
    let (mut parts, body) = request.into_parts();
    parts.uri = "/users/alice/inbox".parse().unwrap();
    http::Request::from_parts(parts, body)
}

#[tokio::test]
async fn accepts_signed_activity_in_both_dialects() {
    let f = default_fixture();
    for (n, spec) in [Spec::Cavage, Spec::Rfc9421].into_iter().enumerate() {
        let id = format!("https://b.example/likes/{n}");
        let req = signed(like(&id, BOB), BOB_KEY, &f.bob, spec);
        let incoming = f.inbox.receive(&req).await.unwrap();
        assert_eq!(incoming.id, id);
        assert_eq!(incoming.kind, "Like");
        assert_eq!(incoming.actor, BOB);
        assert_eq!(incoming.verified.key_id, BOB_KEY);
        assert_eq!(incoming.verified.spec, spec);
    }
}

#[tokio::test]
async fn unsigned_post_is_401() {
    let f = default_fixture();
    let body = like("https://b.example/likes/1", BOB);
    let mut req = signed(body, BOB_KEY, &f.bob, Spec::Cavage);
    req.headers_mut().remove("signature");
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(matches!(err, InboxError::Unsigned), "{err:?}");
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn key_of_another_actor_is_401_actor_mismatch() {
    let f = default_fixture();
    // Mallory signs (validly, with her own key) an activity claiming to be bob's…
    let req = signed(
        like("https://b.example/likes/1", BOB),
        MALLORY_KEY,
        &f.mallory,
        Spec::Cavage,
    );
    let err = f.inbox.receive(&req).await.unwrap_err();
    match &err {
        InboxError::ActorMismatch {
            key_id,
            owner,
            actor,
        } => {
            assert_eq!(key_id, MALLORY_KEY);
            assert_eq!(owner, MALLORY);
            assert_eq!(actor, BOB);
        }
        other => panic!("expected ActorMismatch, got {other:?}"),
    }
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn replayed_activity_id_is_202_duplicate() {
    let f = default_fixture();
    let body = like("https://b.example/likes/7", BOB);
    let first = signed(body.clone(), BOB_KEY, &f.bob, Spec::Cavage);
    f.inbox.receive(&first).await.unwrap();
    // The same request again (a replay), and a fresh signature over the same id.
    let err = f.inbox.receive(&first).await.unwrap_err();
    assert!(matches!(&err, InboxError::Duplicate { id } if id == "https://b.example/likes/7"));
    assert_eq!(err.status(), StatusCode::ACCEPTED);
    let again = signed(body, BOB_KEY, &f.bob, Spec::Rfc9421);
    assert!(matches!(
        f.inbox.receive(&again).await.unwrap_err(),
        InboxError::Duplicate { .. }
    ));
}

#[tokio::test]
async fn oversize_body_is_413() {
    let mut config = InboxConfig::default();
    config.max_body_bytes = 1024;
    let f = fixture(DomainPolicy::new(), config);
    let padding = "x".repeat(2000);
    let body = Bytes::from(
        json!({"id": "https://b.example/n/1", "type": "Create", "actor": BOB,
               "object": {"type": "Note", "content": padding}})
        .to_string(),
    );
    let len = body.len();
    let req = signed(body, BOB_KEY, &f.bob, Spec::Cavage);
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(
        matches!(err, InboxError::BodyTooLarge { limit: 1024, actual } if actual == len),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let f = default_fixture();
    let mut req = signed(
        like("https://b.example/likes/1", BOB),
        BOB_KEY,
        &f.bob,
        Spec::Cavage,
    );
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(
        matches!(&err, InboxError::UnsupportedContentType { found } if found == "application/json"),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    req.headers_mut().remove("content-type");
    assert!(matches!(
        f.inbox.receive(&req).await.unwrap_err(),
        InboxError::MissingContentType
    ));
}

#[tokio::test]
async fn tampered_body_is_401_digest_mismatch() {
    let f = default_fixture();
    let req = signed(
        like("https://b.example/likes/1", BOB),
        BOB_KEY,
        &f.bob,
        Spec::Cavage,
    );
    let (parts, _) = req.into_parts();
    let req = http::Request::from_parts(parts, like("https://b.example/likes/2", BOB));
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(
        matches!(
            err,
            InboxError::Signature(SignatureError::DigestMismatch {
                header: "Digest",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn blocked_domain_and_its_subdomains_are_403() {
    let policy = DomainPolicy::new();
    policy.block("b.example").unwrap();
    let f = fixture(policy, InboxConfig::default());
    let req = signed(
        like("https://b.example/likes/1", BOB),
        BOB_KEY,
        &f.bob,
        Spec::Cavage,
    );
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(
        matches!(&err, InboxError::Blocked { host } if host == "b.example"),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn activity_id_on_foreign_origin_is_400() {
    let f = default_fixture();
    let req = signed(
        like("https://elsewhere.example/likes/1", BOB),
        BOB_KEY,
        &f.bob,
        Spec::Cavage,
    );
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(
        matches!(err, InboxError::IdOriginMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn missing_actor_is_400() {
    let f = default_fixture();
    let body = Bytes::from(json!({"id": "https://b.example/x", "type": "Like"}).to_string());
    let req = signed(body, BOB_KEY, &f.bob, Spec::Cavage);
    let err = f.inbox.receive(&req).await.unwrap_err();
    assert!(
        matches!(err, InboxError::MissingProperty { property: "actor" }),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rfc9421_target_uri_comes_from_the_public_base_url() {
    let f = default_fixture();
    // Received path-only with a lying Host: the inbox's base (https://a.example)
    // supplies the @target-uri the sender signed.
    let mut req = signed(
        like("https://b.example/likes/9421", BOB),
        BOB_KEY,
        &f.bob,
        Spec::Rfc9421,
    );
    req.headers_mut()
        .insert("host", "evil.example".parse().unwrap());
    let incoming = f.inbox.receive(&req).await.unwrap();
    assert_eq!(incoming.verified.spec, Spec::Rfc9421);

    // The same request at a server whose public base differs fails, even
    // with a Host header naming that server: the signature covers the URL it
    // was sent to (@target-uri, @authority), rebuilt from the base.
    let (bob, _) = keys().clone();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(BOB_KEY, bob.public_key(), BOB);
    let elsewhere = Inbox::new(Arc::new(Verifier::new(keys, VerifyPolicy::default())))
        .with_public_base(url::Url::parse("https://other.example").unwrap());
    let mut req = signed(
        like("https://b.example/likes/9422", BOB),
        BOB_KEY,
        &f.bob,
        Spec::Rfc9421,
    );
    req.headers_mut()
        .insert("host", "other.example".parse().unwrap());
    let err = elsewhere.receive(&req).await.unwrap_err();
    // The key is known and the request well-formed: only the rebuilt
    // authority differs, so the signature itself must fail.
    assert!(
        matches!(
            &err,
            InboxError::Signature(SignatureError::BadSignature { key_id }) if key_id == BOB_KEY
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
}
