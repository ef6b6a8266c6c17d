//! draft-cavage-http-signatures-12 Appendix C: the published test vectors,
//! verified and re-created byte for byte with the Appendix C test key.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use archipel::clock::FixedClock;
use archipel::signatures::*;
use bytes::Bytes;

const PRIVATE: &str = include_str!("../interop/keys/cavage-test-rsa-1024-pkcs1.pem");
const PUBLIC: &str = include_str!("../interop/keys/cavage-test-rsa-1024-spki.pem");
/// `Sun, 05 Jan 2014 21:31:40 GMT`, the Date of the Appendix C request.
const NOW: u64 = 1_388_957_500;

const C1: &str = "SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25WqS+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM=";
const C2: &str = "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0=";
const C3: &str = "vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE=";
const C3_HEADERS: &str = "(request-target) host date content-type digest content-length";

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(NOW)))
}

/// The Appendix C test request.
fn request() -> http::Request<Bytes> {
    http::Request::post("/foo?param=value&pet=dog")
        .header("host", "example.com")
        .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
        .header("content-type", "application/json")
        .header(
            "digest",
            "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        )
        .header("content-length", "18")
        .body(Bytes::from_static(br#"{"hello": "world"}"#))
        .unwrap()
}

fn verifier(policy: VerifyPolicy) -> Verifier<MemoryKeyResolver> {
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        "Test",
        PublicKey::from_pem(PUBLIC).unwrap(),
        "https://example.com/test",
    );
    Verifier::new(keys, policy).clock(clock())
}

fn lenient() -> VerifyPolicy {
    let mut p = VerifyPolicy::default();
    p.require_target = false;
    p.require_host = false;
    p.require_digest = false;
    p
}

fn signature_param(req: &http::Request<Bytes>) -> String {
    let h = req.headers()["signature"].to_str().unwrap();
    parse_cavage_signature(h).unwrap().signature.into_owned()
}

#[tokio::test]
async fn c1_default_test_verifies() {
    let mut req = request();
    req.headers_mut().insert(
        "signature",
        format!(r#"keyId="Test",algorithm="rsa-sha256",signature="{C1}""#)
            .parse()
            .unwrap(),
    );
    let v = verifier(lenient()).verify(&req).await.unwrap();
    assert_eq!(
        (v.key_id.as_str(), v.algorithm),
        ("Test", Algorithm::RsaV1_5Sha256)
    );
}

#[tokio::test]
async fn c1_default_test_also_as_authorization_header() {
    let mut req = request();
    req.headers_mut().insert(
        "authorization",
        format!(r#"Signature keyId="Test",algorithm="rsa-sha256",signature="{C1}""#)
            .parse()
            .unwrap(),
    );
    assert_eq!(
        verifier(lenient()).verify(&req).await.unwrap().key_id,
        "Test"
    );
}

#[tokio::test]
async fn c2_basic_test_verifies_and_is_recreated() {
    let mut req = request();
    req.headers_mut().insert(
        "signature",
        format!(r#"keyId="Test",algorithm="rsa-sha256",headers="(request-target) host date", signature="{C2}""#)
            .parse()
            .unwrap(),
    );
    let mut p = lenient();
    p.require_target = true;
    p.require_host = true;
    assert_eq!(verifier(p).verify(&req).await.unwrap().spec, Spec::Cavage);

    let key = PrivateKey::from_pem(PRIVATE).unwrap();
    let signer = Signer::new("Test", key)
        .clock(clock())
        .cavage_components("(request-target) host date");
    let mut fresh = request();
    fresh.headers_mut().remove("signature");
    signer.sign(&mut fresh).unwrap();
    assert_eq!(signature_param(&fresh), C2);
}

#[tokio::test]
async fn c3_all_headers_test_verifies_and_is_recreated() {
    let mut req = request();
    req.headers_mut().insert(
        "signature",
        format!(r#"keyId="Test",algorithm="rsa-sha256",headers="{C3_HEADERS}",signature="{C3}""#)
            .parse()
            .unwrap(),
    );
    let v = verifier(VerifyPolicy::default())
        .verify(&req)
        .await
        .unwrap();
    assert_eq!(v.owner, "https://example.com/test");

    let signer = Signer::new("Test", PrivateKey::from_pem(PRIVATE).unwrap())
        .clock(clock())
        .cavage_components(C3_HEADERS);
    let mut fresh = request();
    signer.sign(&mut fresh).unwrap();
    assert_eq!(
        fresh.headers()["digest"],
        "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    );
    assert_eq!(signature_param(&fresh), C3);
}

#[tokio::test]
async fn c1_signing_string_is_the_date_line() {
    let signer = Signer::new("Test", PrivateKey::from_pem(PRIVATE).unwrap())
        .clock(clock())
        .cavage_components("date");
    let mut req = request();
    signer.sign(&mut req).unwrap();
    assert_eq!(signature_param(&req), C1);
}
