//! Integration tests of the two-stage fan-out
//! (`archipel::federation::fanout`): a post to followers costs the poster
//! one job, workers expand it in batches into one delivery per shared
//! inbox, resume after a crash from their checkpoint, and keep a `Delete`
//! behind the `Create` it follows.

#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "sqlite"
))]

mod support;

#[path = "fanout/common.rs"]
mod common;

#[path = "fanout/one_job_per_post.rs"]
mod one_job_per_post;

#[path = "fanout/one_copy_per_shared_inbox.rs"]
mod one_copy_per_shared_inbox;

#[path = "fanout/restart_mid_expansion.rs"]
mod restart_mid_expansion;

#[path = "fanout/delete_follows_create.rs"]
mod delete_follows_create;
