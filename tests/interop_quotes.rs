//! Interoperability with Fedify 2 (npm `@fedify/fedify` 2.3.6, run by
//! `tests/interop/fedify2/peer.mjs`) on what current Mastodon speaks beyond
//! follows and posts: FEP-044f quote posts (`QuoteRequest`,
//! `QuoteAuthorization`, `interactionPolicy`) and account migration
//! (`Move`), both ways, between a server built only on
//! `archipel::federation` and the Fedify peer, on loopback.
//!
//! What the peer showed (kept by these tests):
//! - Fedify writes the public collection as the compact `as:Public` in an
//!   `interactionPolicy`; archipel reads it as public.
//! - Fedify reads nothing from a document without `@context` (JSON-LD):
//!   served objects get the ActivityStreams context.
//! - Fedify reads `interactingObject`/`interactionTarget` only when the
//!   context types them as IRIs (as GoToSocial's does, not Mastodon's).
//! - After a `403` Fedify knocks again in the other signature dialect; the
//!   inbox answers that second knock `202` as a duplicate.
//!
//! Needs the peer installed (`bash tests/interop/fedify2/setup.sh`, run by
//! `tests/setup.sh`); without it each test prints a notice and skips, or
//! fails under `ARCHIPEL_REQUIRE_PEERS=1`.

#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

mod support;

#[path = "interop_quotes/peer.rs"]
mod peer;

#[path = "interop_quotes/node.rs"]
mod node;

#[path = "interop_quotes/documents.rs"]
mod documents;

#[path = "interop_quotes/moves.rs"]
mod moves;

#[path = "interop_quotes/quotes.rs"]
mod quotes;
