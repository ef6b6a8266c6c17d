//! The example servers, run in-process and over real loopback HTTP:
//! `minimal_server` (federation, inbox statuses, restarts on one data
//! directory) and `bookwyrm_like` (its vocabulary and federation).

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
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/books.rs"]
mod books;
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
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/routes.rs"]
mod routes;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/server.rs"]
mod server;

#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[path = "examples/bookwyrm_like_federation.rs"]
mod bookwyrm_like_federation;
#[path = "examples/bookwyrm_like_vocab_roundtrip.rs"]
mod bookwyrm_like_vocab_roundtrip;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[path = "examples/minimal_server_data_dir_survives_restart.rs"]
mod minimal_server_data_dir_survives_restart;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[path = "examples/minimal_server_federation.rs"]
mod minimal_server_federation;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[path = "examples/minimal_server_inbox_statuses.rs"]
mod minimal_server_inbox_statuses;
#[cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]
#[path = "examples/minimal_server_trusts_only_vouched_objects.rs"]
mod minimal_server_trusts_only_vouched_objects;
