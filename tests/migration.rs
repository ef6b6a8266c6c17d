//! Account migration (`archipel::federation::migration`) between three
//! real servers on loopback, each requiring signed fetches: an account
//! moves, and its followers on a third server follow the new account;
//! forged `Move`s are refused with their reason and move nobody.

#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

mod support;

#[path = "migration/node.rs"]
mod node;

#[path = "migration/three_servers.rs"]
mod three_servers;
