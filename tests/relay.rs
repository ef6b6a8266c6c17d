//! Relays (`archipel::federation::relay`) between real servers on
//! loopback, through a relay written in the test that behaves like
//! pub-relay or like Pleroma's LitePub relay: subscribing and
//! unsubscribing, public posts reaching the other subscriber and believed
//! as their author's (LD signature, integrity proof, or the origin's
//! copy), altered copies refused, followers-only posts never relayed.

#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "proof",
    feature = "ld-signatures"
))]

mod support;

#[path = "relay/node.rs"]
mod node;

#[path = "relay/relay_server.rs"]
mod relay_server;

#[path = "relay/subscriptions.rs"]
mod subscriptions;

#[path = "relay/fedify.rs"]
mod fedify;
