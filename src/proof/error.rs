//! [`ProofError`]: why a document could not be signed, or why its proof did
//! not verify.

use crate::fetch::FetchError;
use crate::signatures::SignatureError;

/// Errors of the [`proof`](crate::proof) module.
///
/// Each variant names the offending input: the field, the value (cut to a
/// readable length), the verification method.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The document is larger than the accepted size.
    #[error("document of {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit it exceeded.
        limit: usize,
    },
    /// The input is not JSON, or is nested too deeply to parse.
    #[error("document is not valid JSON: {0}")]
    NotJson(String),
    /// The document (or a proof inside it) is a JSON value other than an object.
    #[error("{what} must be a JSON object, found {found}")]
    NotAnObject {
        /// What was expected to be an object (`document`, `proof`).
        what: &'static str,
        /// The JSON kind found instead.
        found: &'static str,
    },
    /// The document carries no `proof`.
    #[error("document has no `proof`")]
    NoProof,
    /// The document carries more proofs than the verifier accepts.
    #[error("document carries {count} proofs, more than the limit of {limit}")]
    TooManyProofs {
        /// How many proofs the document carries.
        count: usize,
        /// The limit ([`MAX_PROOFS`](crate::proof::MAX_PROOFS)).
        limit: usize,
    },
    /// A proof field is missing or has the wrong shape.
    #[error("proof field `{field}`: {reason}")]
    Malformed {
        /// The JSON name of the field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The proof's `type` is not `DataIntegrityProof`.
    #[error("proof type {0:?} is not DataIntegrityProof")]
    UnsupportedType(String),
    /// The proof's `cryptosuite` is not `eddsa-jcs-2022` (or its draft name
    /// `jcs-eddsa-2022`).
    #[error("cryptosuite {0:?} is not supported (only eddsa-jcs-2022)")]
    UnsupportedCryptosuite(String),
    /// The proof's `proofPurpose` is not `assertionMethod`.
    #[error("proofPurpose {0:?} is not assertionMethod")]
    WrongPurpose(String),
    /// `proofValue` is not a base58btc multibase Ed25519 signature.
    #[error("proofValue {value:?}: {reason}")]
    ProofValue {
        /// The value (cut to 100 characters).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A proof names a `previousProof` that is not in the document.
    #[error("previousProof {0:?} is not among the document's proofs")]
    PreviousProofMissing(String),
    /// The document could not be canonicalized (RFC 8785), e.g. a number
    /// that is not finite.
    #[error("JSON canonicalization (RFC 8785) failed: {0}")]
    Canonicalization(String),
    /// The key is not an Ed25519 key, which `eddsa-jcs-2022` requires.
    #[error("eddsa-jcs-2022 needs an Ed25519 key, got {kind} for {verification_method}")]
    NotEd25519 {
        /// The key type found (`rsa`).
        kind: &'static str,
        /// The verification method it stands for.
        verification_method: String,
    },
    /// The key could not be read or used.
    #[error("key for {verification_method}: {source}")]
    Key {
        /// The verification method (or key file) concerned.
        verification_method: String,
        /// The underlying key error.
        source: SignatureError,
    },
    /// The signature does not match the document: it was altered, or signed
    /// by another key.
    #[error(
        "proof by {verification_method} does not verify: the document was altered or signed by another key"
    )]
    Invalid {
        /// The proof's `verificationMethod`.
        verification_method: String,
    },
    /// The controller document of a verification method could not be fetched.
    #[error("fetching the controller of {verification_method}: {source}")]
    Fetch {
        /// The proof's `verificationMethod`.
        verification_method: String,
        /// The fetch failure (boxed: it is large, and rare).
        source: Box<FetchError>,
    },
    /// The controller document does not list the verification method in its
    /// `assertionMethod` as a `Multikey` it controls.
    #[error(
        "{controller} does not list {verification_method} as a Multikey it controls in assertionMethod"
    )]
    MethodNotFound {
        /// The proof's `verificationMethod`.
        verification_method: String,
        /// The document fetched for it.
        controller: String,
    },
    /// The verification method is on another origin than the document it
    /// signs (FEP-8b32, FEP-fe34 origin-based security).
    #[error(
        "verification method {verification_method} is not on the origin of document {document}"
    )]
    OriginMismatch {
        /// The proof's `verificationMethod`.
        verification_method: String,
        /// The signed document's `id`.
        document: String,
    },
}

// One helper for every signed-object module: crate::json_util.
pub(crate) use crate::json_util::cut;
