//! [`SqliteAuthorizations`]: issued quote authorizations in a SQLite file,
//! so quotes stay authorized across restarts.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use crate::vocab::Iri;

use super::super::sqlite::{Durability, open_store, with_conn};
use super::store::origin_of;
use super::{
    AuthorizationStore, DEFAULT_MAX_AUTHORIZATIONS, DEFAULT_MAX_AUTHORIZATIONS_PER_ORIGIN,
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
    UNIQUE (quote, target)
);
CREATE INDEX IF NOT EXISTS quote_authorizations_quoter ON quote_authorizations (quoter);
";

/// An [`AuthorizationStore`] in a SQLite file (private, `0600`), of at
/// most a fixed number of authorizations; past it a new one is refused
/// ([`QuoteError::Full`]), never an old one dropped. Quoters on one origin
/// hold at most [`DEFAULT_MAX_AUTHORIZATIONS_PER_ORIGIN`] of them
/// ([`QuoteError::OriginFull`]; [`SqliteAuthorizations::with_origin_cap`]),
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
    origin_cap: usize,
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
        let conn = open_store(Some(path), SCHEMA, Durability::Full).map_err(store_error)?;
        Ok(SqliteAuthorizations {
            conn: Arc::new(Mutex::new(conn)),
            cap: DEFAULT_MAX_AUTHORIZATIONS,
            origin_cap: DEFAULT_MAX_AUTHORIZATIONS_PER_ORIGIN,
        })
    }

    /// Sets the cap (at least one); the per-origin cap is lowered to it
    /// if above.
    pub fn with_cap(mut self, cap: usize) -> SqliteAuthorizations {
        self.cap = cap.max(1);
        self.origin_cap = self.origin_cap.min(self.cap);
        self
    }

    /// At most `cap` authorizations (at least one) for quoters on one
    /// origin.
    #[must_use]
    pub fn with_origin_cap(mut self, cap: usize) -> SqliteAuthorizations {
        self.origin_cap = cap.max(1);
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
        let (cap, origin_cap) = (self.cap, self.origin_cap);
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
                // The origin's quoters: the IRI `origin` itself, or any
                // under `origin/` (a range of the index: '0' follows '/').
                let origin = origin_of(&auth.quoter);
                let held: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM quote_authorizations \
                         WHERE quoter = ?1 OR (quoter >= ?2 AND quoter < ?3)",
                        params![origin, format!("{origin}/"), format!("{origin}0")],
                        |r| r.get(0),
                    )
                    .map_err(store_error)?;
                if usize::try_from(held).unwrap_or(usize::MAX) >= origin_cap {
                    return Err(QuoteError::OriginFull {
                        origin,
                        cap: origin_cap,
                    });
                }
                tx.execute(
                    &format!("INSERT INTO quote_authorizations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                    params![
                        auth.id.as_str(),
                        auth.author.as_str(),
                        auth.quote.as_str(),
                        auth.target.as_str(),
                        auth.quoter.as_str(),
                        auth.request.as_str()
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
    async fn one_origins_quoters_hold_at_most_their_share() {
        let dir = crate::federation::testing::TempDir::new("quote-authorizations-origin");
        let path = dir.0.join("quotes.sqlite3");
        let store = SqliteAuthorizations::open(&path)
            .unwrap()
            .with_origin_cap(2);
        crate::federation::quotes::store::tests::origin_share(&store).await;
    }
}
