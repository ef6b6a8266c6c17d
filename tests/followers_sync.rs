//! Followers synchronization (FEP-8fcf) between real servers on loopback:
//! a follower dropped on one side without an `Undo` is reconciled on the
//! next delivery; the partial collection is served only to a signed
//! request and lists only the signer's server; hostile headers are refused
//! before anything is fetched.

#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

mod support;

// Shared with the `federation` area; this area uses part of it.
#[allow(dead_code)]
#[path = "support/fed_node.rs"]
mod fed_node;

#[path = "followers_sync/reconciles_a_follower_dropped_without_undo.rs"]
mod reconciles_a_follower_dropped_without_undo;

#[path = "followers_sync/partial_collection_only_to_its_server.rs"]
mod partial_collection_only_to_its_server;

#[path = "followers_sync/hostile_headers_are_refused_without_a_fetch.rs"]
mod hostile_headers_are_refused_without_a_fetch;

#[path = "followers_sync/listed_but_not_following_is_confirmed_or_undone.rs"]
mod listed_but_not_following_is_confirmed_or_undone;
