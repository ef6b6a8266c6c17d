//! [`SqliteActorStore`]: the remote actor cache in one table of a SQLite
//! database (feature `sqlite`), so a restart does not refetch every actor.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{ActorStore, CachedRecipient, RemoteError, StoredActor};
use crate::federation::sqlite::{Durability, open_store};
use crate::vocab::Iri;

/// The default row cap of [`SqliteActorStore`].
pub const DEFAULT_MAX_ROWS: usize = 100_000;

/// The table; the `archipel_` prefix lets it share a database file with the
/// application's own tables. The implicit `rowid` grows with every write
/// (a replaced row is deleted and inserted again), so it orders rows by
/// when they were stored.
///
/// `inbox` and `shared_inbox` repeat the validated actor's, written with
/// the document in one statement, so a fan-out reads where each follower
/// receives deliveries without decoding its document
/// ([`ActorStore::recipients_many`]); `recipient_rules` says which
/// validation wrote them ([`RECIPIENT_RULES`]). Rows written before those
/// columns existed, or by an older binary (whose `INSERT OR REPLACE`
/// leaves them NULL), or under other rules, are decoded instead.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS archipel_remote_actors (
    id              TEXT PRIMARY KEY NOT NULL,
    document        TEXT NOT NULL,
    fetched_at      INTEGER NOT NULL,
    inbox           TEXT,
    shared_inbox    TEXT,
    recipient_rules INTEGER
)";

/// The version of the validation whose result the recipient columns hold:
/// raised whenever what `RemoteActor` accepts as an inbox changes, so
/// that rows validated under older rules are decoded again, not trusted.
const RECIPIENT_RULES: i64 = 1;

/// Adds the columns a table created by an earlier version lacks. In one
/// immediate transaction: two processes opening an old file at once
/// would otherwise both see a column missing, and the second `ALTER`
/// fail.
fn migrate(conn: &mut Connection) -> Result<(), RemoteError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    let mut present = Vec::new();
    {
        let mut stmt = tx
            .prepare("PRAGMA table_info(archipel_remote_actors)")
            .map_err(db)?;
        let names = stmt.query_map([], |r| r.get::<_, String>(1)).map_err(db)?;
        for name in names {
            present.push(name.map_err(db)?);
        }
    }
    for (column, kind) in [
        ("inbox", "TEXT"),
        ("shared_inbox", "TEXT"),
        ("recipient_rules", "INTEGER"),
    ] {
        if !present.iter().any(|p| p == column) {
            tx.execute_batch(&format!(
                "ALTER TABLE archipel_remote_actors ADD COLUMN {column} {kind}"
            ))
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}

/// An [`ActorStore`] in a SQLite database file (bundled SQLite, WAL mode):
/// one row per actor, `id → document, fetched_at` and the actor's inboxes,
/// in the table `archipel_remote_actors`.
///
/// Bounded: every insert deletes the rows stored more than
/// [`DEFAULT_MAX_ROWS`] writes ago ([`SqliteActorStore::with_max_rows`]),
/// through the rowid index, so the table never holds more rows than the
/// cap and pruning costs no table scan. A cache loses nothing that matters
/// in a crash, so commits do not wait for the disk (`synchronous =
/// NORMAL`). Calls run on tokio's blocking pool, so the store must be used
/// within a tokio runtime.
///
/// ```no_run
/// use std::sync::Arc;
/// use archipel::federation::remote::SqliteActorStore;
/// # fn demo() -> Result<(), archipel::federation::remote::RemoteError> {
/// let store = Arc::new(SqliteActorStore::open("data/actors.sqlite3")?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteActorStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
    max_rows: usize,
}

fn db(e: rusqlite::Error) -> RemoteError {
    RemoteError::Store(format!("sqlite: {e}"))
}

fn open(path: Option<PathBuf>) -> Result<SqliteActorStore, RemoteError> {
    let mut conn =
        open_store(path.as_deref(), SCHEMA, Durability::Normal).map_err(RemoteError::Store)?;
    migrate(&mut conn)?;
    Ok(SqliteActorStore {
        conn: Arc::new(Mutex::new(conn)),
        path,
        max_rows: DEFAULT_MAX_ROWS,
    })
}

fn to_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl SqliteActorStore {
    /// Opens (creating if needed) the store in the database file at `path`;
    /// a missing file is created with mode `0600` and missing parent
    /// directories with `0700`, as the other SQLite stores do.
    ///
    /// # Errors
    /// [`RemoteError::Store`] if the directory or file cannot be created or
    /// is not a usable database.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteActorStore, RemoteError> {
        open(Some(path.as_ref().to_path_buf()))
    }

    /// A store in a private in-memory database, gone with the value.
    ///
    /// # Errors
    /// [`RemoteError::Store`].
    pub fn open_in_memory() -> Result<SqliteActorStore, RemoteError> {
        open(None)
    }

    /// At most `n` rows (at least one).
    #[must_use]
    pub fn with_max_rows(mut self, n: usize) -> SqliteActorStore {
        self.max_rows = n.max(1);
        self
    }

    /// The database file, if the store is not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How many rows the table holds.
    ///
    /// # Errors
    /// [`RemoteError::Store`].
    pub async fn count(&self) -> Result<usize, RemoteError> {
        self.with_conn(|conn| {
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM archipel_remote_actors", [], |r| {
                    r.get(0)
                })
                .map_err(db)?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, RemoteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, RemoteError> + Send + 'static,
    {
        super::super::sqlite::with_conn(&self.conn, f, |e| {
            RemoteError::Store(format!("sqlite: {e}"))
        })
        .await
    }
}

#[async_trait::async_trait]
impl ActorStore for SqliteActorStore {
    async fn get(&self, id: &Iri) -> Result<Option<StoredActor>, RemoteError> {
        let id = id.as_str().to_owned();
        let row: Option<(String, i64)> = self
            .with_conn(move |conn| {
                conn.prepare_cached(
                    "SELECT document, fetched_at FROM archipel_remote_actors WHERE id = ?1",
                )
                .map_err(db)?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(db)
            })
            .await?;
        // A row that no longer decodes (written by another version, edited
        // by hand) is a miss: the actor is fetched and the row replaced.
        Ok(row.and_then(|(doc, at)| StoredActor::decode(&doc, from_millis(at)).ok()))
    }

    async fn get_many(&self, ids: &[Iri]) -> Result<Vec<Option<StoredActor>>, RemoteError> {
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        // One trip to the blocking pool and one lock for the whole batch;
        // the documents are decoded after the connection is released.
        let rows: Vec<Option<(String, i64)>> = self
            .with_conn(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT document, fetched_at FROM archipel_remote_actors WHERE id = ?1",
                    )
                    .map_err(db)?;
                ids.iter()
                    .map(|id| {
                        stmt.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()
                            .map_err(db)
                    })
                    .collect()
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| row.and_then(|(doc, at)| StoredActor::decode(&doc, from_millis(at)).ok()))
            .collect())
    }

    async fn recipients_many(
        &self,
        ids: &[Iri],
    ) -> Result<Vec<Option<CachedRecipient>>, RemoteError> {
        /// A row: the recipient columns, or the document of a row written
        /// before they existed.
        enum Row {
            Columns(i64, String, Option<String>),
            Document(i64, String),
        }
        let asked: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        let rows: Vec<Option<Row>> = self
            .with_conn(move |conn| {
                // The columns only when written under today's rules.
                let mut columns = conn
                    .prepare_cached(
                        "SELECT fetched_at, CASE WHEN recipient_rules = ?2 THEN inbox END,
                                shared_inbox
                         FROM archipel_remote_actors WHERE id = ?1",
                    )
                    .map_err(db)?;
                let mut rows = Vec::with_capacity(asked.len());
                for id in &asked {
                    let row: Option<(i64, Option<String>, Option<String>)> = columns
                        .query_row(params![id, RECIPIENT_RULES], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()
                        .map_err(db)?;
                    rows.push(match row {
                        None => None,
                        Some((at, Some(inbox), shared)) => Some(Row::Columns(at, inbox, shared)),
                        Some((_, None, _)) => conn
                            .prepare_cached(
                                "SELECT fetched_at, document FROM archipel_remote_actors
                                 WHERE id = ?1",
                            )
                            .map_err(db)?
                            .query_row(params![id], |r| Ok(Row::Document(r.get(0)?, r.get(1)?)))
                            .optional()
                            .map_err(db)?,
                    });
                }
                Ok(rows)
            })
            .await?;
        Ok(ids
            .iter()
            .zip(rows)
            .map(|(id, row)| match row? {
                // Written from a validated document: kept as published,
                // checked again by `CachedRecipient::recipient`.
                Row::Columns(at, inbox, shared) => Some(CachedRecipient::new(
                    id.clone(),
                    Iri::new_unchecked(inbox),
                    shared.map(Iri::new_unchecked),
                    from_millis(at),
                )),
                // As `get` does: a row that no longer decodes is a miss.
                // Named by the row's key, as the columns' answer is.
                Row::Document(at, doc) => {
                    StoredActor::decode(&doc, from_millis(at))
                        .ok()
                        .map(|e| CachedRecipient {
                            id: id.clone(),
                            ..CachedRecipient::of(e.actor())
                        })
                }
            })
            .collect())
    }

    async fn put(&self, entry: StoredActor) -> Result<(), RemoteError> {
        let max = i64::try_from(self.max_rows).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(db)?;
            let actor = entry.actor();
            tx.prepare_cached(
                "INSERT OR REPLACE INTO archipel_remote_actors
                     (id, document, fetched_at, inbox, shared_inbox, recipient_rules)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db)?
            .execute(params![
                entry.id().as_str(),
                entry.document(),
                to_millis(entry.fetched_at()),
                actor.inbox().as_str(),
                actor.shared_inbox().map(Iri::as_str),
                RECIPIENT_RULES,
            ])
            .map_err(db)?;
            let newest = tx.last_insert_rowid();
            tx.prepare_cached("DELETE FROM archipel_remote_actors WHERE rowid <= ?1")
                .map_err(db)?
                .execute(params![newest.saturating_sub(max)])
                .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn remove(&self, id: &Iri) -> Result<bool, RemoteError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM archipel_remote_actors WHERE id = ?1")
                .map_err(db)?
                .execute(params![id])
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, at: u64) -> StoredActor {
        let doc = serde_json::json!({"id": id, "type": "Person", "inbox": format!("{id}/inbox")});
        StoredActor::decode(&doc.to_string(), UNIX_EPOCH + Duration::from_millis(at)).unwrap()
    }

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    /// Runs `sql` on the store's connection as another writer would.
    async fn exec(store: &SqliteActorStore, sql: &'static str, args: Vec<String>) {
        store
            .with_conn(move |conn| {
                conn.execute(sql, rusqlite::params_from_iter(args))
                    .map_err(db)
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn round_trip_replace_and_remove() {
        let store = SqliteActorStore::open_in_memory().unwrap();
        let bob = "https://b.example/users/bob";
        store.put(entry(bob, 1_000)).await.unwrap();
        store.put(entry(bob, 2_000)).await.unwrap();
        let got = store.get(&iri(bob)).await.unwrap().unwrap();
        assert_eq!(got.fetched_at(), UNIX_EPOCH + Duration::from_millis(2_000));
        assert_eq!(
            got.actor().inbox().as_str(),
            "https://b.example/users/bob/inbox"
        );
        assert_eq!(store.count().await.unwrap(), 1);
        assert!(store.remove(&iri(bob)).await.unwrap());
        assert!(!store.remove(&iri(bob)).await.unwrap());
        assert!(store.get(&iri(bob)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn get_many_answers_what_get_answers_in_order() {
        let store = SqliteActorStore::open_in_memory().unwrap();
        for n in [0, 2, 3] {
            store
                .put(entry(&format!("https://b.example/users/u{n}"), n))
                .await
                .unwrap();
        }
        // A row that no longer decodes is a miss, for both.
        exec(
            &store,
            "INSERT INTO archipel_remote_actors (id, document, fetched_at)
                     VALUES ('https://b.example/users/broken', 'not json', 1)",
            Vec::new(),
        )
        .await;
        let ids: Vec<Iri> = ["u3", "u1", "broken", "u0", "u3", "u2"]
            .iter()
            .map(|n| iri(&format!("https://b.example/users/{n}")))
            .collect();
        let many = store.get_many(&ids).await.unwrap();
        assert_eq!(many.len(), ids.len());
        for (id, got) in ids.iter().zip(&many) {
            let one = store.get(id).await.unwrap();
            assert_eq!(
                got.as_ref().map(|e| (e.id().clone(), e.fetched_at())),
                one.as_ref().map(|e| (e.id().clone(), e.fetched_at())),
                "{id}"
            );
        }
        let found: Vec<bool> = many.iter().map(Option::is_some).collect();
        assert_eq!(found, [true, false, false, true, true, true]);
        assert!(store.get_many(&[]).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn recipients_are_read_from_their_columns_as_the_documents_give_them() {
        let store = SqliteActorStore::open_in_memory().unwrap();
        let shared = |id: &str, inbox: &str, shared: Option<&str>| {
            let mut doc = serde_json::json!({"id": id, "type": "Person", "inbox": inbox});
            if let Some(s) = shared {
                doc["endpoints"] = serde_json::json!({"sharedInbox": s});
            }
            StoredActor::decode(&doc.to_string(), UNIX_EPOCH + Duration::from_millis(5)).unwrap()
        };
        store
            .put(shared(
                "https://b.example/users/bob",
                "https://b.example/users/bob/inbox",
                Some("https://b.example/inbox"),
            ))
            .await
            .unwrap();
        store
            .put(entry("https://c.example/users/carol", 7))
            .await
            .unwrap();
        let ids: Vec<Iri> = [
            "https://b.example/users/bob",
            "https://x.example/users/nobody",
            "https://c.example/users/carol",
        ]
        .iter()
        .map(|s| iri(s))
        .collect();
        let many = store.recipients_many(&ids).await.unwrap();
        for (id, got) in ids.iter().zip(&many) {
            let decoded = store.get(id).await.unwrap();
            assert_eq!(
                got.as_ref(),
                decoded
                    .as_ref()
                    .map(|e| CachedRecipient::of(e.actor()))
                    .as_ref(),
                "{id}"
            );
            assert_eq!(
                got.as_ref().and_then(CachedRecipient::recipient),
                decoded.as_ref().and_then(|e| e.actor().recipient()),
                "{id}"
            );
        }
        let bob = many[0].as_ref().unwrap().recipient().unwrap();
        assert_eq!(
            bob.shared_inbox.map(String::from).as_deref(),
            Some("https://b.example/inbox")
        );
        assert!(many[1].is_none());
        // Read from the columns, not the document: a row whose document
        // no longer decodes still answers them...
        exec(
            &store,
            "UPDATE archipel_remote_actors SET document = 'not json'
                     WHERE id = 'https://b.example/users/bob'",
            Vec::new(),
        )
        .await;
        let again = store.recipients_many(&ids[..1]).await.unwrap();
        assert_eq!(again[0], many[0]);
        // ...and a row without them (written before they existed) is
        // decoded instead.
        exec(
            &store,
            "UPDATE archipel_remote_actors SET inbox = NULL, shared_inbox = NULL",
            Vec::new(),
        )
        .await;
        let old = store.recipients_many(&ids).await.unwrap();
        assert!(old[0].is_none(), "an undecodable old row is a miss");
        assert_eq!(old[2], many[2]);
        assert!(old[2].is_some());
    }

    #[tokio::test]
    async fn columns_from_another_writer_or_other_rules_are_not_trusted() {
        let store = SqliteActorStore::open_in_memory().unwrap();
        let bob = "https://b.example/users/bob";
        store.put(entry(bob, 5)).await.unwrap();
        // An older binary replacing the row (it knows only the first three
        // columns) moves bob's inbox: the answer follows its document.
        let moved = serde_json::json!({
            "id": bob, "type": "Person", "inbox": "https://elsewhere.example/inbox"
        })
        .to_string();
        exec(
            &store,
            "INSERT OR REPLACE INTO archipel_remote_actors (id, document, fetched_at)
                     VALUES (?1, ?2, 6)",
            vec![bob.to_string(), moved.to_string()],
        )
        .await;
        let ids = [iri(bob)];
        let got = store.recipients_many(&ids).await.unwrap();
        assert_eq!(
            got[0].as_ref().map(|r| r.inbox.as_str()),
            Some("https://elsewhere.example/inbox")
        );
        // Columns written under other validation rules are decoded too.
        store.put(entry(bob, 7)).await.unwrap();
        let moved = serde_json::json!({
            "id": bob, "type": "Person", "inbox": "https://moved.example/inbox"
        })
        .to_string();
        exec(
            &store,
            "UPDATE archipel_remote_actors SET document = ?1, recipient_rules = 0",
            vec![moved.to_string()],
        )
        .await;
        let got = store.recipients_many(&ids).await.unwrap();
        assert_eq!(
            got[0].as_ref().map(|r| r.inbox.as_str()),
            Some("https://moved.example/inbox")
        );
    }

    #[tokio::test]
    async fn a_table_from_before_the_recipient_columns_gets_them_and_keeps_its_rows() {
        let dir =
            std::env::temp_dir().join(format!("archipel-actors-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("actors.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE archipel_remote_actors (
                     id TEXT PRIMARY KEY NOT NULL, document TEXT NOT NULL,
                     fetched_at INTEGER NOT NULL)",
            )
            .unwrap();
            let e = entry("https://b.example/users/bob", 9);
            conn.execute(
                "INSERT INTO archipel_remote_actors (id, document, fetched_at)
                 VALUES (?1, ?2, 9)",
                params![e.id().as_str(), e.document()],
            )
            .unwrap();
        }
        let store = SqliteActorStore::open(&path).unwrap();
        let bob = iri("https://b.example/users/bob");
        let got = store
            .recipients_many(std::slice::from_ref(&bob))
            .await
            .unwrap();
        assert_eq!(
            got[0].as_ref().map(|r| r.inbox.as_str()),
            Some("https://b.example/users/bob/inbox")
        );
        // New rows fill the columns; opening again adds nothing twice.
        store
            .put(entry("https://c.example/users/carol", 10))
            .await
            .unwrap();
        drop(store);
        let store = SqliteActorStore::open(&path).unwrap();
        assert_eq!(store.count().await.unwrap(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_row_cap_prunes_the_oldest_on_insert() {
        let store = SqliteActorStore::open_in_memory().unwrap().with_max_rows(3);
        for n in 0..5 {
            store
                .put(entry(&format!("https://b.example/users/u{n}"), n))
                .await
                .unwrap();
        }
        assert_eq!(store.count().await.unwrap(), 3);
        for n in 0..2 {
            let id = iri(&format!("https://b.example/users/u{n}"));
            assert!(store.get(&id).await.unwrap().is_none(), "u{n} pruned");
        }
        // Rewriting an old entry makes it the newest.
        store
            .put(entry("https://b.example/users/u2", 9))
            .await
            .unwrap();
        store
            .put(entry("https://b.example/users/u5", 10))
            .await
            .unwrap();
        assert!(
            store
                .get(&iri("https://b.example/users/u2"))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .get(&iri("https://b.example/users/u3"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.count().await.unwrap() <= 3);
    }

    #[tokio::test]
    async fn entries_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!(
            "archipel-remote-actors-{}-{}",
            std::process::id(),
            to_millis(SystemTime::now())
        ));
        let path = dir.join("actors.sqlite3");
        let bob = "https://b.example/users/bob";
        {
            let store = SqliteActorStore::open(&path).unwrap();
            store.put(entry(bob, 5)).await.unwrap();
        }
        let store = SqliteActorStore::open(&path).unwrap();
        let got = store.get(&iri(bob)).await.unwrap().unwrap();
        assert_eq!(got.fetched_at(), UNIX_EPOCH + Duration::from_millis(5));
        assert_eq!(
            got.actor().inbox().as_str(),
            "https://b.example/users/bob/inbox"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "the file is its owner's only");
            assert_eq!(mode(&dir), 0o700, "the directory is its owner's only");
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_undecodable_row_is_a_miss() {
        let store = SqliteActorStore::open_in_memory().unwrap();
        exec(
            &store,
            "INSERT INTO archipel_remote_actors (id, document, fetched_at)
                     VALUES ('https://b.example/x', 'not json', 0)",
            Vec::new(),
        )
        .await;
        assert!(
            store
                .get(&iri("https://b.example/x"))
                .await
                .unwrap()
                .is_none()
        );
    }
}
