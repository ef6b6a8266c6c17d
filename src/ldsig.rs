//! Linked Data Signatures, `RsaSignature2017`: the signature Mastodon puts
//! inside every public activity so that it can travel.
//!
//! An HTTP signature proves who *sent* a request. When a reply is
//! forwarded to a thread's followers, or a relay repeats a public post, the
//! sender is not the author, and only a signature inside the document can
//! prove who wrote it. Mastodon (since 2017) signs public activities this
//! way, and verifies such signatures on activities forwarded to it.
//!
//! The decision made here: what counts as a valid Linked Data Signature.
//!
//! * Exactly Mastodon's algorithm (`app/lib/activitypub/linked_data_signature.rb`):
//!   the signature's options (every member but `type`, `id` and
//!   `signatureValue`, with `@context` set to identity v1) and the document
//!   without `signature` are each turned into RDF by JSON-LD, canonicalized
//!   with URDNA2015 (N-Quads), and hashed with SHA-256; the two hex digests,
//!   concatenated, are signed with RSASSA-PKCS1-v1_5 SHA-256, base64.
//! * JSON-LD contexts are **never fetched**: ActivityStreams, security v1,
//!   identity v1, data-integrity v1, Multikey v1, WebFinger, Mastodon's and
//!   LitePub's contexts (also Pleroma's per-instance
//!   `/schemas/litepub-0.1.jsonld`) are compiled in. A document naming any
//!   other remote context is refused with
//!   [`LdSignatureError::RemoteContext`]: a context fetched at verification
//!   time could change what the signed bytes mean.
//! * Undefined terms (Mastodon's `discoverable` in a document that does not
//!   define it, for example) are dropped during expansion, as standard
//!   JSON-LD processing and Mastodon do, not treated as errors; so adding an
//!   undefined property does not break a signature, and changing a defined
//!   one does.
//! * Bounded on hostile input: at most 1 MiB ([`parse_document`]),
//!   [`MAX_DEPTH`] levels of nesting (the `signature` block included),
//!   [`MAX_INLINE_CONTEXT_BYTES`] of inline contexts with terms and IRIs of
//!   at most [`MAX_TERM_IRI_BYTES`] and no scoped contexts (all checked
//!   before expansion, whose cost they would multiply), [`MAX_QUADS`] RDF
//!   quads, [`MAX_BLANK_NODES`] blank nodes and [`MAX_HNDQ_CALLS`] runs of
//!   URDNA2015's exponential step, each a typed
//!   [`LdSignatureError::TooComplex`], [`LdSignatureError::TooDeep`] or
//!   [`LdSignatureError::UnsafeContext`].
//! * The work is CPU-bound (milliseconds per activity) and runs on a thread
//!   of its own with a large stack: [`verify`] awaits it without blocking
//!   the async executor; [`verify_with_key`] and [`sign`] wait for it.
//!   [`verify`], what remote peers drive, runs at most as many such threads
//!   at once as the machine has cores (2 to 16), process-wide: a burst of
//!   signed forwarded activities waits its turn, first come first served,
//!   instead of starting a thread each.
//! * A signature proves that the key's owner asserted this content. It does
//!   not say the owner is the document's `actor`: [`verify`] returns the
//!   key's owner, and **the caller compares it with the actor**.
//!
//! Private activities should not be signed this way: anyone who receives a
//! signed activity can replay it to others (Mastodon signs only public
//! ones).
//!
//! ```
//! use archipel::ldsig::{self, LdSignatureError};
//! use archipel::signatures::PrivateKey;
//! use archipel::vocab::Iri;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = PrivateKey::generate_rsa_2048()?;
//! let creator = Iri::parse("https://a.example/users/alice#main-key")?;
//! let document = serde_json::json!({
//!     "@context": "https://www.w3.org/ns/activitystreams",
//!     "id": "https://a.example/notes/1",
//!     "type": "Note",
//!     "content": "hello",
//! });
//! let signed = ldsig::sign(&document, &key, &creator, "2026-01-01T00:00:00Z")?;
//! let verified = ldsig::verify_with_key(&signed, &key.public_key())?;
//! assert_eq!(verified.creator, creator);
//!
//! // Any change of meaning breaks the signature.
//! let mut tampered = signed.clone();
//! tampered["content"] = "bye".into();
//! assert!(matches!(
//!     ldsig::verify_with_key(&tampered, &key.public_key()),
//!     Err(LdSignatureError::Invalid { .. })
//! ));
//! # Ok(())
//! # }
//! ```

mod canon;
mod contexts;
mod coverage;
mod error;
mod slots;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

pub use canon::{
    MAX_BLANK_NODES, MAX_HNDQ_CALLS, MAX_INLINE_CONTEXT_BYTES, MAX_QUADS, MAX_TERM_IRI_BYTES,
};
pub use coverage::check_coverage;
pub use error::LdSignatureError;

use crate::json_util::{self, cut, json_kind};
use crate::signatures::{Algorithm, KeyResolver, PrivateKey, PublicKey};
use crate::vocab::{Iri, ParseLimits};

/// The signature `type` this module signs and verifies.
pub const SIGNATURE_TYPE: &str = "RsaSignature2017";

/// The deepest nesting of objects and arrays accepted: 32 (the top-level
/// object is depth 1). JSON-LD processing recurses on nesting, so this bound
/// keeps a hostile document from overflowing a 2 MiB thread stack (tokio's
/// and the test harness's default, in a debug build); real activities nest
/// at most 7 deep (the shared corpus's deepest, PeerTube's videos).
pub const MAX_DEPTH: usize = 32;

/// A document's `signature` block, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LdSignature {
    /// `type`: [`SIGNATURE_TYPE`].
    pub kind: String,
    /// `creator`: the IRI of the signing key (e.g.
    /// `https://a.example/users/alice#main-key`).
    pub creator: Iri,
    /// `created`, as written (an `xsd:dateTime`).
    pub created: Option<String>,
    /// `signatureValue`, base64.
    pub signature_value: String,
}

/// A signature that verified against the key its `creator` names.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedLdSignature {
    /// The signing key's IRI.
    pub creator: Iri,
    /// The key's owner, as the [`KeyResolver`] found it. Compare it with
    /// the document's `actor` (or `attributedTo`) before treating the
    /// content as theirs: this module does not.
    pub owner: Iri,
    /// The signature's `created`, as written.
    pub created: Option<String>,
}

/// Parses untrusted bytes into a document to sign or verify, within the
/// vocabulary's default size ([`ParseLimits::DEFAULT_MAX_BYTES`], 1 MiB)
/// and [`MAX_DEPTH`].
///
/// # Errors
/// [`LdSignatureError::TooLarge`], [`LdSignatureError::NotJson`],
/// [`LdSignatureError::TooDeep`], [`LdSignatureError::NotAnObject`].
pub fn parse_document(bytes: &[u8]) -> Result<Value, LdSignatureError> {
    let limit = ParseLimits::DEFAULT_MAX_BYTES;
    if bytes.len() > limit {
        return Err(LdSignatureError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| LdSignatureError::NotJson(cut(&e.to_string())))?;
    check_depth(&v)?;
    as_object(&v, "document")?;
    Ok(v)
}

/// Reads the `signature` block of `document`, without verifying it.
///
/// # Errors
/// [`LdSignatureError::NoSignature`], [`LdSignatureError::UnsupportedType`],
/// [`LdSignatureError::Malformed`], [`LdSignatureError::NotAnObject`].
pub fn signature(document: &Value) -> Result<LdSignature, LdSignatureError> {
    let doc = as_object(document, "document")?;
    let sig = as_object(
        doc.get("signature").ok_or(LdSignatureError::NoSignature)?,
        "signature",
    )?;
    let kind = string_field(sig, "type")?;
    if kind != SIGNATURE_TYPE {
        return Err(LdSignatureError::UnsupportedType(cut(kind)));
    }
    let creator = string_field(sig, "creator")?;
    let creator = Iri::parse(creator).map_err(|e| LdSignatureError::Malformed {
        field: "creator",
        reason: cut(&e.to_string()),
    })?;
    let created = match sig.get("created") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(LdSignatureError::Malformed {
                field: "created",
                reason: format!("expected a string, found {}", json_kind(other)),
            });
        }
    };
    let signature_value = string_field(sig, "signatureValue")?.to_owned();
    Ok(LdSignature {
        kind: kind.to_owned(),
        creator,
        created,
        signature_value,
    })
}

/// Verifies the `RsaSignature2017` of `document` with `key`, a key known
/// in advance (a tool, a test, a key already resolved).
///
/// CPU-bound (a few milliseconds for a typical activity, on a thread of its
/// own that this call waits for): from async code, call [`verify`], which
/// does not block the executor.
///
/// # Errors
/// Those of [`signature`]; [`LdSignatureError::NotRsa`],
/// [`LdSignatureError::RemoteContext`], [`LdSignatureError::TooDeep`],
/// [`LdSignatureError::TooComplex`], [`LdSignatureError::JsonLd`];
/// [`LdSignatureError::Invalid`] when the signature does not match.
pub fn verify_with_key(document: &Value, key: &PublicKey) -> Result<LdSignature, LdSignatureError> {
    check_depth(document)?;
    let sig = signature(document)?;
    check_rsa(key.kind(), &sig.creator)?;
    let signed = signing_input(document)?;
    let raw = decode_signature(&sig.signature_value)?;
    check(key, &signed, &raw, &sig.creator)?;
    Ok(sig)
}

/// Verifies the `RsaSignature2017` of `document`, resolving its `creator`
/// through `keys` (an actor's `publicKey`, fetched or cached).
///
/// When a key served from a cache does not verify, the resolver is asked
/// once more with `refresh = true` (the actor may have rotated its key),
/// as [`Verifier`](crate::signatures::Verifier) does for HTTP signatures.
///
/// The result names the key's owner: compare it with the document's
/// `actor` before trusting the content as the actor's.
///
/// The JSON-LD processing runs on a thread of its own, and this future
/// waits for it without blocking the executor's thread.
///
/// # Errors
/// Those of [`verify_with_key`], and [`LdSignatureError::Key`] when the key
/// cannot be resolved.
pub async fn verify(
    document: &Value,
    keys: &dyn KeyResolver,
) -> Result<VerifiedLdSignature, LdSignatureError> {
    check_depth(document)?;
    let sig = signature(document)?;
    let raw = decode_signature(&sig.signature_value)?;
    let key_error = |source| LdSignatureError::Key {
        creator: sig.creator.to_string(),
        source,
    };
    let mut resolved = keys
        .resolve(sig.creator.as_str(), false)
        .await
        .map_err(key_error)?;
    check_rsa(resolved.key.kind(), &sig.creator)?;
    // The expensive part, once, before any key is tried.
    let (options, unsigned) = split(document)?;
    let signed = canon::on_ld_thread_async(move || to_be_signed(&options, &unsigned)).await?;
    let outcome = check(&resolved.key, &signed, &raw, &sig.creator);
    if matches!(outcome, Err(LdSignatureError::Invalid { .. })) && resolved.from_cache {
        resolved = keys
            .resolve(sig.creator.as_str(), true)
            .await
            .map_err(key_error)?;
        check_rsa(resolved.key.kind(), &sig.creator)?;
        check(&resolved.key, &signed, &raw, &sig.creator)?;
    } else {
        outcome?;
    }
    let owner = Iri::parse(resolved.owner.as_str()).map_err(|e| LdSignatureError::Malformed {
        field: "creator",
        reason: format!("the key's owner is not an IRI: {}", cut(&e.to_string())),
    })?;
    Ok(VerifiedLdSignature {
        creator: sig.creator,
        owner,
        created: sig.created,
    })
}

/// Signs `document` with an `RsaSignature2017` signature by `key`, named
/// `creator` (the key's IRI), dated `created` (an `xsd:dateTime` such as
/// `2026-01-01T00:00:00Z`), as Mastodon does. An existing `signature` is
/// replaced.
///
/// Sign only public activities: a signed activity can be replayed by anyone
/// who receives it.
///
/// # Errors
/// [`LdSignatureError::NotRsa`] for a non-RSA key,
/// [`LdSignatureError::Key`] when signing fails, and the document errors of
/// [`verify_with_key`].
pub fn sign(
    document: &Value,
    key: &PrivateKey,
    creator: &Iri,
    created: &str,
) -> Result<Value, LdSignatureError> {
    check_rsa(key.kind(), creator)?;
    check_depth(document)?;
    let mut doc = as_object(document, "document")?.clone();
    doc.remove("signature");
    let mut options = Map::new();
    options.insert("type".into(), SIGNATURE_TYPE.into());
    options.insert("creator".into(), creator.as_str().into());
    options.insert("created".into(), created.into());
    let unsigned = Value::Object(doc);
    let signed = canon::on_ld_thread(|| to_be_signed(&options, &unsigned))?;
    let raw = key
        .sign(Algorithm::RsaV1_5Sha256, &signed)
        .map_err(|source| LdSignatureError::Key {
            creator: creator.to_string(),
            source,
        })?;
    options.insert(
        "signatureValue".into(),
        base64::engine::general_purpose::STANDARD.encode(raw).into(),
    );
    let Value::Object(mut doc) = unsigned else {
        return Err(LdSignatureError::NotAnObject {
            what: "document",
            found: "other",
        });
    };
    doc.insert("signature".into(), Value::Object(options));
    Ok(Value::Object(doc))
}

/// The bytes an `RsaSignature2017` signs for `document` (which must carry
/// its `signature`): the hex SHA-256 of the options' canonical N-Quads,
/// then that of the document's. Useful to compare with another
/// implementation when a signature does not verify.
///
/// # Errors
/// Those of [`signature`] and the canonicalization errors of
/// [`verify_with_key`].
pub fn signing_input(document: &Value) -> Result<Vec<u8>, LdSignatureError> {
    let (options, unsigned) = split(document)?;
    canon::on_ld_thread(|| to_be_signed(&options, &unsigned))
}

/// The signature block and the document without it, once the whole
/// document, the signature block included, is within [`MAX_DEPTH`]: both
/// go through JSON-LD processing, which recurses on nesting.
fn split(document: &Value) -> Result<(Map<String, Value>, Value), LdSignatureError> {
    check_depth(document)?;
    let doc = as_object(document, "document")?;
    let sig = as_object(
        doc.get("signature").ok_or(LdSignatureError::NoSignature)?,
        "signature",
    )?;
    let mut unsigned = doc.clone();
    unsigned.remove("signature");
    Ok((sig.clone(), Value::Object(unsigned)))
}

/// Mastodon's input: hex(SHA-256(URDNA2015(options))) ‖
/// hex(SHA-256(URDNA2015(document without signature))), computed on the
/// calling thread (see [`canon::on_ld_thread`]).
fn to_be_signed(
    signature: &Map<String, Value>,
    unsigned: &Value,
) -> Result<Vec<u8>, LdSignatureError> {
    let mut options = signature.clone();
    for key in ["type", "id", "signatureValue"] {
        options.remove(key);
    }
    options.insert("@context".into(), contexts::IDENTITY_V1.into());
    let mut out = hex_sha256(&canon::canonical_nquads(&Value::Object(options))?);
    out.extend(hex_sha256(&canon::canonical_nquads(unsigned)?));
    Ok(out)
}

fn hex_sha256(s: &str) -> Vec<u8> {
    use std::fmt::Write as _;
    let mut hex = String::with_capacity(64);
    for b in Sha256::digest(s.as_bytes()) {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex.into_bytes()
}

fn check(
    key: &PublicKey,
    signed: &[u8],
    raw: &[u8],
    creator: &Iri,
) -> Result<(), LdSignatureError> {
    match key.verify(Algorithm::RsaV1_5Sha256, signed, raw) {
        Ok(true) => Ok(()),
        Ok(false) => Err(LdSignatureError::Invalid {
            creator: creator.to_string(),
        }),
        Err(source) => Err(LdSignatureError::Key {
            creator: creator.to_string(),
            source,
        }),
    }
}

fn check_rsa(kind: &'static str, creator: &Iri) -> Result<(), LdSignatureError> {
    if kind == "rsa" {
        Ok(())
    } else {
        Err(LdSignatureError::NotRsa {
            kind,
            creator: creator.to_string(),
        })
    }
}

/// Base64 as Mastodon reads it (Ruby's `decode64`): padding optional,
/// whitespace ignored.
fn decode_signature(value: &str) -> Result<Vec<u8>, LdSignatureError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT
        .decode(compact.as_bytes())
        .map_err(|e| LdSignatureError::Malformed {
            field: "signatureValue",
            reason: format!("not base64: {e}"),
        })
}

fn check_depth(v: &Value) -> Result<(), LdSignatureError> {
    // Iterative, so a deep value cannot exhaust the stack here.
    let mut stack = vec![(v, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(m) => Box::new(m.values()),
            Value::Array(a) => Box::new(a.iter()),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return Err(LdSignatureError::TooDeep { limit: MAX_DEPTH });
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    Ok(())
}

fn as_object<'a>(
    v: &'a Value,
    what: &'static str,
) -> Result<&'a Map<String, Value>, LdSignatureError> {
    json_util::as_object(v).map_err(|found| LdSignatureError::NotAnObject { what, found })
}

fn string_field<'a>(
    sig: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, LdSignatureError> {
    match sig.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(LdSignatureError::Malformed {
            field,
            reason: format!("expected a string, found {}", json_kind(other)),
        }),
        None => Err(LdSignatureError::Malformed {
            field,
            reason: "missing".into(),
        }),
    }
}
