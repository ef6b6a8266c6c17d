//! [`SqliteRelays`]: relay subscriptions in a SQLite file, so a restart
//! keeps them (and keeps recognising the relay's late `Accept`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use crate::vocab::Iri;

use super::super::sqlite::{Durability, open_store, with_conn};
use super::{DEFAULT_MAX_RELAYS, Relay, RelayError, RelayKind, RelayState, RelayStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS relay_subscriptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    inbox TEXT NOT NULL,
    actor TEXT,
    follow TEXT NOT NULL,
    follower TEXT NOT NULL,
    accepted INTEGER NOT NULL
);
";

const COLUMNS: &str = "id, kind, inbox, actor, follow, follower, accepted";

/// A [`RelayStore`] in a SQLite file (private, `0600`), of at most a fixed
/// number of subscriptions ([`DEFAULT_MAX_RELAYS`]); past it a new one is
/// refused ([`RelayError::Full`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use archipel::federation::relay::{RelayStore, SqliteRelays};
/// # let dir = std::env::temp_dir().join(format!("archipel-doc-relays-{}", std::process::id()));
/// let store = SqliteRelays::open(&dir.join("relays.sqlite3"))?;
/// assert!(store.all().await?.is_empty());
/// # drop(store);
/// # std::fs::remove_dir_all(dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteRelays {
    conn: Arc<Mutex<Connection>>,
    cap: usize,
}

fn store_error(e: impl std::fmt::Display) -> RelayError {
    RelayError::Store(e.to_string())
}

impl SqliteRelays {
    /// Opens (or creates) the store at `path`, of at most
    /// [`DEFAULT_MAX_RELAYS`].
    ///
    /// # Errors
    /// [`RelayError::Store`] if the file cannot be created or opened.
    pub fn open(path: &Path) -> Result<SqliteRelays, RelayError> {
        let conn = open_store(Some(path), SCHEMA, Durability::Full).map_err(store_error)?;
        Ok(SqliteRelays {
            conn: Arc::new(Mutex::new(conn)),
            cap: DEFAULT_MAX_RELAYS,
        })
    }

    /// Sets the cap (at least one).
    pub fn with_cap(mut self, cap: usize) -> SqliteRelays {
        self.cap = cap.max(1);
        self
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Relay> {
    let iri =
        |i: usize| -> rusqlite::Result<Iri> { Ok(Iri::new_unchecked(r.get::<_, String>(i)?)) };
    let kind: String = r.get(1)?;
    let kind = RelayKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown relay kind {kind:?}").into(),
        )
    })?;
    let actor: Option<String> = r.get(3)?;
    let accepted: bool = r.get(6)?;
    Ok(Relay {
        id: iri(0)?,
        kind,
        inbox: iri(2)?,
        actor: actor.map(Iri::new_unchecked),
        follow: iri(4)?,
        follower: iri(5)?,
        state: if accepted {
            RelayState::Accepted
        } else {
            RelayState::Pending
        },
    })
}

#[async_trait::async_trait]
impl RelayStore for SqliteRelays {
    async fn all(&self) -> Result<Vec<Relay>, RelayError> {
        with_conn(
            &self.conn,
            |conn| {
                let mut stmt = conn
                    .prepare(&format!(
                        "SELECT {COLUMNS} FROM relay_subscriptions ORDER BY seq"
                    ))
                    .map_err(store_error)?;
                let rows = stmt.query_map([], row).map_err(store_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(store_error)
            },
            RelayError::Store,
        )
        .await
    }

    async fn put(&self, relay: Relay) -> Result<(), RelayError> {
        let cap = self.cap;
        with_conn(
            &self.conn,
            move |conn| {
                let tx = conn.transaction().map_err(store_error)?;
                let exists = tx
                    .query_row(
                        "SELECT 1 FROM relay_subscriptions WHERE id = ?1",
                        params![relay.id.as_str()],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(store_error)?
                    .is_some();
                let values = params![
                    relay.id.as_str(),
                    relay.kind.as_str(),
                    relay.inbox.as_str(),
                    relay.actor.as_ref().map(Iri::as_str),
                    relay.follow.as_str(),
                    relay.follower.as_str(),
                    relay.state == RelayState::Accepted,
                ];
                if exists {
                    tx.execute(
                        "UPDATE relay_subscriptions SET kind = ?2, inbox = ?3, actor = ?4,
                         follow = ?5, follower = ?6, accepted = ?7 WHERE id = ?1",
                        values,
                    )
                    .map_err(store_error)?;
                } else {
                    let count: i64 = tx
                        .query_row("SELECT COUNT(*) FROM relay_subscriptions", [], |r| r.get(0))
                        .map_err(store_error)?;
                    if usize::try_from(count).unwrap_or(usize::MAX) >= cap {
                        return Err(RelayError::Full { cap });
                    }
                    tx.execute(
                        &format!(
                            "INSERT INTO relay_subscriptions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                        ),
                        values,
                    )
                    .map_err(store_error)?;
                }
                tx.commit().map_err(store_error)
            },
            RelayError::Store,
        )
        .await
    }

    async fn remove(&self, id: &Iri) -> Result<Option<Relay>, RelayError> {
        let id = id.as_str().to_owned();
        with_conn(
            &self.conn,
            move |conn| {
                let tx = conn.transaction().map_err(store_error)?;
                let found = tx
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM relay_subscriptions WHERE id = ?1"),
                        params![id],
                        row,
                    )
                    .optional()
                    .map_err(store_error)?;
                if found.is_some() {
                    tx.execute("DELETE FROM relay_subscriptions WHERE id = ?1", params![id])
                        .map_err(store_error)?;
                    tx.commit().map_err(store_error)?;
                }
                Ok(found)
            },
            RelayError::Store,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(n: u32, state: RelayState) -> Relay {
        let iri = |s: String| Iri::parse(s).unwrap();
        Relay {
            id: iri(format!("https://relay{n}.example/actor")),
            kind: RelayKind::LitePub,
            inbox: iri(format!("https://relay{n}.example/inbox")),
            actor: Some(iri(format!("https://relay{n}.example/actor"))),
            follow: iri(format!("https://a.example/activities/{n}")),
            follower: iri("https://a.example/actor".into()),
            state,
        }
    }

    #[tokio::test]
    async fn subscriptions_survive_reopening_capped_replaced_by_id() {
        let dir = crate::federation::testing::TempDir::new("relays");
        let path = dir.0.join("relays.sqlite3");
        let store = SqliteRelays::open(&path).unwrap().with_cap(2);
        store.put(relay(1, RelayState::Pending)).await.unwrap();
        store.put(relay(2, RelayState::Pending)).await.unwrap();
        store.put(relay(1, RelayState::Accepted)).await.unwrap();
        let full = store.put(relay(3, RelayState::Pending)).await.unwrap_err();
        assert!(matches!(full, RelayError::Full { cap: 2 }), "{full:?}");
        drop(store);

        let store = SqliteRelays::open(&path).unwrap().with_cap(2);
        assert_eq!(
            store.all().await.unwrap(),
            [
                relay(1, RelayState::Accepted),
                relay(2, RelayState::Pending)
            ]
        );
        let gone = store
            .remove(&relay(2, RelayState::Pending).id)
            .await
            .unwrap();
        assert_eq!(gone, Some(relay(2, RelayState::Pending)));
        assert_eq!(
            store
                .remove(&relay(2, RelayState::Pending).id)
                .await
                .unwrap(),
            None
        );
        store.put(relay(3, RelayState::Pending)).await.unwrap();
    }
}
