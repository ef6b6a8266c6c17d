//! The SQLite schema of [`SqliteQueue`](super::SqliteQueue) and its migrations.
//!
//! Tables carry an `archipel_` prefix so the queue can share a database file
//! with the application's own tables.

use rusqlite::{Connection, OptionalExtension, params};

use crate::delivery::DeliveryError;

use super::ops::db;
use super::{SqliteOptions, Synchronous};

/// The schema version this build writes; a file with a higher one was
/// written by a newer archipel and is refused rather than corrupted.
pub(super) const SCHEMA_VERSION: i64 = 3;

const V1: &str = "
CREATE TABLE IF NOT EXISTS archipel_bodies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    bytes       BLOB    NOT NULL,
    sha256      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS archipel_jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    body_id         INTEGER NOT NULL REFERENCES archipel_bodies(id),
    inbox           TEXT    NOT NULL,
    host            TEXT    NOT NULL,
    state           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claims          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    available_at    INTEGER NOT NULL,
    lease_token     INTEGER,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    dialect         TEXT,
    finished_at     INTEGER
);
CREATE INDEX IF NOT EXISTS archipel_jobs_available
    ON archipel_jobs(available_at, id) WHERE state = 0;
CREATE INDEX IF NOT EXISTS archipel_jobs_body ON archipel_jobs(body_id);
CREATE INDEX IF NOT EXISTS archipel_jobs_finished
    ON archipel_jobs(state, finished_at) WHERE state <> 0;
";

/// Version 2: the ordering key and the checkpointed progress of a job,
/// and the index the ordering rule probes (unsettled jobs by key and inbox).
const V2_INDEX: &str = "
CREATE INDEX IF NOT EXISTS archipel_jobs_order
    ON archipel_jobs(order_key, inbox, id) WHERE state = 0 AND order_key IS NOT NULL;
";

/// Adds the version-2 columns a version-1 file lacks (a fresh file gets
/// them the same way, so there is one definition of each column).
fn migrate_v2(tx: &rusqlite::Transaction<'_>) -> Result<(), DeliveryError> {
    add_columns(tx, &[("order_key", "TEXT"), ("progress", "BLOB")])?;
    tx.execute_batch(V2_INDEX).map_err(db)
}

/// Version 3: the `Collection-Synchronization` header value a job sends
/// (FEP-8fcf); older jobs have none.
fn migrate_v3(tx: &rusqlite::Transaction<'_>) -> Result<(), DeliveryError> {
    add_columns(tx, &[("collection_sync", "TEXT")])
}

/// Adds each column `archipel_jobs` lacks.
fn add_columns(
    tx: &rusqlite::Transaction<'_>,
    columns: &[(&str, &str)],
) -> Result<(), DeliveryError> {
    for (column, ty) in columns {
        let present: bool = tx
            .query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('archipel_jobs') WHERE name = ?1",
                params![column],
                |r| r.get(0),
            )
            .map_err(db)?;
        if !present {
            tx.execute_batch(&format!(
                "ALTER TABLE archipel_jobs ADD COLUMN {column} {ty}"
            ))
            .map_err(db)?;
        }
    }
    Ok(())
}

/// Sets the connection's pragmas, then creates or migrates the schema.
pub(super) fn prepare(conn: &mut Connection, options: &SqliteOptions) -> Result<(), DeliveryError> {
    let busy = u64::try_from(options.busy_timeout.as_millis()).unwrap_or(u64::MAX);
    conn.busy_timeout(options.busy_timeout).map_err(db)?;
    // `journal_mode` answers with the mode in force; an in-memory database
    // stays `memory`, which is fine.
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db)?;
    let sync = match options.synchronous {
        Synchronous::Full => "FULL",
        // `Enqueue` raises it to FULL around each enqueue.
        Synchronous::Enqueue | Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy};"
    ))
    .map_err(db)?;

    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS archipel_queue_meta (
             key   TEXT PRIMARY KEY,
             value INTEGER NOT NULL
         ) WITHOUT ROWID;",
    )
    .map_err(db)?;
    let version: Option<i64> = tx
        .query_row(
            "SELECT value FROM archipel_queue_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    match version {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(DeliveryError::Queue(format!(
                "sqlite queue: schema version {v} is newer than this build's {SCHEMA_VERSION}"
            )));
        }
        Some(v) if v == SCHEMA_VERSION => {}
        _ => {
            // Each step is guarded by the stored version: a version-1 file
            // (written before ordering keys and checkpoints) gains the new
            // columns and keeps its jobs.
            if version.is_none() {
                tx.execute_batch(V1).map_err(db)?;
            }
            migrate_v2(&tx)?;
            migrate_v3(&tx)?;
            tx.execute(
                "INSERT INTO archipel_queue_meta (key, value) VALUES ('schema_version', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![SCHEMA_VERSION],
            )
            .map_err(db)?;
            tx.execute(
                "INSERT OR IGNORE INTO archipel_queue_meta (key, value) VALUES ('lease_token', 0)",
                [],
            )
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}
