//! Inbox forwarding (ActivityPub §7.1.2, `archipel::federation::forwarding`)
//! between three real servers on loopback: a reply forwarded to a thread's
//! followers is believed on its actor's LD signature, integrity proof, or
//! its origin's copy; altered, unconfirmable or blocked forwards are
//! refused with their reason.

#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "proof",
    feature = "ld-signatures"
))]

mod support;

#[path = "forwarding/inbox.rs"]
mod inbox;

#[path = "forwarding/node.rs"]
mod node;

#[path = "forwarding/three_servers.rs"]
mod three_servers;

#[path = "forwarding/verifier.rs"]
mod verifier;
