//! The `bookwyrm_like` example, run in-process over real loopback HTTP:
//! two instances federating books, shelves and reviews, and one
//! `minimal_server` receiving them as plain articles; its pages for people
//! rendered in headless Chromium; its state across a restart. Its
//! vocabulary is tested in the `vocab` area.

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
// exercise exactly the code `cargo run --example bookwyrm_like` runs. They
// name each other through `super::`, so they live in one module here, apart
// from the minimal_server modules, which must sit at the crate root.
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like"]
mod bookwyrm_like {
    pub mod books;
    pub mod inbound;
    pub mod pages;
    pub mod routes;
    pub mod server;
    pub mod store;
}

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

// Helpers shared by the tests below: start an instance, wait.
#[path = "bookwyrm/node.rs"]
mod node;

#[path = "bookwyrm/federation.rs"]
mod federation;
#[path = "bookwyrm/pages.rs"]
mod pages_in_chromium;
#[path = "bookwyrm/restart.rs"]
mod restart;
