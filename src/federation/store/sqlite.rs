//! [`SqlitePosts`]: the post store in a SQLite database (feature `sqlite`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{Counts, ListQuery, NewPost, PostStore, StoreError, StoredPost, carried};
use crate::federation::sqlite::{Durability, open_store, with_conn};
use crate::vocab::{AnyObject, Iri, Visibility};

/// One table, prefixed `archipel_` so it can share a file with the
/// application's tables. `doc` is NULL for a tombstone. The listing index
/// covers an author's page read (author, listed, deleted, public, seq);
/// `object` finds the activities carrying a deleted post.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS archipel_posts (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    author     TEXT NOT NULL,
    object     TEXT,
    visibility TEXT NOT NULL,
    public     INTEGER NOT NULL,
    listed     INTEGER NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    doc        TEXT
);
CREATE INDEX IF NOT EXISTS archipel_posts_listing
    ON archipel_posts (author, listed, deleted, seq);
CREATE INDEX IF NOT EXISTS archipel_posts_public
    ON archipel_posts (author, listed, deleted, public, seq);
CREATE INDEX IF NOT EXISTS archipel_posts_object ON archipel_posts (object);
";

/// A [`PostStore`] in a SQLite database file (bundled SQLite, WAL mode),
/// with the same answers as [`MemoryPosts`](super::MemoryPosts): the
/// table `archipel_posts`. Each write touches only its rows; a page reads
/// an index range, never the table.
///
/// On unix a new database file is created with mode `0600`. Calls run on
/// tokio's blocking pool, so the store must be used within a tokio runtime.
///
/// ```no_run
/// use std::sync::Arc;
/// use archipel::federation::store::{PostStore, SqlitePosts};
/// # fn demo() -> Result<(), archipel::federation::store::StoreError> {
/// let posts: Arc<dyn PostStore> = Arc::new(SqlitePosts::open("data/posts.sqlite3")?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlitePosts {
    conn: Arc<Mutex<Connection>>,
}

/// The stored form of a visibility.
fn visibility_name(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Unlisted => "unlisted",
        Visibility::FollowersOnly => "followers",
        _ => "direct",
    }
}

/// A visibility from its stored form (anything unknown is the narrowest).
fn visibility_from(name: &str) -> Visibility {
    match name {
        "public" => Visibility::Public,
        "unlisted" => Visibility::Unlisted,
        "followers" => Visibility::FollowersOnly,
        _ => Visibility::Direct,
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Store(format!("sqlite: {e}"))
}

fn joined(e: String) -> StoreError {
    StoreError::Store(e)
}

fn open(path: Option<&Path>) -> Result<SqlitePosts, StoreError> {
    let conn = open_store(path, SCHEMA, Durability::Normal).map_err(StoreError::Store)?;
    Ok(SqlitePosts {
        conn: Arc::new(Mutex::new(conn)),
    })
}

impl SqlitePosts {
    /// Opens (or creates, mode `0600`) the database at `path`.
    ///
    /// # Errors
    /// [`StoreError::Store`] if the file cannot be created or opened.
    pub fn open(path: impl AsRef<Path>) -> Result<SqlitePosts, StoreError> {
        open(Some(path.as_ref()))
    }

    /// A database in memory (for tests).
    ///
    /// # Errors
    /// [`StoreError::Store`] if SQLite fails.
    pub fn open_in_memory() -> Result<SqlitePosts, StoreError> {
        open(None)
    }
}

fn decode(id: &str, doc: &str) -> Result<AnyObject, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

fn stored_iri(id: &str, s: &str) -> Result<Iri, StoreError> {
    Iri::parse(s).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: format!("author {s:?}: {e}"),
    })
}

fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn seq_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait::async_trait]
impl PostStore for SqlitePosts {
    async fn put(&self, post: NewPost) -> Result<u64, StoreError> {
        let Some(id) = post.document.id().cloned() else {
            return Err(StoreError::NoId {
                kind: post.document.type_name().unwrap_or_default().to_owned(),
            });
        };
        let doc = serde_json::to_string(&post.document).map_err(|e| StoreError::Corrupt {
            id: id.as_str().to_owned(),
            reason: e.to_string(),
        })?;
        let object = carried(&post.document).map(|o| o.as_str().to_owned());
        with_conn(
            &self.conn,
            move |conn| {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(db)?;
                let found: Option<(i64, bool)> = tx
                    .prepare_cached("SELECT seq, deleted FROM archipel_posts WHERE id = ?1")
                    .map_err(db)?
                    .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(db)?;
                let public = super::is_public(post.visibility);
                let visibility = visibility_name(post.visibility);
                let seq = match found {
                    Some((_, true)) => return Err(StoreError::Deleted { id }),
                    Some((seq, false)) => {
                        tx.prepare_cached(
                            "UPDATE archipel_posts SET doc = ?2, visibility = ?3, public = ?4, \
                             listed = ?5, object = ?6 WHERE seq = ?1",
                        )
                        .map_err(db)?
                        .execute(params![seq, doc, visibility, public, post.listed, object])
                        .map_err(db)?;
                        seq
                    }
                    None => {
                        tx.prepare_cached(
                            "INSERT INTO archipel_posts \
                             (id, author, object, visibility, public, listed, doc) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        )
                        .map_err(db)?
                        .execute(params![
                            id.as_str(),
                            post.author.as_str(),
                            object,
                            visibility,
                            public,
                            post.listed,
                            doc
                        ])
                        .map_err(db)?;
                        tx.last_insert_rowid()
                    }
                };
                tx.commit().map_err(db)?;
                Ok(seq_of(seq))
            },
            joined,
        )
        .await
    }

    async fn get(&self, id: &Iri) -> Result<Option<StoredPost>, StoreError> {
        let id = id.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                let row: Option<(i64, String, String, String)> = conn
                    .prepare_cached(
                        "SELECT seq, author, visibility, doc FROM archipel_posts \
                         WHERE id = ?1 AND deleted = 0",
                    )
                    .map_err(db)?
                    .query_row([id.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()
                    .map_err(db)?;
                row.map(|(seq, author, visibility, doc)| {
                    Ok(StoredPost {
                        seq: seq_of(seq),
                        document: decode(&id, &doc)?,
                        author: stored_iri(&id, &author)?,
                        visibility: visibility_from(&visibility),
                    })
                })
                .transpose()
            },
            joined,
        )
        .await
    }

    async fn owner(&self, id: &Iri) -> Result<Option<Iri>, StoreError> {
        let id = id.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                let author: Option<String> = conn
                    .prepare_cached("SELECT author FROM archipel_posts WHERE id = ?1")
                    .map_err(db)?
                    .query_row([id.as_str()], |r| r.get(0))
                    .optional()
                    .map_err(db)?;
                author.map(|a| stored_iri(&id, &a)).transpose()
            },
            joined,
        )
        .await
    }

    async fn delete(&self, id: &Iri) -> Result<usize, StoreError> {
        let id = id.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                // The post, and its author's activities carrying it.
                let n = conn
                    .prepare_cached(
                        "UPDATE archipel_posts SET deleted = 1, doc = NULL \
                         WHERE deleted = 0 AND (id = ?1 OR (object = ?1 AND author = \
                         (SELECT author FROM archipel_posts WHERE id = ?1)))",
                    )
                    .map_err(db)?
                    .execute([id.as_str()])
                    .map_err(db)?;
                Ok(n)
            },
            joined,
        )
        .await
    }

    async fn list(&self, author: &Iri, query: ListQuery) -> Result<Vec<StoredPost>, StoreError> {
        let author = author.clone();
        with_conn(
            &self.conn,
            move |conn| {
                let sql = if query.public_only {
                    "SELECT seq, id, visibility, doc FROM archipel_posts \
                     WHERE author = ?1 AND listed = 1 AND deleted = 0 AND public = 1 AND seq < ?2 \
                     ORDER BY seq DESC LIMIT ?3"
                } else {
                    "SELECT seq, id, visibility, doc FROM archipel_posts \
                     WHERE author = ?1 AND listed = 1 AND deleted = 0 AND seq < ?2 \
                     ORDER BY seq DESC LIMIT ?3"
                };
                let before = query.before.map_or(i64::MAX, sql_int);
                let limit = sql_int(u64::try_from(query.limit).unwrap_or(u64::MAX));
                let mut stmt = conn.prepare_cached(sql).map_err(db)?;
                let rows = stmt
                    .query_map(params![author.as_str(), before, limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })
                    .map_err(db)?;
                let mut out = Vec::new();
                for row in rows {
                    let (seq, id, visibility, doc) = row.map_err(db)?;
                    out.push(StoredPost {
                        seq: seq_of(seq),
                        document: decode(&id, &doc)?,
                        author: author.clone(),
                        visibility: visibility_from(&visibility),
                    });
                }
                Ok(out)
            },
            joined,
        )
        .await
    }

    async fn count(&self, author: Option<&Iri>) -> Result<Counts, StoreError> {
        let author = author.map(|a| a.as_str().to_owned());
        with_conn(
            &self.conn,
            move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT visibility, COUNT(*) FROM archipel_posts \
                         WHERE (?1 IS NULL OR author = ?1) AND listed = 1 AND deleted = 0 \
                         GROUP BY visibility",
                    )
                    .map_err(db)?;
                let rows = stmt
                    .query_map([author], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(db)?;
                let mut counts = Counts::default();
                for row in rows {
                    let (visibility, n) = row.map_err(db)?;
                    *counts.of_mut(visibility_from(&visibility)) = seq_of(n);
                }
                Ok(counts)
            },
            joined,
        )
        .await
    }
}
