//! The PostgreSQL schema of [`PostgresQueue`](super::PostgresQueue), created
//! and migrated by the crate under an advisory lock, so any number of
//! processes may start at once.

use tokio_postgres::Client;

use super::pg;
use crate::delivery::DeliveryError;

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = 3;

fn v1(s: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {s}.bodies (
             id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             activity_id TEXT   NOT NULL,
             key_id      TEXT   NOT NULL,
             bytes       BYTEA  NOT NULL,
             sha256      BYTEA  NOT NULL,
             created_at  BIGINT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS {s}.jobs (
             id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             body_id         BIGINT   NOT NULL REFERENCES {s}.bodies(id),
             inbox           TEXT     NOT NULL,
             host            TEXT     NOT NULL,
             state           SMALLINT NOT NULL DEFAULT 0,
             attempts        INTEGER  NOT NULL DEFAULT 0,
             claims          INTEGER  NOT NULL DEFAULT 0,
             created_at      BIGINT   NOT NULL,
             next_attempt_at BIGINT   NOT NULL,
             available_at    BIGINT   NOT NULL,
             lease_token     BIGINT,
             lease_until     BIGINT,
             last_status     INTEGER,
             last_error      TEXT,
             dialect         TEXT,
             finished_at     BIGINT
         );
         CREATE SEQUENCE IF NOT EXISTS {s}.lease_tokens;
         CREATE INDEX IF NOT EXISTS jobs_available ON {s}.jobs (available_at, id) WHERE state = 0;
         CREATE INDEX IF NOT EXISTS jobs_body ON {s}.jobs (body_id);
         CREATE INDEX IF NOT EXISTS jobs_finished ON {s}.jobs (state, finished_at) WHERE state <> 0;"
    )
}

/// Version 2: the ordering key and the checkpointed progress of a job, and
/// the index the ordering rule probes (unsettled jobs by key and inbox).
/// `IF NOT EXISTS` makes it safe on a version-1 schema and on a fresh one.
/// Version 3: the `Collection-Synchronization` header value a job sends
/// (FEP-8fcf); older jobs have none.
fn v3(s: &str) -> String {
    format!("ALTER TABLE {s}.jobs ADD COLUMN IF NOT EXISTS collection_sync TEXT;")
}

fn v2(s: &str) -> String {
    format!(
        "ALTER TABLE {s}.jobs ADD COLUMN IF NOT EXISTS order_key TEXT;
         ALTER TABLE {s}.jobs ADD COLUMN IF NOT EXISTS progress BYTEA;
         CREATE INDEX IF NOT EXISTS jobs_order ON {s}.jobs (order_key, inbox, id)
             WHERE state = 0 AND order_key IS NOT NULL;"
    )
}

/// Whether `name` is a plain lower-case SQL identifier (so it can be
/// spliced into statements without quoting).
pub(super) fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && name.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// Creates or migrates the schema `s` (already validated).
pub(super) async fn migrate(client: &mut Client, s: &str) -> Result<(), DeliveryError> {
    let tx = client.transaction().await.map_err(pg)?;
    // Serializes concurrent creators: `CREATE ... IF NOT EXISTS` alone races.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('archipel_queue:' || $1::text))",
        &[&s],
    )
    .await
    .map_err(pg)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.queue_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    ))
    .await
    .map_err(pg)?;
    let version: Option<i64> = tx
        .query_opt(
            &format!("SELECT value FROM {s}.queue_meta WHERE key = 'schema_version'"),
            &[],
        )
        .await
        .map_err(pg)?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(pg)?;
    match version {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(DeliveryError::Queue(format!(
                "postgres queue: schema {s} is at version {v}, newer than this build's {SCHEMA_VERSION}"
            )));
        }
        Some(v) if v == SCHEMA_VERSION => {}
        _ => {
            // Each step is guarded by the stored version: a version-1 schema
            // (before ordering keys and checkpoints) keeps its jobs.
            if version.is_none() {
                tx.batch_execute(&v1(s)).await.map_err(pg)?;
            }
            tx.batch_execute(&v2(s)).await.map_err(pg)?;
            tx.batch_execute(&v3(s)).await.map_err(pg)?;
            tx.execute(
                &format!(
                    "INSERT INTO {s}.queue_meta (key, value) VALUES ('schema_version', $1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                &[&SCHEMA_VERSION],
            )
            .await
            .map_err(pg)?;
        }
    }
    tx.commit().await.map_err(pg)
}
