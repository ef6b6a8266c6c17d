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
use archipel::federation::graph::{GraphError, SqliteGraph};
use archipel::federation::requests::FollowRequests;
use archipel::federation::serve::StoredObject;
use archipel::federation::store::{
    CappedStore, InboxLog, MemoryPosts, PostStore, Posts, Reactions, Received, SqlitePosts,
    StoreError,
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
    pub received: Received,
    /// Likes and announces of local posts.
    pub reactions: Reactions,
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
            received: Received::new(&tables, caps.received),
            reactions: Reactions::new(&tables, caps.reactions),
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

    /// A received object and its owner.
    pub fn received(&self, id: &str) -> Option<(Iri, AnyObject)> {
        self.received.get(&Iri::parse(id).ok()?).ok().flatten()
    }

    /// How the activity `id` was verified ("dialect algorithm key-id").
    #[allow(dead_code)] // read by the inbox throughput bench and the tests
    pub fn verification(&self, id: &str) -> Option<String> {
        self.log.verification(id).ok().flatten()
    }

    /// How many rows a table holds (`inbox`, `received`, `reactions`,
    /// `verifications`).
    #[allow(dead_code)] // read by the inbox throughput bench and the tests
    pub fn rows(&self, table: &str) -> usize {
        let table = match table {
            "inbox" => self.log.inbox_table(),
            "received" => self.received.table(),
            "reactions" => self.reactions.table(),
            _ => self.log.verification_table(),
        };
        table.len().unwrap_or(0)
    }
}
