//! NodeInfo 2.0 / 2.1 documents, discovery through `/.well-known/nodeinfo`,
//! and the server-side documents.

/// Errors of the `nodeinfo` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeInfoError {}
