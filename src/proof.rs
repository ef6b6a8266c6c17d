//! FEP-8b32 Object Integrity Proofs: signatures on objects rather than on
//! requests, with the `eddsa-jcs-2022` cryptosuite (W3C vc-di-eddsa §3.3).
//!
//! An HTTP signature proves who *sent* a request; it says nothing once the
//! activity is passed along. A proof travels inside the object: it proves
//! that the controller of the key (the actor listing it in its FEP-521a
//! `assertionMethod`) asserted exactly this content, whoever delivered it,
//! forwarded it or relayed it, and however long ago. It does not prove
//! freshness or who the sender is.
//!
//! The decision made here: what counts as a valid proof.
//!
//! * The document is hashed in its RFC 8785 canonical form (JCS, through
//!   `serde_jcs`), so key order and whitespace do not matter and any change
//!   of content does.
//! * Only `DataIntegrityProof` / `eddsa-jcs-2022` / `assertionMethod` is
//!   accepted; anything else is a typed refusal, never a silent pass.
//! * Implementations disagree on the proof's `@context` (see
//!   [`ContextForm`]); [`verify_with_key`] accepts all three published
//!   forms, [`sign`] writes the current FEP-8b32 one (the document's
//!   `@context` copied into the proof).
//! * A proof set (an array under `proof`) and a proof chain (`previousProof`)
//!   verify as VC Data Integrity §4.4 says: *every* proof must verify, a
//!   chained proof over the document with the proofs it names. At most
//!   [`MAX_PROOFS`] proofs are read.
//! * A top-level `signature` (a Linked Data Signature) added after the
//!   proof, as Mastodon-compatible senders sign both ways, is not covered
//!   by it: a proof that fails with it is tried once more without it.
//! * Over the network ([`verify`]), the key comes from the actor at the
//!   method's IRI, fetched from its own origin, and must be on the same
//!   origin as the document's `id` (FEP-8b32, FEP-fe34).
//!
//! ```
//! use archipel::proof::{self, ProofError, ProofOptions};
//! use archipel::signatures::PrivateKey;
//! use archipel::vocab::{Iri, Kind, Object};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = PrivateKey::generate_ed25519()?;
//! let note = Object::new(Kind::Note.as_str())
//!     .with_id(Iri::parse("https://a.example/notes/1")?);
//! let document = serde_json::to_value(&note)?;
//!
//! let method = Iri::parse("https://a.example/users/alice#ed25519-key")?;
//! let signed = proof::sign(&document, &key, &ProofOptions::new(method.clone()))?;
//! let verified = proof::verify_with_key(&signed, &key.public_key())?;
//! assert_eq!(verified[0].verification_method, method);
//!
//! // Any change of content breaks the proof.
//! let mut tampered = signed.clone();
//! tampered["id"] = "https://a.example/notes/2".into();
//! assert!(matches!(
//!     proof::verify_with_key(&tampered, &key.public_key()),
//!     Err(ProofError::Invalid { .. })
//! ));
//! # Ok(())
//! # }
//! ```

mod error;
mod method;
mod suite;

use serde_json::{Map, Value};

pub use error::ProofError;
pub use method::{ResolvedMethod, method_from_actor, resolve_method};
pub use suite::{ASSERTION_METHOD, CRYPTOSUITE, DataIntegrityProof, PROOF_TYPE};

use crate::fetch::Fetcher;
use crate::signatures::{PrivateKey, PublicKey};
use crate::vocab::{DateTime, Iri, OneOrMany, ParseLimits};
use error::cut;
use suite::json_kind;

/// The most proofs read from one document (a set or a chain): 8. Real
/// objects carry one; the bound keeps a hostile document from costing more
/// than a few signature checks.
pub const MAX_PROOFS: usize = 8;

/// Where the proof's `@context` comes from, the one point on which
/// published FEP-8b32 revisions and implementations differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextForm {
    /// The proof carries its own `@context`, hashed as written: FEP-8b32
    /// since 2024 and VC Data Integrity 1.0. What [`sign`] writes.
    InProof,
    /// The proof has no `@context` and none is hashed (FEP-8b32, 2023).
    Absent,
    /// The proof has no `@context`, but the document's is added to the
    /// hashed proof configuration (Fedify).
    FromDocument,
}

/// How to sign: the key's IRI and the proof's optional properties.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProofOptions {
    /// `verificationMethod`: the IRI of the key, listed in the signing
    /// actor's `assertionMethod` (e.g. `https://a.example/users/alice#ed25519-key`).
    pub verification_method: Iri,
    /// `created`; `None` means now.
    pub created: Option<DateTime>,
    /// `id` of the new proof, so a later proof can chain to it.
    pub id: Option<Iri>,
    /// `previousProof`: make a proof chain, signing over the proof with
    /// this id as well as the document.
    pub previous_proof: Option<String>,
}

impl ProofOptions {
    /// Options to sign with the key `verification_method`, created now.
    pub fn new(verification_method: Iri) -> Self {
        ProofOptions {
            verification_method,
            created: None,
            id: None,
            previous_proof: None,
        }
    }

    /// Set `created` (a fixed time makes signing reproducible).
    pub fn with_created(mut self, created: DateTime) -> Self {
        self.created = Some(created);
        self
    }

    /// Give the proof an `id`.
    pub fn with_id(mut self, id: Iri) -> Self {
        self.id = Some(id);
        self
    }

    /// Chain the proof to the existing proof `id` (`previousProof`).
    pub fn with_previous_proof(mut self, id: impl Into<String>) -> Self {
        self.previous_proof = Some(id.into());
        self
    }
}

/// A proof that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The proof's `verificationMethod`.
    pub verification_method: Iri,
    /// The actor controlling the key, when it was resolved through its
    /// `assertionMethod` ([`verify`]); `None` with a key given directly.
    ///
    /// A proof says who asserted the content; compare this with who the
    /// document says it is from (an activity's `actor`, an object's
    /// `attributedTo`) before trusting it as theirs (FEP-8b32).
    pub controller: Option<Iri>,
    /// The proof's `created`, as written.
    pub created: Option<DateTime>,
    /// The `@context` form that verified.
    pub form: ContextForm,
}

/// Parses untrusted bytes into a document to sign or verify, within the
/// vocabulary's default size ([`ParseLimits::DEFAULT_MAX_BYTES`], 1 MiB)
/// and the JSON parser's nesting bound (128).
///
/// # Errors
/// [`ProofError::TooLarge`], [`ProofError::NotJson`],
/// [`ProofError::NotAnObject`].
pub fn parse_document(bytes: &[u8]) -> Result<Value, ProofError> {
    let limit = ParseLimits::DEFAULT_MAX_BYTES;
    if bytes.len() > limit {
        return Err(ProofError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ProofError::NotJson(cut(&e.to_string())))?;
    as_object(&v, "document")?;
    Ok(v)
}

fn as_object<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>, ProofError> {
    v.as_object().ok_or(ProofError::NotAnObject {
        what,
        found: json_kind(v),
    })
}

/// The raw proof objects of `document` (one, or each of a set), bounded by
/// [`MAX_PROOFS`]; empty when there is no `proof`.
fn raw_proofs(document: &Map<String, Value>) -> Result<Vec<&Value>, ProofError> {
    let list: Vec<&Value> = match document.get("proof") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(one) => vec![one],
    };
    if list.len() > MAX_PROOFS {
        return Err(ProofError::TooManyProofs {
            count: list.len(),
            limit: MAX_PROOFS,
        });
    }
    Ok(list)
}

/// The RFC 8785 (JCS) canonical form of `value`: members sorted by their
/// UTF-16 code units, no whitespace, numbers as ECMAScript prints them.
/// The bytes `eddsa-jcs-2022` hashes; useful to compare with another
/// implementation when a proof does not verify.
///
/// ```
/// let v = serde_json::json!({"b": [1.0, 2.5e-3], "a": "\u{20ac}"});
/// let jcs = archipel::proof::canonicalize(&v)?;
/// assert_eq!(jcs, "{\"a\":\"\u{20ac}\",\"b\":[1,0.0025]}".as_bytes());
/// # Ok::<(), archipel::proof::ProofError>(())
/// ```
///
/// # Errors
/// [`ProofError::Canonicalization`].
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, ProofError> {
    suite::canonical(value)
}

/// The proofs `document` carries, typed and checked (type, cryptosuite,
/// purpose).
///
/// # Errors
/// [`ProofError::NoProof`], [`ProofError::TooManyProofs`], and the first
/// malformed proof's error.
pub fn proofs(document: &Value) -> Result<Vec<DataIntegrityProof>, ProofError> {
    let raw = raw_proofs(as_object(document, "document")?)?;
    if raw.is_empty() {
        return Err(ProofError::NoProof);
    }
    raw.into_iter()
        .map(DataIntegrityProof::from_value)
        .collect()
}

/// Adds an `eddsa-jcs-2022` proof to `document`, in the current FEP-8b32
/// form (the document's `@context` copied into the proof).
///
/// A document that already has proofs gets one more (a proof set), or,
/// with [`ProofOptions::with_previous_proof`], a proof chained to one of
/// them.
///
/// # Errors
/// [`ProofError::NotEd25519`] for another key type,
/// [`ProofError::PreviousProofMissing`], [`ProofError::TooManyProofs`],
/// [`ProofError::Canonicalization`].
pub fn sign(
    document: &Value,
    key: &PrivateKey,
    options: &ProofOptions,
) -> Result<Value, ProofError> {
    let doc = as_object(document, "document")?;
    let existing: Vec<Value> = raw_proofs(doc)?.into_iter().cloned().collect();
    if existing.len() >= MAX_PROOFS {
        return Err(ProofError::TooManyProofs {
            count: existing.len() + 1,
            limit: MAX_PROOFS,
        });
    }
    let mut unsecured = doc.clone();
    unsecured.remove("proof");
    let mut input = unsecured.clone();
    if let Some(prev) = &options.previous_proof {
        input.insert(
            "proof".into(),
            Value::Array(previous(&existing, std::slice::from_ref(prev))?),
        );
    }
    let mut proof = DataIntegrityProof {
        ld_context: doc.get("@context").cloned(),
        id: options.id.clone(),
        kind: PROOF_TYPE.into(),
        cryptosuite: CRYPTOSUITE.into(),
        verification_method: options.verification_method.clone(),
        proof_purpose: ASSERTION_METHOD.into(),
        created: Some(options.created.clone().unwrap_or_else(DateTime::now)),
        previous_proof: options.previous_proof.clone().map(OneOrMany::One),
        proof_value: None,
        extra: Map::new(),
    };
    let config = to_value(&proof)?;
    let data = suite::hash_data(&config, &Value::Object(input))?;
    proof.proof_value = Some(suite::sign_value(key, &data, &options.verification_method)?);
    let proof = to_value(&proof)?;
    let value = if existing.is_empty() {
        proof
    } else {
        let mut all = existing;
        all.push(proof);
        Value::Array(all)
    };
    unsecured.insert("proof".into(), value);
    Ok(Value::Object(unsecured))
}

fn to_value(proof: &DataIntegrityProof) -> Result<Value, ProofError> {
    serde_json::to_value(proof).map_err(|e| ProofError::Canonicalization(cut(&e.to_string())))
}

/// The proofs among `all` whose `id` is one of `ids`, each of which must be
/// found (VC Data Integrity §4.3, "matchingProofs").
fn previous<V: std::borrow::Borrow<Value>>(
    all: &[V],
    ids: &[String],
) -> Result<Vec<Value>, ProofError> {
    ids.iter()
        .map(|id| {
            all.iter()
                .map(V::borrow)
                .find(|p| p.get("id").and_then(Value::as_str) == Some(id))
                .cloned()
                .ok_or_else(|| ProofError::PreviousProofMissing(cut(id)))
        })
        .collect()
}

/// Verifies every proof of `document` with `key`: a document signed once,
/// checked against a key the caller trusts (a key file, a test vector).
///
/// No origin or controller check is made: the key is the caller's word.
///
/// # Errors
/// [`ProofError::NoProof`], [`ProofError::Invalid`] for a proof that does
/// not match, and the errors of a malformed proof.
pub fn verify_with_key(
    document: &Value,
    key: &PublicKey,
) -> Result<Vec<VerifiedProof>, ProofError> {
    verify_each(document, |_| Ok((key.clone(), None)))
}

/// Verifies every proof of `document`, each with the key its
/// `verificationMethod` names, fetched from the controlling actor's
/// `assertionMethod` ([`resolve_method`]).
///
/// When the document has an `http(s)` `id`, each method must be on that
/// origin: a key of one server cannot vouch for another server's object
/// (FEP-8b32, FEP-fe34).
///
/// # Errors
/// As [`verify_with_key`], plus [`ProofError::OriginMismatch`] and the
/// errors of [`resolve_method`].
pub async fn verify(document: &Value, fetcher: &Fetcher) -> Result<Vec<VerifiedProof>, ProofError> {
    let parsed = proofs(document)?;
    let doc_origin = document
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| url::Url::parse(id).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let mut resolved: Vec<(Iri, ResolvedMethod)> = Vec::new();
    for p in &parsed {
        let method = &p.verification_method;
        let url = method::http_url(method)?;
        if let Some(doc) = &doc_origin
            && doc.origin() != url.origin()
        {
            return Err(ProofError::OriginMismatch {
                verification_method: method.to_string(),
                document: doc.to_string(),
            });
        }
        if !resolved.iter().any(|(m, _)| m == method) {
            resolved.push((method.clone(), resolve_method(method, fetcher).await?));
        }
    }
    verify_each(document, |method| {
        resolved
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, r)| (r.key.clone(), Some(r.controller.clone())))
            .ok_or_else(|| ProofError::MethodNotFound {
                verification_method: method.to_string(),
                controller: String::new(),
            })
    })
}

type KeyFor<'a> = dyn Fn(&Iri) -> Result<(PublicKey, Option<Iri>), ProofError> + 'a;

fn verify_each(
    document: &Value,
    key_for: impl Fn(&Iri) -> Result<(PublicKey, Option<Iri>), ProofError>,
) -> Result<Vec<VerifiedProof>, ProofError> {
    let doc = as_object(document, "document")?;
    let raw = raw_proofs(doc)?;
    if raw.is_empty() {
        return Err(ProofError::NoProof);
    }
    let mut unsecured = doc.clone();
    unsecured.remove("proof");
    // A Linked Data Signature added after the proof (Mastodon's
    // `signature`, as Fedify and archipel's outbox sign both ways) is not
    // covered by it: when the proof fails with it, it is tried once more
    // with the `signature` set aside, as Fedify's verifier does. A proof
    // made over the signed document still verifies as is.
    let mut without_signature = None;
    raw.iter()
        .map(|r| match verify_one(&unsecured, &raw, r, &key_for) {
            Err(ProofError::Invalid { .. }) if unsecured.contains_key("signature") => {
                let bare = without_signature.get_or_insert_with(|| {
                    let mut bare = unsecured.clone();
                    bare.remove("signature");
                    bare
                });
                verify_one(bare, &raw, r, &key_for)
            }
            other => other,
        })
        .collect()
}

fn verify_one(
    unsecured: &Map<String, Value>,
    all: &[&Value],
    raw: &Value,
    key_for: &KeyFor<'_>,
) -> Result<VerifiedProof, ProofError> {
    let proof = DataIntegrityProof::from_value(raw)?;
    let method = &proof.verification_method;
    let value = proof.proof_value.as_deref().ok_or(ProofError::Malformed {
        field: "proofValue",
        reason: "missing".into(),
    })?;
    let sig = suite::decode_value(value)?;
    let (key, controller) = key_for(method)?;

    let mut input = unsecured.clone();
    if !proof.previous().is_empty() {
        input.insert(
            "proof".into(),
            Value::Array(previous(all, proof.previous())?),
        );
    }
    // The document is the large part: canonicalized and hashed once, not
    // once per context form tried.
    let document_hash = suite::hash_document(&Value::Object(input))?;
    let mut config = as_object(raw, "proof")?.clone();
    config.remove("proofValue");

    let forms: &[ContextForm] = if config.contains_key("@context") {
        &[ContextForm::InProof]
    } else if unsecured.contains_key("@context") {
        &[ContextForm::Absent, ContextForm::FromDocument]
    } else {
        &[ContextForm::Absent]
    };
    for &form in forms {
        let mut hashed = config.clone();
        if form == ContextForm::FromDocument
            && let Some(ctx) = unsecured.get("@context")
        {
            hashed.insert("@context".into(), ctx.clone());
        }
        let data = suite::hash_data_with(&Value::Object(hashed), &document_hash)?;
        if suite::check(&key, &data, &sig, method)? {
            return Ok(VerifiedProof {
                verification_method: method.clone(),
                controller,
                created: proof.created.clone(),
                form,
            });
        }
    }
    Err(ProofError::Invalid {
        verification_method: method.to_string(),
    })
}

#[cfg(test)]
mod tests;
