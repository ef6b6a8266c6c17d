//! [`SqliteQueue`]: the embedded durable [`DeliveryQueue`] (feature `sqlite`).
//!
//! One database file (SQLite bundled into the binary, so nothing needs to be
//! installed) in WAL mode. Every job is committed before
//! [`enqueue_activity`](DeliveryQueue::enqueue_activity) returns, so a crash
//! or restart loses nothing: claimed jobs whose worker died become due again
//! when their lease lapses. Each activity's body is stored once, in
//! `archipel_bodies`, and referenced by one `archipel_jobs` row per inbox.
//! Enqueues that arrive while another is being written are committed
//! together, in one transaction and one sync (group commit: an inbox
//! receiving many activities at once pays one sync per batch, not per
//! activity); each caller still returns only once its own activity is
//! committed. Settles (ack, retry, defer, give up) join the same batches:
//! a fan-out drain settles thousands of jobs a second, and one transaction
//! for the settles waiting costs a fraction of one each. A batch shares its
//! fate: should its commit fail (a full disk), every enqueue and settle in
//! it fails, and a settle that failed leaves its job leased, due again when
//! the lease lapses (sent twice at worst, as the at-least-once contract of
//! [`DeliveryQueue`] allows).
//!
//! Settled jobs are not deleted at once: a delivered job stays for
//! [`SqliteOptions::keep_delivered`] and a given-up one (the give-up record:
//! inbox, last status, last error) for [`SqliteOptions::keep_given_up`], then
//! [`SqliteQueue::prune`] (run automatically every
//! [`SqliteOptions::prune_every`]) deletes them and every body no job refers
//! to any more.
//!
//! Several processes may open the same file (a crashed server's successor,
//! a separate worker process): writes are serialized by SQLite's lock, and
//! lease tokens come from a counter in the file, so a stale holder can never
//! settle a job someone else claimed. For workers on several machines, use
//! the PostgreSQL backend.
//!
//! A new database file is created with mode `0600` (and missing
//! directories with `0700`) on unix: until they are delivered, the queue
//! holds the bodies of followers-only and direct posts.
//!
//! Calls run on tokio's blocking pool, so the queue must be used within a
//! tokio runtime.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    AttemptRecord, ClaimRequest, ClaimedJob, DeliveryQueue, JobId, JobRecord, Lease, NewActivity,
    QueueStats, check_progress,
};
use crate::delivery::{DeliveryError, Timestamp};

use ops::{
    ACK_SQL, CHECKPOINT_SQL, DEFER_SQL, GIVE_UP_SQL, JOB_COLUMNS, NEXT_DUE_SQL, RETRY_SQL,
    SettleArgs, blocking, claim_in, db, finished_from, from_sql_ts, id_sql, job_from_row, prune_in,
    to_sql_ts, token_sql, wall_clock,
};

mod batch;
mod ops;
mod schema;
#[cfg(test)]
mod tests;

/// Which commits SQLite forces to disk (`PRAGMA synchronous`, WAL mode).
///
/// Whatever the choice, a killed process loses nothing committed: WAL
/// frames are in the OS page cache once the commit returns. The choice only
/// matters when the machine itself crashes or loses power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// Every commit is on disk before it returns, settles included: one
    /// `fsync` per ack.
    Full,
    /// Enqueues are on disk before they return; claims and settles are not
    /// (the default). A power loss may forget the last few acks, so those
    /// jobs are sent again (the at-least-once contract already allows it),
    /// but never a pending job. A later enqueue's `fsync` also persists
    /// every settle written before it (the WAL is sequential).
    #[default]
    Enqueue,
    /// No commit waits for the disk: an OS crash may lose the last enqueues
    /// too. For queues that can be rebuilt.
    Normal,
}

/// Tuning of a [`SqliteQueue`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Commit durability (default [`Synchronous::Enqueue`]).
    pub synchronous: Synchronous,
    /// How long a call waits for another process holding the write lock
    /// (default 10 s).
    pub busy_timeout: Duration,
    /// How long delivered jobs are kept before pruning (default 1 hour).
    pub keep_delivered: Duration,
    /// How long give-up records are kept before pruning (default 7 days).
    pub keep_given_up: Duration,
    /// How often `claim` runs [`SqliteQueue::prune`] on its own (default
    /// every minute; `None` leaves pruning to the application).
    pub prune_every: Option<Duration>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Enqueue,
            busy_timeout: Duration::from_secs(10),
            keep_delivered: Duration::from_secs(3600),
            keep_given_up: Duration::from_secs(7 * 24 * 3600),
            prune_every: Some(Duration::from_secs(60)),
        }
    }
}

pub use super::{FinishedJob, Pruned, Settled};

/// The embedded durable [`DeliveryQueue`] on one SQLite database file.
///
/// ```no_run
/// # async fn demo() -> Result<(), archipel::Error> {
/// use archipel::delivery::queue::sqlite::SqliteQueue;
/// let queue = SqliteQueue::open("data/delivery.sqlite3").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    /// Enqueues and settles waiting for the writer (group commit, see `batch`).
    batch: Mutex<batch::Batch>,
    /// Batches written (a transaction each), for the tests.
    #[cfg(test)]
    transactions: AtomicU64,
    options: SqliteOptions,
    path: Option<PathBuf>,
    last_prune: AtomicU64,
}

/// The writer an enqueue or settle starts for the batch it opened. Should
/// it never run (its runtime shutting down drops the task, or
/// `spawn_blocking` panics) or stop half-way (a panic while writing),
/// dropping it fails the writes still waiting and clears the batch's mark:
/// otherwise the mark would say a writer is on its way, no later caller
/// would start one, and every write from then on would wait forever.
struct Writer {
    inner: Arc<Inner>,
    finished: bool,
}

impl Writer {
    fn run(mut self) {
        self.inner.write_batches();
        self.finished = true;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.finished {
            self.inner
                .batch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .abandon();
        }
    }
}

impl Inner {
    /// Writes the waiting enqueues and settles, a batch per transaction,
    /// until none is left (run by the writer the first caller of a batch
    /// starts).
    fn write_batches(&self) {
        loop {
            // The connection first: what arrives while the previous writer
            // holds it joins this batch.
            let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            let (items, more) = self.batch.lock().unwrap_or_else(|p| p.into_inner()).take();
            if items.is_empty() {
                return;
            }
            // Counted before the callers are answered, so a test that
            // reads it after its answers sees this batch.
            #[cfg(test)]
            self.transactions.fetch_add(1, Ordering::SeqCst);
            batch::write(&mut conn, &self.options, items);
            drop(conn);
            if !more {
                return;
            }
        }
    }
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue in the database file at `path`,
    /// with default [`SqliteOptions`].
    ///
    /// Missing parent directories are created (a fresh data directory
    /// works); the schema is created or migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, DeliveryError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the queue at `path` with `options`.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, DeliveryError> {
        let path = path.as_ref().to_path_buf();
        let for_open = path.clone();
        let opts = options.clone();
        let conn = blocking(move || {
            // The queue holds the bodies of private posts until they are
            // delivered: a new file (and any missing directory) is created
            // readable by its owner only, and SQLite gives its -wal and
            // -shm files the same mode.
            crate::federation::sqlite::create_private_file(&for_open).map_err(|(at, e)| {
                DeliveryError::Queue(format!("sqlite: cannot create {}: {e}", at.display()))
            })?;
            let mut conn = Connection::open(&for_open).map_err(|e| {
                DeliveryError::Queue(format!("sqlite: cannot open {}: {e}", for_open.display()))
            })?;
            schema::prepare(&mut conn, &opts)?;
            Ok(conn)
        })
        .await?;
        Ok(Self::from_connection(conn, options, Some(path)))
    }

    /// A queue in a private in-memory database: durable only as long as the
    /// value lives; for tests of code written against the durable backend.
    pub async fn open_in_memory() -> Result<Self, DeliveryError> {
        let options = SqliteOptions::default();
        let opts = options.clone();
        let conn = blocking(move || {
            let mut conn = Connection::open_in_memory().map_err(db)?;
            schema::prepare(&mut conn, &opts)?;
            Ok(conn)
        })
        .await?;
        Ok(Self::from_connection(conn, options, None))
    }

    fn from_connection(conn: Connection, options: SqliteOptions, path: Option<PathBuf>) -> Self {
        SqliteQueue {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                batch: Mutex::default(),
                #[cfg(test)]
                transactions: AtomicU64::new(0),
                options,
                path,
                last_prune: AtomicU64::new(wall_clock().as_millis()),
            }),
        }
    }

    /// The database file, if the queue is not in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, DeliveryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &SqliteOptions) -> Result<T, DeliveryError> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            // A panic inside a call cannot leave the connection mid-transaction:
            // the rusqlite `Transaction` guard rolls back on drop.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &inner.options)
        })
        .await
    }

    /// Deletes settled jobs older than their retention
    /// ([`SqliteOptions::keep_delivered`], [`SqliteOptions::keep_given_up`])
    /// at `now`, then every body no job refers to.
    pub async fn prune(&self, now: Timestamp) -> Result<Pruned, DeliveryError> {
        self.with_conn(move |conn, opts| prune_in(conn, opts, now))
            .await
    }

    /// A settled job, while it is kept: its final record and how it ended.
    pub async fn finished(&self, job: JobId) -> Result<Option<FinishedJob>, DeliveryError> {
        self.with_conn(move |conn, _| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM archipel_jobs j JOIN archipel_bodies b ON b.id = j.body_id
                 WHERE j.id = ?1 AND j.state <> 0"
            );
            let row = conn
                .prepare_cached(&sql)
                .map_err(db)?
                .query_row(params![id_sql(job)], job_from_row)
                .optional()
                .map_err(db)?;
            Ok(row.map(finished_from))
        })
        .await
    }

    /// The give-up records still kept, most recent first, at most `limit`.
    pub async fn given_up(&self, limit: usize) -> Result<Vec<FinishedJob>, DeliveryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn, _| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM archipel_jobs j JOIN archipel_bodies b ON b.id = j.body_id
                 WHERE j.state = 2 ORDER BY j.finished_at DESC, j.id DESC LIMIT ?1"
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(params![limit], job_from_row)
                .map_err(db)?
                .map(|r| r.map(finished_from))
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db)?;
            Ok(rows)
        })
        .await
    }

    /// Settles a job under `lease`: the shared body of ack / retry / defer /
    /// give-up, each an `UPDATE` guarded by the lease token, written with
    /// the other writes waiting (see `batch`).
    async fn settle(
        &self,
        lease: &Lease,
        sql: &'static str,
        args: SettleArgs,
    ) -> Result<(), DeliveryError> {
        self.write(|batch| batch.push_settle(*lease, sql, args))
            .await
    }

    /// Leaves a write in the batch with `push` and waits for its outcome,
    /// starting the writer if none is on its way.
    async fn write<T>(
        &self,
        push: impl FnOnce(
            &mut batch::Batch,
        ) -> (
            tokio::sync::oneshot::Receiver<Result<T, DeliveryError>>,
            bool,
        ),
    ) -> Result<T, DeliveryError> {
        let (outcome, start) =
            push(&mut self.inner.batch.lock().unwrap_or_else(|p| p.into_inner()));
        if start {
            let writer = Writer {
                inner: self.inner.clone(),
                finished: false,
            };
            // The writer's own blocking task: a caller that stops waiting
            // does not stop the write of the others'.
            drop(tokio::task::spawn_blocking(move || writer.run()));
        }
        outcome
            .await
            .map_err(|_| DeliveryError::Queue(batch::WRITER_STOPPED.into()))?
    }
}

#[async_trait::async_trait]
impl DeliveryQueue for SqliteQueue {
    async fn enqueue_activity(
        &self,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        if activity.inboxes.is_empty() {
            return Ok(Vec::new());
        }
        // Group commit: activities enqueued while a write is under way are
        // written together by the next writer (see `batch`); each caller is
        // answered once its activity is committed.
        self.write(|batch| batch.push(activity, now)).await
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, DeliveryError> {
        let request = request.clone();
        let inner = self.inner.clone();
        self.with_conn(move |conn, opts| {
            let claimed = claim_in(conn, &request)?;
            if let Some(every) = opts.prune_every {
                let now = wall_clock();
                let last = Timestamp::from_millis(inner.last_prune.load(Ordering::Relaxed));
                if now.saturating_since(last) >= every {
                    inner.last_prune.store(now.as_millis(), Ordering::Relaxed);
                    prune_in(conn, opts, now)?;
                }
            }
            Ok(claimed)
        })
        .await
    }

    async fn ack(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError> {
        self.settle(lease, ACK_SQL, SettleArgs::new(wall_clock(), Some(attempt)))
            .await
    }

    async fn retry_at(
        &self,
        lease: &Lease,
        at: Timestamp,
        attempt: AttemptRecord,
    ) -> Result<(), DeliveryError> {
        self.settle(lease, RETRY_SQL, SettleArgs::new(at, Some(attempt)))
            .await
    }

    async fn defer(&self, lease: &Lease, at: Timestamp) -> Result<(), DeliveryError> {
        self.settle(lease, DEFER_SQL, SettleArgs::new(at, None))
            .await
    }

    async fn give_up(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError> {
        self.settle(
            lease,
            GIVE_UP_SQL,
            SettleArgs::new(wall_clock(), Some(attempt)),
        )
        .await
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: Vec<u8>,
        until: Timestamp,
    ) -> Result<Lease, DeliveryError> {
        check_progress(lease, &progress)?;
        let lease = *lease;
        self.with_conn(move |conn, _| {
            let changed = conn
                .prepare_cached(CHECKPOINT_SQL)
                .map_err(db)?
                .execute(params![
                    id_sql(lease.job),
                    token_sql(lease.token),
                    progress,
                    to_sql_ts(until),
                ])
                .map_err(db)?;
            if changed == 0 {
                return Err(DeliveryError::LeaseLost { job: lease.job });
            }
            Ok(Lease { until, ..lease })
        })
        .await
    }

    async fn get(&self, job: JobId) -> Result<Option<JobRecord>, DeliveryError> {
        self.with_conn(move |conn, _| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM archipel_jobs j JOIN archipel_bodies b ON b.id = j.body_id
                 WHERE j.id = ?1 AND j.state = 0"
            );
            let row = conn
                .prepare_cached(&sql)
                .map_err(db)?
                .query_row(params![id_sql(job)], job_from_row)
                .optional()
                .map_err(db)?;
            Ok(row.map(|(record, _, _)| record))
        })
        .await
    }

    async fn stats(&self, now: Timestamp) -> Result<QueueStats, DeliveryError> {
        self.with_conn(move |conn, _| {
            let now = to_sql_ts(now);
            let (total, due, leased, oldest): (i64, i64, i64, Option<i64>) = conn
                .prepare_cached(
                    "SELECT COUNT(*),
                            COALESCE(SUM(available_at <= ?1), 0),
                            COALESCE(SUM(lease_until IS NOT NULL AND lease_until > ?1), 0),
                            MIN(created_at)
                     FROM archipel_jobs WHERE state = 0",
                )
                .map_err(db)?
                .query_row(params![now], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(db)?;
            let bodies: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM archipel_bodies")
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .map_err(db)?;
            let n = |v: i64| usize::try_from(v).unwrap_or(0);
            Ok(QueueStats {
                total: n(total),
                due: n(due),
                leased: n(leased),
                bodies: n(bodies),
                oldest_created_at: oldest.map(from_sql_ts),
            })
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError> {
        self.with_conn(|conn, _| {
            let next: Option<i64> = conn
                .prepare_cached(NEXT_DUE_SQL)
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .optional()
                .map_err(db)?;
            Ok(next.map(from_sql_ts))
        })
        .await
    }
}
