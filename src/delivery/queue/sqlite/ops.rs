//! The row codec and the transactions of [`SqliteQueue`](super::SqliteQueue),
//! run on the connection thread.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use bytes::Bytes;
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::{FinishedJob, Pruned, Settled, SqliteOptions};
use crate::delivery::queue::{
    AttemptRecord, BodyId, ClaimRequest, ClaimedJob, JobId, JobRecord, Lease, LeaseInfo,
    NewActivity, host_of, parse_stored_inbox,
};
use crate::delivery::{DeliveryError, PreparedBody, Spec, Timestamp};
use crate::vocab::Iri;

/// Maps a SQLite failure to the queue error.
pub(crate) fn db(e: rusqlite::Error) -> DeliveryError {
    DeliveryError::Queue(format!("sqlite: {e}"))
}

pub(super) fn to_sql_ts(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn from_sql_ts(v: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(v).unwrap_or(0))
}

pub(super) fn wall_clock() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

pub(super) fn dialect_name(d: Spec) -> &'static str {
    match d {
        Spec::Cavage => "cavage",
        Spec::Rfc9421 => "rfc9421",
    }
}

pub(super) fn dialect_from(s: Option<String>) -> Option<Spec> {
    match s.as_deref() {
        Some("cavage") => Some(Spec::Cavage),
        Some("rfc9421") => Some(Spec::Rfc9421),
        _ => None,
    }
}

/// The job columns [`job_from_row`] reads, joined with the body's.
pub(super) const JOB_COLUMNS: &str = "j.id, j.body_id, b.activity_id, j.inbox, j.host, b.key_id, \
     j.attempts, j.claims, j.created_at, j.next_attempt_at, j.lease_token, j.lease_until, \
     j.last_status, j.last_error, j.dialect, j.state, j.finished_at, j.order_key, j.progress, \
     j.collection_sync";

pub(super) fn job_from_row(r: &Row<'_>) -> rusqlite::Result<(JobRecord, i64, Option<i64>)> {
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
        // Both IRIs were written from the `Iri`s of a `NewActivity` and are
        // never rewritten, so they are wrapped back exactly as stored.
        activity_id: Iri::new_unchecked(r.get::<_, String>(2)?),
        inbox: stored_inbox(r, 3)?,
        host: r.get(4)?,
        key_id: Iri::new_unchecked(r.get::<_, String>(5)?),
        attempts: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(u32::MAX),
        claims: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(u32::MAX),
        created_at: from_sql_ts(r.get(8)?),
        next_attempt_at: from_sql_ts(r.get(9)?),
        lease,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.get(13)?,
        dialect: dialect_from(r.get(14)?),
        order_key: r.get(17)?,
        progress: r.get(18)?,
        collection_sync: r.get(19)?,
    };
    Ok((record, r.get(15)?, r.get(16)?))
}

/// The inbox column parsed back into a URL; a row that does not parse is a
/// conversion failure naming the stored text.
fn stored_inbox(r: &Row<'_>, column: usize) -> rusqlite::Result<url::Url> {
    let text: String = r.get(column)?;
    parse_stored_inbox(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn id_sql(id: JobId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

pub(super) fn token_sql(token: u64) -> i64 {
    i64::try_from(token).unwrap_or(-1)
}

/// Parameters `?3..?6` of the settle statements.
pub(super) struct SettleArgs {
    pub(super) at: Option<Timestamp>,
    pub(super) status: Option<i64>,
    pub(super) error: Option<String>,
    pub(super) dialect: Option<Spec>,
}

impl SettleArgs {
    pub(super) fn new(at: Timestamp, attempt: Option<AttemptRecord>) -> Self {
        let attempt = attempt.unwrap_or_default();
        SettleArgs {
            at: Some(at),
            status: attempt.status.map(i64::from),
            error: attempt.error,
            dialect: attempt.dialect,
        }
    }
}

pub(super) const ACK_SQL: &str = "UPDATE archipel_jobs SET state = 1, finished_at = ?3,
        attempts = attempts + 1, last_status = ?4, last_error = ?5,
        dialect = COALESCE(?6, dialect), lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";
pub(super) const GIVE_UP_SQL: &str = "UPDATE archipel_jobs SET state = 2, finished_at = ?3,
        last_status = COALESCE(?4, last_status), last_error = COALESCE(?5, last_error),
        dialect = COALESCE(?6, dialect), lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";
pub(super) const RETRY_SQL: &str =
    "UPDATE archipel_jobs SET next_attempt_at = ?3, available_at = ?3,
        attempts = attempts + 1, last_status = ?4, last_error = ?5,
        dialect = COALESCE(?6, dialect), lease_token = NULL, lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";
// Every settle statement binds `?1..?6`; defer has no attempt to record,
// so its three are always NULL and only checked as such.
pub(super) const DEFER_SQL: &str =
    "UPDATE archipel_jobs SET next_attempt_at = ?3, available_at = ?3,
        lease_token = NULL, lease_until = NULL
    WHERE id = ?1 AND lease_token = ?2 AND state = 0
        AND (?4 IS NULL) AND (?5 IS NULL) AND (?6 IS NULL)";

/// Stores the progress and extends the lease (`available_at` follows the
/// lease, as a claim sets it), for the current holder only.
pub(super) const CHECKPOINT_SQL: &str =
    "UPDATE archipel_jobs SET progress = ?3, lease_until = ?4, available_at = ?4
    WHERE id = ?1 AND lease_token = ?2 AND state = 0";

pub(super) fn finished_from(
    (record, state, finished_at): (JobRecord, i64, Option<i64>),
) -> FinishedJob {
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
pub(super) async fn blocking<T, F>(f: F) -> Result<T, DeliveryError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, DeliveryError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeliveryError::Queue(format!("sqlite: blocking task failed: {e}")))?
}

pub(super) fn prune_in(
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
    // usize -> u64 never truncates on the platforms Rust supports.
    Ok(Pruned {
        jobs: jobs as u64,
        bodies: bodies as u64,
    })
}

/// A job with an ordering key is claimable only when no older job with the
/// same key to the same inbox is unsettled (pending, leased or waiting for
/// a retry: all `state = 0`). The check is one probe of the partial index
/// `archipel_jobs_order (order_key, inbox, id)` per candidate.
macro_rules! claimable {
    () => {
        "(j.order_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM archipel_jobs o
            WHERE o.order_key = j.order_key AND o.inbox = j.inbox AND o.state = 0
                AND o.id < j.id))"
    };
}

/// The most candidates one claim reads: the window that bounds the scan
/// past jobs of hosts that fill up during the claim (64 per job of a claim
/// of 128, the largest a pool of 128 slots makes; a larger pool's claims
/// scan no further and leave the rest to the next claim). A literal in the
/// statement, not a parameter: SQLite plans with a bound `LIMIT`'s value,
/// so binding one made it prepare the statement again at every claim.
macro_rules! claim_window {
    () => {
        "8192"
    };
}

/// The claim's candidates, oldest due first, skipping held jobs and the
/// hosts in the JSON array `?2`, at most `claim_window!()` of them.
pub(super) const CLAIM_SELECT_SQL: &str = concat!(
    "SELECT j.id, j.host FROM archipel_jobs j WHERE j.state = 0 AND j.available_at <= ?1
         AND j.host NOT IN (SELECT value FROM json_each(?2)) AND ",
    claimable!(),
    " ORDER BY j.available_at, j.id LIMIT ",
    claim_window!()
);

/// The earliest time a job becomes claimable: held jobs wait for their
/// predecessor, whose own due time (or lease expiry) is what counts.
pub(super) const NEXT_DUE_SQL: &str = concat!(
    "SELECT j.available_at FROM archipel_jobs j WHERE j.state = 0 AND ",
    claimable!(),
    " ORDER BY j.available_at, j.id LIMIT 1"
);

pub(super) fn claim_in(
    conn: &mut Connection,
    request: &ClaimRequest,
) -> Result<Vec<ClaimedJob>, DeliveryError> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let now = to_sql_ts(request.now);
    let until = request.now.saturating_add(request.lease_for);
    // Hosts that cannot take one more job (paused, or at their per-host
    // limit already) are excluded in SQL: skipping them in Rust after a
    // bounded scan let one host's backlog fill the whole window and starve
    // every other host. They go in as one JSON array (`json_each`), so the
    // statement text stays the same and cached.
    let skip = skip_hosts(request);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let mut picked: Vec<i64> = Vec::new();
    {
        let mut per_host: BTreeMap<String, usize> = request.busy.clone();
        let mut stmt = tx.prepare_cached(CLAIM_SELECT_SQL).map_err(db)?;
        let mut rows = stmt.query(params![now, skip]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let id: i64 = row.get(0).map_err(db)?;
            let host: String = row.get(1).map_err(db)?;
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

/// The hosts a claim must not take from, as a JSON array of strings: the
/// paused ones and those whose in-flight count already reaches the per-host
/// limit.
fn skip_hosts(request: &ClaimRequest) -> String {
    let saturated = request
        .busy
        .iter()
        .filter(|(_, n)| **n >= request.per_host_limit)
        .map(|(h, _)| h);
    let hosts: Vec<&String> = request.paused.iter().chain(saturated).collect();
    // Serializing strings cannot fail; were it to, the empty text makes
    // `json_each` fail the claim rather than take from a paused host.
    serde_json::to_string(&hosts).unwrap_or_default()
}

/// Inserts `activity`'s body and one job per inbox, within the caller's
/// transaction (a savepoint of the batch writer's, see `batch`).
pub(super) fn insert_activity(
    tx: &Connection,
    activity: &NewActivity,
    now: Timestamp,
) -> Result<Vec<JobId>, DeliveryError> {
    let now = to_sql_ts(now);
    tx.prepare_cached(
        "INSERT INTO archipel_bodies (activity_id, key_id, bytes, sha256, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(db)?
    .execute(params![
        activity.activity_id.as_str(),
        activity.key_id.as_str(),
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
                     (body_id, inbox, host, created_at, next_attempt_at, available_at, dialect,
                      order_key, collection_sync)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?4, ?5, ?6, ?7)",
            )
            .map_err(db)?;
        for inbox in &activity.inboxes {
            insert
                .execute(params![
                    body_id,
                    inbox.as_str(),
                    host_of(inbox),
                    now,
                    dialect,
                    activity.order_key.as_deref(),
                    activity.collection_sync.get(inbox).map(String::as_str)
                ])
                .map_err(db)?;
            ids.push(JobId(u64::try_from(tx.last_insert_rowid()).unwrap_or(0)));
        }
    }
    Ok(ids)
}
