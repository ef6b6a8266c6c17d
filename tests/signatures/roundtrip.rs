//! Sign with `Signer`, verify with `Verifier`: both dialects, both key types.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use archipel::clock::FixedClock;
use archipel::signatures::*;
use bytes::Bytes;

const RSA_PEM: &str = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
const KEY_ID: &str = "https://a.example/users/alice#main-key";
const OWNER: &str = "https://a.example/users/alice";

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(1_700_000_000)))
}

fn post() -> http::Request<Bytes> {
    http::Request::post("https://b.example/inbox?x=1")
        .header("content-type", "application/activity+json")
        .body(Bytes::from_static(br#"{"type":"Follow"}"#))
        .unwrap()
}

fn verifier(key: PublicKey) -> Verifier<MemoryKeyResolver> {
    let mut r = MemoryKeyResolver::new();
    r.insert(KEY_ID, key, OWNER);
    Verifier::new(r, VerifyPolicy::default()).clock(clock())
}

#[tokio::test]
async fn cavage_rsa_post_round_trip() {
    let key = PrivateKey::from_pem(RSA_PEM).unwrap();
    let signer = Signer::new(KEY_ID, key.clone()).clock(clock());
    let mut req = post();
    signer.sign(&mut req).unwrap();
    let sig = req.headers()["signature"].to_str().unwrap();
    assert!(sig.starts_with(&format!("keyId=\"{KEY_ID}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\"")));
    assert_eq!(req.headers()["host"], "b.example");
    assert_eq!(req.headers()["date"], "Tue, 14 Nov 2023 22:13:20 GMT");
    let v = verifier(key.public_key()).verify(&req).await.unwrap();
    assert_eq!(
        (v.key_id.as_str(), v.owner.as_str(), v.spec, v.algorithm),
        (KEY_ID, OWNER, Spec::Cavage, Algorithm::RsaV1_5Sha256)
    );
}

#[tokio::test]
async fn cavage_get_round_trip_and_tamper() {
    let key = PrivateKey::from_pem(RSA_PEM).unwrap();
    let signer = Signer::new(KEY_ID, key.clone()).clock(clock());
    let mut req = http::Request::get("https://b.example/users/bob")
        .body(Bytes::new())
        .unwrap();
    signer.sign(&mut req).unwrap();
    assert!(
        req.headers()["signature"]
            .to_str()
            .unwrap()
            .contains("headers=\"(request-target) host date\"")
    );
    assert!(!req.headers().contains_key("digest"));
    let v = verifier(key.public_key());
    assert_eq!(
        v.verify(&req).await.unwrap().algorithm,
        Algorithm::RsaV1_5Sha256
    );
    *req.uri_mut() = "https://b.example/users/eve".parse().unwrap();
    assert_eq!(
        v.verify(&req).await,
        Err(SignatureError::BadSignature {
            key_id: KEY_ID.into()
        })
    );
}

#[test]
fn api_types_are_shareable_across_tasks() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn clone<T: Clone>() {}
    send_sync::<PrivateKey>();
    send_sync::<PublicKey>();
    send_sync::<Signer>();
    send_sync::<BodyDigest>();
    send_sync::<Verifier<MemoryKeyResolver>>();
    send_sync::<SignatureError>();
    clone::<Signer>();
    clone::<PrivateKey>();
    // The verify future can run on a multi-threaded executor (axum).
    fn send<F: std::future::Future + Send>(_: F) {}
    let v = verifier(PrivateKey::from_pem(RSA_PEM).unwrap().public_key());
    let req = post();
    send(v.verify(&req));
}
