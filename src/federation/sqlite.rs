//! What the application layer's SQLite stores share: a database file only
//! its owner can read, and a connection used from async code on tokio's
//! blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

/// How long a store's call waits for another process holding the write
/// lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a commit waits for the disk (SQLite's `synchronous`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Durability {
    /// `NORMAL`: with WAL, a commit survives a crash of the process; a
    /// power loss may undo the last ones. For what can be fetched again.
    Normal,
    /// `FULL`: every commit waits for the disk. For keys.
    Full,
}

/// Opens a store's database: the file at `path` (created `0600` if
/// missing, never truncated; see [`create_private_file`]) or, with `None`,
/// a private in-memory one; then the busy timeout, WAL (an in-memory
/// database answers `memory`, which is fine), `durability`, and `schema`.
/// The error is text naming the file, for the store's own error type.
pub(crate) fn open_store(
    path: Option<&Path>,
    schema: &str,
    durability: Durability,
) -> Result<Connection, String> {
    let conn = match path {
        Some(path) => {
            create_private_file(path)
                .map_err(|(at, e)| format!("cannot create {}: {e}", at.display()))?;
            Connection::open(path)
                .map_err(|e| format!("sqlite: cannot open {}: {e}", path.display()))?
        }
        None => Connection::open_in_memory().map_err(|e| format!("sqlite: {e}"))?,
    };
    let sql = |e: rusqlite::Error| format!("sqlite: {e}");
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql)?;
    let synchronous = match durability {
        Durability::Normal => "PRAGMA synchronous = NORMAL",
        Durability::Full => "PRAGMA synchronous = FULL",
    };
    conn.execute_batch(synchronous).map_err(sql)?;
    conn.execute_batch(schema).map_err(sql)?;
    Ok(conn)
}

/// Creates `path` with mode `0600` if missing (never truncating), and its
/// missing parent directories with `0700`; answers the mode of the file as
/// it now is (on unix; `None` elsewhere), so a caller can refuse one that
/// group or others can access.
pub(crate) fn create_private_file(
    path: &Path,
) -> Result<Option<u32>, (std::path::PathBuf, std::io::Error)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(parent)
            .map_err(|e| (parent.to_path_buf(), e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(|e| (path.to_path_buf(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = file.metadata().map_err(|e| (path.to_path_buf(), e))?;
        Ok(Some(meta.permissions().mode() & 0o7777))
    }
    #[cfg(not(unix))]
    {
        drop(file);
        Ok(None)
    }
}

/// Runs `f` on the connection on tokio's blocking pool; `joined` turns a
/// failed blocking task into the store's error.
pub(crate) async fn with_conn<T, E, F>(
    conn: &Arc<Mutex<Connection>>,
    f: F,
    joined: fn(String) -> E,
) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
{
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || {
        // A transaction guard rolls back on drop, so a panic inside a call
        // cannot leave the connection mid-transaction.
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    })
    .await
    .map_err(|e| joined(format!("blocking task failed: {e}")))?
}
