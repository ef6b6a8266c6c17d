//! The posts of local actors: what they published through their outbox,
//! kept so the server can serve them, list them and check who owns them
//! ([`Posts`] over a [`PostStore`]: [`MemoryPosts`], or `SqlitePosts` with
//! the `sqlite` feature).
//!
//! The decisions, made here so that every application gets them:
//!
//! - **Each reader sees only what the serving guard lets them.** The
//!   outbox listing ([`Posts`] as a `routes::OutboxSource`, feature `axum`)
//!   filters each page through the [`ReadGuard`]: public and unlisted posts
//!   to anyone, followers-only posts to a follower's server, direct posts
//!   to their addressees, everything to [`Reader::Owner`]. A cursor only
//!   says where a page starts, never what it may show, so a reader cannot
//!   page into someone else's private posts.
//! - **Pages by keyset, bounded.** A post has a sequence number; a page is
//!   "the author's posts older than `before-N`", read from an index. An
//!   anonymous page is filtered in the store's query (its visibility is a
//!   column); a signed reader's page reads at most [`MAX_OUTBOX_SCAN`] rows
//!   past what it shows, so a reader who may see little costs little: the
//!   page then ends early with a `next` cursor after the last row read.
//!   A cursor the store never minted is `400 Bad Request`, never a panic.
//! - **Deletes leave a tombstone.** [`Posts::record`] of a `Delete` marks
//!   the post, and the activities that carried it, deleted: they are no
//!   longer served (`404`) or listed, their content is dropped, but their
//!   owner is remembered, so the id is never reused and nobody else can
//!   update it later ([`OwnerLookup`](super::dispatch::OwnerLookup)).
//! - **Stored as served.** [`Posts::record`] keeps the [`Posted`] forms,
//!   which never carry `bto`/`bcc`.
//!
//! **What remote peers send is bounded.** `CappedStore` (feature `sqlite`,
//! a file or memory) holds the application's tables of received objects,
//! inbox entries, reactions, pending follow requests and the like: each a
//! `CappedTable` with a `Cap` per scope (a local user) and/or in total;
//! past it the oldest rows go, so a hostile peer sending ten thousand
//! activities leaves at most the cap behind. Counts are kept, not
//! computed, so a write costs a few index lookups however full the table.
//! `Tables::open` (feature `sqlite`) opens a server's usual set together,
//! under one data directory or in memory, each capped by `Caps`
//! (documented defaults).
//!
//! Local posts are grown only by local actors (through the token-protected
//! outbox), not by remote peers, so the store has no row cap; each post is
//! bounded by the outbox's body limit.
//!
//! ```
//! use std::sync::Arc;
//! use archipel::federation::outbox::Outbox;
//! use archipel::federation::store::{MemoryPosts, Posts};
//! use archipel::federation::visibility::Reader;
//! use archipel::federation::{keys::ActorKeys, LocalActor, MemoryGraph, Paths};
//! use archipel::signatures::PrivateKey;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem"));
//! # let keys = ActorKeys { rsa: PrivateKey::from_pem(pem)?, ed25519: None };
//! let paths = Paths::new("https://a.example".parse()?)?;
//! let alice = LocalActor::person(&paths, "alice", keys)?;
//! let posts = Posts::new(Arc::new(MemoryPosts::new()), Arc::new(MemoryGraph::new()));
//!
//! let outbox = Outbox::new(paths);
//! let public = outbox.prepare(&alice, br#"{"type": "Note", "content": "hi",
//!     "to": "https://www.w3.org/ns/activitystreams#Public"}"#)?.finish(None)?;
//! let direct = outbox.prepare(&alice, br#"{"type": "Note", "content": "psst",
//!     "to": "https://b.example/users/bob"}"#)?.finish(None)?;
//! posts.record(&alice, &public).await?;
//! posts.record(&alice, &direct).await?;
//!
//! // Strangers see the public Create only; the owner sees both.
//! let page = posts.outbox_page(&alice, None, 20, &Reader::Anonymous).await?;
//! assert_eq!(page.items.len(), 1);
//! let page = posts.outbox_page(&alice, None, 20, &Reader::Owner).await?;
//! assert_eq!(page.items.len(), 2);
//!
//! // A Delete leaves a tombstone: not served, still owned by alice.
//! let note = public.object().and_then(|o| o.id()).cloned().unwrap();
//! let delete = outbox
//!     .prepare(&alice, format!(r#"{{"type": "Delete", "object": "{note}"}}"#).as_bytes())?
//!     .finish(posts.get(&note).await?.as_ref().map(|s| &s.object))?;
//! posts.record(&alice, &delete).await?;
//! assert!(posts.get(&note).await?.is_none());
//! assert_eq!(posts.owner(&note).await?.as_ref(), Some(alice.id()));
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::vocab::{Activity, AnyObject, Iri, Kind, Object, Visibility};

use super::Graph;
use super::collection::{CollectionError, Cursor, Page};
use super::local::LocalActor;
use super::outbox::Posted;
use super::serve::StoredObject;
use super::visibility::{Access, ReadGuard, Reader, read_visibility};

#[cfg(feature = "sqlite")]
mod capped;
#[cfg(feature = "sqlite")]
mod inbox;
mod memory;
#[cfg(feature = "sqlite")]
mod received;
mod source;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod tables;
#[cfg(test)]
mod tests;

#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use capped::{Cap, CappedStore, CappedTable, Entry};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use inbox::{DEFAULT_MAX_INBOX_PER_ACTOR, DEFAULT_MAX_VERIFICATIONS, InboxLog};
pub use memory::MemoryPosts;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use received::{DEFAULT_MAX_REACTIONS, DEFAULT_MAX_RECEIVED, Owners, Reactions, Received};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqlitePosts;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use tables::{Caps, Tables};

/// The most rows a signed reader's outbox page reads beyond the ones it
/// shows (rows the serving guard hides from that reader); past it the page
/// ends early, with a `next` cursor after the last row read.
pub const MAX_OUTBOX_SCAN: usize = 500;

/// Why the post store failed. Each message names the post or the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backing store failed; the message says how.
    #[error("post store: {0}")]
    Store(String),
    /// A document without an `id` cannot be stored.
    #[error("post store: a {kind:?} without an id cannot be stored")]
    NoId {
        /// The document's type.
        kind: String,
    },
    /// The post was deleted: its id is not reused.
    #[error("post store: {id} was deleted; its id is not reused")]
    Deleted {
        /// The post's id.
        id: Iri,
    },
    /// A stored row no longer decodes (a damaged table).
    #[error("post store: stored post {id} does not decode: {reason}")]
    Corrupt {
        /// The post's id.
        id: String,
        /// What failed.
        reason: String,
    },
}

/// A post to store: a local actor's object or activity, as served.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewPost {
    /// The document, as served (no `bto`/`bcc`).
    pub document: AnyObject,
    /// Its local author.
    pub author: Iri,
    /// How widely it is addressed ([`read_visibility`] with its author).
    pub visibility: Visibility,
    /// Whether the outbox lists it (activities are listed; the objects they
    /// created are reached through them).
    pub listed: bool,
}

impl NewPost {
    /// A post of `author`, its visibility read from its addressing as the
    /// serving guard reads it.
    pub fn new(author: &LocalActor, document: AnyObject, listed: bool) -> NewPost {
        let visibility = document
            .as_object()
            .map_or(Visibility::Direct, |o| read_visibility(o, author));
        NewPost {
            document,
            author: author.id().clone(),
            visibility,
            listed,
        }
    }
}

/// A stored, not deleted post.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredPost {
    /// Its place in the store: later posts have larger numbers.
    pub seq: u64,
    /// The document, as served.
    pub document: AnyObject,
    /// Its local author.
    pub author: Iri,
    /// Its visibility when stored.
    pub visibility: Visibility,
}

/// Which of an author's listed posts a [`PostStore::list`] call reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only posts with a sequence number below this one (`None`: the newest).
    pub before: Option<u64>,
    /// Only public and unlisted posts (what an anonymous reader may see).
    pub public_only: bool,
    /// At most this many.
    pub limit: usize,
}

impl ListQuery {
    /// The `limit` newest posts before `before`, of every visibility.
    pub fn new(before: Option<u64>, limit: usize) -> ListQuery {
        ListQuery {
            before,
            public_only: false,
            limit,
        }
    }

    /// Only public and unlisted posts (builder style).
    pub fn public_only(mut self) -> ListQuery {
        self.public_only = true;
        self
    }
}

/// Where local posts are kept: implement it over the application's
/// database, or use [`MemoryPosts`] / `SqlitePosts`. [`Posts`] makes the
/// serving decisions on top.
#[async_trait::async_trait]
pub trait PostStore: Send + Sync {
    /// Stores a post, or replaces the document and visibility of the post
    /// with the same id (keeping its sequence number); answers the
    /// sequence number.
    ///
    /// # Errors
    /// [`StoreError::NoId`], [`StoreError::Deleted`] for a deleted id, or
    /// the store's failure.
    async fn put(&self, post: NewPost) -> Result<u64, StoreError>;

    /// The post with this id, unless it is unknown or deleted.
    async fn get(&self, id: &Iri) -> Result<Option<StoredPost>, StoreError>;

    /// The author of the post with this id, deleted or not.
    async fn owner(&self, id: &Iri) -> Result<Option<Iri>, StoreError>;

    /// Deletes the post `id` and every activity carrying it as its object,
    /// leaving tombstones (id and author kept, document dropped); answers
    /// how many posts it marked.
    async fn delete(&self, id: &Iri) -> Result<usize, StoreError>;

    /// The listed, not deleted posts of `author`, newest first, as `query`
    /// says. Reads only the rows it returns (an index range), never the
    /// whole table.
    async fn list(&self, author: &Iri, query: ListQuery) -> Result<Vec<StoredPost>, StoreError>;

    /// How many listed, not deleted posts `author` has (every author's with
    /// `None`), by visibility.
    async fn count(&self, author: Option<&Iri>) -> Result<Counts, StoreError>;
}

/// Listed, not deleted posts by visibility ([`PostStore::count`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Public posts.
    pub public: u64,
    /// Unlisted posts.
    pub unlisted: u64,
    /// Followers-only posts.
    pub followers: u64,
    /// Direct posts.
    pub direct: u64,
}

impl Counts {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.public
            .saturating_add(self.unlisted)
            .saturating_add(self.followers)
            .saturating_add(self.direct)
    }

    /// The count of one visibility, mutable (for stores that tally them).
    pub fn of_mut(&mut self, v: Visibility) -> &mut u64 {
        match v {
            Visibility::Public => &mut self.public,
            Visibility::Unlisted => &mut self.unlisted,
            Visibility::FollowersOnly => &mut self.followers,
            _ => &mut self.direct,
        }
    }
}

/// Whether an anonymous reader may see a post of this visibility.
pub(crate) fn is_public(v: Visibility) -> bool {
    matches!(v, Visibility::Public | Visibility::Unlisted)
}

/// The object an activity carries, for tombstoning it with its object.
pub(crate) fn carried(document: &AnyObject) -> Option<&Iri> {
    document.as_activity().and_then(Activity::object_id)
}

/// A local actor's posts, served through the serving guard: the
/// application's `routes::ObjectSource` and `routes::OutboxSource`
/// (feature `axum`) and
/// [`OwnerLookup`](super::dispatch::OwnerLookup) in one (see the module
/// docs). Cheap to clone.
#[derive(Clone)]
pub struct Posts {
    store: Arc<dyn PostStore>,
    guard: ReadGuard,
}

impl std::fmt::Debug for Posts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Posts").finish_non_exhaustive()
    }
}

impl Posts {
    /// Posts kept in `store`, served through a [`ReadGuard`] on `graph`
    /// (pass the federation's [`Federation::graph`](super::Federation::graph)).
    pub fn new(store: Arc<dyn PostStore>, graph: Arc<dyn Graph>) -> Posts {
        Posts {
            store,
            guard: ReadGuard::new(graph),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn PostStore> {
        &self.store
    }

    /// Keeps what a post through the outbox produced: the activity
    /// (listed), the object a `Create` made or an `Update` changed (not
    /// listed: it is reached through its activity); a `Delete` first
    /// tombstones what it deletes and the activities that carried it.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn record(&self, author: &LocalActor, posted: &Posted) -> Result<(), StoreError> {
        let activity = posted.activity();
        if activity.has_type(Kind::Delete.as_str())
            && let Some(target) = activity.object_id()
            && target != author.id()
        {
            self.store.delete(target).await?;
        }
        let object = match posted.object() {
            Some(created) => Some(created.clone()),
            None if activity.has_type(Kind::Update.as_str()) => {
                self.updated(author, activity).await?
            }
            None => None,
        };
        if let Some(object) = object {
            self.store.put(NewPost::new(author, object, false)).await?;
        }
        self.put(author, AnyObject::from(activity.clone()), true)
            .await
    }

    /// The object an `Update` leaves: the stored one with the update's
    /// properties in place of its own (ActivityPub §6.3 replaces the
    /// top-level properties supplied), still attributed to its author.
    /// `None` for a profile update or one without an embedded object.
    async fn updated(
        &self,
        author: &LocalActor,
        activity: &Activity,
    ) -> Result<Option<AnyObject>, StoreError> {
        let Some(change) = activity.embedded_object() else {
            return Ok(None);
        };
        let Some(id) = change.id().filter(|id| *id != author.id()) else {
            return Ok(None);
        };
        let mut object = match self.store.get(id).await? {
            Some(stored) => merge(&stored.document, activity, id)?,
            None => change.clone(),
        };
        if let Some(o) = object.as_object_mut()
            && o.attributed_to.is_none()
        {
            o.attributed_to = Some(author.id().clone().into());
        }
        Ok(Some(object))
    }

    /// Fills in what a client may leave out of an `Update` or a `Delete`
    /// of `author`'s stored post: an `Update` names only what changes, so
    /// its object gets the stored post's other properties (and is
    /// delivered whole); a `Delete` without addressing goes where the post
    /// went ([`inherit_addressing`](super::outbox::inherit_addressing)), so
    /// everyone who received it learns it is gone. Anything else, or a post
    /// that is not `author`'s, is left for the outbox to judge.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn complete(
        &self,
        author: &LocalActor,
        document: &mut AnyObject,
    ) -> Result<(), StoreError> {
        let Some(activity) = document.as_activity() else {
            return Ok(());
        };
        let update = activity.has_type(Kind::Update.as_str());
        if !update && !activity.has_type(Kind::Delete.as_str()) {
            return Ok(());
        }
        let Some(target) = activity.object_id().cloned() else {
            return Ok(());
        };
        let Some(stored) = self.store.get(&target).await? else {
            return Ok(());
        };
        if &stored.author != author.id() {
            return Ok(());
        }
        let merged = match update {
            true => Some(merge(&stored.document, activity, &target)?),
            false => None,
        };
        let (AnyObject::Activity(activity), Some(stored)) = (document, stored.document.as_object())
        else {
            return Ok(());
        };
        if let Some(merged) = merged {
            activity.object = Some(merged.into());
        } else {
            super::outbox::inherit_addressing(activity, stored);
        }
        Ok(())
    }

    /// A local actor's client-to-server post in one call: the outbox
    /// semantics ([`Federation::outbox`](super::Federation::outbox)),
    /// [`Posts::complete`], the ownership check against this store, the
    /// served forms kept ([`Posts::record`]) and the delivery queued to
    /// exactly its audience ([`Federation::publish`](super::Federation::publish)).
    ///
    /// # Errors
    /// [`FederationError::Outbox`](super::FederationError::Outbox) for a
    /// refused post (the client's fault: `NotOwner` and `ForeignActor` are
    /// `403`, the rest `400`), else the store's or the delivery's failure.
    pub async fn post(
        &self,
        fed: &super::Federation,
        author: &LocalActor,
        body: &[u8],
    ) -> Result<(Posted, super::Sent), super::FederationError> {
        let outbox = fed.outbox();
        let draft = outbox.prepare(author, body)?;
        let stored = match draft.target() {
            Some(target) => self.store.get(target).await?.map(|p| p.document),
            None => None,
        };
        let posted = draft.finish(stored.as_ref())?;
        self.record(author, &posted).await?;
        let sent = fed.publish(author, &posted).await?;
        Ok((posted, sent))
    }

    /// Stores one document of `author` (see [`PostStore::put`]), its
    /// visibility read from its addressing.
    ///
    /// # Errors
    /// As [`PostStore::put`].
    pub async fn put(
        &self,
        author: &LocalActor,
        document: AnyObject,
        listed: bool,
    ) -> Result<(), StoreError> {
        self.store
            .put(NewPost::new(author, document, listed))
            .await
            .map(|_| ())
    }

    /// The post with this id as served, unless unknown or deleted: check it
    /// with [`Federation::authorize_read`](super::Federation::authorize_read)
    /// before showing it to anyone.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn get(&self, id: &Iri) -> Result<Option<StoredObject>, StoreError> {
        Ok(self.store.get(id).await?.map(|p| StoredObject {
            object: p.document,
            author: p.author,
        }))
    }

    /// The author of a post, deleted or not.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn owner(&self, id: &Iri) -> Result<Option<Iri>, StoreError> {
        self.store.owner(id).await
    }

    /// How many listed posts local actors have (NodeInfo's `localPosts`).
    ///
    /// # Errors
    /// The store's failure.
    pub async fn count(&self) -> Result<u64, StoreError> {
        Ok(self.store.count(None).await?.total())
    }

    /// How many of `author`'s listed posts `reader` may see: all for the
    /// owner, public and unlisted for an anonymous reader, and for a signed
    /// one also the followers-only posts if they may read those. Direct
    /// posts addressed to a signed reader are on their pages but not in
    /// this count (it would take reading every such post).
    ///
    /// # Errors
    /// [`CollectionError::Source`] if the store or the follow graph fails.
    pub async fn outbox_total(
        &self,
        author: &LocalActor,
        reader: &Reader,
    ) -> Result<u64, CollectionError> {
        let counts = self
            .store
            .count(Some(author.id()))
            .await
            .map_err(|e| CollectionError::Source(e.to_string()))?;
        let public = counts.public.saturating_add(counts.unlisted);
        Ok(match reader {
            Reader::Owner => counts.total(),
            Reader::Anonymous => public,
            _ => {
                // One guard question on a followers-only probe answers
                // whether this reader sees the author's followers-only posts.
                let mut probe = Object::new("Note");
                crate::vocab::Audience::followers_only(author.followers().clone())
                    .apply(&mut probe);
                let access = self
                    .guard
                    .check(author, &probe, reader)
                    .await
                    .map_err(|e| CollectionError::Source(e.to_string()))?;
                if access == Access::Allow {
                    public.saturating_add(counts.followers)
                } else {
                    public
                }
            }
        })
    }

    /// One page of `author`'s outbox for `reader`, newest first, starting
    /// at `cursor` (`before-N`, as minted in the previous page's `next`).
    ///
    /// # Errors
    /// [`CollectionError::UnknownCursor`] for a cursor this store never
    /// minted; [`CollectionError::Source`] if the store or graph fails.
    pub async fn outbox_page(
        &self,
        author: &LocalActor,
        cursor: Option<&Cursor>,
        limit: usize,
        reader: &Reader,
    ) -> Result<Page, CollectionError> {
        source::page(self, author, cursor, limit, reader).await
    }
}

/// The stored post with the properties an `Update` supplies in place of
/// its own (ActivityPub §6.3).
fn merge(stored: &AnyObject, update: &Activity, id: &Iri) -> Result<AnyObject, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        id: id.as_str().to_owned(),
        reason: e.to_string(),
    };
    let mut merged = serde_json::to_value(stored).map_err(corrupt)?;
    let change = match update.embedded_object() {
        Some(change) => serde_json::to_value(change).map_err(corrupt)?,
        None => serde_json::Value::Null,
    };
    if let (Some(merged), serde_json::Value::Object(change)) = (merged.as_object_mut(), change) {
        merged.extend(change);
    }
    serde_json::from_value(merged).map_err(corrupt)
}
