//! [`SqliteQueue`]: the embedded durable [`DeliveryQueue`] (feature `sqlite`).
//!
//! One database file (SQLite bundled into the binary, so nothing needs to be
//! installed) in WAL mode. Every job is committed before
//! [`enqueue_activity`](DeliveryQueue::enqueue_activity) returns, so a crash
//! or restart loses nothing: claimed jobs whose worker died become due again
//! when their lease lapses. Each activity's body is stored once, in
//! `archipel_bodies`, and referenced by one `archipel_jobs` row per inbox.
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
//! Calls run on tokio's blocking pool, so the queue must be used within a
//! tokio runtime.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{
    AttemptRecord, BodyId, ClaimRequest, ClaimedJob, DeliveryQueue, JobId, JobRecord, Lease,
    LeaseInfo, NewActivity, QueueStats, host_of,
};
use crate::delivery::{DeliveryError, Dialect, PreparedBody, Timestamp};

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

/// How a finished job was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settled {
    /// Acknowledged by [`DeliveryQueue::ack`].
    Delivered,
    /// Dropped by [`DeliveryQueue::give_up`].
    GaveUp,
}

/// A settled job still kept (until pruned): the delivery history and the
/// give-up records operators look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedJob {
    /// The job as it was when settled (`lease` is the last lease taken;
    /// `claims` tells how often it was claimed, more than once after a crash).
    pub record: JobRecord,
    /// How it was settled.
    pub settled: Settled,
    /// When it was settled (the queue's wall clock).
    pub finished_at: Timestamp,
}

/// What one [`SqliteQueue::prune`] call deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Settled jobs deleted.
    pub jobs: usize,
    /// Bodies deleted because no job refers to them any more.
    pub bodies: usize,
}

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
    options: SqliteOptions,
    path: Option<PathBuf>,
    last_prune: AtomicU64,
}

/// Maps a SQLite failure to the queue error.
pub(super) fn db(e: rusqlite::Error) -> DeliveryError {
    DeliveryError::Queue(format!("sqlite: {e}"))
}

fn to_sql_ts(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn from_sql_ts(v: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(v).unwrap_or(0))
}

fn wall_clock() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

fn dialect_name(d: Dialect) -> &'static str {
    match d {
        Dialect::Cavage => "cavage",
        Dialect::Rfc9421 => "rfc9421",
    }
}

fn dialect_from(s: Option<String>) -> Option<Dialect> {
    match s.as_deref() {
        Some("cavage") => Some(Dialect::Cavage),
        Some("rfc9421") => Some(Dialect::Rfc9421),
        _ => None,
    }
}

/// The job columns [`job_from_row`] reads, joined with the body's.
const JOB_COLUMNS: &str = "j.id, j.body_id, b.activity_id, j.inbox, j.host, b.key_id, \
     j.attempts, j.claims, j.created_at, j.next_attempt_at, j.lease_token, j.lease_until, \
     j.last_status, j.last_error, j.dialect, j.state, j.finished_at";

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<(JobRecord, i64, Option<i64>)> {
    let token: Option<i64> = r.get(10)?;
    let until: Option<i64> = r.get(11)?;
    let lease = match (token, until) {
        (Some(token), Some(until)) => Some(LeaseInfo {
            token: u64::try_from(token).unwrap_or(0),
            until: from_sql_ts(until),
        }),
        _ => None,
    };
    let status: Option<i64> = r.get(12)?;
    let record = JobRecord {
        id: JobId(u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0)),
        body_id: BodyId(u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)),
        activity_id: r.get(2)?,
        inbox: r.get(3)?,
        host: r.get(4)?,
        key_id: r.get(5)?,
        attempts: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(u32::MAX),
        claims: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(u32::MAX),
        created_at: from_sql_ts(r.get(8)?),
        next_attempt_at: from_sql_ts(r.get(9)?),
        lease,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.get(13)?,
        dialect: dialect_from(r.get(14)?),
    };
    Ok((record, r.get(15)?, r.get(16)?))
}

fn id_sql(id: JobId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

fn token_sql(token: u64) -> i64 {
    i64::try_from(token).unwrap_or(-1)
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
            if let Some(parent) = for_open.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    DeliveryError::Queue(format!(
                        "sqlite: cannot create directory {}: {e}",
                        parent.display()
                    ))
                })?;
            }
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
    /// give-up, each an `UPDATE` guarded by the lease token.
    async fn settle(
        &self,
        lease: &Lease,
        sql: &'static str,
        args: SettleArgs,
    ) -> Result<(), DeliveryError> {
        let lease = *lease;
        self.with_conn(move |conn, _| {
            let changed = conn
                .prepare_cached(sql)
                .map_err(db)?
                .execute(params![
                    id_sql(lease.job),
                    token_sql(lease.token),
                    args.at.map(to_sql_ts),
                    args.status,
                    args.error,
                    args.dialect.map(dialect_name),
                ])
                .map_err(db)?;
            if changed == 0 {
                return Err(DeliveryError::LeaseLost { job: lease.job });
            }
            Ok(())
        })
        .await
    }
}

/// Parameters `?3..?6` of the settle statements.
struct SettleArgs {
    at: Option<Timestamp>,
    status: Option<i64>,
    error: Option<String>,
    dialect: Option<Dialect>,
}

impl SettleArgs {
    fn new(at: Timestamp, attempt: Option<AttemptRecord>) -> Self {
        let attempt = attempt.unwrap_or_default();
        SettleArgs {
            at: Some(at),
            status: attempt.status.map(i64::from),
            error: attempt.error,
            dialect: attempt.dialect,
        }
    }
}

const ACK_SQL: &str = "UPDATE archipel_jobs SET state = 1, finished_at = ?3,
        attempts = attempts + 1, last_status = ?4, last_error = ?5,
        dialect = COALESCE(?6, dialect), lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";
const GIVE_UP_SQL: &str = "UPDATE archipel_jobs SET state = 2, finished_at = ?3,
        last_status = COALESCE(?4, last_status), last_error = COALESCE(?5, last_error),
        dialect = COALESCE(?6, dialect), lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";
const RETRY_SQL: &str = "UPDATE archipel_jobs SET next_attempt_at = ?3, available_at = ?3,
        attempts = attempts + 1, last_status = ?4, last_error = ?5,
        dialect = COALESCE(?6, dialect), lease_token = NULL, lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";
// Every settle statement binds `?1..?6`; defer has no attempt to record,
// so its three are always NULL and only checked as such.
const DEFER_SQL: &str = "UPDATE archipel_jobs SET next_attempt_at = ?3, available_at = ?3,
        lease_token = NULL, lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0
        AND (?4 IS NULL) AND (?5 IS NULL) AND (?6 IS NULL)";

fn finished_from((record, state, finished_at): (JobRecord, i64, Option<i64>)) -> FinishedJob {
    FinishedJob {
        record,
        settled: if state == 2 {
            Settled::GaveUp
        } else {
            Settled::Delivered
        },
        finished_at: from_sql_ts(finished_at.unwrap_or(0)),
    }
}

/// Runs a blocking closure on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, DeliveryError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, DeliveryError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeliveryError::Queue(format!("sqlite: blocking task failed: {e}")))?
}

fn prune_in(
    conn: &mut Connection,
    opts: &SqliteOptions,
    now: Timestamp,
) -> Result<Pruned, DeliveryError> {
    let delivered_before = to_sql_ts(Timestamp::from_millis(
        now.as_millis()
            .saturating_sub(u64::try_from(opts.keep_delivered.as_millis()).unwrap_or(u64::MAX)),
    ));
    let given_up_before = to_sql_ts(Timestamp::from_millis(
        now.as_millis()
            .saturating_sub(u64::try_from(opts.keep_given_up.as_millis()).unwrap_or(u64::MAX)),
    ));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let jobs = tx
        .execute(
            "DELETE FROM archipel_jobs WHERE (state = 1 AND finished_at <= ?1)
                                          OR (state = 2 AND finished_at <= ?2)",
            params![delivered_before, given_up_before],
        )
        .map_err(db)?;
    let bodies = tx
        .execute(
            "DELETE FROM archipel_bodies WHERE NOT EXISTS
                 (SELECT 1 FROM archipel_jobs j WHERE j.body_id = archipel_bodies.id)",
            [],
        )
        .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(Pruned { jobs, bodies })
}

fn claim_in(
    conn: &mut Connection,
    request: &ClaimRequest,
) -> Result<Vec<ClaimedJob>, DeliveryError> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let now = to_sql_ts(request.now);
    let until = request.now.saturating_add(request.lease_for);
    // Bound the scan past jobs of busy or paused hosts.
    let window = i64::try_from(request.limit.saturating_mul(64).max(4096)).unwrap_or(i64::MAX);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let mut picked: Vec<i64> = Vec::new();
    {
        let mut per_host: BTreeMap<String, usize> = request.busy.clone();
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, host FROM archipel_jobs WHERE state = 0 AND available_at <= ?1
                 ORDER BY available_at, id LIMIT ?2",
            )
            .map_err(db)?;
        let mut rows = stmt.query(params![now, window]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let id: i64 = row.get(0).map_err(db)?;
            let host: String = row.get(1).map_err(db)?;
            if request.paused.contains(&host) {
                continue;
            }
            let n = per_host.entry(host).or_insert(0);
            if *n >= request.per_host_limit {
                continue;
            }
            *n += 1;
            picked.push(id);
            if picked.len() >= request.limit {
                break;
            }
        }
    }
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let count = i64::try_from(picked.len()).unwrap_or(i64::MAX);
    let last_token: i64 = tx
        .query_row(
            "UPDATE archipel_queue_meta SET value = value + ?1 WHERE key = 'lease_token'
             RETURNING value",
            params![count],
            |r| r.get(0),
        )
        .map_err(db)?;
    let mut out = Vec::with_capacity(picked.len());
    let mut bodies: HashMap<i64, PreparedBody> = HashMap::new();
    {
        let mut update = tx
            .prepare_cached(
                "UPDATE archipel_jobs SET claims = claims + 1, next_attempt_at = available_at,
                     available_at = ?2, lease_token = ?3, lease_until = ?2
                 WHERE id = ?1",
            )
            .map_err(db)?;
        let select_sql = format!(
            "SELECT {JOB_COLUMNS} FROM archipel_jobs j JOIN archipel_bodies b ON b.id = j.body_id
             WHERE j.id = ?1"
        );
        let mut select = tx.prepare_cached(&select_sql).map_err(db)?;
        let mut body_stmt = tx
            .prepare_cached("SELECT bytes, sha256 FROM archipel_bodies WHERE id = ?1")
            .map_err(db)?;
        for (i, id) in picked.iter().enumerate() {
            let token = last_token - count + 1 + i64::try_from(i).unwrap_or(0);
            update
                .execute(params![id, to_sql_ts(until), token])
                .map_err(db)?;
            let (job, _, _) = select.query_row(params![id], job_from_row).map_err(db)?;
            let body_key = i64::try_from(job.body_id.0).unwrap_or(i64::MAX);
            let body = match bodies.get(&body_key) {
                Some(b) => b.clone(),
                None => {
                    let (bytes, sha): (Vec<u8>, Vec<u8>) = body_stmt
                        .query_row(params![body_key], |r| Ok((r.get(0)?, r.get(1)?)))
                        .map_err(db)?;
                    let sha: [u8; 32] = sha.as_slice().try_into().map_err(|_| {
                        DeliveryError::Queue(format!(
                            "sqlite: body {body_key} has a {}-byte digest",
                            sha.len()
                        ))
                    })?;
                    let body =
                        PreparedBody::from_parts(Bytes::from(bytes), sha).ok_or_else(|| {
                            DeliveryError::Queue(format!(
                                "sqlite: body {body_key} does not match its stored SHA-256"
                            ))
                        })?;
                    bodies.insert(body_key, body.clone());
                    body
                }
            };
            out.push(ClaimedJob {
                lease: Lease {
                    job: job.id,
                    token: u64::try_from(token).unwrap_or(0),
                    until,
                },
                body,
                job,
            });
        }
    }
    tx.commit().map_err(db)?;
    Ok(out)
}

fn enqueue_in(
    conn: &mut Connection,
    activity: NewActivity,
    now: Timestamp,
) -> Result<Vec<JobId>, DeliveryError> {
    let now = to_sql_ts(now);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    tx.prepare_cached(
        "INSERT INTO archipel_bodies (activity_id, key_id, bytes, sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(db)?
    .execute(params![
        activity.activity_id,
        activity.key_id,
        activity.body.bytes().as_ref(),
        activity.body.sha256().as_slice(),
        now
    ])
    .map_err(db)?;
    let body_id = tx.last_insert_rowid();
    let dialect = activity.dialect.map(dialect_name);
    let mut ids = Vec::with_capacity(activity.inboxes.len());
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO archipel_jobs
                     (body_id, inbox, host, created_at, next_attempt_at, available_at, dialect)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?5)",
            )
            .map_err(db)?;
        for inbox in &activity.inboxes {
            insert
                .execute(params![
                    body_id,
                    inbox.as_str(),
                    host_of(inbox),
                    now,
                    dialect
                ])
                .map_err(db)?;
            ids.push(JobId(u64::try_from(tx.last_insert_rowid()).unwrap_or(0)));
        }
    }
    tx.commit().map_err(db)?;
    Ok(ids)
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
        self.with_conn(move |conn, opts| {
            let force = opts.synchronous == Synchronous::Enqueue;
            if force {
                conn.execute_batch("PRAGMA synchronous = FULL")
                    .map_err(db)?;
            }
            let stored = enqueue_in(conn, activity, now);
            if force {
                conn.execute_batch("PRAGMA synchronous = NORMAL")
                    .map_err(db)?;
            }
            stored
        })
        .await
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
            let (total, due, leased): (i64, i64, i64) = conn
                .prepare_cached(
                    "SELECT COUNT(*),
                            COALESCE(SUM(available_at <= ?1), 0),
                            COALESCE(SUM(lease_until IS NOT NULL AND lease_until > ?1), 0)
                     FROM archipel_jobs WHERE state = 0",
                )
                .map_err(db)?
                .query_row(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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
            })
        })
        .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError> {
        self.with_conn(|conn, _| {
            let next: Option<i64> = conn
                .prepare_cached("SELECT MIN(available_at) FROM archipel_jobs WHERE state = 0")
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .map_err(db)?;
            Ok(next.map(from_sql_ts))
        })
        .await
    }
}
