//! HTTP Signatures: draft-cavage-12 and RFC 9421, `Digest` and RFC 9530
//! `Content-Digest`, keys, signing and policy-driven verification.
//!
//! Servers on the Fediverse authenticate each other by signing requests.
//! Two dialects are in use: the older draft-cavage-http-signatures-12
//! `Signature` header (Mastodon, Pleroma, Misskey, GoToSocial, Lemmy) and
//! RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`,
//! behind the `rfc9421` feature). [`Signer`] adds `Host`, `Date`, a body
//! digest and a signature to an [`http::Request`]; [`Verifier`] checks one
//! against a [`VerifyPolicy`] and a [`KeyResolver`] that maps a `keyId` to
//! a [`PublicKey`] and its owner.
//!
//! ```
//! use archipel::signatures::{PrivateKey, Signer, Spec};
//! # fn main() -> Result<(), archipel::signatures::SignatureError> {
//! # let key = PrivateKey::from_pem(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem")))?;
//! let signer = Signer::new("https://example.com/users/alice#main-key", key).spec(Spec::Cavage);
//! let mut req = http::Request::post("https://remote.example/inbox")
//!     .header("content-type", "application/activity+json")
//!     .body(bytes::Bytes::from_static(b"{}"))
//!     .unwrap();
//! signer.sign(&mut req)?;
//! assert!(req.headers().contains_key("signature"));
//! assert!(req.headers().contains_key("digest"));
//! # Ok(()) }
//! ```

#[cfg(feature = "rfc9421")]
#[cfg_attr(docsrs, doc(cfg(feature = "rfc9421")))]
pub mod accept_signature;
mod cavage;
mod digest;
mod error;
pub(crate) mod keys;
#[cfg(feature = "rfc9421")]
mod rfc9421;
mod signer;
mod verifier;

#[cfg(feature = "rfc9421")]
#[cfg_attr(docsrs, doc(cfg(feature = "rfc9421")))]
pub use rfc9421::{ComponentId, SignatureInput, parse_signature_input, sign_with_input};

pub use cavage::{CavageSignature, parse_cavage_signature};
pub use digest::{BodyDigest, DigestAlgorithm, parse_content_digest, parse_digest_header};
pub use error::{KeyRefusal, SignatureError};
pub use keys::{PrivateKey, PublicKey};
pub use signer::Signer;
pub use verifier::{KeyResolver, MemoryKeyResolver, ResolvedKey, Verified, Verifier, VerifyPolicy};

/// Which HTTP signature dialect a request is signed or verified with.
///
/// Mastodon and most of the Fediverse speak [`Spec::Cavage`]; newer
/// servers also accept [`Spec::Rfc9421`].
///
/// It is also the dialect a delivery job was signed with, as recorded in
/// delivery queues and reports (serialized as `"Cavage"` / `"Rfc9421"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Spec {
    /// draft-cavage-http-signatures-12: one `Signature` header with
    /// `keyId`, `algorithm`, `headers` and `signature` parameters.
    Cavage,
    /// RFC 9421 HTTP Message Signatures: `Signature-Input` and `Signature`
    /// structured fields (needs the `rfc9421` feature).
    Rfc9421,
}

impl Spec {
    /// The short name used in reports and the command-line example:
    /// `"cavage"` or `"rfc9421"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Spec::Cavage => "cavage",
            Spec::Rfc9421 => "rfc9421",
        }
    }

    /// The other dialect, for a delivery's second knock.
    #[cfg_attr(not(feature = "delivery"), allow(dead_code))]
    pub(crate) fn other(self) -> Spec {
        match self {
            Spec::Cavage => Spec::Rfc9421,
            Spec::Rfc9421 => Spec::Cavage,
        }
    }
}

impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signature algorithm: the cryptographic operation, independent of the
/// dialect's name for it.
///
/// draft-cavage `rsa-sha256` and `hs2019` with an RSA key are both
/// [`Algorithm::RsaV1_5Sha256`]; `hs2019` with an Ed25519 key is
/// [`Algorithm::Ed25519`] (RFC 9421 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 9421 §3.3.2, cavage `rsa-sha256`).
    RsaV1_5Sha256,
    /// RSASSA-PSS with SHA-512, MGF1 SHA-512, 64-byte salt (RFC 9421 §3.3.1).
    RsaPssSha512,
    /// EdDSA over edwards25519 (RFC 9421 §3.3.6; needs the `ed25519` feature).
    Ed25519,
}

impl Algorithm {
    /// The RFC 9421 registry name: `rsa-v1_5-sha256`, `rsa-pss-sha512`,
    /// `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RsaV1_5Sha256 => "rsa-v1_5-sha256",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// Parses an RFC 9421 `alg` parameter value.
    pub fn from_rfc9421_name(name: &str) -> Option<Self> {
        match name {
            "rsa-v1_5-sha256" => Some(Algorithm::RsaV1_5Sha256),
            "rsa-pss-sha512" => Some(Algorithm::RsaPssSha512),
            "ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Upper bound on the length of any signature-related header value we
/// parse (`Signature`, `Signature-Input`, `Digest`, `Content-Digest`).
///
/// Real headers are a few hundred bytes (a 4096-bit RSA signature is 684
/// base64 characters); 8 KiB leaves room for long key ids and many
/// covered headers while bounding work on hostile input.
pub const MAX_HEADER_LEN: usize = 8 * 1024;
