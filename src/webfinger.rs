//! WebFinger (RFC 7033): `acct:` URIs, JRD documents, the client lookup with
//! host-meta (RFC 6415) fallback, and the server-side responder.

/// Errors of the `webfinger` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebFingerError {}
