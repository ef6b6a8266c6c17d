//! Hostile peers against real servers on loopback: one submodule per attack
//! of issue 12, each refused with its documented status or typed error.

mod support;

#[cfg(all(feature = "delivery", feature = "client"))]
#[path = "hostile/delivery_peer.rs"]
mod delivery_peer;
#[cfg(all(feature = "delivery", feature = "client"))]
#[path = "hostile/delivery_redirects_are_not_followed.rs"]
mod delivery_redirects_are_not_followed;
#[cfg(all(feature = "delivery", feature = "client"))]
#[path = "hostile/nested_bcc_never_reaches_the_wire.rs"]
mod nested_bcc_never_reaches_the_wire;
