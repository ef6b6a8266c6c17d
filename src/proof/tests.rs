//! Unit tests of signing and verifying proofs, sets and chains, the three
//! `@context` forms and hostile proofs.

use serde_json::{Value, json};

use super::*;
use crate::signatures::PrivateKey;

const METHOD: &str = "https://a.example/users/alice#ed25519-key";

fn method() -> Iri {
    Iri::new_unchecked(METHOD)
}

fn doc() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v2"],
        "id": "https://a.example/notes/1",
        "type": "Note",
        "attributedTo": "https://a.example/users/alice",
        "content": "caf\u{e9} \u{1f600}",
        "location": {"type": "Place", "longitude": -71.184902, "latitude": 25.273962}
    })
}

fn opts() -> ProofOptions {
    ProofOptions::new(method()).with_created(DateTime::new_unchecked("2026-01-01T00:00:00Z"))
}

fn key() -> PrivateKey {
    PrivateKey::generate_ed25519().unwrap()
}

#[test]
fn signs_in_the_current_form_and_verifies() {
    let k = key();
    let signed = sign(&doc(), &k, &opts()).unwrap();
    assert_eq!(signed["proof"]["@context"], doc()["@context"]);
    assert_eq!(signed["proof"]["created"], "2026-01-01T00:00:00Z");
    assert_eq!(signed["proof"]["cryptosuite"], "eddsa-jcs-2022");
    let v = verify_with_key(&signed, &k.public_key()).unwrap();
    assert_eq!(
        v,
        vec![VerifiedProof {
            verification_method: method(),
            controller: None,
            created: Some(DateTime::new_unchecked("2026-01-01T00:00:00Z")),
            form: ContextForm::InProof,
        }]
    );
}

#[test]
fn key_order_does_not_matter_content_does() {
    let k = key();
    let signed = sign(&doc(), &k, &opts()).unwrap();
    // Re-encoded with another key order: still valid (JCS).
    let text = serde_json::to_string(&signed).unwrap();
    let reordered: Value =
        serde_json::from_str(&text.replacen("\"id\":\"https://a.example/notes/1\",", "", 1))
            .unwrap();
    let mut reordered = reordered;
    reordered["id"] = "https://a.example/notes/1".into();
    assert_eq!(
        verify_with_key(&reordered, &k.public_key()).unwrap().len(),
        1
    );
    for (path, value) in [
        ("content", json!("cafe")),
        ("attributedTo", json!("https://evil.example/users/mallory")),
    ] {
        let mut t = signed.clone();
        t[path] = value;
        match verify_with_key(&t, &k.public_key()) {
            Err(ProofError::Invalid {
                verification_method,
            }) => assert_eq!(verification_method, METHOD),
            other => panic!("{path}: {other:?}"),
        }
    }
    // A number changed in its last digit.
    let mut t = signed.clone();
    t["location"]["latitude"] = json!(25.273963);
    assert!(matches!(
        verify_with_key(&t, &k.public_key()),
        Err(ProofError::Invalid { .. })
    ));
    // The proof's own fields are signed too.
    let mut t = signed;
    t["proof"]["created"] = "2020-01-01T00:00:00Z".into();
    assert!(matches!(
        verify_with_key(&t, &k.public_key()),
        Err(ProofError::Invalid { .. })
    ));
}

#[test]
fn another_key_does_not_verify() {
    let signed = sign(&doc(), &key(), &opts()).unwrap();
    assert!(matches!(
        verify_with_key(&signed, &key().public_key()),
        Err(ProofError::Invalid { .. })
    ));
}

/// A Linked Data Signature added after the proof (Mastodon's `signature`,
/// as the outbox and Fedify sign both ways) is set aside: the proof never
/// covered it. One made before the proof is covered, and altering it then
/// breaks the proof.
#[test]
fn a_signature_added_after_the_proof_is_set_aside() {
    let k = key();
    let ld = json!({"type": "RsaSignature2017",
        "creator": "https://a.example/users/alice#main-key",
        "created": "2026-01-01T00:00:00Z", "signatureValue": "c2ln"});
    let mut after = sign(&doc(), &k, &opts()).unwrap();
    after["signature"] = ld.clone();
    let v = verify_with_key(&after, &k.public_key()).unwrap();
    assert_eq!(v[0].verification_method, method());
    // Content still counts, with or without the signature.
    let mut altered = after.clone();
    altered["content"] = "forged".into();
    assert!(matches!(
        verify_with_key(&altered, &k.public_key()),
        Err(ProofError::Invalid { .. })
    ));

    let mut before = doc();
    before["signature"] = ld;
    let covered = sign(&before, &k, &opts()).unwrap();
    verify_with_key(&covered, &k.public_key()).unwrap();
    let mut swapped = covered.clone();
    swapped["signature"]["signatureValue"] = "b3RoZXI=".into();
    assert!(matches!(
        verify_with_key(&swapped, &k.public_key()),
        Err(ProofError::Invalid { .. })
    ));
}

/// Re-signs `doc` the way the 2023 FEP (no `@context`) or Fedify (context
/// hashed, not written) did, by hand from the cryptosuite's parts.
fn sign_legacy(k: &PrivateKey, hash_context: bool) -> Value {
    let mut d = doc();
    let mut config = json!({
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": METHOD, "proofPurpose": "assertionMethod",
        "created": "2026-01-01T00:00:00Z"
    });
    let mut hashed = config.clone();
    if hash_context {
        hashed["@context"] = d["@context"].clone();
    }
    let data = suite::hash_data(&hashed, &d).unwrap();
    config["proofValue"] = suite::sign_value(k, &data, &method()).unwrap().into();
    d["proof"] = config;
    d
}

#[test]
fn verifies_the_2023_and_the_fedify_forms() {
    let k = key();
    let v = verify_with_key(&sign_legacy(&k, false), &k.public_key()).unwrap();
    assert_eq!(v[0].form, ContextForm::Absent);
    let v = verify_with_key(&sign_legacy(&k, true), &k.public_key()).unwrap();
    assert_eq!(v[0].form, ContextForm::FromDocument);
}

#[test]
fn proof_set_needs_every_proof() {
    let (a, b) = (key(), key());
    let once = sign(&doc(), &a, &opts()).unwrap();
    let twice = sign(&once, &b, &opts()).unwrap();
    assert_eq!(twice["proof"].as_array().map(Vec::len), Some(2));
    // Each proof signs the document without the other.
    let first = json!({"proof": twice["proof"][0].clone()});
    let mut only_first = doc();
    only_first["proof"] = first["proof"].clone();
    assert_eq!(
        verify_with_key(&only_first, &a.public_key()).unwrap().len(),
        1
    );
    // With one key, the other key's proof fails: the whole set fails.
    assert!(matches!(
        verify_with_key(&twice, &a.public_key()),
        Err(ProofError::Invalid { .. })
    ));
}

#[test]
fn proof_chain_signs_the_previous_proof() {
    let k = key();
    let first = sign(
        &doc(),
        &k,
        &opts().with_id(Iri::new_unchecked("urn:uuid:p1")),
    )
    .unwrap();
    let chained = sign(&first, &k, &opts().with_previous_proof("urn:uuid:p1")).unwrap();
    assert_eq!(chained["proof"][1]["previousProof"], "urn:uuid:p1");
    assert_eq!(verify_with_key(&chained, &k.public_key()).unwrap().len(), 2);
    // Swapping the first proof for another valid one breaks the chain.
    let other = sign(
        &doc(),
        &k,
        &opts()
            .with_id(Iri::new_unchecked("urn:uuid:p1"))
            .with_created(DateTime::new_unchecked("2026-02-02T00:00:00Z")),
    )
    .unwrap();
    let mut t = chained.clone();
    t["proof"][0] = other["proof"].clone();
    assert!(matches!(
        verify_with_key(&t, &k.public_key()),
        Err(ProofError::Invalid { .. })
    ));
    // Dropping the first proof leaves the chain dangling.
    let mut t = chained;
    t["proof"] = t["proof"][1].clone();
    match verify_with_key(&t, &k.public_key()) {
        Err(ProofError::PreviousProofMissing(id)) => assert_eq!(id, "urn:uuid:p1"),
        other => panic!("{other:?}"),
    }
    match sign(&doc(), &k, &opts().with_previous_proof("urn:uuid:nope")) {
        Err(ProofError::PreviousProofMissing(id)) => assert_eq!(id, "urn:uuid:nope"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_hostile_and_foreign_proofs() {
    let k = key();
    let signed = sign(&doc(), &k, &opts()).unwrap();
    let pk = k.public_key();
    let with = |field: &str, value: Value| {
        let mut t = signed.clone();
        t["proof"][field] = value;
        verify_with_key(&t, &pk)
    };
    match with("cryptosuite", json!("eddsa-rdfc-2022")) {
        Err(ProofError::UnsupportedCryptosuite(s)) => assert_eq!(s, "eddsa-rdfc-2022"),
        other => panic!("{other:?}"),
    }
    // The draft name of the suite is read (Mitra), but it is hashed as
    // written, so renaming a proof breaks it.
    assert!(matches!(
        with("cryptosuite", json!("jcs-eddsa-2022")),
        Err(ProofError::Invalid { .. })
    ));
    match with("type", json!("Ed25519Signature2020")) {
        Err(ProofError::UnsupportedType(s)) => assert_eq!(s, "Ed25519Signature2020"),
        other => panic!("{other:?}"),
    }
    match with("proofPurpose", json!("authentication")) {
        Err(ProofError::WrongPurpose(s)) => assert_eq!(s, "authentication"),
        other => panic!("{other:?}"),
    }
    match with("proofValue", json!("u3q2")) {
        Err(ProofError::ProofValue { value, reason }) => {
            assert_eq!(value, "u3q2");
            assert_eq!(reason, "not multibase base58btc (no `z` prefix)");
        }
        other => panic!("{other:?}"),
    }
    match with("proofValue", json!("z111")) {
        Err(ProofError::ProofValue { reason, .. }) => {
            assert_eq!(reason, "not 64 bytes, the size of an Ed25519 signature")
        }
        other => panic!("{other:?}"),
    }
    match with("proofValue", json!("z0OIl")) {
        Err(ProofError::ProofValue { reason, .. }) => assert_eq!(reason, "not valid base58btc"),
        other => panic!("{other:?}"),
    }
    match with("proofValue", json!("z".repeat(10_000))) {
        Err(ProofError::ProofValue { value, reason }) => {
            assert_eq!(value.len(), 100);
            assert_eq!(reason, "longer than an Ed25519 signature");
        }
        other => panic!("{other:?}"),
    }
    match with("verificationMethod", json!(42)) {
        Err(ProofError::Malformed { field, .. }) => assert_eq!(field, "verificationMethod"),
        other => panic!("{other:?}"),
    }
    let mut t = signed.clone();
    t["proof"] = json!("zabc");
    match verify_with_key(&t, &pk) {
        Err(ProofError::NotAnObject { what, found }) => {
            assert_eq!((what, found), ("proof", "a string"))
        }
        other => panic!("{other:?}"),
    }
    let mut t = signed.clone();
    t["proof"] = Value::Array(vec![signed["proof"].clone(); MAX_PROOFS + 1]);
    match verify_with_key(&t, &pk) {
        Err(ProofError::TooManyProofs { count, limit }) => assert_eq!((count, limit), (9, 8)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        verify_with_key(&doc(), &pk),
        Err(ProofError::NoProof)
    ));
    assert!(matches!(
        verify_with_key(&json!([1]), &pk),
        Err(ProofError::NotAnObject {
            what: "document",
            found: "an array"
        })
    ));
    // Exactly MAX_PROOFS valid proofs (a set of one key) still verify.
    let mut t = signed.clone();
    t["proof"] = Value::Array(vec![signed["proof"].clone(); MAX_PROOFS]);
    assert_eq!(verify_with_key(&t, &pk).unwrap().len(), MAX_PROOFS);
}

#[test]
fn signing_needs_an_ed25519_key() {
    let rsa = PrivateKey::generate_rsa(1024).unwrap();
    match sign(&doc(), &rsa, &opts()) {
        Err(ProofError::NotEd25519 {
            kind,
            verification_method,
        }) => {
            assert_eq!((kind, verification_method.as_str()), ("rsa", METHOD))
        }
        other => panic!("{other:?}"),
    }
    let signed = sign(&doc(), &key(), &opts()).unwrap();
    assert!(matches!(
        verify_with_key(&signed, &rsa.public_key()),
        Err(ProofError::NotEd25519 { kind: "rsa", .. })
    ));
}

#[test]
fn parse_document_is_bounded() {
    let big = vec![b' '; ParseLimits::DEFAULT_MAX_BYTES + 1];
    assert!(matches!(
        parse_document(&big),
        Err(ProofError::TooLarge { size, limit }) if size == limit + 1
    ));
    assert!(matches!(parse_document(b"{"), Err(ProofError::NotJson(_))));
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(matches!(
        parse_document(deep.as_bytes()),
        Err(ProofError::NotJson(_))
    ));
    assert!(matches!(
        parse_document(b"\"x\""),
        Err(ProofError::NotAnObject {
            what: "document",
            found: "a string"
        })
    ));
    assert_eq!(parse_document(br#"{"a":1}"#).unwrap(), json!({"a": 1}));
}

fn actor(mb: &str, controller: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/multikey/v1"],
        "id": "https://a.example/users/alice", "type": "Person",
        "inbox": "https://a.example/users/alice/inbox",
        "assertionMethod": [{
            "id": METHOD, "type": "Multikey", "controller": controller,
            "publicKeyMultibase": mb
        }]
    })
}

#[test]
fn method_must_be_listed_and_controlled_by_the_actor() {
    let k = key();
    let mb = k.public_key().to_multibase().unwrap();
    let r = method_from_actor(&method(), &actor(&mb, "https://a.example/users/alice")).unwrap();
    assert_eq!(r.key, k.public_key());
    assert_eq!(r.controller.as_str(), "https://a.example/users/alice");
    match method_from_actor(&method(), &actor(&mb, "https://a.example/users/bob")) {
        Err(ProofError::MethodNotFound {
            verification_method,
            controller,
        }) => {
            assert_eq!(verification_method, METHOD);
            assert_eq!(controller, "https://a.example/users/alice");
        }
        other => panic!("{other:?}"),
    }
    let other = Iri::new_unchecked("https://a.example/users/alice#other");
    assert!(matches!(
        method_from_actor(&other, &actor(&mb, "https://a.example/users/alice")),
        Err(ProofError::MethodNotFound { .. })
    ));
    assert!(matches!(
        method_from_actor(
            &method(),
            &json!({"id": "https://a.example/notes/1", "type": "Note"})
        ),
        Err(ProofError::MethodNotFound { .. })
    ));
    assert!(matches!(
        method_from_actor(&method(), &actor("zbad", "https://a.example/users/alice")),
        Err(ProofError::Key { .. })
    ));
}
