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
    /// The key resolver could not, or would not, produce a key for this
    /// key id (network, store, a document that does not vouch for it).
    #[error("could not resolve key `{key_id}`: {reason}")]
    KeyResolution {
        /// The key id.
        key_id: String,
        /// Why, as a typed [`KeyRefusal`].
        reason: KeyRefusal,
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

/// Why a key id did not yield a key: the typed reason inside
/// [`SignatureError::KeyResolution`].
///
/// The variants say whether anything was fetched: `InvalidKeyId`,
/// `Blocked`, `OverBudget` and `RecentlyFailed` are decided before any
/// request. [`KeyRefusal::is_transient`] tells a refusal worth retrying
/// later (a budget, a network failure) from a forged or broken key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRefusal {
    /// The key id is not an absolute `http(s)` IRI.
    #[error("the key id is not an absolute http(s) IRI")]
    InvalidKeyId,
    /// The key's (or its owner's) host is blocked by the domain policy; no
    /// request was made.
    #[error("host {host:?} is blocked by the domain policy")]
    Blocked {
        /// The normalized host.
        host: String,
    },
    /// Key fetches to this host are over their budget; no request was made.
    #[error("key fetches to {host:?} are over budget, try again later")]
    OverBudget {
        /// The host whose budget is spent.
        host: String,
    },
    /// The same key id failed recently and is not fetched again until the
    /// negative cache entry expires; `reason` is the original failure.
    #[error("failed recently, not fetched again yet: {reason}")]
    RecentlyFailed {
        /// The original failure, as text.
        reason: String,
    },
    /// The document was served with a media type that is not JSON
    /// (`application/activity+json`, `application/ld+json`,
    /// `application/json`).
    #[error("{url}: Content-Type {content_type:?} is not a JSON media type")]
    NotJson {
        /// The URL fetched.
        url: String,
        /// The `Content-Type` received.
        content_type: String,
    },
    /// The fetch was redirected to another origin.
    #[error("{url}: redirected to another origin ({final_url})")]
    CrossOriginRedirect {
        /// The URL asked for.
        url: String,
        /// The URL the redirects led to.
        final_url: String,
    },
    /// The document's `id` is not on the origin it was fetched from, or the
    /// document is not served at its own `id`.
    #[error("document id {id:?} does not match the URL fetched ({fetched})")]
    NotAuthoritative {
        /// The `id` the document claims.
        id: String,
        /// The URL finally fetched.
        fetched: String,
    },
    /// The key's document (or its owner's) answered `404 Not Found` or
    /// `410 Gone`: the actor was deleted, so its signature cannot be
    /// checked. An inbox may still accept a self-delete of such an actor
    /// once its origin confirms it ([`inbox::gone`](crate::inbox::gone)).
    #[error("{url}: the key's document is gone ({status})")]
    Gone {
        /// The URL fetched.
        url: String,
        /// `404` or `410`.
        status: u16,
    },
    /// Fetching a document failed otherwise (network, status, body).
    #[error("{0}")]
    Fetch(String),
    /// The fetched document does not publish the key.
    #[error("document {document:?} does not publish this key")]
    NotPublished {
        /// The document's `id`.
        document: String,
    },
    /// The key names an owner other than the actor document publishing it.
    #[error("key is owned by {owner:?}, not by the actor {document:?} publishing it")]
    OwnerMismatch {
        /// The owner the key names.
        owner: String,
        /// The actor document that publishes it.
        document: String,
    },
    /// A standalone key document names an owner whose actor document does
    /// not list the key in `publicKey` or `assertionMethod`.
    #[error("owner {owner:?} does not list this key in publicKey or assertionMethod")]
    NotListedByOwner {
        /// The owner the key document names.
        owner: String,
    },
    /// The key material does not decode (`publicKeyPem`,
    /// `publicKeyMultibase`).
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    /// Any other reason, for resolvers outside this crate.
    #[error("{0}")]
    Other(String),
}

impl KeyRefusal {
    /// Whether the refusal says nothing about the key itself and a retry
    /// later may succeed: [`OverBudget`](Self::OverBudget). (Network
    /// failures are [`Fetch`](Self::Fetch) and are negative-cached like
    /// any other failure, so they are not retried at once either.)
    pub fn is_transient(&self) -> bool {
        matches!(self, KeyRefusal::OverBudget { .. })
    }
}
