//! Delivery-queue test support: the conformance suite run against every
//! backend, PostgreSQL plumbing, the loopback farm and worker child
//! processes of the crash and multi-worker tests, and a queue whose calls
//! a test can change (`hooked`).

#[cfg(feature = "delivery")]
pub mod child;
#[macro_use]
pub mod conformance;
#[cfg(feature = "delivery")]
pub mod farm;
pub mod hooked;
pub mod pg;
