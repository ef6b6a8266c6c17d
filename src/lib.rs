//! # archipel
//!
//! Embeddable ActivityPub federation primitives for Rust: the typed
//! ActivityStreams 2.0 / ActivityPub vocabulary, HTTP Signatures
//! (draft-cavage-12 and RFC 9421), WebFinger, NodeInfo, safe fetching and
//! delivery.
//!
//! The core is pure: it works on [`http::Request`] / [`http::Response`]
//! values and byte buffers, so it fits any HTTP framework, or a test
//! without a server. Everything that needs a runtime, a network client or
//! a store sits behind a small trait, with default implementations behind
//! cargo features.

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod delivery;
pub mod error;
pub mod fetch;
pub mod nodeinfo;
pub mod policy;
pub mod signatures;
pub mod vocab;
pub mod webfinger;

pub use error::{Error, Result};
