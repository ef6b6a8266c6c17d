//! [`SqliteQuoteRequests`]: the quote requests awaiting an answer in a
//! SQLite file, so a restart loses neither a request awaiting approval nor
//! one this server sent.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use crate::vocab::{Activity, Iri};

use super::super::sqlite::{Durability, open_store, with_conn};
use super::{PendingQuote, QuoteError, QuoteRequest, QuoteRequestStore, QuoteState, SentQuote};

// `seq` orders the rows oldest first; an update keeps a row's place, as
// the memory tables do.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quote_requests_pending (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    author TEXT NOT NULL,
    quoter TEXT NOT NULL,
    quoted TEXT NOT NULL,
    quote TEXT NOT NULL,
    activity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quote_requests_sent (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    quote TEXT NOT NULL,
    quoted TEXT NOT NULL,
    author TEXT NOT NULL,
    state TEXT NOT NULL,
    authorization TEXT
);
";

/// A [`QuoteRequestStore`] in a SQLite file (private, `0600`; it may be the
/// file of [`SqliteAuthorizations`](super::SqliteAuthorizations), in tables
/// of its own). Each table keeps at most the cap [`Quotes`](super::Quotes)
/// gives it, the oldest forgotten first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use archipel::federation::Federation;
/// use archipel::federation::quotes::{Quotes, SqliteQuoteRequests};
/// # let dir = std::env::temp_dir().join(format!("archipel-doc-quote-requests-{}", std::process::id()));
/// let fed = Federation::builder("https://a.example".parse()?).build().await?;
/// let requests = SqliteQuoteRequests::open(&dir.join("quotes.sqlite3"))?;
/// let quotes = Quotes::new(&fed).with_requests(Arc::new(requests)).await?;
/// let alice = fed.actor("alice").await?;
/// assert!(quotes.pending(alice.id()).is_empty());
/// # drop(quotes);
/// # std::fs::remove_dir_all(dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteQuoteRequests {
    conn: Arc<Mutex<Connection>>,
}

fn store_error(e: impl std::fmt::Display) -> QuoteError {
    QuoteError::Store(e.to_string())
}

impl SqliteQuoteRequests {
    /// Opens (or creates) the store at `path`.
    ///
    /// # Errors
    /// [`QuoteError::Store`] if the file cannot be created or opened.
    pub fn open(path: &Path) -> Result<SqliteQuoteRequests, QuoteError> {
        let conn = open_store(Some(path), SCHEMA, Durability::Full).map_err(store_error)?;
        Ok(SqliteQuoteRequests {
            conn: Arc::new(Mutex::new(conn)),
        })
    }
}

// Keeps the newest `keep` rows of `table`.
fn trim(tx: &rusqlite::Transaction<'_>, table: &str, keep: usize) -> Result<(), QuoteError> {
    let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
    tx.execute(
        &format!(
            "DELETE FROM {table} WHERE seq <= \
             (SELECT seq FROM {table} ORDER BY seq DESC LIMIT 1 OFFSET ?1)"
        ),
        params![keep],
    )
    .map_err(store_error)?;
    Ok(())
}

fn state_columns(state: &QuoteState) -> (&'static str, Option<&str>) {
    match state {
        QuoteState::Pending => ("pending", None),
        QuoteState::Approved { authorization } => ("approved", Some(authorization.as_str())),
        QuoteState::Refused => ("refused", None),
        QuoteState::Revoked => ("revoked", None),
    }
}

fn state_of(state: &str, authorization: Option<String>) -> Result<QuoteState, String> {
    Ok(match (state, authorization) {
        ("pending", _) => QuoteState::Pending,
        ("approved", Some(a)) => QuoteState::Approved {
            authorization: Iri::new_unchecked(a),
        },
        ("refused", _) => QuoteState::Refused,
        ("revoked", _) => QuoteState::Revoked,
        (other, _) => return Err(format!("unknown sent quote request state {other:?}")),
    })
}

#[async_trait::async_trait]
impl QuoteRequestStore for SqliteQuoteRequests {
    async fn put_pending(&self, pending: &PendingQuote, keep: usize) -> Result<(), QuoteError> {
        let activity = serde_json::to_string(&pending.request.activity).map_err(store_error)?;
        let p = pending.clone();
        with_conn(
            &self.conn,
            move |conn| {
                let tx = conn.transaction().map_err(store_error)?;
                tx.execute(
                    "INSERT INTO quote_requests_pending (id, author, quoter, quoted, quote, activity)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET author = ?2, quoter = ?3, quoted = ?4,
                         quote = ?5, activity = ?6",
                    params![
                        p.request.id.as_str(),
                        p.author.as_str(),
                        p.request.quoter.as_str(),
                        p.request.quoted.as_str(),
                        p.request.quote.as_str(),
                        activity
                    ],
                )
                .map_err(store_error)?;
                trim(&tx, "quote_requests_pending", keep)?;
                tx.commit().map_err(store_error)
            },
            QuoteError::Store,
        )
        .await
    }

    async fn remove_pending(&self, request: &Iri) -> Result<(), QuoteError> {
        let id = request.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                conn.execute(
                    "DELETE FROM quote_requests_pending WHERE id = ?1",
                    params![id],
                )
                .map(|_| ())
                .map_err(store_error)
            },
            QuoteError::Store,
        )
        .await
    }

    async fn put_sent(&self, sent: &SentQuote, keep: usize) -> Result<(), QuoteError> {
        let s = sent.clone();
        with_conn(
            &self.conn,
            move |conn| {
                let (state, authorization) = state_columns(&s.state);
                let tx = conn.transaction().map_err(store_error)?;
                tx.execute(
                    "INSERT INTO quote_requests_sent (id, quote, quoted, author, state, authorization)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET quote = ?2, quoted = ?3, author = ?4,
                         state = ?5, authorization = ?6",
                    params![
                        s.request.as_str(),
                        s.quote.as_str(),
                        s.quoted.as_str(),
                        s.author.as_str(),
                        state,
                        authorization
                    ],
                )
                .map_err(store_error)?;
                trim(&tx, "quote_requests_sent", keep)?;
                tx.commit().map_err(store_error)
            },
            QuoteError::Store,
        )
        .await
    }

    async fn load_pending(&self) -> Result<Vec<PendingQuote>, QuoteError> {
        with_conn(
            &self.conn,
            |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT id, author, quoter, quoted, quote, activity
                         FROM quote_requests_pending ORDER BY seq",
                    )
                    .map_err(store_error)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })
                    .map_err(store_error)?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, author, quoter, quoted, quote, activity) = row.map_err(store_error)?;
                    let activity: Activity = serde_json::from_str(&activity)
                        .map_err(|e| store_error(format!("pending quote request {id}: {e}")))?;
                    let request = QuoteRequest {
                        activity,
                        id: Iri::new_unchecked(id),
                        quoter: Iri::new_unchecked(quoter),
                        quoted: Iri::new_unchecked(quoted),
                        quote: Iri::new_unchecked(quote),
                    };
                    out.push(PendingQuote::new(request, Iri::new_unchecked(author)));
                }
                Ok(out)
            },
            QuoteError::Store,
        )
        .await
    }

    async fn load_sent(&self) -> Result<Vec<SentQuote>, QuoteError> {
        with_conn(
            &self.conn,
            |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT id, quote, quoted, author, state, authorization
                         FROM quote_requests_sent ORDER BY seq",
                    )
                    .map_err(store_error)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, Option<String>>(5)?,
                        ))
                    })
                    .map_err(store_error)?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, quote, quoted, author, state, authorization) =
                        row.map_err(store_error)?;
                    let state = state_of(&state, authorization)
                        .map_err(|e| store_error(format!("sent quote request {id}: {e}")))?;
                    out.push(SentQuote::new(
                        Iri::new_unchecked(id),
                        Iri::new_unchecked(quote),
                        Iri::new_unchecked(quoted),
                        Iri::new_unchecked(author),
                        state,
                    ));
                }
                Ok(out)
            },
            QuoteError::Store,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn pending(n: u32) -> PendingQuote {
        let id = iri(&format!("https://b.example/notes/{n}#quote_request"));
        let mut activity = Activity::new(
            crate::vocab::Kind::QuoteRequest,
            id.clone(),
            iri("https://b.example/users/bob"),
        );
        activity.object = Some(iri("https://a.example/objects/1").into());
        PendingQuote::new(
            QuoteRequest {
                activity,
                id,
                quoter: iri("https://b.example/users/bob"),
                quoted: iri("https://a.example/objects/1"),
                quote: iri(&format!("https://b.example/notes/{n}")),
            },
            iri("https://a.example/users/alice"),
        )
    }

    fn sent(n: u32, state: QuoteState) -> SentQuote {
        SentQuote::new(
            iri(&format!("https://a.example/objects/{n}#quote_request")),
            iri(&format!("https://a.example/objects/{n}")),
            iri("https://b.example/notes/1"),
            iri("https://b.example/users/bob"),
            state,
        )
    }

    #[tokio::test]
    async fn pending_and_sent_survive_reopening_capped_oldest_first() {
        let dir = crate::federation::testing::TempDir::new("quote-requests");
        let path = dir.0.join("quotes.sqlite3");
        let store = SqliteQuoteRequests::open(&path).unwrap();
        for n in 0..3 {
            store.put_pending(&pending(n), 2).await.unwrap();
        }
        store.remove_pending(&pending(2).request.id).await.unwrap();
        store
            .put_sent(&sent(0, QuoteState::Pending), 2)
            .await
            .unwrap();
        store
            .put_sent(&sent(1, QuoteState::Pending), 2)
            .await
            .unwrap();
        // A new state keeps the request's place: 0 stays the oldest.
        let approved = QuoteState::Approved {
            authorization: iri("https://b.example/users/bob/quote_authorizations/x"),
        };
        store.put_sent(&sent(0, approved.clone()), 2).await.unwrap();
        drop(store);

        let store = SqliteQuoteRequests::open(&path).unwrap();
        assert_eq!(store.load_pending().await.unwrap(), vec![pending(1)]);
        assert_eq!(
            store.load_sent().await.unwrap(),
            vec![sent(0, approved.clone()), sent(1, QuoteState::Pending)]
        );
        store
            .put_sent(&sent(2, QuoteState::Revoked), 2)
            .await
            .unwrap();
        assert_eq!(
            store.load_sent().await.unwrap(),
            vec![sent(1, QuoteState::Pending), sent(2, QuoteState::Revoked)]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
