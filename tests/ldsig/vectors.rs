//! Our own vectors (`tests/ldsig/vectors/`): small documents in the shapes
//! Mastodon sends (a `Create` with hashtag, emoji, attachment and focal
//! point list; a `Follow`; an actor with its key and escapes; language maps
//! and numbers), whose signatures were computed by Fedify 2 (`signJsonLd`
//! on jsonld.js) and must be reproduced byte for byte: RSASSA-PKCS1-v1_5 is
//! deterministic, so an equal `signatureValue` means equal canonical
//! N-Quads on both sides.

use archipel::ldsig::{self, LdSignatureError};
use archipel::signatures::{PrivateKey, PublicKey};
use archipel::vocab::Iri;
use serde_json::Value;

pub const CREATOR: &str = "https://a.example/users/alice#main-key";
pub const CREATED: &str = "2026-01-01T00:00:00Z";
pub const NAMES: &[&str] = &["actor", "create_note", "follow", "numbers"];

pub fn vector(name: &str) -> Value {
    let path = format!(
        "{}/tests/ldsig/vectors/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn private_key() -> PrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/rsa-2048-pkcs8.pem"
    ))
    .unwrap();
    PrivateKey::from_pem(&pem).unwrap()
}

pub fn public_key() -> PublicKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/rsa-2048-spki.pem"
    ))
    .unwrap();
    PublicKey::from_pem(&pem).unwrap()
}

#[test]
fn signing_the_vectors_reproduces_fedifys_signatures() {
    let expected = vector("expected");
    let creator = Iri::parse(CREATOR).unwrap();
    for name in NAMES {
        let signed = ldsig::sign(&vector(name), &private_key(), &creator, CREATED).unwrap();
        assert_eq!(
            signed["signature"]["signatureValue"], expected[name],
            "{name}"
        );
        let verified = ldsig::verify_with_key(&signed, &public_key()).unwrap();
        assert_eq!(verified.creator, creator, "{name}");
    }
}

#[test]
fn fedifys_signature_block_verifies_as_written() {
    // Fedify writes the options' `@context` into the signature block;
    // Mastodon does not. Both hash the options with identity v1.
    let expected = vector("expected");
    let mut doc = vector("follow");
    doc["signature"] = serde_json::json!({
        "@context": "https://w3id.org/identity/v1",
        "creator": CREATOR,
        "created": CREATED,
        "type": "RsaSignature2017",
        "signatureValue": expected["follow"],
    });
    ldsig::verify_with_key(&doc, &public_key()).unwrap();
    doc["object"] = "https://b.example/users/carol".into();
    assert!(matches!(
        ldsig::verify_with_key(&doc, &public_key()),
        Err(LdSignatureError::Invalid { .. })
    ));
}
