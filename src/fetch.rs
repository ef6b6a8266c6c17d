//! Dereferencing ActivityStreams IRIs: content negotiation, optional signed
//! GET (authorized fetch), origin checks and typed decoding.

/// Errors of the `fetch` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {}
