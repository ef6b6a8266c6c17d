//! Key formats: PKCS#8, PKCS#1 and SPKI PEM, FEP-521a Multikey, Ed25519,
//! key generation; and the dialect details keys decide (hs2019).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use archipel::clock::FixedClock;
use archipel::signatures::*;
use bytes::Bytes;

const PKCS8: &str = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
const PKCS1: &str = include_str!("../interop/keys/rsa-2048-pkcs1.pem");
const SPKI: &str = include_str!("../interop/keys/rsa-2048-spki.pem");
const PKCS1_PUBLIC: &str = include_str!("../interop/keys/rsa-2048-pkcs1-public.pem");

#[test]
fn rsa_private_formats_agree_and_spki_output_matches_openssl() {
    let a = PrivateKey::from_pem(PKCS8).unwrap();
    let b = PrivateKey::from_pem(PKCS1).unwrap();
    assert_eq!(a.public_key(), b.public_key());
    assert_eq!(a.public_key(), PublicKey::from_pem(SPKI).unwrap());
    assert_eq!(a.public_key(), PublicKey::from_pem(PKCS1_PUBLIC).unwrap());
    // Byte for byte what `openssl pkey -pubout` wrote.
    assert_eq!(a.public_key().to_spki_pem(), SPKI);
    assert_eq!(a.to_pkcs8_pem().unwrap(), PKCS8);
}

#[test]
fn pem_in_the_shapes_actor_documents_use() {
    let one_line = SPKI.replace('\n', "");
    let crlf = SPKI.replace('\n', "\r\n");
    let padded = format!("  {SPKI}\n\n");
    for pem in [one_line, crlf, padded] {
        assert_eq!(
            PublicKey::from_pem(&pem).unwrap(),
            PublicKey::from_pem(SPKI).unwrap()
        );
    }
}

#[test]
fn invalid_keys_are_rejected_with_a_reason() {
    assert_eq!(
        PublicKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"),
        Err(SignatureError::InvalidKey(
            "unexpected PEM label `CERTIFICATE` for a public key".into()
        ))
    );
    assert_eq!(
        PublicKey::from_pem("not a key"),
        Err(SignatureError::InvalidKey("no `-----BEGIN` line".into()))
    );
    assert_eq!(
        PrivateKey::from_pem(SPKI).unwrap_err(),
        SignatureError::InvalidKey("unexpected PEM label `PUBLIC KEY` for a private key".into())
    );
    assert!(matches!(
        PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
        Err(SignatureError::InvalidKey(_))
    ));
}

#[test]
fn rsa_multikey_round_trip() {
    let k = PublicKey::from_pem(SPKI).unwrap();
    let mb = k.to_multibase().unwrap();
    assert!(mb.starts_with('z'));
    assert_eq!(PublicKey::from_multibase(&mb).unwrap(), k);
    assert_eq!(
        PublicKey::from_multibase("uAAAA"),
        Err(SignatureError::InvalidKey(
            "publicKeyMultibase must be base58btc (`z` prefix)".into()
        ))
    );
}

#[test]
fn generated_rsa_key_signs_and_round_trips_through_pem() {
    let k = PrivateKey::generate_rsa_2048().unwrap();
    let again = PrivateKey::from_pem(&k.to_pkcs8_pem().unwrap()).unwrap();
    assert_eq!(k.public_key(), again.public_key());
    let sig = again.sign(Algorithm::RsaV1_5Sha256, b"hello").unwrap();
    assert_eq!(sig.len(), 256);
    assert!(
        k.public_key()
            .verify(Algorithm::RsaV1_5Sha256, b"hello", &sig)
            .unwrap()
    );
    assert!(
        !k.public_key()
            .verify(Algorithm::RsaV1_5Sha256, b"hellO", &sig)
            .unwrap()
    );
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(UNIX_EPOCH + Duration::from_secs(1_700_000_000)))
}

fn post() -> http::Request<Bytes> {
    http::Request::post("https://b.example/inbox")
        .header("content-type", "application/activity+json")
        .header("accept", "application/activity+json")
        .header("user-agent", "Fedify/1.0")
        .body(Bytes::from_static(b"{}"))
        .unwrap()
}

async fn verify(req: &http::Request<Bytes>, key: PublicKey) -> Result<Verified, SignatureError> {
    let mut keys = MemoryKeyResolver::new();
    keys.insert("https://a.example/k", key, "https://a.example/");
    Verifier::new(keys, VerifyPolicy::default())
        .clock(clock())
        .verify(req)
        .await
}

#[tokio::test]
async fn hs2019_with_an_rsa_key_means_pkcs1_sha256() {
    let key = PrivateKey::from_pem(PKCS8).unwrap();
    let mut r = post();
    Signer::new("https://a.example/k", key.clone())
        .clock(clock())
        .sign(&mut r)
        .unwrap();
    let relabelled = r.headers()["signature"]
        .to_str()
        .unwrap()
        .replace("rsa-sha256", "hs2019");
    r.headers_mut()
        .insert("signature", relabelled.parse().unwrap());
    assert_eq!(
        verify(&r, key.public_key()).await.unwrap().algorithm,
        Algorithm::RsaV1_5Sha256
    );
}

#[tokio::test]
async fn fedify_style_signature_over_every_header_verifies() {
    let key = PrivateKey::from_pem(PKCS8).unwrap();
    let mut r = post();
    Signer::new("https://a.example/k", key.clone())
        .clock(clock())
        .cavage_components("(request-target) content-type accept user-agent host date digest")
        .sign(&mut r)
        .unwrap();
    assert_eq!(
        verify(&r, key.public_key()).await.unwrap().spec,
        Spec::Cavage
    );
}

#[cfg(feature = "ed25519")]
mod ed25519 {
    use super::*;

    const ED_PKCS8: &str = include_str!("../interop/keys/ed25519-pkcs8.pem");
    const ED_SPKI: &str = include_str!("../interop/keys/ed25519-spki.pem");

    #[test]
    fn pem_and_multikey() {
        let k = PrivateKey::from_pem(ED_PKCS8).unwrap();
        assert_eq!(k.kind(), "ed25519");
        assert_eq!(k.public_key(), PublicKey::from_pem(ED_SPKI).unwrap());
        assert_eq!(k.public_key().to_spki_pem(), ED_SPKI);
        let mb = k.public_key().to_multibase().unwrap();
        // FEP-521a Ed25519 multikeys start with `z6Mk`.
        assert!(mb.starts_with("z6Mk"), "{mb}");
        assert_eq!(PublicKey::from_multibase(&mb).unwrap(), k.public_key());
        assert_eq!(
            k.sign(Algorithm::RsaV1_5Sha256, b"x"),
            Err(SignatureError::UnsupportedAlgorithm(
                "rsa-v1_5-sha256 with a ed25519 key".into()
            ))
        );
    }

    #[test]
    fn generated_key_round_trips() {
        let k = PrivateKey::generate_ed25519().unwrap();
        let again = PrivateKey::from_pem(&k.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(k.public_key(), again.public_key());
    }

    #[tokio::test]
    async fn cavage_hs2019_with_ed25519() {
        let key = PrivateKey::from_pem(ED_PKCS8).unwrap();
        let mut r = post();
        Signer::new("https://a.example/k", key.clone())
            .clock(clock())
            .sign(&mut r)
            .unwrap();
        assert!(
            r.headers()["signature"]
                .to_str()
                .unwrap()
                .contains("algorithm=\"hs2019\"")
        );
        let v = verify(&r, key.public_key()).await.unwrap();
        assert_eq!((v.spec, v.algorithm), (Spec::Cavage, Algorithm::Ed25519));
    }
}
