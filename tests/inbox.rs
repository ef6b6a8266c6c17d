//! Integration tests of `archipel::inbox`: verification of incoming
//! requests and the axum extractor.

mod support;

#[path = "inbox/axum_extractor.rs"]
mod axum_extractor;
#[cfg(feature = "rfc9421")]
#[path = "inbox/rejects_bad_requests.rs"]
mod rejects_bad_requests;
