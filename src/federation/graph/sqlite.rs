//! [`SqliteGraph`]: the follow graph in three tables of a SQLite database
//! (feature `sqlite`), so followers survive a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{Graph, GraphError, SentFollow, authority_of, page_order};
use crate::federation::sqlite::{Durability, open_store};
use crate::vocab::Iri;

/// The default cap on followers per local actor of [`SqliteGraph`].
pub const DEFAULT_MAX_FOLLOWERS_PER_ACTOR: usize = 100_000;
/// The default cap on whom one local actor follows in [`SqliteGraph`].
pub const DEFAULT_MAX_FOLLOWING_PER_ACTOR: usize = 100_000;
/// The default cap on pending sent Follows (all actors) of [`SqliteGraph`].
pub const DEFAULT_MAX_SENT_FOLLOWS: usize = 100_000;

/// The tables; the `archipel_` prefix lets them share a database file with
/// the application's own tables. `authority` is the remote's `host[:port]`
/// in lower case (empty if it has none; files written before paging held
/// NULL there, rewritten on open), indexed so that the serving guard's
/// question costs one lookup, not a scan of the followers, and so that a
/// page of followers in `(authority, remote)` order is one range read of
/// `archipel_followers_page`. `archipel_graph_counts` keeps each local
/// actor's row count per table, so the cap check on a new follower is one
/// lookup, not a count of up to 100,000 rows (a row missing there, in a
/// file written before it, is counted once and kept). `seq` orders
/// sent Follows by when they were first recorded, so the cap forgets the
/// oldest pending one. `archipel_following_remote` answers which local
/// actors follow a remote one (followers synchronization) in one range.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS archipel_followers (
    local     TEXT NOT NULL,
    remote    TEXT NOT NULL,
    authority TEXT,
    PRIMARY KEY (local, remote)
);
CREATE INDEX IF NOT EXISTS archipel_followers_authority
    ON archipel_followers (local, authority);
CREATE INDEX IF NOT EXISTS archipel_followers_page
    ON archipel_followers (local, authority, remote);
UPDATE archipel_followers SET authority = '' WHERE authority IS NULL;
CREATE TABLE IF NOT EXISTS archipel_following (
    local     TEXT NOT NULL,
    remote    TEXT NOT NULL,
    authority TEXT,
    PRIMARY KEY (local, remote)
);
CREATE INDEX IF NOT EXISTS archipel_following_page
    ON archipel_following (local, authority, remote);
CREATE INDEX IF NOT EXISTS archipel_following_remote
    ON archipel_following (remote, local);
UPDATE archipel_following SET authority = '' WHERE authority IS NULL;
CREATE TABLE IF NOT EXISTS archipel_graph_counts (
    tbl   TEXT NOT NULL,
    local TEXT NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (tbl, local)
);
CREATE TABLE IF NOT EXISTS archipel_sent_follows (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    follower TEXT NOT NULL,
    followee TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS archipel_sent_follows_pair
    ON archipel_sent_follows (follower, followee);
";

/// A [`Graph`] in a SQLite database file (bundled SQLite, WAL mode), with
/// the same answers as [`MemoryGraph`](super::MemoryGraph): the tables
/// `archipel_followers`, `archipel_following` and `archipel_sent_follows`.
///
/// Bounded, since remote peers grow it: at most
/// [`DEFAULT_MAX_FOLLOWERS_PER_ACTOR`] followers per local actor (past it
/// [`Graph::add_follower`] fails with [`GraphError::Full`], so an existing
/// follower is never silently dropped), [`DEFAULT_MAX_FOLLOWING_PER_ACTOR`]
/// followed actors per local actor (same), and
/// [`DEFAULT_MAX_SENT_FOLLOWS`] pending sent Follows (past it the oldest is
/// forgotten). The `with_*` builders change them.
///
/// On unix a new database file is created with mode `0600`. Every write is
/// committed before it returns. Calls run on tokio's blocking pool, so the
/// graph must be used within a tokio runtime.
///
/// ```no_run
/// use std::sync::Arc;
/// use archipel::federation::graph::{Graph, SqliteGraph};
/// # fn demo() -> Result<(), archipel::federation::graph::GraphError> {
/// let graph: Arc<dyn Graph> =
///     Arc::new(SqliteGraph::open("data/graph.sqlite3")?.with_max_followers(10_000));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteGraph {
    pub(super) conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
    max_followers: usize,
    max_following: usize,
    max_sent: usize,
}

fn db(e: rusqlite::Error) -> GraphError {
    GraphError::Store(format!("sqlite: {e}"))
}

/// A stored IRI; a row that no longer parses is reported, not skipped, so
/// a damaged table is noticed.
fn iri(table: &str, s: String) -> Result<Iri, GraphError> {
    Iri::parse(s.as_str())
        .map_err(|e| GraphError::Store(format!("{table}: stored value {s:?} is not an IRI: {e}")))
}

/// A row count as SQLite's integer.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The `remote` column of `table` for `local`, in IRI order (as
/// [`MemoryGraph`](super::MemoryGraph) lists them).
fn remotes(conn: &Connection, table: &str, local: &str) -> Result<Vec<Iri>, GraphError> {
    let sql = format!("SELECT remote FROM {table} WHERE local = ?1 ORDER BY remote");
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map([local], |r| r.get::<_, String>(0))
        .map_err(db)?;
    rows.map(|r| iri(table, r.map_err(db)?)).collect()
}

/// Inserts `(local, remote)` into `table` unless `local` already has `cap`
/// rows there; a pair already present is no new row and always succeeds.
fn insert_capped(
    conn: &mut Connection,
    table: &'static str,
    local: &str,
    remote: &str,
    cap: usize,
) -> Result<(), GraphError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    let present: bool = tx
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE local = ?1 AND remote = ?2)"
        ))
        .map_err(db)?
        .query_row([local, remote], |r| r.get(0))
        .map_err(db)?;
    if !present {
        let rows = kept_count(&tx, table, local)?;
        if rows >= count(cap) {
            return Err(GraphError::Full {
                what: table.trim_start_matches("archipel_"),
                cap,
            });
        }
        let authority = authority_of(remote).unwrap_or_default();
        tx.prepare_cached(&format!(
            "INSERT INTO {table} (local, remote, authority) VALUES (?1, ?2, ?3)"
        ))
        .map_err(db)?
        .execute(params![local, remote, authority])
        .map_err(db)?;
        tx.prepare_cached(
            "UPDATE archipel_graph_counts SET n = n + 1 WHERE tbl = ?1 AND local = ?2",
        )
        .map_err(db)?
        .execute([table, local])
        .map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// `local`'s row count in `table`, from `archipel_graph_counts`; counted
/// and recorded there the first time.
fn kept_count(conn: &Connection, table: &str, local: &str) -> Result<i64, GraphError> {
    let kept: Option<i64> = conn
        .prepare_cached("SELECT n FROM archipel_graph_counts WHERE tbl = ?1 AND local = ?2")
        .map_err(db)?
        .query_row([table, local], |r| r.get(0))
        .optional()
        .map_err(db)?;
    if let Some(n) = kept {
        return Ok(n);
    }
    let n: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE local = ?1"))
        .map_err(db)?
        .query_row([local], |r| r.get(0))
        .map_err(db)?;
    conn.prepare_cached("INSERT INTO archipel_graph_counts (tbl, local, n) VALUES (?1, ?2, ?3)")
        .map_err(db)?
        .execute(params![table, local, n])
        .map_err(db)?;
    Ok(n)
}

/// At most `limit` rows of `table` for `local` in `(authority, remote)`
/// order after the row of `after`: one range read of the page index.
fn page(
    conn: &Connection,
    table: &str,
    local: &str,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Vec<Iri>, GraphError> {
    // Two statements, so that each is a range read of the index (an `OR`
    // on the cursor would make SQLite scan).
    let mut rows = Vec::new();
    let mut push = |r: rusqlite::Result<String>| -> Result<(), GraphError> {
        rows.push(iri(table, r.map_err(db)?)?);
        Ok(())
    };
    match after {
        None => {
            let sql = format!(
                "SELECT remote FROM {table} WHERE local = ?1
                 ORDER BY authority, remote LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            for r in stmt
                .query_map(params![local, count(limit)], |r| r.get::<_, String>(0))
                .map_err(db)?
            {
                push(r)?;
            }
        }
        Some((authority, remote)) => {
            let sql = format!(
                "SELECT remote FROM {table} WHERE local = ?1 AND (authority, remote) > (?2, ?3)
                 ORDER BY authority, remote LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            for r in stmt
                .query_map(params![local, authority, remote, count(limit)], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(db)?
            {
                push(r)?;
            }
        }
    }
    Ok(rows)
}

fn count_rows(conn: &Connection, table: &str, local: &str) -> Result<u64, GraphError> {
    Ok(u64::try_from(kept_count(conn, table, local)?).unwrap_or(0))
}

fn delete_pair(
    conn: &mut Connection,
    table: &str,
    local: &str,
    remote: &str,
) -> Result<bool, GraphError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    let n = tx
        .prepare_cached(&format!(
            "DELETE FROM {table} WHERE local = ?1 AND remote = ?2"
        ))
        .map_err(db)?
        .execute([local, remote])
        .map_err(db)?;
    if n > 0 {
        tx.prepare_cached(
            "UPDATE archipel_graph_counts SET n = n - 1 WHERE tbl = ?1 AND local = ?2",
        )
        .map_err(db)?
        .execute([table, local])
        .map_err(db)?;
    }
    tx.commit().map_err(db)?;
    Ok(n > 0)
}

fn sent_where(
    conn: &Connection,
    sql: &str,
    args: &[&str],
) -> Result<Option<SentFollow>, GraphError> {
    let row: Option<(String, String, String)> = conn
        .prepare_cached(sql)
        .map_err(db)?
        .query_row(rusqlite::params_from_iter(args), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(db)?;
    let table = "archipel_sent_follows";
    row.map(|(id, follower, followee)| {
        Ok(SentFollow {
            id: iri(table, id)?,
            follower: iri(table, follower)?,
            followee: iri(table, followee)?,
        })
    })
    .transpose()
}

impl SqliteGraph {
    /// Opens (creating if needed) the graph in the database file at `path`;
    /// a new file gets mode `0600`, missing parent directories `0700`.
    ///
    /// # Errors
    /// [`GraphError::Store`] if the file cannot be created or is not a
    /// usable database (the message names the path).
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteGraph, GraphError> {
        let path = path.as_ref().to_path_buf();
        let conn =
            open_store(Some(&path), SCHEMA, Durability::Normal).map_err(GraphError::Store)?;
        Ok(SqliteGraph::with_conn_and_path(conn, Some(path)))
    }

    /// A graph in a private in-memory database, gone with the value: for
    /// tests, or a server run without a data directory.
    ///
    /// # Errors
    /// [`GraphError::Store`].
    pub fn open_in_memory() -> Result<SqliteGraph, GraphError> {
        let conn = open_store(None, SCHEMA, Durability::Normal).map_err(GraphError::Store)?;
        Ok(SqliteGraph::with_conn_and_path(conn, None))
    }

    fn with_conn_and_path(conn: Connection, path: Option<PathBuf>) -> SqliteGraph {
        SqliteGraph {
            conn: Arc::new(Mutex::new(conn)),
            path,
            max_followers: DEFAULT_MAX_FOLLOWERS_PER_ACTOR,
            max_following: DEFAULT_MAX_FOLLOWING_PER_ACTOR,
            max_sent: DEFAULT_MAX_SENT_FOLLOWS,
        }
    }

    /// At most `n` followers per local actor
    /// (default [`DEFAULT_MAX_FOLLOWERS_PER_ACTOR`]).
    #[must_use]
    pub fn with_max_followers(mut self, n: usize) -> SqliteGraph {
        self.max_followers = n;
        self
    }

    /// At most `n` followed actors per local actor
    /// (default [`DEFAULT_MAX_FOLLOWING_PER_ACTOR`]).
    #[must_use]
    pub fn with_max_following(mut self, n: usize) -> SqliteGraph {
        self.max_following = n;
        self
    }

    /// At most `n` pending sent Follows, the oldest forgotten first
    /// (default [`DEFAULT_MAX_SENT_FOLLOWS`]; at least one).
    #[must_use]
    pub fn with_max_sent_follows(mut self, n: usize) -> SqliteGraph {
        self.max_sent = n.max(1);
        self
    }

    /// The database file, if the graph is not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, GraphError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, GraphError> + Send + 'static,
    {
        super::super::sqlite::with_conn(&self.conn, f, GraphError::Store).await
    }
}

#[async_trait::async_trait]
impl Graph for SqliteGraph {
    async fn followers(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        let local = local.as_str().to_owned();
        self.with_conn(move |c| remotes(c, "archipel_followers", &local))
            .await
    }

    async fn is_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        let (local, remote) = (local.as_str().to_owned(), remote.as_str().to_owned());
        self.with_conn(move |c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM archipel_followers WHERE local = ?1 AND remote = ?2)",
            )
            .map_err(db)?
            .query_row([local, remote], |r| r.get(0))
            .map_err(db)
        })
        .await
    }

    async fn has_follower_on(&self, local: &Iri, authority: &str) -> Result<bool, GraphError> {
        // Compared as MemoryGraph does: the parsed URL's authority, without
        // ASCII case; both sides are stored and asked in lower case.
        let local = local.as_str().to_owned();
        let authority = authority.to_ascii_lowercase();
        self.with_conn(move |c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM archipel_followers
                                WHERE local = ?1 AND authority = ?2)",
            )
            .map_err(db)?
            .query_row([local, authority], |r| r.get(0))
            .map_err(db)
        })
        .await
    }

    async fn add_follower(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        let (local, remote) = (local.as_str().to_owned(), remote.as_str().to_owned());
        let cap = self.max_followers;
        self.with_conn(move |c| insert_capped(c, "archipel_followers", &local, &remote, cap))
            .await
    }

    async fn remove_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        let (local, remote) = (local.as_str().to_owned(), remote.as_str().to_owned());
        self.with_conn(move |c| delete_pair(c, "archipel_followers", &local, &remote))
            .await
    }

    async fn record_sent_follow(&self, follow: SentFollow) -> Result<(), GraphError> {
        let cap = count(self.max_sent);
        self.with_conn(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            // A Follow recorded again keeps its place in the eviction order.
            tx.prepare_cached(
                "INSERT INTO archipel_sent_follows (id, follower, followee) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET follower = excluded.follower,
                                                followee = excluded.followee",
            )
            .map_err(db)?
            .execute(params![
                follow.id.as_str(),
                follow.follower.as_str(),
                follow.followee.as_str()
            ])
            .map_err(db)?;
            tx.prepare_cached(
                "DELETE FROM archipel_sent_follows WHERE seq <= (SELECT seq FROM
                 archipel_sent_follows ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
            )
            .map_err(db)?
            .execute([cap])
            .map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn sent_follow(&self, id: &Iri) -> Result<Option<SentFollow>, GraphError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |c| {
            sent_where(
                c,
                "SELECT id, follower, followee FROM archipel_sent_follows WHERE id = ?1",
                &[&id],
            )
        })
        .await
    }

    async fn sent_follow_between(
        &self,
        follower: &Iri,
        followee: &Iri,
    ) -> Result<Option<SentFollow>, GraphError> {
        let (follower, followee) = (follower.as_str().to_owned(), followee.as_str().to_owned());
        // The greatest id of the pair, as MemoryGraph answers.
        self.with_conn(move |c| {
            sent_where(
                c,
                "SELECT id, follower, followee FROM archipel_sent_follows
                 WHERE follower = ?1 AND followee = ?2 ORDER BY id DESC LIMIT 1",
                &[&follower, &followee],
            )
        })
        .await
    }

    async fn forget_sent_follow(&self, id: &Iri) -> Result<bool, GraphError> {
        let id = id.as_str().to_owned();
        self.with_conn(move |c| {
            let n = c
                .prepare_cached("DELETE FROM archipel_sent_follows WHERE id = ?1")
                .map_err(db)?
                .execute([id])
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn add_following(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        let (local, remote) = (local.as_str().to_owned(), remote.as_str().to_owned());
        let cap = self.max_following;
        self.with_conn(move |c| insert_capped(c, "archipel_following", &local, &remote, cap))
            .await
    }

    async fn remove_following(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        let (local, remote) = (local.as_str().to_owned(), remote.as_str().to_owned());
        self.with_conn(move |c| delete_pair(c, "archipel_following", &local, &remote))
            .await
    }

    async fn following(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        let local = local.as_str().to_owned();
        self.with_conn(move |c| remotes(c, "archipel_following", &local))
            .await
    }

    async fn followers_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        let local = local.as_str().to_owned();
        let after = after.map(|a| {
            let (h, s) = page_order(a);
            (h, s.to_owned())
        });
        self.with_conn(move |c| page(c, "archipel_followers", &local, after, limit))
            .await
    }

    async fn following_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        let local = local.as_str().to_owned();
        let after = after.map(|a| {
            let (h, s) = page_order(a);
            (h, s.to_owned())
        });
        self.with_conn(move |c| page(c, "archipel_following", &local, after, limit))
            .await
    }

    async fn follower_count(&self, local: &Iri) -> Result<u64, GraphError> {
        let local = local.as_str().to_owned();
        self.with_conn(move |c| count_rows(c, "archipel_followers", &local))
            .await
    }

    async fn following_count(&self, local: &Iri) -> Result<u64, GraphError> {
        let local = local.as_str().to_owned();
        self.with_conn(move |c| count_rows(c, "archipel_following", &local))
            .await
    }

    async fn followers_on_host(
        &self,
        local: &Iri,
        authority: &str,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        let local = local.as_str().to_owned();
        let authority = authority.to_ascii_lowercase();
        // No cursor reads from the empty string, below every IRI.
        let after = after.map(|a| a.as_str().to_owned()).unwrap_or_default();
        self.with_conn(move |c| {
            // One range read of `archipel_followers_page`.
            let mut stmt = c
                .prepare_cached(
                    "SELECT remote FROM archipel_followers
                     WHERE local = ?1 AND authority = ?2 AND remote > ?3
                     ORDER BY remote LIMIT ?4",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![local, authority, after, count(limit)], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(db)?;
            rows.map(|r| iri("archipel_followers", r.map_err(db)?))
                .collect()
        })
        .await
    }

    async fn local_followers_of(&self, remote: &Iri, limit: usize) -> Result<Vec<Iri>, GraphError> {
        let remote = remote.as_str().to_owned();
        self.with_conn(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT local FROM archipel_following WHERE remote = ?1
                     ORDER BY local LIMIT ?2",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![remote, count(limit)], |r| r.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|r| iri("archipel_following", r.map_err(db)?))
                .collect()
        })
        .await
    }
}
