//! The `minimal_server` example, run in-process and over real loopback
//! HTTP: federation, inbox statuses, private posts, restarts on one data
//! directory, a hostile peer, and interop with the Fedify peer (npm).
//! `bookwyrm_like` has its own test crate, `tests/bookwyrm.rs`.

// The example servers need all of these (their required-features).
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "rfc9421",
    feature = "sqlite"
))]

mod support;

// The minimal_server example's modules, compiled into this crate so the
// tests exercise exactly the code `cargo run --example minimal_server` runs.
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

#[path = "examples/minimal_server_admin_page.rs"]
mod minimal_server_admin_page;
#[path = "examples/minimal_server_data_dir_survives_restart.rs"]
mod minimal_server_data_dir_survives_restart;
#[path = "examples/minimal_server_federation.rs"]
mod minimal_server_federation;
#[path = "examples/minimal_server_followers_sync.rs"]
mod minimal_server_followers_sync;
#[path = "examples/minimal_server_hostile_peer.rs"]
mod minimal_server_hostile_peer;
#[path = "examples/minimal_server_inbox_statuses.rs"]
mod minimal_server_inbox_statuses;
#[path = "examples/minimal_server_interop_fedify.rs"]
mod minimal_server_interop_fedify;
#[path = "examples/minimal_server_locked_account.rs"]
mod minimal_server_locked_account;
#[path = "examples/minimal_server_move.rs"]
mod minimal_server_move;
#[path = "examples/minimal_server_private_posts.rs"]
mod minimal_server_private_posts;
#[path = "examples/minimal_server_quotes.rs"]
mod minimal_server_quotes;
#[path = "examples/minimal_server_quotes_restart.rs"]
mod minimal_server_quotes_restart;
#[path = "examples/minimal_server_restart_mid_fanout.rs"]
mod minimal_server_restart_mid_fanout;
#[path = "examples/minimal_server_trusts_only_vouched_objects.rs"]
mod minimal_server_trusts_only_vouched_objects;
