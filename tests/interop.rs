//! Interoperability with independent implementations: the Fedify
//! ActivityPub server (npm) against the minimal_server example, and the
//! Python and Node HTTP-signature libraries against archipel's signer and
//! verifier. Peers come from `tests/setup.sh`; see `support::skip_or_fail`.

mod support;

// The minimal_server example's modules, compiled into this crate so the
// tests exercise exactly the code `cargo run --example minimal_server` runs.
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "../examples/minimal_server/app.rs"]
mod app;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "../examples/minimal_server/fed.rs"]
mod fed;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "../examples/minimal_server/inbound.rs"]
mod inbound;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "../examples/minimal_server/outbound.rs"]
mod outbound;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "../examples/minimal_server/store.rs"]
mod store;
// Helpers around a running minimal_server (they need `crate::app`).
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "support/minimal_server.rs"]
mod minimal_server;

#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[path = "interop/fedify.rs"]
mod fedify;
#[path = "interop/signature_peers.rs"]
mod signature_peers;
