//! The shared corpus's payloads that carry a `DataIntegrityProof` (all from
//! Mitra), verified where the signer's key is in the corpus too.
//!
//! * `lemmy-assets__activities_accept.json` and `…_create_post.json`:
//!   `eddsa-jcs-2022` proofs by `mitra.social/users/localtestgroup` and
//!   `mitra.social/users/test`, whose actor documents are not in the
//!   corpus: well-formed, not verifiable here.
//! * `kitsune__mitra.social_users_silverpill.json`: the actor's
//!   `VerifiableIdentityStatement` attachments. One carries a proof under
//!   the suite's draft name `jcs-eddsa-2022` by a `did:key`, whose key is
//!   in the method itself: it verifies. The other is a
//!   `MitraJcsEip191Signature2022` (an Ethereum signature), not a Data
//!   Integrity suite: refused, naming the missing `cryptosuite`.

use archipel::proof::{self, ContextForm, ProofError};
use archipel::signatures::PublicKey;
use serde_json::Value;

use crate::common::shared;

fn load(name: &str) -> Option<Value> {
    let dir = shared("activitypub/mitra")?;
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    Some(proof::parse_document(text.as_bytes()).unwrap())
}

#[test]
fn mitra_activity_proofs_are_well_formed_but_their_keys_are_absent() {
    for (name, method) in [
        (
            "lemmy-assets__activities_accept.json",
            "https://mitra.social/users/localtestgroup#ed25519-key",
        ),
        (
            "lemmy-assets__activities_create_post.json",
            "https://mitra.social/users/test#ed25519-key",
        ),
    ] {
        let Some(doc) = load(name) else { return };
        let proofs = proof::proofs(&doc).unwrap();
        assert_eq!(proofs.len(), 1, "{name}");
        assert_eq!(proofs[0].verification_method.as_str(), method, "{name}");
        // Some key that is not the signer's: a typed refusal, not a pass.
        let other = archipel::signatures::PrivateKey::generate_ed25519().unwrap();
        assert!(matches!(
            proof::verify_with_key(&doc, &other.public_key()),
            Err(ProofError::Invalid { .. })
        ));
    }
}

#[test]
fn mitra_identity_statement_verifies_under_the_draft_suite_name() {
    let Some(actor) = load("kitsune__mitra.social_users_silverpill.json") else {
        return;
    };
    let statements: Vec<&Value> = actor["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "VerifiableIdentityStatement")
        .collect();
    assert_eq!(statements.len(), 2);
    // An Ethereum (EIP-191) signature: not a DataIntegrityProof suite.
    let any = archipel::signatures::PrivateKey::generate_ed25519()
        .unwrap()
        .public_key();
    assert_eq!(
        proof::verify_with_key(statements[0], &any)
            .unwrap_err()
            .to_string(),
        "proof field `cryptosuite`: missing"
    );
    // `jcs-eddsa-2022` by a did:key: the key is in the method itself.
    let method = statements[1]["proof"]["verificationMethod"]
        .as_str()
        .unwrap();
    let key = PublicKey::from_multibase(method.strip_prefix("did:key:").unwrap()).unwrap();
    let verified = proof::verify_with_key(statements[1], &key).unwrap();
    assert_eq!(verified[0].verification_method.as_str(), method);
    assert_eq!(verified[0].form, ContextForm::Absent);
    let mut altered = statements[1].clone();
    altered["alsoKnownAs"] = "https://mitra.social/users/mallory".into();
    assert!(matches!(
        proof::verify_with_key(&altered, &key),
        Err(ProofError::Invalid { .. })
    ));
}
