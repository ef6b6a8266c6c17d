//! Cross-check with an independent implementation, in both directions:
//! Fedify 2's `signJsonLd` and `verifyJsonLd` (npm `@fedify/fedify` 2,
//! on jsonld.js; installed by `tests/interop/fedify2/setup.sh`), run
//! through `fedify_peer.mjs`. Skips with a notice when Fedify 2 is not
//! installed (fails under `ARCHIPEL_REQUIRE_PEERS=1`).

use archipel::ldsig::{self, LdSignatureError};
use archipel::vocab::Iri;
use serde_json::{Value, json};

use crate::vectors::{CREATED, CREATOR, NAMES, private_key, public_key, vector};

/// Runs the peer on one request, within 60 seconds.
fn peer(request: &Value) -> Option<Value> {
    crate::support::fedify_script::run(
        crate::support::fedify_script::Install::Fedify2,
        "Fedify 2 (Linked Data Signatures cross-check)",
        "tests/ldsig/fedify_peer.mjs",
        request,
    )
}

/// Alice's actor document, where Fedify looks up the signing key.
fn actor() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "https://a.example/users/alice",
        "type": "Person",
        "inbox": "https://a.example/users/alice/inbox",
        "publicKey": {
            "id": CREATOR,
            "owner": "https://a.example/users/alice",
            "publicKeyPem": public_key().to_spki_pem(),
        }
    })
}

fn pkcs8() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/rsa-2048-pkcs8.pem"
    ))
    .unwrap()
    .lines()
    .filter(|l| !l.starts_with("-----"))
    .collect()
}

fn fedify_sign(document: &Value) -> Option<Value> {
    peer(&json!({
        "op": "sign", "document": document, "pkcs8": pkcs8(),
        "keyId": CREATOR, "created": CREATED
    }))
}

fn fedify_verifies(document: &Value) -> Option<bool> {
    let answer = peer(&json!({"op": "verify", "document": document, "actor": actor()}))?;
    Some(answer["verified"].as_bool().unwrap())
}

#[test]
fn fedify_verifies_archipel_ld_signatures() {
    let creator = Iri::parse(CREATOR).unwrap();
    for name in NAMES {
        let signed = ldsig::sign(&vector(name), &private_key(), &creator, CREATED).unwrap();
        let Some(verified) = fedify_verifies(&signed) else {
            return;
        };
        assert!(verified, "{name}");
    }
    let mut altered =
        ldsig::sign(&vector("create_note"), &private_key(), &creator, CREATED).unwrap();
    altered["object"]["content"] = "<p>altered</p>".into();
    assert_eq!(fedify_verifies(&altered), Some(false));
}

#[test]
fn archipel_verifies_fedify_ld_signatures() {
    let expected = vector("expected");
    for name in NAMES {
        let Some(signed) = fedify_sign(&vector(name)) else {
            return;
        };
        // Fedify and archipel compute the same bytes.
        assert_eq!(
            signed["signature"]["signatureValue"], expected[name],
            "{name}"
        );
        let sig = ldsig::verify_with_key(&signed, &public_key()).unwrap();
        assert_eq!(sig.creator.as_str(), CREATOR, "{name}");
        let mut altered = signed.clone();
        altered["id"] = "https://a.example/elsewhere".into();
        assert!(
            matches!(
                ldsig::verify_with_key(&altered, &public_key()),
                Err(LdSignatureError::Invalid { .. })
            ),
            "{name}"
        );
    }
}

#[test]
fn undefined_terms_are_dropped_where_fedify_strict_mode_refuses() {
    // What Mastodon does, and why some of its real signatures fail in
    // Fedify: a term no context defines (here `nickname`) is dropped by
    // JSON-LD expansion, so it is not covered by the signature.
    let Some(signed) = fedify_sign(&vector("follow")) else {
        return;
    };
    let mut with_undefined = signed.clone();
    with_undefined["nickname"] = "not in any context".into();
    ldsig::verify_with_key(&with_undefined, &public_key()).unwrap();
    assert_eq!(fedify_verifies(&with_undefined), Some(false));
    assert_eq!(fedify_verifies(&signed), Some(true));
}
