//! Integration tests of the inbound queue (`archipel::inbox::queue`) and
//! the gone-actor path (`archipel::inbox::gone`): retries and give-ups,
//! a crash and restart on SQLite, two workers sharing one PostgreSQL
//! schema, the inbox route answering only once an activity is stored, and
//! the self-delete of an actor whose server answers `410`.

#![cfg(all(
    feature = "delivery",
    feature = "sqlite",
    feature = "ed25519",
    feature = "axum",
    feature = "client"
))]

#[macro_use]
mod support;

#[path = "inbound_queue/common.rs"]
mod common;

#[path = "inbound_queue/retry_and_give_up.rs"]
mod retry_and_give_up;

#[path = "inbound_queue/restart_sqlite.rs"]
mod restart_sqlite;

#[path = "inbound_queue/two_workers_postgres.rs"]
mod two_workers_postgres;

#[path = "inbound_queue/route.rs"]
mod route;

#[path = "inbound_queue/gone_actor.rs"]
mod gone_actor;

#[path = "inbound_queue/depth_cap.rs"]
mod depth_cap;

#[path = "inbound_queue/stress_many_origins.rs"]
mod stress_many_origins;
