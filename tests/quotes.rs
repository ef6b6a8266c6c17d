//! FEP-044f quote posts (`archipel::federation::quotes`) between real
//! servers on loopback: a quote is authorized automatically, after manual
//! approval, or refused, and can be revoked; a receiver shows a quote as a
//! quote only once its authorization, fetched from the quoted author's
//! origin, names it; forged authorizations are refused with their reason.

#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

mod support;

#[path = "quotes/node.rs"]
mod node;

#[path = "quotes/two_instances.rs"]
mod two_instances;

#[path = "quotes/forged.rs"]
mod forged;

#[path = "quotes/rules.rs"]
mod rules;
