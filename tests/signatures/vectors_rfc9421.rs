//! RFC 9421 Appendix B.2: the published signatures over the test request,
//! verified (B.2.1–B.2.3, rsa-pss-sha512) and re-created byte for byte
//! (B.2.6, ed25519), plus an rsa-v1_5-sha256 round trip with
//! `test-key-rsa` (B.1.1).
#![cfg(feature = "rfc9421")]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use archipel::clock::FixedClock;
use archipel::signatures::*;
use bytes::Bytes;

const PSS_PUBLIC: &str = include_str!("../interop/keys/rfc9421-test-key-rsa-pss-spki.pem");
const PSS_PRIVATE: &str = include_str!("../interop/keys/rfc9421-test-key-rsa-pss-pkcs8.pem");
const RSA_PRIVATE: &str = include_str!("../interop/keys/rfc9421-test-key-rsa-pkcs1.pem");
const RSA_PUBLIC: &str = include_str!("../interop/keys/rfc9421-test-key-rsa-pkcs1-public.pem");
/// Two seconds after the vectors' `created=1618884473`.
const NOW: u64 = 1_618_884_475;

const B21_INPUT: &str =
    r#"sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd""#;
const B21_SIG: &str = "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCbzR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:";
const B22_INPUT: &str = r#"sig-b22=("@authority" "content-digest" "@query-param";name="Pet");created=1618884473;keyid="test-key-rsa-pss";tag="header-example""#;
const B22_SIG: &str = "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDfKtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1rLEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:";
const B23_INPUT: &str = r#"sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss""#;
const B23_SIG: &str = "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:";

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(NOW)))
}

/// The RFC 9421 B.2 `test-request`.
fn test_request() -> http::Request<Bytes> {
    http::Request::post("https://example.com/foo?param=Value&Pet=dog")
        .header("host", "example.com")
        .header("date", "Tue, 20 Apr 2021 02:07:55 GMT")
        .header("content-type", "application/json")
        .header(
            "content-digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        )
        .header("content-length", "18")
        .body(Bytes::from_static(br#"{"hello": "world"}"#))
        .unwrap()
}

fn with(input: &str, sig: &str) -> http::Request<Bytes> {
    let mut r = test_request();
    r.headers_mut()
        .append("signature-input", input.parse().unwrap());
    r.headers_mut().append("signature", sig.parse().unwrap());
    r
}

fn pss_verifier(policy: VerifyPolicy) -> Verifier<MemoryKeyResolver> {
    let mut keys = MemoryKeyResolver::new();
    // B.1.2's SPKI says rsaEncryption; the resolver knows it is a PSS key.
    let key = PublicKey::from_pem(PSS_PUBLIC)
        .unwrap()
        .with_default_algorithm(Algorithm::RsaPssSha512)
        .unwrap();
    keys.insert("test-key-rsa-pss", key, "https://example.com/pss");
    Verifier::new(keys, policy).clock(clock())
}

fn no_requirements() -> VerifyPolicy {
    let mut p = VerifyPolicy::default();
    p.require_target = false;
    p.require_host = false;
    p.require_digest = false;
    p
}

#[tokio::test]
async fn b21_minimal_signature_verifies() {
    let v = pss_verifier(no_requirements())
        .verify(&with(B21_INPUT, B21_SIG))
        .await
        .unwrap();
    assert_eq!(
        (v.key_id.as_str(), v.spec, v.algorithm),
        ("test-key-rsa-pss", Spec::Rfc9421, Algorithm::RsaPssSha512)
    );
}

#[tokio::test]
async fn b22_selective_components_with_query_param_verify() {
    let v = pss_verifier(no_requirements())
        .verify(&with(B22_INPUT, B22_SIG))
        .await
        .unwrap();
    assert_eq!(v.algorithm, Algorithm::RsaPssSha512);
}

#[tokio::test]
async fn b23_full_coverage_verifies_under_the_default_policy() {
    let v = pss_verifier(VerifyPolicy::default())
        .verify(&with(B23_INPUT, B23_SIG))
        .await
        .unwrap();
    assert_eq!(v.owner, "https://example.com/pss");
}

#[tokio::test]
async fn b23_fails_when_the_body_changes() {
    let mut r = with(B23_INPUT, B23_SIG);
    *r.body_mut() = Bytes::from_static(br#"{"hello": "there"}"#);
    assert_eq!(
        pss_verifier(VerifyPolicy::default()).verify(&r).await,
        Err(SignatureError::DigestMismatch {
            header: "Content-Digest",
            algorithm: "sha-512"
        })
    );
}

#[tokio::test]
async fn policy_selects_the_acceptable_signature_among_several() {
    // B.2.1 (covers nothing) first, then B.2.3: the default policy skips
    // B.2.1 and verifies B.2.3.
    let mut r = with(B21_INPUT, B21_SIG);
    r.headers_mut()
        .append("signature-input", B23_INPUT.parse().unwrap());
    r.headers_mut()
        .append("signature", B23_SIG.parse().unwrap());
    let v = pss_verifier(VerifyPolicy::default())
        .verify(&r)
        .await
        .unwrap();
    assert_eq!(v.key_id, "test-key-rsa-pss");
    // With only B.2.1 the policy rejects: it covers no method.
    assert_eq!(
        pss_verifier(VerifyPolicy::default())
            .verify(&with(B21_INPUT, B21_SIG))
            .await,
        Err(SignatureError::MissingComponent("@method".into()))
    );
}

#[tokio::test]
async fn policy_tag_selects_b22_among_b21_and_b22() {
    let mut r = with(B21_INPUT, B21_SIG);
    r.headers_mut()
        .append("signature-input", B22_INPUT.parse().unwrap());
    r.headers_mut()
        .append("signature", B22_SIG.parse().unwrap());
    let mut p = no_requirements();
    p.signature_tag = Some("header-example".into());
    assert_eq!(
        pss_verifier(p).verify(&r).await.unwrap().key_id,
        "test-key-rsa-pss"
    );
    let mut p = no_requirements();
    p.signature_tag = Some("other-app".into());
    assert_eq!(
        pss_verifier(p).verify(&r).await,
        Err(SignatureError::MissingSignature)
    );
    let mut p = no_requirements();
    p.signature_label = Some("sig-b21".into());
    assert_eq!(
        pss_verifier(p).verify(&r).await.unwrap().key_id,
        "test-key-rsa-pss"
    );
}

#[tokio::test]
async fn pss_private_key_from_b12_signs_and_verifies() {
    let key = PrivateKey::from_pem(PSS_PRIVATE).unwrap();
    // The PKCS#8 key carries id-RSASSA-PSS, so PSS is its default.
    assert_eq!(key.default_algorithm(), Algorithm::RsaPssSha512);
    let signer = Signer::new("test-key-rsa-pss", key)
        .spec(Spec::Rfc9421)
        .algorithm(Algorithm::RsaPssSha512)
        .clock(clock());
    let mut r = test_request();
    signer.sign(&mut r).unwrap();
    let v = pss_verifier(VerifyPolicy::default())
        .verify(&r)
        .await
        .unwrap();
    assert_eq!(v.algorithm, Algorithm::RsaPssSha512);
}

#[tokio::test]
async fn rsa_v1_5_sha256_round_trip_with_test_key_rsa() {
    // B.1.1's primes differ in size: the default decoder refuses them.
    assert!(matches!(
        PrivateKey::from_pem(RSA_PRIVATE),
        Err(SignatureError::InvalidKey(_))
    ));
    let signer = Signer::new(
        "test-key-rsa",
        PrivateKey::from_pem_unbalanced(RSA_PRIVATE).unwrap(),
    )
    .spec(Spec::Rfc9421)
    .clock(clock());
    let mut r = test_request();
    r.headers_mut().remove("content-digest");
    signer.sign(&mut r).unwrap();
    assert_eq!(
        r.headers()["signature-input"],
        r#"sig1=("@method" "@target-uri" "@authority" "date" "content-type" "content-digest");created=1618884475;keyid="test-key-rsa";alg="rsa-v1_5-sha256""#
    );
    assert_eq!(
        r.headers()["content-digest"],
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        "test-key-rsa",
        PublicKey::from_pem(RSA_PUBLIC).unwrap(),
        "https://example.com/rsa",
    );
    let v = Verifier::new(keys, VerifyPolicy::default())
        .clock(clock())
        .verify(&r)
        .await
        .unwrap();
    assert_eq!(
        (v.spec, v.algorithm),
        (Spec::Rfc9421, Algorithm::RsaV1_5Sha256)
    );
}

#[cfg(feature = "ed25519")]
mod ed25519 {
    use super::*;

    const PRIVATE: &str = include_str!("../interop/keys/rfc9421-test-key-ed25519-pkcs8.pem");
    const PUBLIC: &str = include_str!("../interop/keys/rfc9421-test-key-ed25519-spki.pem");
    const B26_INPUT: &str = r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#;
    const B26_SIG: &str = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:";

    #[tokio::test]
    async fn b26_is_recreated_byte_for_byte_and_verifies() {
        let input = SignatureInput::new(
            "sig-b26",
            [
                "date",
                "@method",
                "@path",
                "@authority",
                "content-type",
                "content-length",
            ]
            .into_iter()
            .map(ComponentId::new)
            .collect(),
            Some(1_618_884_473),
            None,
            Some("test-key-ed25519"),
            None,
            None,
            None,
        )
        .unwrap();
        let key = PrivateKey::from_pem(PRIVATE).unwrap();
        let mut r = test_request();
        sign_with_input(&mut r, &input, &key, Algorithm::Ed25519).unwrap();
        assert_eq!(r.headers()["signature-input"], B26_INPUT);
        assert_eq!(r.headers()["signature"], B26_SIG);

        let mut keys = MemoryKeyResolver::new();
        keys.insert(
            "test-key-ed25519",
            PublicKey::from_pem(PUBLIC).unwrap(),
            "https://example.com/ed",
        );
        let v = Verifier::new(keys, no_requirements())
            .clock(clock())
            .verify(&with(B26_INPUT, B26_SIG))
            .await
            .unwrap();
        assert_eq!(v.algorithm, Algorithm::Ed25519);
    }
}
