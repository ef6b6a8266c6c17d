//! [`SqliteAuthorizations`]: issued quote authorizations in a SQLite file,
//! so quotes stay authorized across restarts.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use crate::vocab::Iri;

use super::super::sqlite::{Durability, open_store, with_conn};
use super::store::quoter_host;
use super::{
    AuthorizationStore, DEFAULT_MAX_AUTHORIZATIONS, DEFAULT_MAX_AUTHORIZATIONS_PER_HOST,
    QuoteAuthorization, QuoteError,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quote_authorizations (
    id TEXT PRIMARY KEY NOT NULL,
    author TEXT NOT NULL,
    quote TEXT NOT NULL,
    target TEXT NOT NULL,
    quoter TEXT NOT NULL,
    request TEXT NOT NULL,
    quoter_host TEXT NOT NULL DEFAULT '',
    UNIQUE (quote, target)
);
";

/// Files written before the per-host cap have no `quoter_host` column: it
/// is added and filled from each row's quoter, then indexed.
fn upgrade(conn: &mut Connection) -> rusqlite::Result<()> {
    let has_column = conn
        .prepare(
            "SELECT 1 FROM pragma_table_info('quote_authorizations') WHERE name = 'quoter_host'",
        )?
        .exists([])?;
    if !has_column {
        let tx = conn.transaction()?;
        tx.execute_batch(
            "ALTER TABLE quote_authorizations ADD COLUMN quoter_host TEXT NOT NULL DEFAULT ''",
        )?;
        let rows: Vec<(String, String)> = tx
            .prepare("SELECT id, quoter FROM quote_authorizations")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, quoter) in rows {
            tx.execute(
                "UPDATE quote_authorizations SET quoter_host = ?1 WHERE id = ?2",
                params![quoter_host(&Iri::new_unchecked(quoter)), id],
            )?;
        }
        tx.commit()?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS quote_authorizations_quoter_host \
         ON quote_authorizations (quoter_host)",
    )
}

/// An [`AuthorizationStore`] in a SQLite file (private, `0600`), of at
/// most a fixed number of authorizations; past it a new one is refused
/// ([`QuoteError::Full`]), never an old one dropped. Quoters on one host
/// hold at most [`DEFAULT_MAX_AUTHORIZATIONS_PER_HOST`] of them
/// ([`QuoteError::HostFull`]; [`SqliteAuthorizations::with_host_cap`]),
/// counted on an index of the quoter column.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use archipel::federation::quotes::{AuthorizationStore, SqliteAuthorizations};
/// # let dir = std::env::temp_dir().join(format!("archipel-doc-quotes-{}", std::process::id()));
/// let store = SqliteAuthorizations::open(&dir.join("quotes.sqlite3"))?;
/// let unknown = "https://a.example/users/alice/quote_authorizations/1".parse()?;
/// assert_eq!(store.get(&unknown).await?, None);
/// # drop(store);
/// # std::fs::remove_dir_all(dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteAuthorizations {
    conn: Arc<Mutex<Connection>>,
    cap: usize,
    host_cap: usize,
}

fn store_error(e: impl std::fmt::Display) -> QuoteError {
    QuoteError::Store(e.to_string())
}

impl SqliteAuthorizations {
    /// Opens (or creates) the store at `path`, of at most
    /// [`DEFAULT_MAX_AUTHORIZATIONS`].
    ///
    /// # Errors
    /// [`QuoteError::Store`] if the file cannot be created or opened.
    pub fn open(path: &Path) -> Result<SqliteAuthorizations, QuoteError> {
        let mut conn = open_store(Some(path), SCHEMA, Durability::Full).map_err(store_error)?;
        upgrade(&mut conn).map_err(store_error)?;
        Ok(SqliteAuthorizations {
            conn: Arc::new(Mutex::new(conn)),
            cap: DEFAULT_MAX_AUTHORIZATIONS,
            host_cap: DEFAULT_MAX_AUTHORIZATIONS_PER_HOST,
        })
    }

    /// Sets the cap (at least one); the per-host cap is lowered to it
    /// if above.
    pub fn with_cap(mut self, cap: usize) -> SqliteAuthorizations {
        self.cap = cap.max(1);
        self.host_cap = self.host_cap.min(self.cap);
        self
    }

    /// At most `cap` authorizations (at least one) for quoters on one
    /// host.
    #[must_use]
    pub fn with_host_cap(mut self, cap: usize) -> SqliteAuthorizations {
        self.host_cap = cap.max(1);
        self
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuoteAuthorization> {
    let iri =
        |i: usize| -> rusqlite::Result<Iri> { Ok(Iri::new_unchecked(r.get::<_, String>(i)?)) };
    Ok(QuoteAuthorization {
        id: iri(0)?,
        author: iri(1)?,
        quote: iri(2)?,
        target: iri(3)?,
        quoter: iri(4)?,
        request: iri(5)?,
    })
}

const COLUMNS: &str = "id, author, quote, target, quoter, request";

#[async_trait::async_trait]
impl AuthorizationStore for SqliteAuthorizations {
    async fn insert(&self, auth: QuoteAuthorization) -> Result<QuoteAuthorization, QuoteError> {
        let (cap, host_cap) = (self.cap, self.host_cap);
        with_conn(
            &self.conn,
            move |conn| {
                let tx = conn.transaction().map_err(store_error)?;
                let existing = tx
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM quote_authorizations WHERE quote = ?1 AND target = ?2"
                        ),
                        params![auth.quote.as_str(), auth.target.as_str()],
                        row,
                    )
                    .optional()
                    .map_err(store_error)?;
                if let Some(existing) = existing {
                    return Ok(existing);
                }
                let count: i64 = tx
                    .query_row("SELECT COUNT(*) FROM quote_authorizations", [], |r| r.get(0))
                    .map_err(store_error)?;
                if usize::try_from(count).unwrap_or(usize::MAX) >= cap {
                    return Err(QuoteError::Full {
                        table: "quote authorization",
                        cap,
                    });
                }
                let host = quoter_host(&auth.quoter);
                let held: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM quote_authorizations WHERE quoter_host = ?1",
                        params![host],
                        |r| r.get(0),
                    )
                    .map_err(store_error)?;
                if usize::try_from(held).unwrap_or(usize::MAX) >= host_cap {
                    return Err(QuoteError::HostFull {
                        host,
                        cap: host_cap,
                    });
                }
                tx.execute(
                    &format!("INSERT INTO quote_authorizations ({COLUMNS}, quoter_host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                    params![
                        auth.id.as_str(),
                        auth.author.as_str(),
                        auth.quote.as_str(),
                        auth.target.as_str(),
                        auth.quoter.as_str(),
                        auth.request.as_str(),
                        host
                    ],
                )
                .map_err(store_error)?;
                tx.commit().map_err(store_error)?;
                Ok(auth)
            },
            QuoteError::Store,
        )
        .await
    }

    async fn get(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError> {
        let id = id.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} FROM quote_authorizations WHERE id = ?1"),
                    params![id],
                    row,
                )
                .optional()
                .map_err(store_error)
            },
            QuoteError::Store,
        )
        .await
    }

    async fn remove(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError> {
        let id = id.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                let tx = conn.transaction().map_err(store_error)?;
                let found = tx
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM quote_authorizations WHERE id = ?1"),
                        params![id],
                        row,
                    )
                    .optional()
                    .map_err(store_error)?;
                if found.is_some() {
                    tx.execute(
                        "DELETE FROM quote_authorizations WHERE id = ?1",
                        params![id],
                    )
                    .map_err(store_error)?;
                    tx.commit().map_err(store_error)?;
                }
                Ok(found)
            },
            QuoteError::Store,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(n: u32) -> QuoteAuthorization {
        let iri = |s: String| Iri::parse(s).unwrap();
        QuoteAuthorization {
            id: iri(format!(
                "https://a.example/users/alice/quote_authorizations/{n}"
            )),
            author: iri("https://a.example/users/alice".into()),
            quote: iri(format!("https://b.example/notes/{n}")),
            target: iri("https://a.example/objects/1".into()),
            quoter: iri("https://b.example/users/bob".into()),
            request: iri(format!("https://b.example/notes/{n}#quote_request")),
        }
    }

    #[tokio::test]
    async fn survives_reopening_capped_one_per_pair() {
        let dir = crate::federation::testing::TempDir::new("quote-authorizations");
        let path = dir.0.join("quotes.sqlite3");
        let store = SqliteAuthorizations::open(&path).unwrap().with_cap(2);
        store.insert(auth(1)).await.unwrap();
        let mut again = auth(1);
        again.id = Iri::parse("https://a.example/users/alice/quote_authorizations/x").unwrap();
        assert_eq!(store.insert(again).await.unwrap(), auth(1));
        store.insert(auth(2)).await.unwrap();
        let full = store.insert(auth(3)).await.unwrap_err();
        assert!(matches!(full, QuoteError::Full { cap: 2, .. }), "{full:?}");
        drop(store);

        let store = SqliteAuthorizations::open(&path).unwrap().with_cap(2);
        assert_eq!(store.get(&auth(2).id).await.unwrap(), Some(auth(2)));
        assert_eq!(store.remove(&auth(1).id).await.unwrap(), Some(auth(1)));
        assert_eq!(store.remove(&auth(1).id).await.unwrap(), None);
        store.insert(auth(3)).await.unwrap();
    }

    #[tokio::test]
    async fn one_hosts_quoters_hold_at_most_their_share() {
        let dir = crate::federation::testing::TempDir::new("quote-authorizations-host");
        let path = dir.0.join("quotes.sqlite3");
        let store = SqliteAuthorizations::open(&path).unwrap().with_host_cap(2);
        crate::federation::quotes::store::tests::host_share(&store).await;
    }

    #[tokio::test]
    async fn a_file_from_before_the_host_cap_is_upgraded_and_counted() {
        let dir = crate::federation::testing::TempDir::new("quote-authorizations-upgrade");
        let path = dir.0.join("quotes.sqlite3");
        {
            // The schema as it was: no quoter_host column.
            std::fs::create_dir_all(&dir.0).unwrap();
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE quote_authorizations (id TEXT PRIMARY KEY NOT NULL, \
                 author TEXT NOT NULL, quote TEXT NOT NULL, target TEXT NOT NULL, \
                 quoter TEXT NOT NULL, request TEXT NOT NULL, UNIQUE (quote, target))",
            )
            .unwrap();
            for n in 1..=2 {
                let a = auth(n);
                conn.execute(
                    &format!("INSERT INTO quote_authorizations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                    params![a.id.as_str(), a.author.as_str(), a.quote.as_str(),
                            a.target.as_str(), a.quoter.as_str(), a.request.as_str()],
                )
                .unwrap();
            }
        }
        let store = SqliteAuthorizations::open(&path).unwrap().with_host_cap(2);
        assert_eq!(store.get(&auth(1).id).await.unwrap(), Some(auth(1)));
        // The two kept rows count against b.example's share.
        let full = store.insert(auth(3)).await.unwrap_err();
        assert!(
            matches!(&full, QuoteError::HostFull { host, cap: 2 } if host == "b.example"),
            "{full:?}"
        );
        drop(store);
        // Opened again: nothing to upgrade, the same count.
        let store = SqliteAuthorizations::open(&path).unwrap().with_host_cap(3);
        store.insert(auth(3)).await.unwrap();
    }
}
