//! The server's tables: the library's [`Tables`] (the follow graph, the
//! local posts, and what remote peers send: inboxes and the verification
//! log, received notes, likes and announces, pending follow requests), in
//! SQLite files under `--data-dir` or in memory, each capped by [`Caps`]
//! (the library's documented defaults, set by the `--max-*` flags). Keys,
//! the delivery queue and the remote actor cache are the library's own
//! SQLite stores too. What is left here are the readers this server, its
//! tests and its bench use.

use std::ops::Deref;
use std::path::Path;

use archipel::federation::FederationError;
use archipel::federation::serve::StoredObject;
pub use archipel::federation::store::Caps;
use archipel::federation::store::Tables;
use archipel::vocab::{Activity, AnyObject, Iri};

/// The tables (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Store(Tables);

impl Deref for Store {
    type Target = Tables;
    fn deref(&self) -> &Tables {
        &self.0
    }
}

impl Store {
    /// Opens (or creates) the tables in `dir`, or in memory.
    pub fn open(dir: Option<&Path>, caps: Caps) -> Result<Store, FederationError> {
        Tables::open(dir, caps).map(Store)
    }

    /// A local post by id (not deleted), as stored.
    pub async fn post(&self, id: &Iri) -> Option<StoredObject> {
        self.posts.get(id).await.ok().flatten()
    }

    /// A received object and its owner.
    pub fn received(&self, id: &str) -> Option<(Iri, AnyObject)> {
        self.0.received.get(&Iri::parse(id).ok()?).ok().flatten()
    }

    /// A local user's inbox, newest first (at most `limit`).
    #[allow(dead_code)] // read by the inbox throughput bench
    pub fn inbox(&self, local: &Iri, limit: usize) -> Vec<Activity> {
        self.log.newest(local, limit).unwrap_or_default()
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
            "received" => self.0.received.table(),
            "reactions" => self.reactions.table(),
            _ => self.log.verification_table(),
        };
        table.len().unwrap_or(0)
    }
}
