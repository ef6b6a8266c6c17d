//! The application layer: what every federating server needs above the
//! primitives, decided here once, typed and safe by default.
//!
//! | piece | module | decides |
//! |---|---|---|
//! | URL layout | [`paths`] | where actors, inboxes, collections and objects live |
//! | local actors and keys | [`local`], [`keys`] | which key signs for whom; the actor document and its JRD |
//! | addressing and visibility | [`visibility`] | who may read an object |
//! | client-to-server outbox | [`outbox`] | wrapping, addressing copies, ids, `bto`/`bcc` removal |
//! | remote actors | [`remote`], [`lookup`] | the bounded cache of inboxes and keys; handles to actors |
//! | recipients | [`recipients`] | addressing → inboxes (`Public` is never a target) |
//! | collections | [`collection`] | paged `OrderedCollection`s, served and traversed |
//! | follow relationships | [`graph`], `requests` | followers, following, the Follows this server sent; requests awaiting a locked account |
//! | account migration | [`migration`] | `Move`: sent only to a target that names the account; believed only when both accounts, fetched fresh, agree; local follows moved, bounded |
//! | followers synchronization | [`followers_sync`] | FEP-8fcf: a digest per server on deliveries; the partial collection only to that server; a header believed only from its collection's owner; bounded reconciliation |
//! | quote posts | [`quotes`] | FEP-044f: who may quote a post (automatically, after approval, nobody); authorizations issued, served and revoked; a quote shown as one only once its authorization, fetched from the quoted author's origin, names it |
//! | inbox forwarding | [`forwarding`] | ActivityPub §7.1.2: a forwarded activity believed on its actor's LD signature or integrity proof, or its origin's copy; passed on unchanged to the local followers it concerns |
//! | relays | [`relay`] | subscriptions by the instance actor (Mastodon-style and LitePub), bounded; public posts to accepted relays; a relay's copies believed only as their actor's |
//! | inbound dispatch | [`dispatch`], [`fanin`] | typed handlers, after the authorization rules; which local actors an activity is for |
//! | what the server keeps | [`store`] | local posts: what each reader of an outbox or object may see, tombstones; bounded tables for what peers send (received objects, inboxes, reactions, the verification log) |
//! | state on disk | `data_dir` (feature `sqlite`) | keys, actor cache and delivery queue in private SQLite files |
//!
//! Each piece is usable alone; the primitives below them stay public.

pub mod collection;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod data_dir;
pub mod dispatch;
mod error;
pub mod fanin;
pub mod fanout;
pub mod followers_sync;
pub mod follows;
pub mod forwarding;
pub mod graph;
mod hub;
pub mod keys;
pub mod local;
pub mod lookup;
pub mod migration;
pub mod outbox;
pub mod paths;
pub mod quotes;
pub mod recipients;
pub mod relay;
pub mod remote;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod requests;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod routes;
pub mod serve;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
pub mod store;
#[cfg(test)]
mod testing;
pub mod visibility;

pub use error::FederationError;
pub use graph::{Graph, MemoryGraph, SentFollow};
pub use hub::{Audience, Federation, FederationBuilder, LocalSigners, Sent};
pub use local::LocalActor;
pub use paths::Paths;
