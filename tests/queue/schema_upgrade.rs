//! Queue files and schemas written before ordering keys and checkpoints
//! (schema version 1) keep opening: the new columns are added (through
//! version 3, the followers-synchronization header), pending jobs
//! survive, and the new features work on them.

use archipel::delivery::{AttemptRecord, DeliveryQueue, JobId};

use crate::support::queue::conformance::{activity, req, t};

const INBOX: &str = "https://b.example/users/bob/inbox";

/// What a version-1 queue holds: one pending job, enqueued at 7 ms.
async fn check_upgraded(q: &dyn DeliveryQueue, old: JobId) {
    let job = q.get(old).await.unwrap().unwrap();
    assert_eq!(job.inbox.as_str(), INBOX);
    assert_eq!(job.activity_id, "https://a.example/act/old");
    assert_eq!((job.order_key, job.progress), (None, None));
    assert_eq!(job.collection_sync, None);
    assert_eq!(q.stats(t(10)).await.unwrap().oldest_created_at, Some(t(7)));
    // New keyed jobs line up behind each other, never behind the old one.
    let keyed = |id: &str| activity(id, &[INBOX]).with_order_key("https://a.example/notes/1");
    let first = q
        .enqueue_activity(keyed("https://a.example/act/c"), t(8))
        .await
        .unwrap();
    let second = q
        .enqueue_activity(keyed("https://a.example/act/d"), t(9))
        .await
        .unwrap();
    let mut claimed = q.claim(&req(10, 10, 10)).await.unwrap();
    claimed.sort_by_key(|c| c.job.id);
    let ids: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
    assert_eq!(ids, [old, first[0]]);
    let lease = q
        .checkpoint(&claimed[0].lease, b"resume".to_vec(), t(5_000))
        .await
        .unwrap();
    assert_eq!(
        q.get(old).await.unwrap().unwrap().progress.as_deref(),
        Some(&b"resume"[..])
    );
    q.ack(&lease, AttemptRecord::default()).await.unwrap();
    q.ack(&claimed[1].lease, AttemptRecord::default())
        .await
        .unwrap();
    let next = q.claim(&req(10, 10, 10)).await.unwrap();
    assert_eq!(next.iter().map(|c| c.job.id).collect::<Vec<_>>(), second);
    // A new job stores its Collection-Synchronization value, per inbox.
    let other = "https://c.example/inbox";
    let with_sync = activity("https://a.example/act/e", &[INBOX, other])
        .with_collection_sync(url::Url::parse(other).unwrap(), "digest=\"0\"".to_owned());
    let ids = q.enqueue_activity(with_sync, t(11)).await.unwrap();
    let sync = |id| async move { q.get(id).await.unwrap().unwrap().collection_sync };
    assert_eq!(sync(ids[0]).await, None);
    assert_eq!(sync(ids[1]).await.as_deref(), Some("digest=\"0\""));
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use archipel::delivery::queue::sqlite::SqliteQueue;

    /// The version-1 schema as archipel wrote it.
    const V1: &str = "
    CREATE TABLE archipel_queue_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE archipel_bodies (
        id INTEGER PRIMARY KEY AUTOINCREMENT, activity_id TEXT NOT NULL, key_id TEXT NOT NULL,
        bytes BLOB NOT NULL, sha256 BLOB NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE archipel_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        body_id INTEGER NOT NULL REFERENCES archipel_bodies(id),
        inbox TEXT NOT NULL, host TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0, claims INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL,
        available_at INTEGER NOT NULL, lease_token INTEGER, lease_until INTEGER,
        last_status INTEGER, last_error TEXT, dialect TEXT, finished_at INTEGER);
    CREATE INDEX archipel_jobs_available ON archipel_jobs(available_at, id) WHERE state = 0;
    CREATE INDEX archipel_jobs_body ON archipel_jobs(body_id);
    CREATE INDEX archipel_jobs_finished ON archipel_jobs(state, finished_at) WHERE state <> 0;
    INSERT INTO archipel_queue_meta VALUES ('schema_version', 1), ('lease_token', 40);
    ";

    #[tokio::test]
    async fn a_version_1_file_opens_and_keeps_its_jobs() {
        let dir = std::env::temp_dir().join(format!("archipel-upgrade-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queue.sqlite3");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(V1).unwrap();
            let body = archipel::delivery::PreparedBody::new(bytes::Bytes::from_static(b"{}"));
            conn.execute(
                "INSERT INTO archipel_bodies (activity_id, key_id, bytes, sha256, created_at)
                 VALUES ('https://a.example/act/old', 'https://a.example/u/a#main-key', ?1, ?2, 7)",
                rusqlite::params![body.bytes().as_ref(), body.sha256().as_slice()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO archipel_jobs (body_id, inbox, host, created_at, next_attempt_at,
                     available_at) VALUES (1, ?1, 'b.example', 7, 7, 7)",
                [INBOX],
            )
            .unwrap();
        }
        let q = SqliteQueue::open(&path).await.unwrap();
        check_upgraded(&q, JobId(1)).await;
        drop(q);
        // Opening again finds version 3 and changes nothing.
        let q = SqliteQueue::open(&path).await.unwrap();
        // The second keyed job and the two with a header are left.
        assert_eq!(q.stats(t(12)).await.unwrap().total, 3);
        drop(q);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row(
                "SELECT value FROM archipel_queue_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use crate::support::queue::pg;
    use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};

    #[tokio::test]
    async fn a_version_1_schema_opens_and_keeps_its_jobs() {
        let Some(url) = pg::url("a_version_1_schema_opens_and_keeps_its_jobs") else {
            return;
        };
        let s = pg::unique_schema("upgrade");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        // The version-1 schema as archipel wrote it, with one pending job.
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {s};
                 CREATE TABLE {s}.queue_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
                 CREATE TABLE {s}.bodies (
                     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, activity_id TEXT NOT NULL,
                     key_id TEXT NOT NULL, bytes BYTEA NOT NULL, sha256 BYTEA NOT NULL,
                     created_at BIGINT NOT NULL);
                 CREATE TABLE {s}.jobs (
                     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     body_id BIGINT NOT NULL REFERENCES {s}.bodies(id),
                     inbox TEXT NOT NULL, host TEXT NOT NULL, state SMALLINT NOT NULL DEFAULT 0,
                     attempts INTEGER NOT NULL DEFAULT 0, claims INTEGER NOT NULL DEFAULT 0,
                     created_at BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL,
                     available_at BIGINT NOT NULL, lease_token BIGINT, lease_until BIGINT,
                     last_status INTEGER, last_error TEXT, dialect TEXT, finished_at BIGINT);
                 CREATE SEQUENCE {s}.lease_tokens;
                 CREATE INDEX jobs_available ON {s}.jobs (available_at, id) WHERE state = 0;
                 CREATE INDEX jobs_body ON {s}.jobs (body_id);
                 CREATE INDEX jobs_finished ON {s}.jobs (state, finished_at) WHERE state <> 0;
                 INSERT INTO {s}.queue_meta VALUES ('schema_version', 1);"
            ))
            .await
            .unwrap();
        let body = archipel::delivery::PreparedBody::new(bytes::Bytes::from_static(b"{}"));
        client
            .execute(
                &format!(
                    "INSERT INTO {s}.bodies (activity_id, key_id, bytes, sha256, created_at)
                     VALUES ('https://a.example/act/old', 'https://a.example/u/a#main-key', $1, $2, 7)"
                ),
                &[&body.bytes().as_ref(), &body.sha256().as_slice()],
            )
            .await
            .unwrap();
        let old: i64 = client
            .query_one(
                &format!(
                    "INSERT INTO {s}.jobs (body_id, inbox, host, created_at, next_attempt_at,
                         available_at)
                     SELECT id, $1, 'b.example', 7, 7, 7 FROM {s}.bodies RETURNING id"
                ),
                &[&INBOX],
            )
            .await
            .unwrap()
            .get(0);
        let options = PostgresOptions {
            schema: s.clone(),
            pool_size: 2,
            prune_every: None,
            ..PostgresOptions::default()
        };
        let q = PostgresQueue::connect_with(&url, options).await.unwrap();
        check_upgraded(&q, JobId(u64::try_from(old).unwrap())).await;
        let version: i64 = client
            .query_one(
                &format!("SELECT value FROM {s}.queue_meta WHERE key = 'schema_version'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(version, 3);
        drop(q);
        drop(client);
        pg::drop_schema(&url, &s).await;
    }
}
