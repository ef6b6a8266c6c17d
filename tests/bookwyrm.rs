//! The `bookwyrm_like` example, run in-process over real loopback HTTP:
//! two instances federating books, shelves and reviews, and one
//! `minimal_server` receiving them as plain articles. Its vocabulary is
//! tested in the `vocab` area.

// The example servers need all of these (their required-features).
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]

mod support;

// The bookwyrm_like example's modules, compiled into this crate so the tests
// exercise exactly the code `cargo run --example bookwyrm_like` runs.
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/books.rs"]
mod books;
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/routes.rs"]
mod routes;
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/server.rs"]
mod server;

// The minimal_server example's modules: the Mastodon-style peer.
#[allow(dead_code)]
#[path = "../examples/minimal_server/app.rs"]
mod app;
#[allow(dead_code)]
#[path = "../examples/minimal_server/inbound.rs"]
mod inbound;
#[allow(dead_code)]
#[path = "../examples/minimal_server/outbound.rs"]
mod outbound;
#[allow(dead_code)]
#[path = "../examples/minimal_server/store.rs"]
mod store;
// Helpers around a running minimal_server (they need `crate::app`).
#[allow(dead_code)]
#[path = "support/minimal_server.rs"]
mod minimal_server;

#[path = "bookwyrm/federation.rs"]
mod federation;
