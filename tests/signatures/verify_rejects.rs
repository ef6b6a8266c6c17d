//! Every verification rejection, each asserting its exact error variant,
//! plus the real-world tolerances (query fallback, key rotation, proxies).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use archipel::clock::FixedClock;
use archipel::signatures::*;
use bytes::Bytes;

const RSA_PEM: &str = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
const OTHER_PEM: &str = include_str!("../interop/keys/cavage-test-rsa-1024-pkcs1.pem");
const KEY_ID: &str = "https://gts.example/users/alice/main-key";
const OWNER: &str = "https://gts.example/users/alice";
const T0: u64 = 1_700_000_000;

fn at(secs: u64) -> Arc<FixedClock> {
    Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(secs)))
}

fn key() -> PrivateKey {
    PrivateKey::from_pem(RSA_PEM).unwrap()
}

fn post() -> http::Request<Bytes> {
    http::Request::post("https://b.example/inbox")
        .header("content-type", "application/activity+json")
        .body(Bytes::from_static(br#"{"type":"Like"}"#))
        .unwrap()
}

fn signed(spec: Spec) -> http::Request<Bytes> {
    let mut r = post();
    Signer::new(KEY_ID, key())
        .spec(spec)
        .clock(at(T0))
        .sign(&mut r)
        .unwrap();
    r
}

fn verifier_at(now: u64) -> Verifier<MemoryKeyResolver> {
    let mut keys = MemoryKeyResolver::new();
    keys.insert(KEY_ID, key().public_key(), OWNER);
    Verifier::new(keys, VerifyPolicy::default()).clock(at(now))
}

fn set(r: &mut http::Request<Bytes>, name: &'static str, value: &str) {
    r.headers_mut().insert(name, value.parse().unwrap());
}

async fn check(r: &http::Request<Bytes>) -> Result<Verified, SignatureError> {
    verifier_at(T0).verify(r).await
}

#[tokio::test]
async fn accepts_mastodon_window_and_gotosocial_path_key_ids() {
    let r = signed(Spec::Cavage);
    // 1 h + 5 min in the past, 1 h in the future: accepted.
    assert_eq!(
        verifier_at(T0 + 3900).verify(&r).await.unwrap().owner,
        OWNER
    );
    assert_eq!(
        verifier_at(T0 - 3600).verify(&r).await.unwrap().key_id,
        KEY_ID
    );
}

#[tokio::test]
async fn http2_request_without_host_header_uses_the_authority() {
    let mut r = signed(Spec::Cavage);
    r.headers_mut().remove("host");
    let v = check(&r).await.unwrap();
    assert!(v.is_owned_by(OWNER));
    assert!(!v.is_owned_by("https://gts.example/users/mallory"));
}

#[tokio::test]
async fn created_parameter_is_checked_even_when_not_covered() {
    let mut r = signed(Spec::Cavage);
    let sig = r.headers()["signature"].to_str().unwrap().to_owned();
    set(
        &mut r,
        "signature",
        &format!("{sig},created={}", T0 - 10_000),
    );
    assert_eq!(
        check(&r).await,
        Err(SignatureError::StaleDate {
            age_secs: 10_000,
            max_secs: 3900
        })
    );
}

#[tokio::test]
async fn stale_date() {
    let r = signed(Spec::Cavage);
    assert_eq!(
        verifier_at(T0 + 3901).verify(&r).await,
        Err(SignatureError::StaleDate {
            age_secs: 3901,
            max_secs: 3900
        })
    );
}

#[tokio::test]
async fn future_date() {
    let r = signed(Spec::Cavage);
    assert_eq!(
        verifier_at(T0 - 3601).verify(&r).await,
        Err(SignatureError::FutureDate {
            ahead_secs: 3601,
            max_secs: 3600
        })
    );
}

#[tokio::test]
async fn invalid_date() {
    let mut r = signed(Spec::Cavage);
    set(&mut r, "date", "yesterday");
    assert_eq!(
        check(&r).await,
        Err(SignatureError::InvalidDate("yesterday".into()))
    );
}

#[tokio::test]
async fn expired_signature() {
    let mut r = signed(Spec::Cavage);
    let sig = r.headers()["signature"].to_str().unwrap().to_owned();
    set(&mut r, "signature", &format!("{sig},expires={}", T0 - 7200));
    assert_eq!(
        check(&r).await,
        Err(SignatureError::Expired { ago_secs: 7200 })
    );
}

#[tokio::test]
async fn digest_mismatch() {
    let mut r = signed(Spec::Cavage);
    *r.body_mut() = Bytes::from_static(br#"{"type":"Delete"}"#);
    assert_eq!(
        check(&r).await,
        Err(SignatureError::DigestMismatch {
            header: "Digest",
            algorithm: "sha-256"
        })
    );
}

#[tokio::test]
async fn post_without_signed_digest_is_missing_a_component() {
    let mut r = post();
    Signer::new(KEY_ID, key())
        .clock(at(T0))
        .cavage_components("(request-target) host date")
        .sign(&mut r)
        .unwrap();
    assert_eq!(
        check(&r).await,
        Err(SignatureError::MissingComponent("digest".into()))
    );
}

#[tokio::test]
async fn missing_request_target_and_host() {
    let mut r = post();
    let s = Signer::new(KEY_ID, key()).clock(at(T0));
    s.clone()
        .cavage_components("host date digest")
        .sign(&mut r)
        .unwrap();
    assert_eq!(
        check(&r).await,
        Err(SignatureError::MissingComponent("(request-target)".into()))
    );
    s.cavage_components("(request-target) date digest")
        .sign(&mut r)
        .unwrap();
    assert_eq!(
        check(&r).await,
        Err(SignatureError::MissingComponent("host".into()))
    );
}

#[tokio::test]
async fn covered_header_absent_from_request() {
    let mut r = signed(Spec::Cavage);
    r.headers_mut().remove("content-type");
    assert_eq!(
        check(&r).await,
        Err(SignatureError::AbsentComponent("content-type".into()))
    );
}

#[tokio::test]
async fn unsupported_algorithm() {
    let mut r = signed(Spec::Cavage);
    let sig = r.headers()["signature"]
        .to_str()
        .unwrap()
        .replace("rsa-sha256", "hmac-sha256");
    set(&mut r, "signature", &sig);
    assert_eq!(
        check(&r).await,
        Err(SignatureError::UnsupportedAlgorithm("hmac-sha256".into()))
    );
}

#[tokio::test]
async fn algorithm_excluded_by_policy() {
    let r = signed(Spec::Cavage);
    let mut keys = MemoryKeyResolver::new();
    keys.insert(KEY_ID, key().public_key(), OWNER);
    let mut policy = VerifyPolicy::default();
    policy.algorithms = vec![Algorithm::Ed25519];
    assert_eq!(
        Verifier::new(keys, policy).clock(at(T0)).verify(&r).await,
        Err(SignatureError::UnsupportedAlgorithm(
            "rsa-v1_5-sha256".into()
        ))
    );
}

#[tokio::test]
async fn malformed_header_reports_position() {
    let mut r = signed(Spec::Cavage);
    set(&mut r, "signature", r#"keyId="a" signature="b""#);
    assert_eq!(
        check(&r).await,
        Err(SignatureError::MalformedHeader {
            header: "Signature",
            position: 10,
            reason: "expected `,` between parameters"
        })
    );
}

#[tokio::test]
async fn missing_key_id() {
    let mut r = signed(Spec::Cavage);
    set(&mut r, "signature", r#"signature="YWJj",headers="date""#);
    assert_eq!(
        check(&r).await,
        Err(SignatureError::MissingParameter {
            header: "Signature",
            parameter: "keyId"
        })
    );
}

#[tokio::test]
async fn oversized_header() {
    let mut r = signed(Spec::Cavage);
    let huge = format!(r#"keyId="{}",signature="x""#, "a".repeat(MAX_HEADER_LEN));
    set(&mut r, "signature", &huge);
    assert_eq!(
        check(&r).await,
        Err(SignatureError::HeaderTooLarge {
            header: "Signature",
            len: huge.len(),
            max: MAX_HEADER_LEN
        })
    );
}

#[tokio::test]
async fn unknown_key() {
    let r = signed(Spec::Cavage);
    let v = Verifier::new(MemoryKeyResolver::new(), VerifyPolicy::default()).clock(at(T0));
    assert_eq!(
        v.verify(&r).await,
        Err(SignatureError::UnknownKey(KEY_ID.into()))
    );
}

#[tokio::test]
async fn bad_signature_with_the_wrong_key() {
    let r = signed(Spec::Cavage);
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        KEY_ID,
        PrivateKey::from_pem(OTHER_PEM).unwrap().public_key(),
        OWNER,
    );
    let v = Verifier::new(keys, VerifyPolicy::default()).clock(at(T0));
    assert_eq!(
        v.verify(&r).await,
        Err(SignatureError::BadSignature {
            key_id: KEY_ID.into()
        })
    );
}

#[tokio::test]
async fn unsigned_request() {
    assert_eq!(check(&post()).await, Err(SignatureError::MissingSignature));
}

#[tokio::test]
async fn dialect_excluded_by_policy() {
    let r = signed(Spec::Cavage);
    let mut policy = VerifyPolicy::default();
    policy.specs = vec![Spec::Rfc9421];
    let v = Verifier::new(MemoryKeyResolver::new(), policy).clock(at(T0));
    assert_eq!(
        v.verify(&r).await,
        Err(SignatureError::UnsupportedSpec(Spec::Cavage))
    );
}

#[cfg(feature = "rfc9421")]
mod rfc9421 {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_stale_created() {
        let r = signed(Spec::Rfc9421);
        assert_eq!(check(&r).await.unwrap().spec, Spec::Rfc9421);
        assert_eq!(
            verifier_at(T0 + 4000).verify(&r).await,
            Err(SignatureError::StaleDate {
                age_secs: 4000,
                max_secs: 3900
            })
        );
    }

    #[tokio::test]
    async fn digest_mismatch_on_content_digest() {
        let mut r = signed(Spec::Rfc9421);
        *r.body_mut() = Bytes::from_static(b"{}");
        assert_eq!(
            check(&r).await,
            Err(SignatureError::DigestMismatch {
                header: "Content-Digest",
                algorithm: "sha-256"
            })
        );
    }

    #[tokio::test]
    async fn unknown_alg_parameter() {
        let mut r = signed(Spec::Rfc9421);
        let si = r.headers()["signature-input"]
            .to_str()
            .unwrap()
            .replace("rsa-v1_5-sha256", "hmac-sha256");
        set(&mut r, "signature-input", &si);
        assert_eq!(
            check(&r).await,
            Err(SignatureError::UnsupportedAlgorithm("hmac-sha256".into()))
        );
    }

    #[tokio::test]
    async fn malformed_signature_input_reports_position() {
        let mut r = signed(Spec::Rfc9421);
        set(&mut r, "signature-input", r#"sig1=("@method" "#);
        assert!(matches!(
            check(&r).await,
            Err(SignatureError::MalformedHeader {
                header: "Signature-Input",
                position: 16,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn tampered_target_is_a_bad_signature() {
        let mut r = signed(Spec::Rfc9421);
        *r.uri_mut() = "https://b.example/other-inbox".parse().unwrap();
        assert_eq!(
            check(&r).await,
            Err(SignatureError::BadSignature {
                key_id: KEY_ID.into()
            })
        );
    }

    #[tokio::test]
    async fn rfc9421_excluded_by_policy() {
        let r = signed(Spec::Rfc9421);
        let mut policy = VerifyPolicy::default();
        policy.specs = vec![Spec::Cavage];
        let v = Verifier::new(MemoryKeyResolver::new(), policy).clock(at(T0));
        assert_eq!(
            v.verify(&r).await,
            Err(SignatureError::UnsupportedSpec(Spec::Rfc9421))
        );
    }

    #[tokio::test]
    async fn target_uri_comes_from_the_public_base_behind_a_proxy() {
        let r = signed(Spec::Rfc9421);
        // The proxy forwards to the app as http://127.0.0.1:8080/inbox.
        let mut inner = r.clone();
        *inner.uri_mut() = "/inbox".parse().unwrap();
        set(&mut inner, "host", "127.0.0.1:8080");
        let base = url::Url::parse("https://b.example/").unwrap();
        assert_eq!(
            verifier_at(T0)
                .verify_with_base(&inner, &base)
                .await
                .unwrap()
                .owner,
            OWNER
        );
        // Without the base, the internal Host does not match what was signed.
        assert_eq!(
            verifier_at(T0).verify(&inner).await,
            Err(SignatureError::BadSignature {
                key_id: KEY_ID.into()
            })
        );
    }
}

#[tokio::test]
async fn query_left_out_of_request_target_is_retried() {
    // Fedify and Mastodon < 4.3 sign `(request-target)` without the query.
    let mut r = http::Request::get("https://b.example/users/bob?page=2")
        .body(Bytes::new())
        .unwrap();
    Signer::new(KEY_ID, key())
        .clock(at(T0))
        .sign(&mut r)
        .unwrap();
    let sig = r.headers()["signature"].clone();
    let mut without = http::Request::get("https://b.example/users/bob")
        .body(Bytes::new())
        .unwrap();
    Signer::new(KEY_ID, key())
        .clock(at(T0))
        .sign(&mut without)
        .unwrap();
    // A request for ?page=2 carrying a signature made without the query.
    let mut r2 = r.clone();
    r2.headers_mut()
        .insert("signature", without.headers()["signature"].clone());
    assert_eq!(check(&r2).await.unwrap().key_id, KEY_ID);
    assert_ne!(sig, without.headers()["signature"]);
    let mut keys = MemoryKeyResolver::new();
    keys.insert(KEY_ID, key().public_key(), OWNER);
    let mut strict = VerifyPolicy::default();
    strict.retry_without_query = false;
    assert_eq!(
        Verifier::new(keys, strict).clock(at(T0)).verify(&r2).await,
        Err(SignatureError::BadSignature {
            key_id: KEY_ID.into()
        })
    );
}

#[tokio::test]
async fn host_is_checked_against_the_public_base() {
    let r = signed(Spec::Cavage);
    let base = url::Url::parse("https://c.example/").unwrap();
    assert_eq!(
        verifier_at(T0).verify_with_base(&r, &base).await,
        Err(SignatureError::BadSignature {
            key_id: KEY_ID.into()
        })
    );
    let base = url::Url::parse("https://b.example/").unwrap();
    assert_eq!(
        verifier_at(T0)
            .verify_with_base(&r, &base)
            .await
            .unwrap()
            .owner,
        OWNER
    );
}

/// A resolver whose cache holds a rotated-out key.
struct Rotating {
    calls: AtomicUsize,
    refreshes: Mutex<Vec<bool>>,
    old: PublicKey,
    new: Option<PublicKey>,
}

#[async_trait::async_trait]
impl KeyResolver for Rotating {
    async fn resolve(&self, _key_id: &str, refresh: bool) -> Result<ResolvedKey, SignatureError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.refreshes.lock().unwrap().push(refresh);
        match (refresh, &self.new) {
            (true, Some(k)) => Ok(ResolvedKey::new(k.clone(), OWNER)),
            _ => Ok(ResolvedKey::new(self.old.clone(), OWNER).cached()),
        }
    }
}

#[tokio::test]
async fn a_failed_cached_key_is_refetched_once() {
    let r = signed(Spec::Cavage);
    let old = PrivateKey::from_pem(OTHER_PEM).unwrap().public_key();
    let rotating = Arc::new(Rotating {
        calls: AtomicUsize::new(0),
        refreshes: Mutex::new(vec![]),
        old: old.clone(),
        new: Some(key().public_key()),
    });
    let v = Verifier::new(rotating.clone(), VerifyPolicy::default()).clock(at(T0));
    assert_eq!(v.verify(&r).await.unwrap().owner, OWNER);
    assert_eq!(*rotating.refreshes.lock().unwrap(), [false, true]);

    // Still wrong after the refetch: one refresh only, then BadSignature.
    let stuck = Arc::new(Rotating {
        calls: AtomicUsize::new(0),
        refreshes: Mutex::new(vec![]),
        old,
        new: None,
    });
    let v = Verifier::new(stuck.clone(), VerifyPolicy::default()).clock(at(T0));
    assert_eq!(
        v.verify(&r).await,
        Err(SignatureError::BadSignature {
            key_id: KEY_ID.into()
        })
    );
    assert_eq!(stuck.calls.load(Ordering::SeqCst), 2);
}
