//! One conformance suite, every `DeliveryQueue` backend: the in-memory
//! default, SQLite (feature `sqlite`) and PostgreSQL (feature `postgres`,
//! against the server of `tests/setup.sh` or `ARCHIPEL_TEST_PG_URL`; skipped
//! with a notice when there is none, a failure under `ARCHIPEL_REQUIRE_PEERS=1`).

use crate::support::queue::conformance as support;
#[cfg(feature = "postgres")]
use crate::support::queue::pg;

use std::sync::Arc;

use support::Subject;

fn noop() -> support::Hook {
    Box::new(|| Box::pin(async {}))
}

mod memory {
    use super::*;
    use archipel::delivery::MemoryQueue;

    async fn make(_case: &str) -> Option<Subject> {
        Some(Subject {
            queue: Arc::new(MemoryQueue::new()),
            prune: noop(),
            finish: noop(),
        })
    }

    conformance_cases!(make);
    ordering_cases!(make);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use archipel::delivery::Timestamp;
    use archipel::delivery::queue::sqlite::{SqliteOptions, SqliteQueue};

    async fn make(case: &str) -> Option<Subject> {
        let dir = std::env::temp_dir().join(format!(
            "archipel-conformance-{}-{case}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let options = SqliteOptions {
            prune_every: None,
            ..SqliteOptions::default()
        };
        let queue = SqliteQueue::open_with(dir.join("queue.sqlite3"), options)
            .await
            .unwrap();
        let for_prune = queue.clone();
        Some(Subject {
            queue: Arc::new(queue),
            prune: Box::new(move || {
                let q = for_prune.clone();
                Box::pin(async move {
                    // Far enough ahead that every retention has passed.
                    q.prune(Timestamp::from_millis(u64::MAX / 2)).await.unwrap();
                })
            }),
            finish: Box::new(move || {
                let dir = dir.clone();
                Box::pin(async move {
                    let _ = std::fs::remove_dir_all(&dir);
                })
            }),
        })
    }

    conformance_cases!(make);
    ordering_cases!(make);

    /// A checkpoint is on disk: a process that reopens the file after the
    /// holder died resumes from it.
    #[tokio::test]
    async fn checkpointed_progress_survives_a_reopen() {
        use archipel::delivery::DeliveryQueue;
        use support::{activity, req, t};
        let dir =
            std::env::temp_dir().join(format!("archipel-checkpoint-reopen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("queue.sqlite3");
        let q = SqliteQueue::open(&path).await.unwrap();
        let ids = q
            .enqueue_activity(
                activity("https://a.example/act/1", &["https://b.example/i"]),
                t(0),
            )
            .await
            .unwrap();
        let lease = q.claim(&req(0, 1, 1)).await.unwrap().remove(0).lease;
        q.checkpoint(&lease, b"page-3".to_vec(), t(2_000))
            .await
            .unwrap();
        drop(q);
        let q = SqliteQueue::open(&path).await.unwrap();
        assert!(q.claim(&req(1_999, 1, 1)).await.unwrap().is_empty());
        let again = q.claim(&req(2_000, 1, 1)).await.unwrap().remove(0);
        assert_eq!(again.job.id, ids[0]);
        assert_eq!(again.job.claims, 2);
        assert_eq!(again.job.progress.as_deref(), Some(&b"page-3"[..]));
        drop(q);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use archipel::delivery::Timestamp;
    use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};

    async fn make(case: &str) -> Option<Subject> {
        let url = pg::url(case)?;
        let schema = pg::unique_schema(case);
        let options = PostgresOptions {
            schema: schema.clone(),
            pool_size: 4,
            prune_every: None,
            ..PostgresOptions::default()
        };
        let queue = PostgresQueue::connect_with(&url, options).await.unwrap();
        let for_prune = queue.clone();
        Some(Subject {
            queue: Arc::new(queue),
            prune: Box::new(move || {
                let q = for_prune.clone();
                Box::pin(async move {
                    q.prune(Timestamp::from_millis(u64::MAX / 2)).await.unwrap();
                })
            }),
            finish: Box::new(move || {
                let (url, schema) = (url.clone(), schema.clone());
                Box::pin(async move { pg::drop_schema(&url, &schema).await })
            }),
        })
    }

    conformance_cases!(make);
    ordering_cases!(make);
}

#[cfg(feature = "postgres")]
mod postgres_schema {
    use super::*;
    use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};
    use archipel::delivery::{DeliveryError, DeliveryQueue, Timestamp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_connects_create_the_schema_once() {
        let Some(url) = pg::url("concurrent_first_connects_create_the_schema_once") else {
            return;
        };
        let schema = pg::unique_schema("concurrent");
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let options = PostgresOptions {
                schema: schema.clone(),
                pool_size: 1,
                ..PostgresOptions::default()
            };
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                PostgresQueue::connect_with(&url, options).await
            }));
        }
        let mut queues = Vec::new();
        for t in tasks {
            queues.push(t.await.unwrap().unwrap());
        }
        let ids = queues[0]
            .enqueue_activity(
                support::activity("https://a.example/act/1", &["https://b.example/i"]),
                support::t(0),
            )
            .await
            .unwrap();
        // Every handle sees the same queue.
        assert_eq!(
            queues[3].get(ids[0]).await.unwrap().unwrap().inbox.as_str(),
            "https://b.example/i"
        );
        assert_eq!(
            queues[2]
                .stats(Timestamp::from_millis(0))
                .await
                .unwrap()
                .total,
            1
        );
        drop(queues);
        pg::drop_schema(&url, &schema).await;
    }

    #[tokio::test]
    async fn newer_schema_version_and_bad_schema_names_are_refused() {
        let Some(url) = pg::url("newer_schema_version_and_bad_schema_names_are_refused") else {
            return;
        };
        let bad = PostgresOptions {
            schema: "x; DROP TABLE y".into(),
            ..PostgresOptions::default()
        };
        match PostgresQueue::connect_with(&url, bad).await {
            Err(DeliveryError::Queue(m)) => {
                assert!(m.contains("not a plain lower-case identifier"), "{m}")
            }
            other => panic!("bad schema name accepted: {other:?}"),
        }
        let schema = pg::unique_schema("newer");
        let options = PostgresOptions {
            schema: schema.clone(),
            ..PostgresOptions::default()
        };
        drop(
            PostgresQueue::connect_with(&url, options.clone())
                .await
                .unwrap(),
        );
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "UPDATE {schema}.queue_meta SET value = 99 WHERE key = 'schema_version'"
            ))
            .await
            .unwrap();
        match PostgresQueue::connect_with(&url, options).await {
            Err(DeliveryError::Queue(m)) => {
                assert!(m.contains("version 99, newer than this build's 3"), "{m}")
            }
            other => panic!("newer schema accepted: {other:?}"),
        }
        drop(client);
        pg::drop_schema(&url, &schema).await;
    }
}
