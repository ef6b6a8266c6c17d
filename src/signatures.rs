//! HTTP Signatures: draft-cavage-12 and RFC 9421, `Digest` and RFC 9530
//! `Content-Digest`, keys, signing and policy-driven verification.

/// Errors of the `signatures` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {}
