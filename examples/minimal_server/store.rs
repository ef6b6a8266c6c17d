//! The server's tables. What remote peers send is kept in the library's
//! bounded tables ([`CappedStore`]: `DATA_DIR/state.sqlite3`, or in
//! memory without `--data-dir`), each with its cap from [`Caps`]: past it
//! the oldest rows go. Each write touches only its rows.
//!
//! The follow graph is the library's [`SqliteGraph`] (`graph.sqlite3`), its
//! follower cap set from [`Caps`] (a new follower past it is refused, so an
//! existing one is never silently dropped); the local posts are the
//! library's [`Posts`] (`posts.sqlite3`: served and listed per reader,
//! tombstoned on delete); keys, the delivery queue and the remote actor
//! cache are the library's own SQLite stores too. What is left here is
//! this server's choice of tables and caps.

use std::path::Path;
use std::sync::Arc;

use archipel::federation::Graph;
use archipel::federation::dispatch::{BoxError, OwnerLookup};
use archipel::federation::graph::{GraphError, SqliteGraph};
use archipel::federation::requests::FollowRequests;
use archipel::federation::serve::StoredObject;
use archipel::federation::store::{
    Cap, CappedStore, CappedTable, InboxLog, MemoryPosts, PostStore, Posts, SqlitePosts, StoreError,
};
use archipel::vocab::{Activity, AnyObject, Iri};

/// The caps on tables remote peers can grow (rows).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Activities kept per local user's inbox (default 5,000).
    pub inbox_per_user: usize,
    /// Objects received from others (default 50,000).
    pub received: usize,
    /// Likes and announces of local objects (default 100,000).
    pub reactions: usize,
    /// Pending follow requests per local user (default 1,000).
    pub pending_per_user: usize,
    /// Followers per local user (default 100,000; past it a Follow is refused).
    pub followers_per_user: usize,
    /// Verification records (default 10,000).
    pub verifications: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            inbox_per_user: 5_000,
            received: 50_000,
            reactions: 100_000,
            pending_per_user: 1_000,
            followers_per_user: 100_000,
            verifications: 10_000,
        }
    }
}

/// The tables (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Store {
    graph: Arc<dyn Graph>,
    /// What local users posted (the library's store and serving rules).
    pub posts: Posts,
    /// Per local user: the activities it received; how each was verified.
    pub log: InboxLog,
    /// Notes received from others, with their owner.
    received: CappedTable,
    /// Likes and announces of local posts: scope "Kind object", key actor.
    reactions: CappedTable,
    /// Per locked user: the Follows awaiting approval.
    pub requests: FollowRequests,
}

/// Why the tables could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The follow graph.
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// The local posts or the capped tables.
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Store(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_str(value).ok()
}

impl Store {
    /// Opens (or creates) `state.sqlite3`, `graph.sqlite3` and
    /// `posts.sqlite3` in `dir`, or in-memory stores.
    pub fn open(dir: Option<&Path>, caps: Caps) -> Result<Store, OpenError> {
        let (tables, graph, posts): (_, _, Arc<dyn PostStore>) = match dir {
            Some(dir) => (
                CappedStore::open(dir.join("state.sqlite3"))?,
                SqliteGraph::open(dir.join("graph.sqlite3"))?,
                Arc::new(SqlitePosts::open(dir.join("posts.sqlite3"))?),
            ),
            None => (
                CappedStore::open_in_memory()?,
                SqliteGraph::open_in_memory()?,
                Arc::new(MemoryPosts::new()),
            ),
        };
        let graph: Arc<dyn Graph> = Arc::new(graph.with_max_followers(caps.followers_per_user));
        Ok(Store {
            posts: Posts::new(posts, graph.clone()),
            graph,
            log: InboxLog::new(&tables, caps.inbox_per_user, caps.verifications),
            received: tables.table("received", Cap::total(caps.received)),
            reactions: tables.table("reactions", Cap::total(caps.reactions)),
            requests: FollowRequests::new(&tables, caps.pending_per_user),
        })
    }

    /// The follow graph, for the library's `Federation` and read guard.
    pub fn graph(&self) -> Arc<dyn Graph> {
        self.graph.clone()
    }

    /// A local post by id (not deleted), as stored.
    pub async fn post(&self, id: &Iri) -> Option<StoredObject> {
        self.posts.get(id).await.ok().flatten()
    }

    /// A local user's inbox, newest first (at most `limit`).
    #[allow(dead_code)] // read by the inbox throughput bench
    pub fn inbox(&self, local: &Iri, limit: usize) -> Vec<Activity> {
        self.log.newest(local, limit).unwrap_or_default()
    }

    /// Keeps a received object (a note), owned by `owner`.
    pub fn put_received(&self, owner: &Iri, object: &AnyObject) -> Result<(), StoreError> {
        let Some(id) = object.id() else { return Ok(()) };
        self.received
            .put("", id.as_str(), Some(owner), &json(object)?)
    }

    /// A received object and its owner.
    pub fn received(&self, id: &str) -> Option<(Iri, AnyObject)> {
        let entry = self.received.get("", id).ok().flatten()?;
        Some((entry.owner?, parse(&entry.value)?))
    }

    /// Forgets a received object; whether it was kept.
    pub fn remove_received(&self, id: &Iri) -> bool {
        self.received.remove("", id.as_str()).unwrap_or(false)
    }

    /// Records a Like or Announce (`kind`) of a local object by `actor`.
    pub fn react(&self, kind: &str, object: &Iri, actor: &Iri) -> Result<(), StoreError> {
        let scope = format!("{kind} {object}");
        self.reactions.put(&scope, actor.as_str(), None, "")
    }

    /// Removes a reaction (an `Undo`).
    pub fn unreact(&self, kind: &str, object: &Iri, actor: &Iri) -> Result<(), StoreError> {
        let scope = format!("{kind} {object}");
        self.reactions.remove(&scope, actor.as_str()).map(|_| ())
    }

    /// Who reacted to `object` with `kind`, oldest first.
    #[allow(dead_code)] // read by the integration tests
    pub fn reactions(&self, kind: &str, object: &str) -> Vec<String> {
        let rows = self
            .reactions
            .oldest(&format!("{kind} {object}"), usize::MAX);
        rows.unwrap_or_default()
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    /// How the activity `id` was verified ("dialect algorithm key-id").
    #[allow(dead_code)] // read by the integration tests
    pub fn verification(&self, id: &str) -> Option<String> {
        self.log.verification(id).ok().flatten()
    }

    /// How many verification records are kept.
    #[allow(dead_code)] // read by the integration tests
    pub fn verification_count(&self) -> usize {
        self.rows("verifications")
    }

    /// How many rows a table holds (`inbox`, `received`, `reactions`,
    /// `verifications`).
    #[allow(dead_code)] // read by the integration tests
    pub fn rows(&self, table: &str) -> usize {
        let table = match table {
            "inbox" => self.log.inbox_table(),
            "received" => &self.received,
            "reactions" => &self.reactions,
            _ => self.log.verification_table(),
        };
        table.len().unwrap_or(0)
    }

    /// The pending Follows of a local user, oldest first.
    #[allow(dead_code)] // read by the integration tests
    pub fn pending(&self, local: &Iri) -> Vec<Activity> {
        self.requests.pending(local).unwrap_or_default()
    }
}

/// Who owns a note we keep (received, or posted here), so that on a
/// multi-user origin one user cannot update or delete another's (the
/// dispatcher asks before its rules pass).
#[async_trait::async_trait]
impl OwnerLookup for Store {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        match self.received(object.as_str()) {
            Some((owner, _)) => Ok(Some(owner)),
            None => Ok(self.posts.owner(object).await?),
        }
    }
}
