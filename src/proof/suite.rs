//! The `eddsa-jcs-2022` cryptosuite (W3C vc-di-eddsa §3.3): the typed
//! [`DataIntegrityProof`], the hash of a proof configuration and a document,
//! and the multibase `proofValue`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::error::{ProofError, cut};
use crate::signatures::{Algorithm, PrivateKey, PublicKey};
use crate::vocab::{DateTime, Iri, OneOrMany};

/// `DataIntegrityProof`, the proof `type` (VC Data Integrity §2.1).
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// `eddsa-jcs-2022`, the only cryptosuite supported: Ed25519 over an RFC
/// 8785 canonical form, the one FEP-8b32 requires.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// `jcs-eddsa-2022`, the draft name of the same cryptosuite (before the
/// 2023 rename), still found in Mitra's identity proofs: accepted when
/// verifying, never written.
pub(crate) const LEGACY_CRYPTOSUITE: &str = "jcs-eddsa-2022";
/// `assertionMethod`, the proof purpose FEP-8b32 uses for objects.
pub const ASSERTION_METHOD: &str = "assertionMethod";

/// One FEP-8b32 / VC Data Integrity proof, as found under a document's
/// `proof`.
///
/// Properties not modelled here stay in [`extra`](Self::extra) and are
/// hashed with the rest, so a proof from a newer implementation verifies
/// unchanged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DataIntegrityProof {
    /// `@context`, copied from the document by signers that follow
    /// FEP-8b32 since 2024 (absent in the 2023 form and in Fedify's).
    #[serde(rename = "@context", default, skip_serializing_if = "Option::is_none")]
    pub ld_context: Option<Value>,
    /// `id` of the proof, needed only to chain a later proof to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Iri>,
    /// `type`: `DataIntegrityProof`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `cryptosuite`: `eddsa-jcs-2022`.
    pub cryptosuite: String,
    /// `verificationMethod`: the IRI of the key (a `Multikey` in the
    /// controller's `assertionMethod`).
    #[serde(rename = "verificationMethod")]
    pub verification_method: Iri,
    /// `proofPurpose`: `assertionMethod`.
    #[serde(rename = "proofPurpose")]
    pub proof_purpose: String,
    /// `created`: when the proof was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime>,
    /// `previousProof`: the proof(s) this one chains to (VC Data Integrity
    /// §2.1.2, proof chains).
    #[serde(
        rename = "previousProof",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_proof: Option<OneOrMany<String>>,
    /// `proofValue`: `z` + base58btc of the 64-byte Ed25519 signature.
    #[serde(
        rename = "proofValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub proof_value: Option<String>,
    /// Properties not modelled above, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DataIntegrityProof {
    /// Reads a proof from its JSON object, checking the fields the
    /// cryptosuite needs (type, cryptosuite, purpose).
    pub(crate) fn from_value(value: &Value) -> Result<Self, ProofError> {
        if !value.is_object() {
            return Err(ProofError::NotAnObject {
                what: "proof",
                found: json_kind(value),
            });
        }
        check_fields(value)?;
        let proof = DataIntegrityProof::deserialize(value).map_err(|e| ProofError::Malformed {
            field: "proof",
            reason: cut(&e.to_string()),
        })?;
        if proof.kind != PROOF_TYPE {
            return Err(ProofError::UnsupportedType(cut(&proof.kind)));
        }
        if proof.cryptosuite != CRYPTOSUITE && proof.cryptosuite != LEGACY_CRYPTOSUITE {
            return Err(ProofError::UnsupportedCryptosuite(cut(&proof.cryptosuite)));
        }
        if proof.proof_purpose != ASSERTION_METHOD {
            return Err(ProofError::WrongPurpose(cut(&proof.proof_purpose)));
        }
        Ok(proof)
    }

    /// The ids this proof chains to.
    pub(crate) fn previous(&self) -> &[String] {
        self.previous_proof
            .as_ref()
            .map_or(&[][..], OneOrMany::as_slice)
    }
}

/// Checks the shape of each modelled field first, so an error names the
/// field (serde's messages do not, through a flattened map).
fn check_fields(value: &Value) -> Result<(), ProofError> {
    let bad = |field, reason: String| Err(ProofError::Malformed { field, reason });
    for field in ["type", "cryptosuite", "verificationMethod", "proofPurpose"] {
        match value.get(field) {
            None => return bad(field, "missing".into()),
            Some(Value::String(_)) => {}
            Some(v) => return bad(field, format!("must be a string, found {}", json_kind(v))),
        }
    }
    for field in ["id", "created", "proofValue"] {
        match value.get(field) {
            None | Some(Value::String(_)) => {}
            Some(v) => return bad(field, format!("must be a string, found {}", json_kind(v))),
        }
    }
    match value.get("previousProof") {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Ok(()),
        Some(v) => bad(
            "previousProof",
            format!("must be a string or strings, found {}", json_kind(v)),
        ),
    }
}

// One helper for every signed-object module: crate::json_util.
pub(crate) use crate::json_util::json_kind;

/// RFC 8785 canonical form of `v`.
pub(crate) fn canonical(v: &impl Serialize) -> Result<Vec<u8>, ProofError> {
    serde_jcs::to_vec(v).map_err(|e| ProofError::Canonicalization(cut(&e.to_string())))
}

/// The 64 bytes signed (vc-di-eddsa §3.3.4 "Hashing"):
/// `SHA-256(JCS(proof configuration)) || SHA-256(JCS(document))`.
pub(crate) fn hash_data(config: &Value, document: &Value) -> Result<Vec<u8>, ProofError> {
    hash_data_with(config, &hash_document(document)?)
}

/// The SHA-256 of the document's canonical form, the second half of the
/// hash data: computed once when several proof configurations are tried
/// against the same document.
pub(crate) fn hash_document(document: &Value) -> Result<[u8; 32], ProofError> {
    Ok(Sha256::digest(canonical(document)?).into())
}

/// The hash data of a proof configuration and an already hashed document.
pub(crate) fn hash_data_with(
    config: &Value,
    document_hash: &[u8; 32],
) -> Result<Vec<u8>, ProofError> {
    let mut out = Sha256::digest(canonical(config)?).to_vec();
    out.extend_from_slice(document_hash);
    Ok(out)
}

/// Signs the hash data with `key` (Ed25519) and encodes the `proofValue`.
pub(crate) fn sign_value(
    key: &PrivateKey,
    data: &[u8],
    verification_method: &Iri,
) -> Result<String, ProofError> {
    if key.kind() != "ed25519" {
        return Err(ProofError::NotEd25519 {
            kind: key.kind(),
            verification_method: verification_method.to_string(),
        });
    }
    let sig = key
        .sign(Algorithm::Ed25519, data)
        .map_err(|source| ProofError::Key {
            verification_method: verification_method.to_string(),
            source,
        })?;
    Ok(format!(
        "z{}",
        crate::signatures::keys::pem::base58_encode(&sig)
    ))
}

/// Decodes a `proofValue` into the 64 signature bytes.
pub(crate) fn decode_value(value: &str) -> Result<Vec<u8>, ProofError> {
    let bad = |reason| ProofError::ProofValue {
        value: cut(value),
        reason,
    };
    // An Ed25519 signature is 64 bytes: at most 88 base58 characters.
    if value.len() > 100 {
        return Err(bad("longer than an Ed25519 signature"));
    }
    let b58 = value
        .strip_prefix('z')
        .ok_or_else(|| bad("not multibase base58btc (no `z` prefix)"))?;
    let bytes =
        crate::signatures::keys::pem::base58_decode(b58).map_err(|_| bad("not valid base58btc"))?;
    if bytes.len() != 64 {
        return Err(bad("not 64 bytes, the size of an Ed25519 signature"));
    }
    Ok(bytes)
}

/// Checks `sig` over `data` with `key`.
pub(crate) fn check(
    key: &PublicKey,
    data: &[u8],
    sig: &[u8],
    verification_method: &Iri,
) -> Result<bool, ProofError> {
    if key.kind() != "ed25519" {
        return Err(ProofError::NotEd25519 {
            kind: key.kind(),
            verification_method: verification_method.to_string(),
        });
    }
    key.verify(Algorithm::Ed25519, data, sig)
        .map_err(|source| ProofError::Key {
            verification_method: verification_method.to_string(),
            source,
        })
}
