//! [`LdSignatureError`]: why a document could not be signed, or why its
//! Linked Data Signature did not verify.

use crate::signatures::SignatureError;

/// Errors of the [`ldsig`](crate::ldsig) module.
///
/// Each variant names the offending input: the field, the context URL, the
/// limit exceeded, the signer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdSignatureError {
    /// The document is larger than the accepted size.
    #[error("document of {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The input is not JSON.
    #[error("document is not valid JSON: {0}")]
    NotJson(String),
    /// The document nests objects and arrays deeper than the limit.
    #[error("document nests deeper than {limit} levels")]
    TooDeep {
        /// The limit ([`MAX_DEPTH`](crate::ldsig::MAX_DEPTH)).
        limit: usize,
    },
    /// The document (or its `signature`) is a JSON value other than an
    /// object.
    #[error("{what} must be a JSON object, found {found}")]
    NotAnObject {
        /// What was expected to be an object (`document`, `signature`).
        what: &'static str,
        /// The JSON kind found instead.
        found: &'static str,
    },
    /// The document carries no `signature`.
    #[error("document has no `signature`")]
    NoSignature,
    /// The signature's `type` is not `RsaSignature2017`.
    #[error("signature type {0:?} is not RsaSignature2017")]
    UnsupportedType(String),
    /// A signature field is missing or has the wrong shape.
    #[error("signature field `{field}`: {reason}")]
    Malformed {
        /// The JSON name of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The document names a remote `@context` that is not preloaded.
    /// Contexts are never fetched while verifying: a context served at
    /// verification time could change what the signed bytes mean.
    #[error("remote JSON-LD context {url:?} is not preloaded, and contexts are never fetched")]
    RemoteContext {
        /// The context's URL (cut to 100 characters).
        url: String,
    },
    /// JSON-LD expansion or conversion to RDF failed (an invalid context, a
    /// keyword misused).
    #[error("JSON-LD processing failed: {0}")]
    JsonLd(String),
    /// The document's RDF form is larger than the limit: too many quads or
    /// blank nodes, or canonicalization (URDNA2015) needed more work than
    /// allowed, as a crafted blank-node graph does.
    #[error("RDF canonicalization refused: {what} over the limit of {limit}")]
    TooComplex {
        /// What exceeded its limit (`quads`, `blank nodes`,
        /// `hash-n-degree-quads calls`).
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Canonicalization failed for another reason.
    #[error("RDF canonicalization (URDNA2015) failed: {0}")]
    Canonicalization(String),
    /// The key is not an RSA key, which `RsaSignature2017` requires.
    #[error("RsaSignature2017 needs an RSA key, got {kind} for {creator}")]
    NotRsa {
        /// The key type found (`ed25519`).
        kind: &'static str,
        /// The signature's `creator`.
        creator: String,
    },
    /// The key could not be resolved, read or used.
    #[error("key {creator}: {source}")]
    Key {
        /// The signature's `creator` (or key file) concerned.
        creator: String,
        /// The underlying key error.
        source: SignatureError,
    },
    /// The signature does not match the document: it was altered, or
    /// signed by another key.
    #[error(
        "signature by {creator} does not verify: the document was altered or signed by another key"
    )]
    Invalid {
        /// The signature's `creator`.
        creator: String,
    },
    /// The document's contexts can make its JSON say something its RDF
    /// graph, which the signature covers, does not: an inline context that
    /// resets, redefines or aliases a term, sets `@vocab` or `@base`, or a
    /// `@context` below the top level
    /// ([`check_coverage`](crate::ldsig::check_coverage)).
    #[error("JSON-LD context refused: {reason}")]
    UnsafeContext {
        /// What the context does.
        reason: String,
    },
    /// A member of the document is dropped by JSON-LD processing, so the
    /// signature does not cover it ([`check_coverage`](crate::ldsig::check_coverage)).
    #[error("member `{member}` is not covered by the signature (JSON-LD drops it)")]
    Uncovered {
        /// The member (or `type NAME`, `id VALUE`), cut to 100 characters.
        member: String,
    },
}

// One helper for every signed-object module: crate::json_util.
pub(crate) use crate::json_util::cut;
