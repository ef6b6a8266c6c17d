use std::collections::BTreeMap;

use bytes::Bytes;

use super::*;
use crate::delivery::{PreparedBody, Spec};
use crate::vocab::Iri;

fn activity(inboxes: &[&str]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked("https://a.example/act/1"),
        PreparedBody::new(Bytes::from_static(b"{\"id\":1}")),
        Iri::new_unchecked("https://a.example/u/a#main-key"),
        inboxes
            .iter()
            .map(|s| url::Url::parse(s).unwrap())
            .collect(),
    )
    .with_dialect(Spec::Rfc9421)
}

#[tokio::test]
async fn jobs_survive_reopening_the_file() {
    let dir = std::env::temp_dir().join(format!("archipel-sqlite-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A fresh data directory: `open` creates it.
    let path = dir.join("data").join("reopen.sqlite3");
    let ids = {
        let q = SqliteQueue::open(&path).await.unwrap();
        q.enqueue_activity(
            activity(&["https://b.example/i", "https://c.example/i"]),
            Timestamp::from_millis(5),
        )
        .await
        .unwrap()
    };
    let q = SqliteQueue::open(&path).await.unwrap();
    let job = q.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(job.inbox.as_str(), "https://c.example/i");
    assert_eq!(job.host, "c.example");
    assert_eq!(job.dialect, Some(Spec::Rfc9421));
    assert_eq!(job.created_at, Timestamp::from_millis(5));
    assert_eq!(q.stats(Timestamp::from_millis(5)).await.unwrap().total, 2);
    // The file holds bodies of private posts: its owner's only, and so
    // are the directory it made and SQLite's WAL beside it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.join("data")), 0o700);
        assert_eq!(mode(&dir.join("data").join("reopen.sqlite3-wal")), 0o600);
    }
    drop(q);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn newer_schema_version_is_refused() {
    let dir = std::env::temp_dir().join(format!("archipel-sqlite-unit-v-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("newer.sqlite3");
    let _ = std::fs::remove_file(&path);
    drop(SqliteQueue::open(&path).await.unwrap());
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE archipel_queue_meta SET value = 99 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let err = SqliteQueue::open(&path).await.unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Queue(m) if m.contains("schema version 99 is newer")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn give_up_is_kept_as_a_record_until_pruned() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    let ids = q
        .enqueue_activity(
            activity(&["https://gone.example/i"]),
            Timestamp::from_millis(0),
        )
        .await
        .unwrap();
    let req = ClaimRequest {
        now: Timestamp::from_millis(0),
        limit: 1,
        lease_for: Duration::from_secs(1),
        per_host_limit: 1,
        busy: BTreeMap::new(),
        paused: Default::default(),
    };
    let c = q.claim(&req).await.unwrap().remove(0);
    let attempt = AttemptRecord {
        status: Some(410),
        error: Some("gone".into()),
        dialect: None,
    };
    q.give_up(&c.lease, attempt).await.unwrap();
    assert_eq!(q.get(ids[0]).await.unwrap(), None);
    let records = q.given_up(10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].settled, Settled::GaveUp);
    assert_eq!(records[0].record.last_status, Some(410));
    assert_eq!(records[0].record.last_error.as_deref(), Some("gone"));
    // Kept 7 days by default: pruning now removes nothing.
    assert_eq!(q.prune(wall_clock()).await.unwrap(), Pruned::default());
    let later = wall_clock().saturating_add(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(q.prune(later).await.unwrap(), Pruned { jobs: 1, bodies: 1 });
    assert!(q.given_up(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn rows_read_back_as_typed_iris_and_a_corrupt_inbox_is_named() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    let ids = q
        .enqueue_activity(
            activity(&["https://b.example/i"]),
            Timestamp::from_millis(0),
        )
        .await
        .unwrap();
    let job = q.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        job.activity_id,
        Iri::new_unchecked("https://a.example/act/1")
    );
    assert_eq!(
        job.key_id,
        Iri::new_unchecked("https://a.example/u/a#main-key")
    );
    assert_eq!(job.inbox, url::Url::parse("https://b.example/i").unwrap());
    // Only a hand-edited row can hold an inbox that is not a URL.
    q.with_conn(|c, _| {
        c.execute("UPDATE archipel_jobs SET inbox = 'not a url'", [])
            .map_err(ops::db)
    })
    .await
    .unwrap();
    match q.get(ids[0]).await {
        Err(DeliveryError::Queue(msg)) => assert!(
            msg.contains(r#"inbox "not a url" is not a valid URL"#),
            "{msg}"
        ),
        other => panic!("expected a queue error naming the inbox, got {other:?}"),
    }
}

/// The plan of `sql` as SQLite reports it, one `detail` per step.
fn query_plan(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    stmt.query_map(params, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn the_ordering_check_probes_its_index_and_the_claim_scans_by_due_time() {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    super::schema::prepare(&mut conn, &SqliteOptions::default()).unwrap();
    let claim = query_plan(
        &conn,
        super::ops::CLAIM_SELECT_SQL,
        rusqlite::params![0_i64, "[]"],
    );
    assert!(
        claim
            .iter()
            .any(|d| d.contains("USING INDEX archipel_jobs_available")),
        "{claim:#?}"
    );
    assert!(
        claim.iter().any(|d| d.contains(
            "USING COVERING INDEX archipel_jobs_order (order_key=? AND inbox=? AND id<?)"
        )),
        "{claim:#?}"
    );
    assert!(!claim.iter().any(|d| d.starts_with("SCAN o")), "{claim:#?}");
    let next_due = query_plan(&conn, super::ops::NEXT_DUE_SQL, []);
    assert!(
        next_due.iter().any(|d| d.contains("archipel_jobs_order")),
        "{next_due:#?}"
    );
}

fn numbered(n: usize, inboxes: usize) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked(format!("https://a.example/act/{n}")),
        PreparedBody::new(Bytes::from(format!("{{\"n\":{n}}}"))),
        Iri::new_unchecked("https://a.example/u/a#main-key"),
        (0..inboxes)
            .map(|i| url::Url::parse(&format!("https://h{i}.example/inbox")).unwrap())
            .collect(),
    )
}

/// Starts every call of `calls` while the test holds the connection, so
/// that all of them wait in one batch, then lets the writer go; returns
/// each call's answer, in order.
#[allow(clippy::await_holding_lock)] // holding the connection is the point
async fn in_one_batch<T, F, Fut>(q: &SqliteQueue, calls: Vec<F>) -> Vec<T>
where
    F: FnOnce(SqliteQueue) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let count = calls.len();
    let held = q.inner.conn.lock().unwrap();
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|call| tokio::spawn(call(q.clone())))
        .collect();
    // Every caller has left its write in the batch.
    let start = std::time::Instant::now();
    while q.inner.batch.lock().unwrap().waiting() < count {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "callers did not queue"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(held);
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

/// Enqueues `activities` at once, in one batch (see `in_one_batch`).
async fn enqueue_while_held(
    q: &SqliteQueue,
    activities: Vec<NewActivity>,
) -> Vec<Result<Vec<JobId>, DeliveryError>> {
    let calls: Vec<_> = activities
        .into_iter()
        .map(|activity| {
            move |q: SqliteQueue| async move {
                q.enqueue_activity(activity, Timestamp::from_millis(7))
                    .await
            }
        })
        .collect();
    in_one_batch(q, calls).await
}

fn numbered_batch(count: usize) -> Vec<NewActivity> {
    (0..count).map(|n| numbered(n, 1 + n % 3)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_enqueued_together_are_committed_in_one_transaction() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    let outcomes = enqueue_while_held(&q, numbered_batch(100)).await;
    assert_eq!(q.inner.transactions.load(Ordering::SeqCst), 1);
    // Each caller got its own jobs, one per inbox, and they hold its
    // activity.
    let mut seen = std::collections::BTreeSet::new();
    for (n, outcome) in outcomes.into_iter().enumerate() {
        let ids = outcome.unwrap();
        assert_eq!(ids.len(), 1 + n % 3);
        for (i, id) in ids.into_iter().enumerate() {
            assert!(seen.insert(id), "job {id} answered twice");
            let job = q.get(id).await.unwrap().unwrap();
            assert_eq!(
                job.activity_id.as_str(),
                format!("https://a.example/act/{n}")
            );
            assert_eq!(job.inbox.as_str(), format!("https://h{i}.example/inbox"));
        }
    }
    assert_eq!(
        q.stats(Timestamp::from_millis(7)).await.unwrap().total,
        seen.len()
    );
    // More than a batch holds: written in several transactions.
    let before = q.inner.transactions.load(Ordering::SeqCst);
    let outcomes = enqueue_while_held(&q, numbered_batch(batch::MAX_BATCH + 10)).await;
    assert!(outcomes.iter().all(Result::is_ok));
    assert_eq!(q.inner.transactions.load(Ordering::SeqCst) - before, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_that_fails_in_a_batch_fails_alone() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    q.inner
        .conn
        .lock()
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_seven BEFORE INSERT ON archipel_bodies
             WHEN NEW.activity_id = 'https://a.example/act/7'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let outcomes = enqueue_while_held(&q, numbered_batch(20)).await;
    assert_eq!(q.inner.transactions.load(Ordering::SeqCst), 1);
    for (n, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Err(e) if n == 7 => assert!(e.to_string().contains("refused by the test"), "{e}"),
            Ok(_) if n != 7 => {}
            other => panic!("activity {n}: {other:?}"),
        }
    }
    // Nothing of the refused activity was stored; everything else was.
    let stats = q.stats(Timestamp::from_millis(7)).await.unwrap();
    let expected: usize = (0..20).filter(|n| *n != 7).map(|n| 1 + n % 3).sum();
    assert_eq!(stats.total, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_never_runs_fails_its_batch_and_the_next_enqueue_starts_another() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    let (outcome, start) = q
        .inner
        .batch
        .lock()
        .unwrap()
        .push(numbered(1, 1), Timestamp::from_millis(7));
    assert!(start, "the first of a batch starts its writer");
    // What a runtime shutting down does to a blocking task not yet run.
    drop(Writer {
        inner: q.inner.clone(),
        finished: false,
    });
    let answer = tokio::time::timeout(Duration::from_secs(5), outcome)
        .await
        .expect("answered, not stranded");
    match answer.unwrap() {
        Err(DeliveryError::Queue(reason)) => assert_eq!(reason, batch::WRITER_STOPPED),
        other => panic!("expected the writer-stopped error, got {other:?}"),
    }
    let ids = tokio::time::timeout(
        Duration::from_secs(5),
        q.enqueue_activity(numbered(2, 1), Timestamp::from_millis(7)),
    )
    .await
    .expect("the queue is not wedged")
    .unwrap();
    assert_eq!(ids.len(), 1);
}

/// Whatever SQLite does when the file is full mid-batch (fail the one
/// statement, or roll the whole transaction back), each caller's answer is
/// what was stored: an `Ok` activity is there, a failed one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_what_is_stored_when_the_file_fills_mid_batch() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    {
        let conn = q.inner.conn.lock().unwrap();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 40))
            .unwrap();
    }
    let activities = (0..12)
        .map(|n| {
            // The seventh is far larger than the room left.
            let size = if n == 6 { 1024 * 1024 } else { 100 };
            NewActivity::new(
                Iri::new_unchecked(format!("https://a.example/act/{n}")),
                PreparedBody::new(Bytes::from(vec![b'x'; size])),
                Iri::new_unchecked("https://a.example/u/a#main-key"),
                vec![url::Url::parse("https://b.example/inbox").unwrap()],
            )
        })
        .collect();
    let outcomes = enqueue_while_held(&q, activities).await;
    let refused_large = outcomes[6].is_err();
    let mut stored_ok = 0;
    for ids in outcomes.into_iter().flatten() {
        for id in ids {
            assert!(
                q.get(id).await.unwrap().is_some(),
                "job {id} answered Ok but absent"
            );
            stored_ok += 1;
        }
    }
    let total = q.stats(Timestamp::from_millis(7)).await.unwrap().total;
    assert_eq!(total, stored_ok, "stored jobs that were answered as failed");
    // The large one was refused, and either it alone or the whole batch
    // (SQLite rolled the transaction back) failed.
    assert!(
        refused_large,
        "the activity too large for the file was stored"
    );
    assert!(
        stored_ok == 0 || stored_ok == 11,
        "{stored_ok} of 11 stored"
    );
    // The queue still works once there is room again.
    q.inner
        .conn
        .lock()
        .unwrap()
        .execute_batch("PRAGMA max_page_count = 1073741823")
        .unwrap();
    let ids = q
        .enqueue_activity(numbered(99, 1), Timestamp::from_millis(7))
        .await
        .unwrap();
    assert!(q.get(ids[0]).await.unwrap().is_some());
}

/// Acks `jobs` at once, in one batch (see `in_one_batch`): the first
/// `lost` with a lease token that is not theirs (as after a lapsed lease
/// re-claimed elsewhere).
async fn ack_while_held(
    q: &SqliteQueue,
    jobs: Vec<ClaimedJob>,
    lost: usize,
) -> Vec<Result<(), DeliveryError>> {
    let calls: Vec<_> = jobs
        .into_iter()
        .enumerate()
        .map(|(n, claimed)| {
            let mut lease = claimed.lease;
            if n < lost {
                lease.token = lease.token.wrapping_add(1_000_000);
            }
            move |q: SqliteQueue| async move { q.ack(&lease, AttemptRecord::default()).await }
        })
        .collect();
    in_one_batch(q, calls).await
}

/// One activity to `n` hosts, enqueued, then its `n` jobs claimed.
async fn enqueued_and_claimed(q: &SqliteQueue, n: usize) -> Vec<ClaimedJob> {
    q.enqueue_activity(numbered(1, n), Timestamp::from_millis(0))
        .await
        .unwrap();
    claim_exactly(q, n).await
}

/// Claims `n` due jobs (one per host) for a minute, and checks it got them.
async fn claim_exactly(q: &SqliteQueue, n: usize) -> Vec<ClaimedJob> {
    let claimed = q
        .claim(&ClaimRequest {
            now: Timestamp::from_millis(1),
            limit: n,
            lease_for: Duration::from_secs(60),
            per_host_limit: 1,
            busy: BTreeMap::new(),
            paused: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), n);
    claimed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_settled_together_are_committed_in_one_transaction_and_a_lost_lease_fails_alone() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    let claimed = enqueued_and_claimed(&q, 60).await;
    let ids: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
    let before = q.inner.transactions.load(Ordering::SeqCst);
    let outcomes = ack_while_held(&q, claimed, 3).await;
    assert_eq!(q.inner.transactions.load(Ordering::SeqCst) - before, 1);
    for (n, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Err(DeliveryError::LeaseLost { job }) if n < 3 => assert_eq!(*job, ids[n]),
            Ok(()) if n >= 3 => {}
            other => panic!("settle {n}: {other:?}"),
        }
    }
    // What each caller was told is what is stored: the three with a lost
    // lease are still pending, the 57 others delivered.
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(q.get(*id).await.unwrap().is_some(), n < 3, "job {n}");
        let finished = q.finished(*id).await.unwrap();
        assert_eq!(
            finished.map(|f| f.settled),
            (n >= 3).then_some(Settled::Delivered),
            "job {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settle_that_fails_in_a_batch_fails_alone() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    let claimed = enqueued_and_claimed(&q, 20).await;
    let ids: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
    let refused = ids[7];
    q.inner
        .conn
        .lock()
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_one BEFORE UPDATE OF state ON archipel_jobs
             WHEN NEW.id = {} AND NEW.state = 1
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            refused.0
        ))
        .unwrap();
    let before = q.inner.transactions.load(Ordering::SeqCst);
    let outcomes = ack_while_held(&q, claimed, 0).await;
    assert_eq!(q.inner.transactions.load(Ordering::SeqCst) - before, 1);
    for (n, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Err(e) if n == 7 => assert!(e.to_string().contains("refused by the test"), "{e}"),
            Ok(()) if n != 7 => {}
            other => panic!("settle {n}: {other:?}"),
        }
    }
    // The refused job is still pending under its lease; the others are delivered.
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(q.get(*id).await.unwrap().is_some(), n == 7, "job {n}");
    }
}

#[tokio::test]
async fn the_claim_statement_is_prepared_once() {
    let q = SqliteQueue::open_in_memory().await.unwrap();
    q.enqueue_activity(numbered(1, 60), Timestamp::from_millis(0))
        .await
        .unwrap();
    // Claims of every size, as a pool's free slots vary.
    for limit in 1..=10 {
        claim_exactly(&q, limit).await;
    }
    let conn = q.inner.conn.lock().unwrap();
    let stmt = conn.prepare_cached(ops::CLAIM_SELECT_SQL).unwrap();
    assert_eq!(
        stmt.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "SQLite prepared the claim statement again"
    );
    assert!(stmt.get_status(rusqlite::StatementStatus::VmStep) > 0);
}
