//! Integration tests of `archipel::client` and `archipel::fetch`: the
//! guarded HTTP client (SSRF, size, redirects, timeouts) and dereferencing.

mod support;

#[path = "client/address_matches_python.rs"]
mod address_matches_python;
#[path = "client/fetch_dereference.rs"]
mod fetch_dereference;
#[path = "client/policy_enforced.rs"]
mod policy_enforced;
