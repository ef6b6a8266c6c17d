//! One conformance suite, every `DeliveryQueue` backend: the in-memory
//! default, SQLite (feature `sqlite`) and PostgreSQL (feature `postgres`,
//! against the server named by `ARCHIPEL_TEST_PG_URL`; skipped with a
//! notice when it is unset).

#[macro_use]
#[path = "queue_support/conformance.rs"]
mod support;
#[allow(dead_code)]
#[path = "queue_support/pg.rs"]
mod pg;

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
}
