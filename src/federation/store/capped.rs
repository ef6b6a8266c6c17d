//! [`CappedStore`]: bounded tables for what remote peers send (feature
//! `sqlite`).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension as _, Transaction, params};

use super::StoreError;
use super::source::{before, cursor_at};
use crate::federation::collection::{CollectionError, CollectionSource, Cursor, Page};
use crate::federation::sqlite::{Durability, open_store};
use crate::federation::visibility::Reader;
use crate::vocab::Iri;
use crate::vocab::{AnyObject, Reference};

/// Every capped table's rows in one physical table, keyed by (table,
/// scope, key) and found through `khash`, a 64-bit digest of the three
/// ([`key_hash`]): an index of long IRIs grows many times larger, and every
/// write lands on a random page of it, which slowed writes as the table
/// grew. A digest can collide, so the columns are compared too, and the
/// uniqueness of (table, scope, key) is kept by the writes, each in an
/// immediate transaction. The statements name the index (`INDEXED BY`):
/// without statistics SQLite would rather walk a whole scope by
/// `archipel_capped_scope`. `archipel_capped_counts` keeps each scope's and each
/// table's row count (scope `NULL`), so a write never counts rows and the
/// oldest row is found at the start of an index.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS archipel_capped (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl   TEXT NOT NULL,
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    owner TEXT,
    value TEXT NOT NULL,
    khash INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS archipel_capped_key ON archipel_capped (khash);
CREATE INDEX IF NOT EXISTS archipel_capped_scope ON archipel_capped (tbl, scope, seq);
CREATE INDEX IF NOT EXISTS archipel_capped_table ON archipel_capped (tbl, seq);
CREATE TABLE IF NOT EXISTS archipel_capped_counts (
    tbl   TEXT NOT NULL,
    scope TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (tbl, scope)
);
";

/// The counts row of a whole table (a scope no caller can name, as scopes
/// are stored with a one-character prefix).
const WHOLE: &str = "*";

/// The bound of a [`CappedTable`]: past it, the oldest rows go. A table
/// never holds more than its cap; past 64 rows, a prune removes 1/64 of
/// the cap at once, so a full table holds between 63/64 of its cap and
/// its cap, and is pruned once every `cap / 64` writes rather than on each.
///
/// ```
/// use archipel::federation::store::Cap;
/// let inbox = Cap::per_scope(5_000); // per local user
/// assert_eq!((inbox.per_scope, inbox.total), (Some(5_000), None));
/// let received = Cap::total(50_000).with_per_scope(1_000);
/// assert_eq!((received.per_scope, received.total), (Some(1_000), Some(50_000)));
/// assert_eq!(Cap::total(0).total, Some(1)); // a cap holds at least one row
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cap {
    /// Rows kept per scope (a local user, say).
    pub per_scope: Option<usize>,
    /// Rows kept in the whole table.
    pub total: Option<usize>,
}

impl Cap {
    /// At most `n` rows in the whole table. Use it whenever remote peers
    /// choose the scope.
    pub fn total(n: usize) -> Cap {
        Cap {
            per_scope: None,
            total: Some(n.max(1)),
        }
    }

    /// At most `n` rows per scope, for scopes the application chooses (its
    /// local users): the table holds at most `n` times their number.
    pub fn per_scope(n: usize) -> Cap {
        Cap {
            per_scope: Some(n.max(1)),
            total: None,
        }
    }

    /// Also at most `n` rows per scope (builder style).
    pub fn with_per_scope(mut self, n: usize) -> Cap {
        self.per_scope = Some(n.max(1));
        self
    }

    /// Also at most `n` rows in the whole table (builder style).
    pub fn with_total(mut self, n: usize) -> Cap {
        self.total = Some(n.max(1));
        self
    }
}

/// One row of a [`CappedTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// Its place: later rows have larger numbers.
    pub seq: u64,
    /// Its key within its scope.
    pub key: String,
    /// Who owns what it holds (a received object's author), if recorded.
    pub owner: Option<Iri>,
    /// What it holds (JSON, or any text).
    pub value: String,
}

/// A database of bounded tables, in a SQLite file (WAL) or in memory:
/// the tables an application keeps of what remote peers send (received
/// objects, inbox entries, reactions, pending follow requests, a
/// verification log). Each is a [`CappedTable`] with its own [`Cap`].
///
/// Calls are short indexed statements made on the caller's thread under
/// the connection's lock (no table scans: counts are kept as rows come and
/// go). On unix a new database file is created with mode `0600`.
///
/// ```
/// use archipel::federation::store::{Cap, CappedStore};
/// # fn main() -> Result<(), archipel::federation::store::StoreError> {
/// let db = CappedStore::open_in_memory()?;
/// let likes = db.table("likes", Cap::total(2));
/// for actor in ["a", "b", "c"] {
///     likes.put("https://a.example/objects/1", actor, None, "")?;
/// }
/// // The oldest went past the cap.
/// let kept: Vec<String> = likes
///     .oldest("https://a.example/objects/1", 10)?
///     .into_iter()
///     .map(|e| e.key)
///     .collect();
/// assert_eq!(kept, ["b", "c"]);
/// assert_eq!(likes.len()?, 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CappedStore {
    conn: Arc<Mutex<Connection>>,
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Store(format!("sqlite: {e}"))
}

fn open(path: Option<&Path>) -> Result<CappedStore, StoreError> {
    let conn = open_store(path, SCHEMA, Durability::Normal).map_err(StoreError::Store)?;
    Ok(CappedStore {
        conn: Arc::new(Mutex::new(conn)),
    })
}

impl CappedStore {
    /// Opens (or creates, mode `0600`) the database at `path`.
    ///
    /// # Errors
    /// [`StoreError::Store`] if the file cannot be created or opened.
    pub fn open(path: impl AsRef<Path>) -> Result<CappedStore, StoreError> {
        open(Some(path.as_ref()))
    }

    /// A database in memory: lost on restart, bounded the same way.
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn open_in_memory() -> Result<CappedStore, StoreError> {
        open(None)
    }

    /// The table `name` of this database, bounded by `cap` (the cap is
    /// applied as rows are written; tables of different names never mix).
    pub fn table(&self, name: &str, cap: Cap) -> CappedTable {
        CappedTable {
            conn: self.conn.clone(),
            name: name.to_owned(),
            cap,
        }
    }
}

/// A bounded table of a [`CappedStore`]: rows keyed by (scope, key),
/// newest last; writing a row past the [`Cap`] drops the oldest of its
/// scope, or of the table. Rewriting a key keeps its place. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CappedTable {
    conn: Arc<Mutex<Connection>>,
    name: String,
    cap: Cap,
}

/// The 64-bit digest of (table, stored scope, key) that `khash` indexes:
/// the first 8 bytes of their SHA-256, each part length-prefixed.
fn key_hash(tbl: &str, scope: &str, key: &str) -> i64 {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    for part in [tbl, scope, key] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    for (to, from) in first.iter_mut().zip(digest.iter()) {
        *to = *from;
    }
    i64::from_be_bytes(first)
}

/// Scopes are stored with a prefix, so no caller's scope is [`WHOLE`].
fn scoped(scope: &str) -> String {
    format!("/{scope}")
}

fn count_of(conn: &Connection, tbl: &str, scope: &str) -> Result<usize, StoreError> {
    let n: Option<i64> = conn
        .prepare_cached("SELECT n FROM archipel_capped_counts WHERE tbl = ?1 AND scope = ?2")
        .map_err(db)?
        .query_row([tbl, scope], |r| r.get(0))
        .optional()
        .map_err(db)?;
    Ok(n.map_or(0, |n| usize::try_from(n).unwrap_or(0)))
}

fn add_count(tx: &Transaction<'_>, tbl: &str, scope: &str, by: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO archipel_capped_counts (tbl, scope, n) VALUES (?1, ?2, MAX(?3, 0)) \
         ON CONFLICT (tbl, scope) DO UPDATE SET n = MAX(n + ?3, 0)",
    )
    .map_err(db)?
    .execute(params![tbl, scope, by])
    .map_err(db)?;
    Ok(())
}

/// How many rows past its cap a prune removes at once: the excess plus
/// 1/64 of the cap, so a full table is pruned once every `cap / 64`
/// writes instead of on every write (a table past 64 rows then holds
/// between 63/64 of its cap and its cap).
fn prune_batch(cap: usize, count: usize) -> usize {
    count.saturating_sub(cap) + cap / 64
}

/// Deletes the `n` oldest rows of `tbl` (in `scope`, or anywhere with
/// `None`) and lowers the counts of the scopes they were in.
fn drop_oldest(
    tx: &Transaction<'_>,
    tbl: &str,
    scope: Option<&str>,
    n: usize,
) -> Result<(), StoreError> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    // The oldest rows, by the index that orders them: per scope, or the
    // table's. Their scopes are counted before they go.
    let oldest = match scope {
        Some(_) => {
            "SELECT seq FROM archipel_capped WHERE tbl = ?1 AND scope = ?2 ORDER BY seq LIMIT ?3"
        }
        None => {
            "SELECT seq FROM archipel_capped WHERE tbl = ?1 AND ?2 IS NULL ORDER BY seq LIMIT ?3"
        }
    };
    let per_scope: Vec<(String, i64)> = tx
        .prepare_cached(&format!(
            "SELECT scope, count(*) FROM archipel_capped WHERE seq IN ({oldest}) GROUP BY scope"
        ))
        .map_err(db)?
        .query_map(params![tbl, scope, n], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let dropped = tx
        .prepare_cached(&format!(
            "DELETE FROM archipel_capped WHERE seq IN ({oldest})"
        ))
        .map_err(db)?
        .execute(params![tbl, scope, n])
        .map_err(db)?;
    for (scope, k) in per_scope {
        add_count(tx, tbl, &scope, -k)?;
    }
    add_count(tx, tbl, WHOLE, -i64::try_from(dropped).unwrap_or(i64::MAX))?;
    Ok(())
}

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, Option<String>, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn to_entry(
    (seq, key, owner, value): (i64, String, Option<String>, String),
) -> Result<Entry, StoreError> {
    let owner = owner
        .map(|o| {
            Iri::parse(o.as_str()).map_err(|e| StoreError::Corrupt {
                id: key.clone(),
                reason: format!("owner {o:?}: {e}"),
            })
        })
        .transpose()?;
    Ok(Entry {
        seq: u64::try_from(seq).unwrap_or(0),
        key,
        owner,
        value,
    })
}

impl CappedTable {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `value` (and `owner`) at (`scope`, `key`): a new row is the
    /// newest, and past the cap the oldest rows go; an existing key keeps
    /// its place.
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn put(
        &self,
        scope: &str,
        key: &str,
        owner: Option<&Iri>,
        value: &str,
    ) -> Result<(), StoreError> {
        let scope = scoped(scope);
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let tbl = self.name.as_str();
        let owner = owner.map(Iri::as_str);
        let khash = key_hash(tbl, &scope, key);
        let updated = tx
            .prepare_cached(
                "UPDATE archipel_capped INDEXED BY archipel_capped_key \
                 SET owner = ?4, value = ?5 WHERE khash = ?6 AND tbl = ?1 AND scope = ?2 AND key = ?3",
            )
            .map_err(db)?
            .execute(params![tbl, scope, key, owner, value, khash])
            .map_err(db)?;
        if updated == 0 {
            tx.prepare_cached(
                "INSERT INTO archipel_capped (tbl, scope, key, owner, value, khash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db)?
            .execute(params![tbl, scope, key, owner, value, khash])
            .map_err(db)?;
            add_count(&tx, tbl, &scope, 1)?;
            add_count(&tx, tbl, WHOLE, 1)?;
            if let Some(cap) = self.cap.per_scope {
                let count = count_of(&tx, tbl, &scope)?;
                if count > cap {
                    drop_oldest(&tx, tbl, Some(&scope), prune_batch(cap, count))?;
                }
            }
            if let Some(cap) = self.cap.total {
                let count = count_of(&tx, tbl, WHOLE)?;
                if count > cap {
                    drop_oldest(&tx, tbl, None, prune_batch(cap, count))?;
                }
            }
        }
        tx.commit().map_err(db)
    }

    /// The row at (`scope`, `key`).
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails, [`StoreError::Corrupt`] for
    /// an owner that no longer parses.
    pub fn get(&self, scope: &str, key: &str) -> Result<Option<Entry>, StoreError> {
        let scope = scoped(scope);
        let khash = key_hash(&self.name, &scope, key);
        let conn = self.lock();
        let row = conn
            .prepare_cached(
                "SELECT seq, key, owner, value FROM archipel_capped \
                 INDEXED BY archipel_capped_key WHERE khash = ?4 AND tbl = ?1 AND scope = ?2 AND key = ?3",
            )
            .map_err(db)?
            .query_row(params![self.name, scope, key, khash], entry)
            .optional()
            .map_err(db)?;
        row.map(to_entry).transpose()
    }

    /// Removes the row at (`scope`, `key`); whether there was one.
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn remove(&self, scope: &str, key: &str) -> Result<bool, StoreError> {
        let scope = scoped(scope);
        let khash = key_hash(&self.name, &scope, key);
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db)?;
        let n = tx
            .prepare_cached(
                "DELETE FROM archipel_capped INDEXED BY archipel_capped_key \
                 WHERE khash = ?4 AND tbl = ?1 AND scope = ?2 AND key = ?3",
            )
            .map_err(db)?
            .execute(params![self.name, scope, key, khash])
            .map_err(db)?;
        if n > 0 {
            add_count(&tx, &self.name, &scope, -1)?;
            add_count(&tx, &self.name, WHOLE, -1)?;
        }
        tx.commit().map_err(db)?;
        Ok(n > 0)
    }

    /// Up to `limit` rows of `scope`, newest first, older than `before`
    /// (a [`Entry::seq`]) if given: an index range, never the table.
    ///
    /// # Errors
    /// As [`CappedTable::get`].
    pub fn newest(
        &self,
        scope: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.rows(
            "SELECT seq, key, owner, value FROM archipel_capped \
             WHERE tbl = ?1 AND scope = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4",
            scope,
            before,
            limit,
        )
    }

    /// Up to `limit` rows of `scope`, oldest first.
    ///
    /// # Errors
    /// As [`CappedTable::get`].
    pub fn oldest(&self, scope: &str, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.rows(
            "SELECT seq, key, owner, value FROM archipel_capped \
             WHERE tbl = ?1 AND scope = ?2 AND seq < ?3 ORDER BY seq LIMIT ?4",
            scope,
            i64::MAX,
            limit,
        )
    }

    fn rows(
        &self,
        sql: &str,
        scope: &str,
        before: i64,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(sql).map_err(db)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![self.name, scoped(scope), before, limit], entry)
            .map_err(db)?;
        rows.map(|r| to_entry(r.map_err(db)?)).collect()
    }

    /// How many rows the table holds (all scopes): a kept count, not a scan.
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn len(&self) -> Result<usize, StoreError> {
        count_of(&self.lock(), &self.name, WHOLE)
    }

    /// How many rows `scope` holds: a kept count, not a scan.
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn scope_len(&self, scope: &str) -> Result<usize, StoreError> {
        count_of(&self.lock(), &self.name, &scoped(scope))
    }

    /// One scope as a paged collection for its owner (a local user's
    /// inbox, their pending follow requests): each row's value decoded as
    /// an embedded document, newest first, paged by `before-N` cursors.
    /// Only [`Reader::Owner`] sees the rows: these tables hold what others
    /// sent to the user, which no one else may list; any other reader gets
    /// a count of 0 and empty pages.
    pub fn owner_collection(&self, scope: &str) -> Arc<dyn CollectionSource> {
        Arc::new(ScopeSource {
            table: self.clone(),
            scope: scope.to_owned(),
        })
    }

    /// Whether the table is empty.
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

/// One scope of a table as a collection (see [`CappedTable::owner_collection`]).
struct ScopeSource {
    table: CappedTable,
    scope: String,
}

fn source_error(e: StoreError) -> CollectionError {
    CollectionError::Source(e.to_string())
}

#[async_trait::async_trait]
impl CollectionSource for ScopeSource {
    async fn total(&self, reader: &Reader) -> Result<u64, CollectionError> {
        if *reader != Reader::Owner {
            return Ok(0);
        }
        let n = self.table.scope_len(&self.scope).map_err(source_error)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
        reader: &Reader,
    ) -> Result<Page, CollectionError> {
        let before = before(cursor)?;
        if *reader != Reader::Owner {
            return Ok(Page::new(Vec::new()));
        }
        let rows = self
            .table
            .newest(&self.scope, before, limit.saturating_add(1))
            .map_err(source_error)?;
        let more = rows.len() > limit;
        let shown: Vec<Entry> = rows.into_iter().take(limit).collect();
        let last = shown.last().map(|e| e.seq);
        let items = shown
            .iter()
            .filter_map(|e| serde_json::from_str::<AnyObject>(&e.value).ok())
            .map(Reference::from)
            .collect();
        let mut page = Page::new(items);
        if more && let Some(seq) = last {
            page = page.with_next(cursor_at(seq)?);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_rows(table: &CappedTable, scopes: &[String]) -> usize {
        scopes
            .iter()
            .map(|s| table.oldest(s, usize::MAX).unwrap().len())
            .sum()
    }

    #[test]
    fn a_full_scope_is_pruned_in_batches_and_never_holds_more_than_its_cap() {
        let db = CappedStore::open_in_memory().unwrap();
        let inbox = db.table("inbox", Cap::per_scope(128));
        for n in 0..1_000 {
            inbox.put("alice", &format!("k{n}"), None, "v").unwrap();
            let len = inbox.len().unwrap();
            let want = if n < 128 { n + 1 } else { 126 };
            assert!(len <= 128 && len >= want, "after {n}: {len} rows");
        }
        // What is kept is the newest, contiguous, and the count is the rows'.
        let kept = inbox.oldest("alice", usize::MAX).unwrap();
        assert_eq!(kept.len(), inbox.len().unwrap());
        let first: usize = kept[0].key[1..].parse().unwrap();
        assert_eq!(kept.last().unwrap().key, "k999");
        assert_eq!(kept.len(), 1_000 - first);
    }

    #[test]
    fn a_full_table_is_pruned_across_scopes_with_every_scope_count_kept() {
        let db = CappedStore::open_in_memory().unwrap();
        let scopes: Vec<String> = (0..7).map(|s| format!("s{s}")).collect();
        let received = db.table("received", Cap::total(128));
        for n in 0..1_000 {
            let scope = &scopes[n % scopes.len()];
            received.put(scope, &format!("k{n}"), None, "v").unwrap();
            assert!(received.len().unwrap() <= 128);
        }
        let len = received.len().unwrap();
        assert!(len >= 126, "{len}");
        assert_eq!(all_rows(&received, &scopes), len);
        // The per-scope counts were lowered with the rows they lost: a
        // per-scope cap on the same rows keeps counting right.
        let same = db.table("received", Cap::total(128).with_per_scope(10));
        same.put("s0", "new", None, "v").unwrap();
        // (10 rows: a cap under 64 is pruned to exactly its cap.)
        assert_eq!(same.oldest("s0", usize::MAX).unwrap().len(), 10);
        assert_eq!(all_rows(&same, &scopes), same.len().unwrap());
    }

    #[test]
    fn scope_and_key_boundaries_never_meet_in_the_digest() {
        let db = CappedStore::open_in_memory().unwrap();
        let t = db.table("t", Cap::total(10));
        t.put("ab", "c", None, "1").unwrap();
        t.put("a", "bc", None, "2").unwrap();
        assert_eq!(t.get("ab", "c").unwrap().unwrap().value, "1");
        assert_eq!(t.get("a", "bc").unwrap().unwrap().value, "2");
        assert_ne!(key_hash("t", "/ab", "c"), key_hash("t", "/a", "bc"));
        assert_eq!(t.len().unwrap(), 2);
    }
}
