//! Interoperability with independent HTTP-signature implementations: the
//! Python and Node libraries against archipel's signer and verifier. Peers
//! come from `tests/setup.sh`; see `support::skip_or_fail`. (The Fedify
//! ActivityPub peer runs against the minimal_server example, so its test is
//! in the `examples` area: `minimal_server_interop_fedify`.)

mod support;

#[path = "interop/signature_peers.rs"]
mod signature_peers;
