//! [`SignatureError`]: every way signing or verification can fail.

use super::Spec;

/// Errors of the `signatures` module.
///
/// Each rejection has its own variant so that callers (and tests) can tell
/// a stale request from a forged one, and each message names the offending
/// input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The request carries no `Signature` (or `Signature-Input`) header.
    #[error("request is not signed: no Signature header")]
    MissingSignature,
    /// A header could not be parsed; `position` is the byte offset in the
    /// header value where parsing stopped.
    #[error("{header} header: {reason} at byte {position}")]
    MalformedHeader {
        /// The header name.
        header: &'static str,
        /// Byte offset of the fault in the header value.
        position: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A header value is longer than [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN).
    #[error("{header} header: {len} bytes exceeds the limit of {max}")]
    HeaderTooLarge {
        /// The header name.
        header: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A required signature parameter is absent.
    #[error("{header} header: missing {parameter} parameter")]
    MissingParameter {
        /// The header name.
        header: &'static str,
        /// The parameter (`keyId`, `signature`, `keyid`, …).
        parameter: &'static str,
    },
    /// The signature's algorithm is unknown, not accepted by the policy, or
    /// does not fit the key type.
    #[error("unsupported signature algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// The signature's dialect is not accepted by the policy (or its cargo
    /// feature is off).
    #[error("signature dialect {0} is not accepted")]
    UnsupportedSpec(Spec),
    /// The policy requires a component that the signature does not cover.
    #[error("signature does not cover required component `{0}`")]
    MissingComponent(String),
    /// The signature covers a component that the request does not have.
    #[error("signature covers `{0}` but the request has no such component")]
    AbsentComponent(String),
    /// The signature names a component we cannot compute (unknown derived
    /// component or parameter).
    #[error("unsupported covered component `{0}`")]
    UnsupportedComponent(String),
    /// The `Date` header or `created` parameter is older than the policy allows.
    #[error("signature is stale: signed {age_secs} s ago, limit {max_secs} s")]
    StaleDate {
        /// Seconds between the signing time and now.
        age_secs: u64,
        /// The policy's limit.
        max_secs: u64,
    },
    /// The `Date` header or `created` parameter is further in the future
    /// than the clock-skew allowance.
    #[error("signature is from the future: {ahead_secs} s ahead, limit {max_secs} s")]
    FutureDate {
        /// Seconds between now and the signing time.
        ahead_secs: u64,
        /// The policy's limit.
        max_secs: u64,
    },
    /// The signature's `expires` time has passed.
    #[error("signature expired {ago_secs} s ago")]
    Expired {
        /// Seconds since expiry.
        ago_secs: u64,
    },
    /// The `Date` header is not an HTTP date.
    #[error("Date header `{0}` is not an HTTP date")]
    InvalidDate(String),
    /// The body does not match the signed digest header.
    #[error("{header} header does not match the body ({algorithm})")]
    DigestMismatch {
        /// `Digest` or `Content-Digest`.
        header: &'static str,
        /// The digest algorithm that was compared.
        algorithm: &'static str,
    },
    /// A digest header carries no algorithm we support (SHA-256, SHA-512).
    #[error("{header} header has no supported digest algorithm (got `{got}`)")]
    UnsupportedDigest {
        /// `Digest` or `Content-Digest`.
        header: &'static str,
        /// The algorithm names seen.
        got: String,
    },
    /// The key resolver does not know the key id.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// The key resolver failed (network, store) for this key id.
    #[error("could not resolve key `{key_id}`: {reason}")]
    KeyResolution {
        /// The key id.
        key_id: String,
        /// What went wrong.
        reason: String,
    },
    /// The signature does not verify with the key.
    #[error("signature by `{key_id}` does not verify")]
    BadSignature {
        /// The key id the signature claims.
        key_id: String,
    },
    /// A key could not be decoded.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Key generation or signing failed inside the crypto backend.
    #[error("crypto backend failure: {0}")]
    Crypto(String),
    /// The request to sign lacks something signing needs.
    #[error("cannot sign request: {0}")]
    InvalidRequest(&'static str),
}
