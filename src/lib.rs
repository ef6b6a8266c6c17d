//! # archipel
//!
//! Embeddable ActivityPub federation primitives for Rust: the typed
//! ActivityStreams 2.0 / ActivityPub vocabulary ([`vocab`]), HTTP Signatures
//! in both dialects in use, draft-cavage-12 and RFC 9421 ([`signatures`]),
//! WebFinger ([`webfinger`]), NodeInfo ([`nodeinfo`]), safe fetching
//! ([`client`], [`fetch`]), domain and consent policy ([`policy`]), the
//! inbound pipeline ([`inbox`]) and the outbound delivery engine
//! ([`delivery`]), with the ActivityStreams media types in one place
//! ([`media_type`]). Above them, the application layer ([`federation`])
//! makes the decisions every federating server needs once, typed and safe
//! by default: local actors and their keys, the instance actor that signs
//! every GET, who may read an object, addressing to recipients, paged
//! collections, typed inbound dispatch behind authorization rules, and
//! fan-out in one call. The [`guide`] walks through it chapter by chapter.
//!
//! The core is pure: it works on [`http::Request`] / [`http::Response`]
//! values and byte buffers, so it fits any HTTP framework, or a test
//! without a server. Everything that needs a runtime, a network client or
//! a store sits behind a small trait, with default implementations behind
//! cargo features.
//!
//! ```
//! use archipel::signatures::{PrivateKey, Signer};
//! use archipel::vocab::{Activity, AnyObject, Iri};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Decode what a Mastodon server sends: one pass, typed, lossless.
//! let note = AnyObject::from_slice(br#"{
//!     "@context": "https://www.w3.org/ns/activitystreams",
//!     "id": "https://mastodon.example/users/bob/statuses/1",
//!     "type": "Note",
//!     "attributedTo": "https://mastodon.example/users/bob",
//!     "to": ["as:Public"],
//!     "content": "<p>Hello, Fediverse</p>",
//!     "toot:unknownExtension": {"kept": true}
//! }"#)?;
//! assert_eq!(note.type_name(), Some("Note"));
//!
//! // Build a Follow and sign its delivery the way Mastodon expects.
//! let alice = Iri::parse("https://archipel.example/users/alice")?;
//! let follow = Activity::follow(
//!     Iri::parse("https://archipel.example/follows/1")?,
//!     alice.clone(),
//!     Iri::parse("https://mastodon.example/users/bob")?,
//! );
//! let body = serde_json::to_vec(&follow)?;
//! let mut request = http::Request::post("https://mastodon.example/users/bob/inbox")
//!     .header("content-type", "application/activity+json")
//!     .body(bytes::Bytes::from(body))?;
//! let key = PrivateKey::generate_rsa_2048()?;
//! Signer::new(format!("{alice}#main-key"), key).sign(&mut request)?;
//! assert!(request.headers().contains_key("signature"));
//! assert!(request.headers().contains_key("digest"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Cargo features
//!
//! | feature | adds |
//! |---|---|
//! | *(default)* | the pure core: vocabulary, draft-cavage signatures with RSA, digests, WebFinger / NodeInfo documents, policy, delivery planning and the in-memory queue, the inbox pipeline |
//! | `rfc9421` | RFC 9421 HTTP Message Signatures (`sfv`) |
//! | `ed25519` | Ed25519 keys (`ed25519-dalek`) |
//! | `aws-lc-rs` | RSA and Ed25519 through aws-lc-rs, several times faster |
//! | `client` | `ReqwestClient`, the guarded default [`client::HttpClient`] |
//! | `delivery` | the delivery worker pool and its default signed sender |
//! | `axum` | inbox extractor and discovery routes for axum; [`federation`]'s routes |
//! | `sqlite`, `postgres` | durable delivery queues; SQLite key and remote-actor stores |
//! | `proof` | FEP-8b32 object integrity proofs, `eddsa-jcs-2022` (`archipel::proof`; enables `ed25519`) |
//! | `ld-signatures` | Linked Data Signatures, `RsaSignature2017` as Mastodon signs (`archipel::ldsig`; JSON-LD with preloaded contexts, URDNA2015) |
//! | `server` | `axum`, `client`, `delivery`, `sqlite`, `rfc9421`, `aws-lc-rs`: what a federating server needs |
//!
//! ## Examples
//!
//! * `examples/minimal_server.rs`: a small server that federates for real
//!   (`cargo run --example minimal_server --features server`).
//! * `examples/bookwyrm_like/`: a social-reading server whose own vocabulary
//!   (books, shelves, reviews) is built on [`vocab::Extended`], rendered rich
//!   for peers that understand it and as plain posts for everyone else.
//! * `examples/archipel/`: a command-line tool with `parse`, `sign`,
//!   `verify` and `lookup`.

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
pub mod clock;
pub mod delivery;
pub mod error;
pub mod federation;
pub mod fetch;
mod flight;
pub mod guide;
pub mod inbox;
#[cfg(any(feature = "proof", feature = "ld-signatures"))]
mod json_util;
#[cfg(feature = "ld-signatures")]
#[cfg_attr(docsrs, doc(cfg(feature = "ld-signatures")))]
pub mod ldsig;
pub mod media_type;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod nodeinfo;
pub mod policy;
#[cfg(feature = "proof")]
#[cfg_attr(docsrs, doc(cfg(feature = "proof")))]
pub mod proof;
pub mod signatures;
pub mod vocab;
pub mod webfinger;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

pub use error::{Error, Result};
