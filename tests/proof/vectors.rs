//! Published vectors: W3C vc-di-eddsa `eddsa-jcs-2022` (TestVectors) and
//! the three revisions of FEP-8b32's feature file, read from the shared
//! fixtures (never copied into the repository).

use archipel::proof::{self, ContextForm, ProofOptions};
use archipel::signatures::PublicKey;
use archipel::vocab::{DateTime, Iri};
use serde_json::Value;

use crate::common::{secret_multikey, shared};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn w3c_eddsa_jcs_2022_sign_and_verify() {
    let Some(dir) = shared("proofs/vc-di-eddsa") else {
        return;
    };
    let keys: Value = serde_json::from_str(&read(&dir.join("keyPair.json"))).unwrap();
    let public = PublicKey::from_multibase(keys["publicKeyMultibase"].as_str().unwrap()).unwrap();
    let private = secret_multikey(keys["privateKeyMultibase"].as_str().unwrap());
    assert_eq!(private.public_key(), public);

    let unsigned: Value = serde_json::from_str(&read(&dir.join("unsigned.json"))).unwrap();
    let suite = dir.join("eddsa-jcs-2022");
    // The intermediate canonical forms.
    assert_eq!(
        String::from_utf8(proof::canonicalize(&unsigned).unwrap()).unwrap(),
        read(&suite.join("canonDocJCS.txt")).trim()
    );
    let config: Value = serde_json::from_str(&read(&suite.join("proofConfigJCS.json"))).unwrap();
    assert_eq!(
        String::from_utf8(proof::canonicalize(&config).unwrap()).unwrap(),
        read(&suite.join("proofCanonJCS.txt")).trim()
    );

    // Signing reproduces the published proof exactly (Ed25519 is deterministic).
    let method = Iri::parse(config["verificationMethod"].as_str().unwrap()).unwrap();
    let opts = ProofOptions::new(method.clone())
        .with_created(DateTime::new_unchecked(config["created"].as_str().unwrap()));
    let signed = proof::sign(&unsigned, &private, &opts).unwrap();
    let expected: Value = serde_json::from_str(&read(&suite.join("signedJCS.json"))).unwrap();
    assert_eq!(signed, expected);
    assert_eq!(
        signed["proof"]["proofValue"],
        read(&suite.join("sigBTC58JCS.txt")).trim()
    );

    let verified = proof::verify_with_key(&expected, &public).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].verification_method, method);
    assert_eq!(verified[0].form, ContextForm::InProof);
}

/// The triple-quoted blocks of a Gherkin feature file, in order.
fn docstrings(feature: &str) -> Vec<Value> {
    feature
        .split("\"\"\"")
        .skip(1)
        .step_by(2)
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// The first `"…"` on the line containing `marker`.
fn quoted(feature: &str, marker: &str) -> String {
    let line = feature.lines().find(|l| l.contains(marker)).unwrap();
    line.split('"').nth(1).unwrap().to_owned()
}

/// Verifies a FEP-8b32 revision's signed document with the key found in
/// its actor's `assertionMethod`; returns the form that verified.
fn verify_revision(name: &str) -> Option<ContextForm> {
    let dir = shared("proofs/fep-8b32")?;
    let feature = read(&dir.join(name));
    let blocks = docstrings(&feature);
    assert_eq!(blocks.len(), 4, "{name}: document, signed, signed, actor");
    let (signed, actor) = (&blocks[2], &blocks[3]);
    assert_eq!(&blocks[1], signed);
    let method = Iri::parse(signed["proof"]["verificationMethod"].as_str().unwrap()).unwrap();
    let resolved = proof::method_from_actor(&method, actor).unwrap();
    let verified = proof::verify_with_key(signed, &resolved.key).unwrap();
    assert_eq!(verified.len(), 1);

    // Signing the unsigned document with the published secret key and time
    // gives the same signature when the form is ours (InProof).
    let key = secret_multikey(&quoted(&feature, "And Ed25519"));
    assert_eq!(key.public_key(), resolved.key);
    let opts = ProofOptions::new(method)
        .with_created(DateTime::new_unchecked(quoted(&feature, "current time")));
    let ours = proof::sign(&blocks[0], &key, &opts).unwrap();
    if verified[0].form == ContextForm::InProof {
        assert_eq!(&ours, signed, "{name}: signing reproduces the vector");
    }
    // And a tampered copy fails.
    let mut t = signed.clone();
    t["object"]["content"] = "Hello world!".into();
    assert!(matches!(
        proof::verify_with_key(&t, &resolved.key),
        Err(proof::ProofError::Invalid { .. })
    ));
    Some(verified[0].form)
}

#[test]
fn fep_8b32_2023_08_proof_without_context() {
    if let Some(form) = verify_revision("fep-8b32-2023-08.feature") {
        assert_eq!(form, ContextForm::Absent);
    }
}

#[test]
fn fep_8b32_2024_06_context_in_proof_data_integrity_v1() {
    if let Some(form) = verify_revision("fep-8b32-2024-06.feature") {
        assert_eq!(form, ContextForm::InProof);
    }
}

#[test]
fn fep_8b32_2025_10_context_in_proof_data_integrity_v2() {
    if let Some(form) = verify_revision("fep-8b32-2025-10.feature") {
        assert_eq!(form, ContextForm::InProof);
    }
}
