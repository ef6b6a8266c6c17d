//! [`PostgresQueue`]: the multi-machine durable [`DeliveryQueue`] (feature
//! `postgres`).
//!
//! Any number of worker processes on any number of machines share one
//! PostgreSQL database. A claim locks due rows with `FOR UPDATE SKIP LOCKED`,
//! so concurrent claimers never wait on each other and never take the same
//! job; each claim stamps the job with a lease token from a sequence and a
//! lease expiry, and every settle `UPDATE` checks the token. A worker that
//! dies leaves its leases to lapse; the jobs then become due for the others.
//!
//! The schema (tables `bodies`, `jobs`, `queue_meta` and the sequence
//! `lease_tokens` in a schema of their own, `archipel` by default) is created
//! and migrated by [`PostgresQueue::connect`]. As with the SQLite backend,
//! bodies are stored once per activity, settled jobs are kept for a while
//! (delivery history and give-up records) and [`PostgresQueue::prune`]
//! deletes them and unreferenced bodies.
//!
//! Timestamps are milliseconds since the epoch as the callers pass them;
//! machines sharing a queue need clocks in sync (NTP) to within a small
//! fraction of the lease length.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio_postgres::Row;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use super::{
    AttemptRecord, ClaimRequest, ClaimedJob, DeliveryQueue, JobId, JobRecord, Lease, NewActivity,
    QueueStats, check_progress, host_of,
};
use crate::delivery::{DeliveryError, PreparedBody, Timestamp};

mod pool;
mod rows;
mod schema;
mod sql;

use pool::Pool;
use rows::{dialect_name, finished_from, from_ts, job_from_row, job_id, pg, token, ts, wall_clock};
use sql::Sql;

/// Tuning of a [`PostgresQueue`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The schema holding the queue's tables (default `archipel`); a plain
    /// lower-case identifier. Distinct schemas are independent queues.
    pub schema: String,
    /// Connections this process opens at most (default 8).
    pub pool_size: usize,
    /// How long delivered jobs are kept before pruning (default 1 hour).
    pub keep_delivered: Duration,
    /// How long give-up records are kept before pruning (default 7 days).
    pub keep_given_up: Duration,
    /// How often `claim` runs [`PostgresQueue::prune`] (default every
    /// minute; `None` leaves pruning to the application).
    pub prune_every: Option<Duration>,
    /// Whether settles (ack, retry, defer, give up) wait for the server's
    /// WAL flush (default `false`). Enqueues and claims always do. With
    /// `false` the pool's sessions use `synchronous_commit = off`: a
    /// *server* crash may forget the last few settles, so those jobs are
    /// sent again (at-least-once), but no pending job is lost; a worker
    /// crash loses nothing either way.
    pub synchronous_settle: bool,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: "archipel".into(),
            pool_size: 8,
            keep_delivered: Duration::from_secs(3600),
            keep_given_up: Duration::from_secs(7 * 24 * 3600),
            prune_every: Some(Duration::from_secs(60)),
            synchronous_settle: false,
        }
    }
}

pub use super::{FinishedJob, Pruned, Settled};

/// The multi-machine durable [`DeliveryQueue`] on PostgreSQL.
///
/// ```no_run
/// # async fn demo() -> Result<(), archipel::Error> {
/// use archipel::delivery::queue::postgres::PostgresQueue;
/// let queue = PostgresQueue::connect("postgres://archipel@db.internal/archipel").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    sql: Sql,
    options: PostgresOptions,
    last_prune: AtomicU64,
}

impl PostgresQueue {
    /// Connects to `url` without TLS (a loopback or private-network
    /// server) with default [`PostgresOptions`], creating or migrating the
    /// schema.
    ///
    /// `url` is a libpq-style URL or key=value string
    /// (`postgres://user:pass@host:5432/db`).
    pub async fn connect(url: &str) -> Result<Self, DeliveryError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects without TLS with `options`.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, DeliveryError> {
        Self::connect_with_tls(url, tokio_postgres::NoTls, options).await
    }

    /// Connects through `tls` (e.g. a `postgres-native-tls` or
    /// `tokio-postgres-rustls` connector) with `options`.
    pub async fn connect_with_tls<T>(
        url: &str,
        tls: T,
        options: PostgresOptions,
    ) -> Result<Self, DeliveryError>
    where
        T: MakeTlsConnect<tokio_postgres::Socket> + Clone + Send + Sync + 'static,
        T::Stream: Send + 'static,
        T::TlsConnect: Send,
        <T::TlsConnect as TlsConnect<tokio_postgres::Socket>>::Future: Send,
    {
        if !schema::valid_schema_name(&options.schema) {
            return Err(DeliveryError::Queue(format!(
                "postgres queue: schema name {:?} is not a plain lower-case identifier",
                options.schema
            )));
        }
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| DeliveryError::Queue(format!("postgres: invalid connection URL: {e}")))?;
        if !options.synchronous_settle {
            let mut opts = config.get_options().unwrap_or("").to_owned();
            opts.push_str(" -c synchronous_commit=off");
            config.options(opts.trim_start());
        }
        let connect: pool::Connect = Box::new(move || {
            let config = config.clone();
            let tls = tls.clone();
            Box::pin(async move {
                let (client, connection) = config.connect(tls).await.map_err(pg)?;
                // The driver task ends when the client is dropped or the
                // connection breaks; the pool then opens a new one.
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(client)
            })
        });
        let pool = Pool::new(connect, options.pool_size);
        {
            let mut checkout = pool.get().await?;
            schema::migrate(&mut checkout.conn()?.client, &options.schema).await?;
        }
        Ok(PostgresQueue {
            inner: Arc::new(Inner {
                pool,
                sql: Sql::new(&options.schema),
                options,
                last_prune: AtomicU64::new(wall_clock().as_millis()),
            }),
        })
    }

    /// The schema the queue lives in.
    pub fn schema(&self) -> &str {
        &self.inner.options.schema
    }

    /// Deletes settled jobs older than their retention at `now`, then every
    /// body no job refers to.
    pub async fn prune(&self, now: Timestamp) -> Result<Pruned, DeliveryError> {
        let o = &self.inner.options;
        let cut = |keep: Duration| {
            ts(Timestamp::from_millis(now.as_millis().saturating_sub(
                u64::try_from(keep.as_millis()).unwrap_or(u64::MAX),
            )))
        };
        let (delivered_before, given_up_before) = (cut(o.keep_delivered), cut(o.keep_given_up));
        let mut checkout = self.inner.pool.get().await?;
        let c = checkout.conn()?;
        let jobs_stmt = c.statement(&self.inner.sql.prune_jobs).await?;
        let bodies_stmt = c.statement(&self.inner.sql.prune_bodies).await?;
        let jobs = c
            .client
            .execute(&jobs_stmt, &[&delivered_before, &given_up_before])
            .await
            .map_err(pg)?;
        let bodies = c.client.execute(&bodies_stmt, &[]).await.map_err(pg)?;
        Ok(Pruned { jobs, bodies })
    }

    /// A settled job, while it is kept: its final record and how it ended.
    pub async fn finished(&self, job: JobId) -> Result<Option<FinishedJob>, DeliveryError> {
        let row = self.query_opt(|s| &s.finished, &[&job_id(job)]).await?;
        row.as_ref()
            .map(job_from_row)
            .transpose()
            .map(|r| r.map(finished_from))
    }

    /// The give-up records still kept, most recent first, at most `limit`.
    pub async fn given_up(&self, limit: usize) -> Result<Vec<FinishedJob>, DeliveryError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut checkout = self.inner.pool.get().await?;
        let c = checkout.conn()?;
        let stmt = c.statement(&self.inner.sql.given_up).await?;
        let rows = c.client.query(&stmt, &[&limit]).await.map_err(pg)?;
        rows.iter()
            .map(|r| job_from_row(r).map(finished_from))
            .collect()
    }

    async fn query_opt(
        &self,
        pick: impl Fn(&Sql) -> &String,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, DeliveryError> {
        let mut checkout = self.inner.pool.get().await?;
        let c = checkout.conn()?;
        let stmt = c.statement(pick(&self.inner.sql)).await?;
        c.client.query_opt(&stmt, params).await.map_err(pg)
    }

    async fn settle(
        &self,
        lease: &Lease,
        pick: impl Fn(&Sql) -> &String,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), DeliveryError> {
        let mut checkout = self.inner.pool.get().await?;
        let c = checkout.conn()?;
        let stmt = c.statement(pick(&self.inner.sql)).await?;
        let changed = c.client.execute(&stmt, params).await.map_err(pg)?;
        if changed == 0 {
            return Err(DeliveryError::LeaseLost { job: lease.job });
        }
        Ok(())
    }

    async fn claim_inner(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, DeliveryError> {
        if request.limit == 0 {
            return Ok(Vec::new());
        }
        let sql = &self.inner.sql;
        let now = ts(request.now);
        let until = request.now.saturating_add(request.lease_for);
        // Hosts that cannot take one more job are filtered out in SQL, so
        // their rows are neither locked nor scanned.
        let mut skip: Vec<String> = request.paused.iter().cloned().collect();
        skip.extend(
            request
                .busy
                .iter()
                .filter(|(_, n)| **n >= request.per_host_limit)
                .map(|(h, _)| h.clone()),
        );
        let window = i64::try_from(request.limit.saturating_mul(4).clamp(16, 1000)).unwrap_or(1000);
        let mut checkout = self.inner.pool.get().await?;
        let c = checkout.conn()?;
        let select = c.statement(&sql.claim_select).await?;
        let update = c.statement(&sql.claim_update).await?;
        let fetch = c.statement(&sql.claim_fetch).await?;
        let bodies = c.statement(&sql.claim_bodies).await?;
        let tx = c.client.transaction().await.map_err(pg)?;
        // A claim is durable before a request is sent, so a token is never
        // handed out twice even if the server crashes.
        tx.batch_execute("SET LOCAL synchronous_commit TO on")
            .await
            .map_err(pg)?;
        let candidates = tx
            .query(&select, &[&now, &skip, &window])
            .await
            .map_err(pg)?;
        let mut per_host = request.busy.clone();
        let mut picked: Vec<i64> = Vec::new();
        for row in &candidates {
            let id: i64 = row.try_get(0).map_err(pg)?;
            let host: String = row.try_get(1).map_err(pg)?;
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
        if picked.is_empty() {
            tx.commit().await.map_err(pg)?;
            return Ok(Vec::new());
        }
        tx.execute(&update, &[&picked, &ts(until)])
            .await
            .map_err(pg)?;
        let rows = tx.query(&fetch, &[&picked]).await.map_err(pg)?;
        let mut body_ids: Vec<i64> = Vec::new();
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let (job, _, _) = job_from_row(row)?;
            let b = i64::try_from(job.body_id.0).unwrap_or(i64::MAX);
            if !body_ids.contains(&b) {
                body_ids.push(b);
            }
            jobs.push(job);
        }
        let mut by_id: HashMap<u64, PreparedBody> = HashMap::new();
        for row in tx.query(&bodies, &[&body_ids]).await.map_err(pg)? {
            let id: i64 = row.try_get(0).map_err(pg)?;
            let bytes: Vec<u8> = row.try_get(1).map_err(pg)?;
            let sha: Vec<u8> = row.try_get(2).map_err(pg)?;
            let body = <[u8; 32]>::try_from(sha.as_slice())
                .ok()
                .and_then(|sha| PreparedBody::from_parts(Bytes::from(bytes), sha))
                .ok_or_else(|| {
                    DeliveryError::Queue(format!(
                        "postgres: body {id} does not match its stored SHA-256"
                    ))
                })?;
            by_id.insert(u64::try_from(id).unwrap_or(0), body);
        }
        tx.commit().await.map_err(pg)?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let body = by_id.get(&job.body_id.0).cloned().ok_or_else(|| {
                DeliveryError::Queue(format!(
                    "postgres: {}: body {} missing",
                    job.id, job.body_id.0
                ))
            })?;
            let Some(info) = job.lease else {
                return Err(DeliveryError::Queue(format!(
                    "postgres: {}: claimed without a lease",
                    job.id
                )));
            };
            out.push(ClaimedJob {
                lease: Lease {
                    job: job.id,
                    token: info.token,
                    until: info.until,
                },
                body,
                job,
            });
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl DeliveryQueue for PostgresQueue {
    async fn enqueue_activity(
        &self,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        if activity.inboxes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.inner.sql;
        let now = ts(now);
        let inboxes: Vec<&str> = activity.inboxes.iter().map(url::Url::as_str).collect();
        let hosts: Vec<String> = activity.inboxes.iter().map(host_of).collect();
        let syncs: Vec<Option<&str>> = activity
            .inboxes
            .iter()
            .map(|i| activity.collection_sync.get(i).map(String::as_str))
            .collect();
        let dialect = activity.dialect.map(dialect_name);
        let mut checkout = self.inner.pool.get().await?;
        let c = checkout.conn()?;
        let insert_body = c.statement(&sql.insert_body).await?;
        let insert_jobs = c.statement(&sql.insert_jobs).await?;
        let tx = c.client.transaction().await.map_err(pg)?;
        // Pending jobs are on the server's disk before enqueue returns.
        tx.batch_execute("SET LOCAL synchronous_commit TO on")
            .await
            .map_err(pg)?;
        let body_id: i64 = tx
            .query_one(
                &insert_body,
                &[
                    &activity.activity_id.as_str(),
                    &activity.key_id.as_str(),
                    &activity.body.bytes().as_ref(),
                    &activity.body.sha256().as_slice(),
                    &now,
                ],
            )
            .await
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        let rows = tx
            .query(
                &insert_jobs,
                &[
                    &body_id,
                    &inboxes,
                    &hosts,
                    &now,
                    &dialect,
                    &activity.order_key,
                    &syncs,
                ],
            )
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        let mut ids = rows
            .iter()
            .map(|r| {
                r.try_get::<_, i64>(0)
                    .map(|id| JobId(u64::try_from(id).unwrap_or(0)))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(pg)?;
        // Identity values follow the insertion order, which follows the inboxes.
        ids.sort();
        Ok(ids)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, DeliveryError> {
        let claimed = self.claim_inner(request).await?;
        if let Some(every) = self.inner.options.prune_every {
            let now = wall_clock();
            let last = Timestamp::from_millis(self.inner.last_prune.load(Ordering::Relaxed));
            if now.saturating_since(last) >= every {
                self.inner
                    .last_prune
                    .store(now.as_millis(), Ordering::Relaxed);
                self.prune(now).await?;
            }
        }
        Ok(claimed)
    }

    async fn ack(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError> {
        let status = attempt.status.map(i32::from);
        let dialect = attempt.dialect.map(dialect_name);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &job_id(lease.job),
            &token(lease.token),
            &ts(wall_clock()),
            &status,
            &attempt.error,
            &dialect,
        ];
        self.settle(lease, |s| &s.ack, &params).await
    }

    async fn retry_at(
        &self,
        lease: &Lease,
        at: Timestamp,
        attempt: AttemptRecord,
    ) -> Result<(), DeliveryError> {
        let status = attempt.status.map(i32::from);
        let dialect = attempt.dialect.map(dialect_name);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &job_id(lease.job),
            &token(lease.token),
            &ts(at),
            &status,
            &attempt.error,
            &dialect,
        ];
        self.settle(lease, |s| &s.retry, &params).await
    }

    async fn defer(&self, lease: &Lease, at: Timestamp) -> Result<(), DeliveryError> {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&job_id(lease.job), &token(lease.token), &ts(at)];
        self.settle(lease, |s| &s.defer, &params).await
    }

    async fn give_up(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError> {
        let status = attempt.status.map(i32::from);
        let dialect = attempt.dialect.map(dialect_name);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &job_id(lease.job),
            &token(lease.token),
            &ts(wall_clock()),
            &status,
            &attempt.error,
            &dialect,
        ];
        self.settle(lease, |s| &s.give_up, &params).await
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: Vec<u8>,
        until: Timestamp,
    ) -> Result<Lease, DeliveryError> {
        check_progress(lease, &progress)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &job_id(lease.job),
            &token(lease.token),
            &progress,
            &ts(until),
        ];
        self.settle(lease, |s| &s.checkpoint, &params).await?;
        Ok(Lease { until, ..*lease })
    }

    async fn get(&self, job: JobId) -> Result<Option<JobRecord>, DeliveryError> {
        let row = self.query_opt(|s| &s.get, &[&job_id(job)]).await?;
        row.as_ref()
            .map(job_from_row)
            .transpose()
            .map(|r| r.map(|(job, _, _)| job))
    }

    async fn stats(&self, now: Timestamp) -> Result<QueueStats, DeliveryError> {
        let row = self.query_opt(|s| &s.stats, &[&ts(now)]).await?;
        let Some(row) = row else {
            return Ok(QueueStats::default());
        };
        let n = |i: usize| -> Result<usize, DeliveryError> {
            Ok(usize::try_from(row.try_get::<_, i64>(i).map_err(pg)?).unwrap_or(0))
        };
        Ok(QueueStats {
            total: n(0)?,
            due: n(1)?,
            leased: n(2)?,
            bodies: n(3)?,
            oldest_created_at: row.try_get::<_, Option<i64>>(4).map_err(pg)?.map(from_ts),
        })
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError> {
        let row = self.query_opt(|s| &s.next_due, &[]).await?;
        match row {
            Some(row) => Ok(row.try_get::<_, Option<i64>>(0).map_err(pg)?.map(from_ts)),
            None => Ok(None),
        }
    }
}
