//! Soak tests: a server on the library's routes under hostile load, all on
//! 127.0.0.1, bounded in time (under 60 s).
//!
//! - `flood_is_refused_while_honest_peers_are_not`: one hostile origin
//!   floods an inbox with validly signed activities at full speed while two
//!   honest servers follow each other and post; the flood gets `429` with
//!   `Retry-After`, honest deliveries are all accepted on the first try,
//!   and every activity answered `202` is processed; spoofing a new
//!   `keyId` origin per request from the same address is stopped by the
//!   per-address bucket.

#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

mod support;

#[path = "soak/node.rs"]
mod node;

#[path = "soak/flood.rs"]
mod flood;

#[path = "soak/spoof.rs"]
mod spoof;

#[path = "soak/flood_is_refused_while_honest_peers_are_not.rs"]
mod flood_is_refused_while_honest_peers_are_not;
