//! The outgoing HTTP side: the `HttpClient` trait, the `FetchPolicy` it
//! enforces (timeouts, size caps, redirects, private-address refusal) and a
//! default implementation behind the `client` feature.

/// Errors of the `client` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {}
