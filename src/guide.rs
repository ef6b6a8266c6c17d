//! # The archipel guide
//!
//! Reference documentation says what each item does; this guide says what
//! to use when, in the order a newcomer to the crate meets the concepts.
//! It assumes you know what ActivityPub is (actors, inboxes, activities,
//! addressing) but not this crate. Each chapter is a page of this module,
//! and every code block in it is a test that compiles and runs (the one
//! that needs a PostgreSQL server is compiled only).
//!
//! | chapter | what you learn | cargo features |
//! |---|---|---|
//! | 1. [`decode`] | decoding what servers send: typed, tolerant, lossless | none |
//! | 2. [`serve_an_actor`] | publishing an actor, its keys and its WebFinger answer | none (`axum` for the routes) |
//! | 3. [`inbox`] | verifying an inbox POST and dispatching it to typed handlers | `axum` |
//! | 4. [`deliver`] | sending to followers: audience, recipients, the queue, workers | `delivery` |
//! | 5. [`durable_queues`] | deliveries that survive a restart: SQLite, retries, dead hosts | `sqlite`, `delivery` |
//! | 6. [`postgres`] | several worker processes sharing one PostgreSQL queue | `postgres`, `delivery`, `client` |
//! | 7. [`your_own_vocabulary`] | declaring your own types, rich for peers that know them, plain for others | none |
//!
//! The chapters are also plain Markdown files in the repository's `docs/`
//! folder, readable without building the documentation.

// Chapters gated on features link to each other and to gated items; when a
// feature is off, those pages and items are absent and a link to them would
// warn. The published documentation is built with every feature.
#![cfg_attr(
    not(all(
        feature = "axum",
        feature = "client",
        feature = "delivery",
        feature = "sqlite",
        feature = "postgres"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

#[doc = include_str!("../docs/01-decode.md")]
pub mod decode {}

#[doc = include_str!("../docs/02-serve-an-actor.md")]
pub mod serve_an_actor {}

// `Federation::dispatcher` is defined with the axum routes.
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
#[doc = include_str!("../docs/03-inbox.md")]
pub mod inbox {}

#[cfg(feature = "delivery")]
#[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
#[doc = include_str!("../docs/04-deliver.md")]
pub mod deliver {}

#[cfg(all(feature = "sqlite", feature = "delivery"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "sqlite", feature = "delivery"))))]
#[doc = include_str!("../docs/05-durable-queues.md")]
pub mod durable_queues {}

#[cfg(all(feature = "postgres", feature = "delivery", feature = "client"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "postgres", feature = "delivery", feature = "client")))
)]
#[doc = include_str!("../docs/06-postgres.md")]
pub mod postgres {}

#[doc = include_str!("../docs/07-your-own-vocabulary.md")]
pub mod your_own_vocabulary {}
