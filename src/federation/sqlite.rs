//! What the application layer's SQLite stores share: a database file only
//! its owner can read, and a connection used from async code on tokio's
//! blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

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
