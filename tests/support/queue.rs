//! Delivery-queue test support: the conformance suite run against every
//! backend, PostgreSQL plumbing, and the loopback farm and worker child
//! processes of the crash and multi-worker tests.

#[cfg(feature = "delivery")]
pub mod child;
#[macro_use]
pub mod conformance;
#[cfg(feature = "delivery")]
pub mod farm;
pub mod pg;
