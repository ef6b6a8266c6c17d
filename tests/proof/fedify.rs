//! Cross-check with an independent implementation: Fedify's `signObject`
//! and `verifyProof` (npm `@fedify/fedify`, installed by
//! `tests/interop/fedify/setup.sh`), run through `fedify_peer.mjs`. Skips
//! with a notice when Fedify is not installed (fails under
//! `ARCHIPEL_REQUIRE_PEERS=1`).

use archipel::proof::{self, ContextForm, ProofError, ProofOptions};
use archipel::signatures::PrivateKey;
use archipel::vocab::{DateTime, Iri};
use serde_json::{Value, json};

const ALICE: &str = "https://a.example/users/alice";
const METHOD: &str = "https://a.example/users/alice#ed25519-key";

/// Runs the peer on one request, within 60 seconds.
fn peer(request: &Value) -> Option<Value> {
    crate::support::fedify_script::run(
        crate::support::fedify_script::Install::Fedify1,
        "Fedify (FEP-8b32 cross-check)",
        "tests/proof/fedify_peer.mjs",
        request,
    )
}

fn key() -> PrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/ed25519-pkcs8.pem"
    ))
    .unwrap();
    PrivateKey::from_pem(&pem).unwrap()
}

/// Contexts Fedify preloads (data-integrity v2 is not among them, and the
/// peer has no network).
fn note(content: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"],
        "id": "https://a.example/notes/1",
        "type": "Note",
        "attributedTo": ALICE,
        "content": content,
        "location": {"type": "Place", "longitude": -71.184902, "latitude": 25.273962}
    })
}

fn actor(key: &PrivateKey) -> Value {
    json!({
        // `assertionMethod` is defined by the DID context, as Fedify writes it.
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/data-integrity/v1",
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1"
        ],
        "id": ALICE, "type": "Person", "inbox": format!("{ALICE}/inbox"),
        "assertionMethod": [{
            "id": METHOD, "type": "Multikey", "controller": ALICE,
            "publicKeyMultibase": key.public_key().to_multibase().unwrap()
        }]
    })
}

#[test]
fn fedify_verifies_archipel_proofs() {
    let k = key();
    let opts = ProofOptions::new(Iri::parse(METHOD).unwrap())
        .with_created(DateTime::new_unchecked("2026-01-01T00:00:00Z"));
    let signed = proof::sign(&note("signed by archipel \u{1f600}"), &k, &opts).unwrap();
    let Some(answer) = peer(&json!({"op": "verify", "document": signed, "actor": actor(&k)}))
    else {
        return;
    };
    assert_eq!(answer, json!({"verified": true}));
    let mut altered = signed;
    altered["content"] = "altered".into();
    let answer = peer(&json!({"op": "verify", "document": altered, "actor": actor(&k)})).unwrap();
    assert_eq!(answer, json!({"verified": false}));
}

#[test]
fn archipel_verifies_fedify_proofs() {
    let k = key();
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/ed25519-pkcs8.pem"
    ))
    .unwrap();
    let pkcs8: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let Some(signed) = peer(&json!({
        "op": "sign", "document": note("signed by Fedify"), "pkcs8": pkcs8,
        "keyId": METHOD, "created": "2026-01-01T00:00:00Z"
    })) else {
        return;
    };
    // Fedify 1.9 writes the compacted document's @context into the proof.
    let v = proof::verify_with_key(&signed, &k.public_key()).unwrap();
    assert_eq!(v[0].form, ContextForm::InProof);
    assert_eq!(v[0].verification_method.as_str(), METHOD);
    // Without it, as older Fedify wrote it: hashed from the document.
    let mut bare = signed.clone();
    bare["proof"].as_object_mut().unwrap().remove("@context");
    let v = proof::verify_with_key(&bare, &k.public_key()).unwrap();
    assert_eq!(v[0].form, ContextForm::FromDocument);
    let mut altered = signed;
    altered["content"] = "altered".into();
    assert!(matches!(
        proof::verify_with_key(&altered, &k.public_key()),
        Err(ProofError::Invalid { .. })
    ));
}
