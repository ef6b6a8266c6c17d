//! The server's own tables, in one SQLite file (`DATA_DIR/state.sqlite3`,
//! WAL) or in an in-memory SQLite database without `--data-dir`: the same
//! SQL either way. Each write touches only its rows; nothing rewrites the
//! whole state.
//!
//! Every table a remote peer can grow has a cap ([`Caps`]); past it, the
//! oldest rows go (a new follower past the cap is refused instead, so an
//! existing follower is never silently dropped).
//!
//! The follow graph is the library's [`SqliteGraph`] (`graph.sqlite3`
//! beside this file, or in memory), its follower cap set from [`Caps`], so
//! followers survive a restart; the local posts are the library's
//! [`Posts`] (`posts.sqlite3`: served and listed per reader, tombstoned on
//! delete); keys, the delivery queue and the remote actor cache are the
//! library's own SQLite stores too.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use archipel::federation::Graph;
use archipel::federation::dispatch::{BoxError, OwnerLookup};
use archipel::federation::graph::{GraphError, SqliteGraph};
use archipel::federation::serve::StoredObject;
use archipel::federation::store::{MemoryPosts, PostStore, Posts, SqlitePosts, StoreError};
use archipel::vocab::{Activity, AnyObject, Iri};
use rusqlite::{Connection, OptionalExtension, params};

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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pending (local TEXT NOT NULL, remote TEXT NOT NULL, follow TEXT NOT NULL, PRIMARY KEY (local, remote));
CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, local TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_local ON inbox (local, seq);
CREATE TABLE IF NOT EXISTS received (id TEXT PRIMARY KEY, owner TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reactions (kind TEXT NOT NULL, object TEXT NOT NULL, actor TEXT NOT NULL, PRIMARY KEY (kind, object, actor));
CREATE TABLE IF NOT EXISTS verifications (id TEXT PRIMARY KEY, record TEXT NOT NULL);
";

/// The tables (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Mutex<Connection>>,
    graph: Arc<dyn Graph>,
    /// What local users posted (the library's store and serving rules).
    pub posts: Posts,
    caps: Caps,
}

/// Why the tables could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The server's own tables.
    #[error("state database: {0}")]
    State(#[from] rusqlite::Error),
    /// The follow graph.
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// The local posts.
    #[error("{0}")]
    Posts(#[from] StoreError),
}

impl Store {
    /// Opens (or creates) `dir/state.sqlite3`, `dir/graph.sqlite3` and
    /// `dir/posts.sqlite3`, or in-memory stores.
    pub fn open(dir: Option<&Path>, caps: Caps) -> Result<Store, OpenError> {
        let (db, graph, posts): (_, _, Arc<dyn PostStore>) = match dir {
            Some(dir) => {
                let db = Connection::open(dir.join("state.sqlite3"))?;
                db.pragma_update(None, "journal_mode", "WAL")?;
                db.pragma_update(None, "synchronous", "NORMAL")?;
                let graph = SqliteGraph::open(dir.join("graph.sqlite3"))?;
                let posts = SqlitePosts::open(dir.join("posts.sqlite3"))?;
                (db, graph, Arc::new(posts))
            }
            None => (
                Connection::open_in_memory()?,
                SqliteGraph::open_in_memory()?,
                Arc::new(MemoryPosts::new()),
            ),
        };
        db.execute_batch(SCHEMA)?;
        let graph: Arc<dyn Graph> = Arc::new(graph.with_max_followers(caps.followers_per_user));
        Ok(Store {
            db: Arc::new(Mutex::new(db)),
            posts: Posts::new(posts, graph.clone()),
            graph,
            caps,
        })
    }

    /// The follow graph, for the library's `Federation` and read guard.
    pub fn graph(&self) -> Arc<dyn Graph> {
        self.graph.clone()
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn strings(&self, sql: &str, arg: &str) -> rusqlite::Result<Vec<String>> {
        let db = self.db();
        let mut stmt = db.prepare_cached(sql)?;
        stmt.query_map([arg], |r| r.get(0))?.collect()
    }

    /// A local post by id (not deleted), as stored.
    pub async fn post(&self, id: &Iri) -> Option<StoredObject> {
        self.posts.get(id).await.ok().flatten()
    }

    /// Files a received activity in a local user's inbox, dropping the oldest past the cap.
    pub fn file(&self, local: &Iri, activity: &Activity) -> rusqlite::Result<()> {
        let json = serde_json::to_string(activity)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        let db = self.db();
        db.execute(
            "INSERT INTO inbox (local, doc) VALUES (?1, ?2)",
            params![local.as_str(), json],
        )?;
        db.execute(
            "DELETE FROM inbox WHERE local = ?1 AND seq <= (SELECT seq FROM inbox WHERE local = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
            params![local.as_str(), cap(self.caps.inbox_per_user)],
        )?;
        Ok(())
    }

    /// A local user's inbox, newest first (at most `limit`).
    pub fn inbox(&self, local: &Iri, limit: usize) -> Vec<Activity> {
        let db = self.db();
        let Ok(mut stmt) =
            db.prepare_cached("SELECT doc FROM inbox WHERE local = ?1 ORDER BY seq DESC LIMIT ?2")
        else {
            return Vec::new();
        };
        let rows = stmt.query_map(params![local.as_str(), cap(limit)], |r| {
            r.get::<_, String>(0)
        });
        rows.map(|rows| {
            rows.filter_map(|r| serde_json::from_str(&r.ok()?).ok())
                .collect()
        })
        .unwrap_or_default()
    }

    /// Keeps a received object (a note), owned by `owner`; oldest dropped past the cap.
    pub fn put_received(&self, owner: &Iri, object: &AnyObject) -> rusqlite::Result<()> {
        let Some(id) = object.id() else { return Ok(()) };
        let json = serde_json::to_string(object)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        let db = self.db();
        db.execute(
            "INSERT INTO received (id, owner, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            params![id.as_str(), owner.as_str(), json],
        )?;
        prune(&db, "received", self.caps.received)
    }

    /// A received object and its owner.
    pub fn received(&self, id: &str) -> Option<(Iri, AnyObject)> {
        let (owner, doc): (String, String) = self
            .db()
            .query_row("SELECT owner, doc FROM received WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .ok()
            .flatten()?;
        Some((Iri::parse(owner).ok()?, serde_json::from_str(&doc).ok()?))
    }

    /// Forgets a received object; whether it was kept.
    pub fn remove_received(&self, id: &Iri) -> bool {
        self.db()
            .execute("DELETE FROM received WHERE id = ?1", [id.as_str()])
            .is_ok_and(|n| n > 0)
    }

    /// Records a Like or Announce (`kind`) of a local object by `actor`.
    pub fn react(&self, kind: &str, object: &Iri, actor: &Iri) -> rusqlite::Result<()> {
        let db = self.db();
        db.execute(
            "INSERT OR IGNORE INTO reactions (kind, object, actor) VALUES (?1, ?2, ?3)",
            params![kind, object.as_str(), actor.as_str()],
        )?;
        prune(&db, "reactions", self.caps.reactions)
    }

    /// Removes a reaction (an `Undo`).
    pub fn unreact(&self, kind: &str, object: &Iri, actor: &Iri) -> rusqlite::Result<()> {
        self.db().execute(
            "DELETE FROM reactions WHERE kind = ?1 AND object = ?2 AND actor = ?3",
            params![kind, object.as_str(), actor.as_str()],
        )?;
        Ok(())
    }

    /// Who reacted to `object` with `kind`, oldest first.
    #[allow(dead_code)] // read by the integration tests
    pub fn reactions(&self, kind: &str, object: &str) -> Vec<String> {
        let db = self.db();
        let Ok(mut stmt) = db.prepare_cached(
            "SELECT actor FROM reactions WHERE kind = ?1 AND object = ?2 ORDER BY rowid",
        ) else {
            return Vec::new();
        };
        stmt.query_map(params![kind, object], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .unwrap_or_default()
    }

    /// Records how an accepted activity was verified.
    pub fn verified(&self, id: &Iri, record: &str) -> rusqlite::Result<()> {
        let db = self.db();
        db.execute(
            "INSERT OR REPLACE INTO verifications (id, record) VALUES (?1, ?2)",
            params![id.as_str(), record],
        )?;
        prune(&db, "verifications", self.caps.verifications)
    }

    /// How the activity `id` was verified ("dialect algorithm key-id").
    #[allow(dead_code)] // read by the integration tests
    pub fn verification(&self, id: &str) -> Option<String> {
        self.db()
            .query_row(
                "SELECT record FROM verifications WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
    }

    /// How many verification records are kept.
    #[allow(dead_code)] // read by the integration tests
    pub fn verification_count(&self) -> usize {
        self.db()
            .query_row("SELECT COUNT(*) FROM verifications", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    }

    /// How many rows `table` holds (a name from the schema above).
    #[allow(dead_code)] // read by the integration tests
    pub fn rows(&self, table: &str) -> usize {
        self.db()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map_or(0, |n| usize::try_from(n).unwrap_or(0))
    }

    /// Keeps a Follow of a locked user for approval (one per follower);
    /// the oldest request goes past the cap.
    pub fn add_pending(&self, local: &Iri, follow: &Activity) -> rusqlite::Result<()> {
        let Some(remote) = follow.actor_id() else {
            return Ok(());
        };
        let json = serde_json::to_string(follow)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        let db = self.db();
        db.execute(
            "INSERT OR REPLACE INTO pending (local, remote, follow) VALUES (?1, ?2, ?3)",
            params![local.as_str(), remote.as_str(), json],
        )?;
        db.execute(
            "DELETE FROM pending WHERE local = ?1 AND rowid <= (SELECT rowid FROM pending WHERE local = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2)",
            params![local.as_str(), cap(self.caps.pending_per_user)],
        )?;
        Ok(())
    }

    /// The pending Follows of a local user, oldest first.
    pub fn pending(&self, local: &Iri) -> Vec<Activity> {
        self.strings(
            "SELECT follow FROM pending WHERE local = ?1 ORDER BY rowid",
            local.as_str(),
        )
        .unwrap_or_default()
        .iter()
        .filter_map(|s| serde_json::from_str(s).ok())
        .collect()
    }

    /// Takes the pending Follow of `remote` (or with that Follow id).
    pub fn take_pending(&self, local: &Iri, key: &str) -> Option<Activity> {
        let found = self.pending(local).into_iter().find(|f| {
            f.actor_id().is_some_and(|a| a.as_str() == key)
                || f.id.as_ref().is_some_and(|i| i.as_str() == key)
        })?;
        let remote = found.actor_id()?.as_str().to_owned();
        self.drop_pending(local, &remote);
        Some(found)
    }

    /// Forgets `remote`'s pending request to `local`.
    pub fn drop_pending(&self, local: &Iri, remote: &str) {
        let _ = self.db().execute(
            "DELETE FROM pending WHERE local = ?1 AND remote = ?2",
            params![local.as_str(), remote],
        );
    }
}

/// A row count as SQLite's integer.
fn cap(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Deletes the oldest rows of `table` past `cap` (by rowid).
fn prune(db: &Connection, table: &str, cap_rows_: usize) -> rusqlite::Result<()> {
    db.execute(
        &format!(
            "DELETE FROM {table} WHERE rowid <= (SELECT rowid FROM {table} ORDER BY rowid DESC LIMIT 1 OFFSET ?1)"
        ),
        [cap(cap_rows_)],
    )?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn like(n: usize) -> Activity {
        Activity::new(
            archipel::vocab::Kind::Like,
            iri(&format!("https://b.example/likes/{n}")),
            iri(&format!("https://b.example/users/u{n}")),
        )
    }

    fn small() -> Store {
        let caps = Caps {
            inbox_per_user: 3,
            received: 2,
            reactions: 2,
            pending_per_user: 2,
            followers_per_user: 2,
            verifications: 2,
        };
        Store::open(None, caps).unwrap()
    }

    #[tokio::test]
    async fn every_table_a_peer_can_grow_stays_within_its_cap() {
        let store = small();
        let alice = iri("https://a.example/users/alice");
        for n in 0..10 {
            store.file(&alice, &like(n)).unwrap();
            store.add_pending(&alice, &like(n)).unwrap();
            store.verified(like(n).id.as_ref().unwrap(), "x").unwrap();
            let object = iri(&format!("https://a.example/objects/{n}"));
            store.react("Like", &object, &alice).unwrap();
            let note = AnyObject::from(archipel::vocab::Object::new("Note").with_id(object));
            store.put_received(&alice, &note).unwrap();
        }
        // The newest are kept, the oldest dropped.
        let kept: Vec<String> = store
            .inbox(&alice, 100)
            .iter()
            .map(|a| a.id.as_ref().unwrap().as_str().to_owned())
            .collect();
        assert_eq!(
            kept,
            [9, 8, 7].map(|n| format!("https://b.example/likes/{n}"))
        );
        assert_eq!(store.pending(&alice).len(), 2);
        assert_eq!(store.verification_count(), 2);
        assert_eq!(
            store.reactions("Like", "https://a.example/objects/9").len(),
            1
        );
        assert!(
            store
                .reactions("Like", "https://a.example/objects/0")
                .is_empty()
        );
        assert!(store.received("https://a.example/objects/9").is_some());
        assert!(store.received("https://a.example/objects/7").is_none());

        // A follower past the cap is refused, not swapped for an old one.
        let graph = store.graph();
        for n in 0..2 {
            graph
                .add_follower(&alice, &iri(&format!("https://b.example/users/{n}")))
                .await
                .unwrap();
        }
        let refused = graph
            .add_follower(&alice, &iri("https://b.example/users/9"))
            .await;
        assert_eq!(
            refused,
            Err(GraphError::Full {
                what: "followers",
                cap: 2
            })
        );
        assert_eq!(graph.followers(&alice).await.unwrap().len(), 2);
    }
}
