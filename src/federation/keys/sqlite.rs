//! [`SqliteKeyStore`]: keys in one table of a SQLite database (feature
//! `sqlite`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{ActorKeys, ED25519, KeyStore, KeyStoreError, RSA, check_key_name, from_pem, to_pem};
use crate::federation::sqlite::{Durability, open_store};

/// The table; the `archipel_` prefix lets it share a database file with
/// the application's own tables (and the delivery queue's).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS archipel_actor_keys (
    name        TEXT PRIMARY KEY NOT NULL,
    rsa_pem     TEXT NOT NULL,
    ed25519_pem TEXT
)";

/// A [`KeyStore`] in a SQLite database file (bundled SQLite, WAL mode):
/// one row per actor, `name → rsa_pem, ed25519_pem` (PKCS#8 PEM), in the
/// table `archipel_actor_keys`.
///
/// On unix the database file is created with mode `0600` (SQLite gives its
/// `-wal` and `-shm` files the same mode), and an existing file that group
/// or others can access is refused with
/// [`KeyStoreError::PermissionsTooOpen`]. Every write is committed before
/// it returns. Calls run on tokio's blocking pool, so the store must be
/// used within a tokio runtime.
///
/// ```no_run
/// use archipel::federation::keys::{KeyStore, SqliteKeyStore};
/// # async fn demo() -> Result<(), archipel::federation::keys::KeyStoreError> {
/// let store = SqliteKeyStore::open("data/keys.sqlite3")?;
/// let keys = store.load_or_generate("alice", false).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteKeyStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

fn db(e: rusqlite::Error) -> KeyStoreError {
    KeyStoreError::Sqlite(e.to_string())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyStoreError + '_ {
    move |source| KeyStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the database file with mode `0600` if missing (never
/// truncating), and refuses one that group or others can access.
fn prepare_file(path: &Path) -> Result<(), KeyStoreError> {
    let mode = super::super::sqlite::create_private_file(path).map_err(|(at, e)| io(&at)(e))?;
    match mode {
        Some(mode) if mode & 0o077 != 0 => Err(KeyStoreError::PermissionsTooOpen {
            path: path.to_path_buf(),
            mode,
            want: 0o600,
        }),
        _ => Ok(()),
    }
}

/// Keys are few and precious: every commit waits for the disk.
fn open(path: Option<PathBuf>) -> Result<SqliteKeyStore, KeyStoreError> {
    let conn =
        open_store(path.as_deref(), SCHEMA, Durability::Full).map_err(KeyStoreError::Sqlite)?;
    Ok(SqliteKeyStore {
        conn: Arc::new(Mutex::new(conn)),
        path,
    })
}

type Row = (String, Option<String>);

fn parse(name: &str, row: Row) -> Result<ActorKeys, KeyStoreError> {
    Ok(ActorKeys {
        rsa: from_pem(name, RSA, &row.0)?,
        ed25519: row
            .1
            .as_deref()
            .map(|pem| from_pem(name, ED25519, pem))
            .transpose()?,
    })
}

fn select(conn: &Connection, name: &str) -> Result<Option<Row>, KeyStoreError> {
    conn.prepare_cached("SELECT rsa_pem, ed25519_pem FROM archipel_actor_keys WHERE name = ?1")
        .map_err(db)?
        .query_row(params![name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)
}

impl SqliteKeyStore {
    /// Opens (creating if needed) the store in the database file at `path`;
    /// missing parent directories are created with mode `0700`.
    ///
    /// # Errors
    /// [`KeyStoreError::Io`] if the file cannot be created,
    /// [`KeyStoreError::PermissionsTooOpen`] if group or others can access
    /// it, [`KeyStoreError::Sqlite`] if it is not a usable database.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteKeyStore, KeyStoreError> {
        let path = path.as_ref().to_path_buf();
        prepare_file(&path)?;
        open(Some(path))
    }

    /// A store in a private in-memory database, gone with the value: for
    /// tests of code written against the durable store.
    ///
    /// # Errors
    /// [`KeyStoreError::Sqlite`].
    pub fn open_in_memory() -> Result<SqliteKeyStore, KeyStoreError> {
        open(None)
    }

    /// The database file, if the store is not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, KeyStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, KeyStoreError> + Send + 'static,
    {
        super::super::sqlite::with_conn(&self.conn, f, KeyStoreError::Sqlite).await
    }
}

#[async_trait::async_trait]
impl KeyStore for SqliteKeyStore {
    async fn load(&self, name: &str) -> Result<Option<ActorKeys>, KeyStoreError> {
        check_key_name(name)?;
        let name = name.to_owned();
        self.with_conn(move |conn| {
            select(conn, &name)?
                .map(|row| parse(&name, row))
                .transpose()
        })
        .await
    }

    async fn store(&self, name: &str, keys: &ActorKeys) -> Result<(), KeyStoreError> {
        check_key_name(name)?;
        let name = name.to_owned();
        let rsa = to_pem(&keys.rsa)?;
        let ed25519 = keys.ed25519.as_ref().map(to_pem).transpose()?;
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "INSERT INTO archipel_actor_keys (name, rsa_pem, ed25519_pem) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET rsa_pem = excluded.rsa_pem,
                                                 ed25519_pem = excluded.ed25519_pem",
            )
            .map_err(db)?
            .execute(params![name, rsa, ed25519])
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn insert_missing(
        &self,
        name: &str,
        keys: &ActorKeys,
    ) -> Result<ActorKeys, KeyStoreError> {
        check_key_name(name)?;
        let name = name.to_owned();
        let rsa = to_pem(&keys.rsa)?;
        let ed25519 = keys.ed25519.as_ref().map(to_pem).transpose()?;
        self.with_conn(move |conn| {
            // One write transaction: the upsert keeps what is stored, and
            // the read sees exactly what this call left.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            tx.prepare_cached(
                "INSERT INTO archipel_actor_keys (name, rsa_pem, ed25519_pem) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET
                     ed25519_pem = COALESCE(ed25519_pem, excluded.ed25519_pem)",
            )
            .map_err(db)?
            .execute(params![name, rsa, ed25519])
            .map_err(db)?;
            let row = select(&tx, &name)?;
            tx.commit().map_err(db)?;
            let row = row.ok_or_else(|| {
                KeyStoreError::Sqlite(format!("row of {name:?} missing after insert"))
            })?;
            parse(&name, row)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::keys::tests::rsa_fixture;
    use crate::signatures::PrivateKey;

    use crate::federation::testing::TempFile;

    fn temp(tag: &str) -> TempFile {
        TempFile::new(&format!("sqlite-keys-{tag}"), "keys.sqlite3")
    }

    fn fixture_keys() -> ActorKeys {
        ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn round_trip_survives_a_reopen() {
        let file = temp("round");
        let store = SqliteKeyStore::open(&file.0).unwrap();
        assert!(store.load("alice").await.unwrap().is_none());
        store.store("alice", &fixture_keys()).await.unwrap();
        drop(store);
        let store = SqliteKeyStore::open(&file.0).unwrap();
        let loaded = store.load("alice").await.unwrap().unwrap();
        assert_eq!(
            loaded.rsa.public_key().to_spki_pem(),
            rsa_fixture().public_key().to_spki_pem()
        );
        assert!(loaded.ed25519.is_none());
        // A racing first use keeps the stored key.
        let other = ActorKeys {
            rsa: PrivateKey::generate_rsa(1024).unwrap(),
            ed25519: None,
        };
        let kept = store.insert_missing("alice", &other).await.unwrap();
        assert_eq!(kept.rsa.public_key(), rsa_fixture().public_key());
        let fresh = store.insert_missing("bob", &other).await.unwrap();
        assert_eq!(fresh.rsa.public_key(), other.rsa.public_key());
        assert!(matches!(
            store.load("../alice").await,
            Err(KeyStoreError::InvalidName(_))
        ));
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn database_file_is_0600_and_an_open_one_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let file = temp("mode");
        let store = SqliteKeyStore::open(&file.0).unwrap();
        store.store("alice", &fixture_keys()).await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&file.0), 0o600);
        let wal = file.0.with_file_name("keys.sqlite3-wal");
        assert_eq!(mode(&wal), 0o600);
        drop(store);
        std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o644)).unwrap();
        match SqliteKeyStore::open(&file.0) {
            Err(KeyStoreError::PermissionsTooOpen { path, mode, want }) => {
                assert_eq!((path, mode, want), (file.0.clone(), 0o644, 0o600));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_corrupt_row_names_the_actor() {
        let store = SqliteKeyStore::open_in_memory().unwrap();
        store.store("carol", &fixture_keys()).await.unwrap();
        store
            .with_conn(|conn| {
                conn.execute(
                    "UPDATE archipel_actor_keys SET rsa_pem = 'garbage' WHERE name = 'carol'",
                    [],
                )
                .map_err(db)
            })
            .await
            .unwrap();
        match store.load("carol").await {
            Err(KeyStoreError::Corrupt { name, kind, .. }) => {
                assert_eq!((name.as_str(), kind), ("carol", RSA));
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(feature = "ed25519")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_keys_round_trip() {
        let store = SqliteKeyStore::open_in_memory().unwrap();
        let keys = store.load_or_generate("dave", true).await.unwrap();
        let loaded = store.load("dave").await.unwrap().unwrap();
        assert_eq!(loaded.rsa.public_key(), keys.rsa.public_key());
        let ed = keys.ed25519.unwrap().public_key();
        assert_eq!(loaded.ed25519.unwrap().public_key(), ed);
        // A racing first use keeps both stored keys.
        let other = ActorKeys {
            rsa: PrivateKey::generate_rsa(1024).unwrap(),
            ed25519: Some(PrivateKey::generate_ed25519().unwrap()),
        };
        let kept = store.insert_missing("dave", &other).await.unwrap();
        assert_eq!(kept.rsa.public_key(), keys.rsa.public_key());
        assert_eq!(kept.ed25519.unwrap().public_key(), ed);
        // `store` replaces both, and drops an Ed25519 key absent from its input.
        let rsa_only = ActorKeys {
            rsa: other.rsa.clone(),
            ed25519: None,
        };
        store.store("dave", &rsa_only).await.unwrap();
        let replaced = store.load("dave").await.unwrap().unwrap();
        assert_eq!(replaced.rsa.public_key(), other.rsa.public_key());
        assert!(replaced.ed25519.is_none());
    }
}
