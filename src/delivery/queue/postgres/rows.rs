//! Conversions between [`PostgresQueue`](super::PostgresQueue) rows and
//! the queue's types.

use std::time::SystemTime;

use tokio_postgres::Row;

use super::{FinishedJob, Settled};
use crate::delivery::queue::{BodyId, JobId, JobRecord, LeaseInfo, parse_stored_inbox};
use crate::delivery::{DeliveryError, Spec, Timestamp};
use crate::vocab::Iri;

/// Maps a PostgreSQL failure to the queue error.
pub(crate) fn pg(e: tokio_postgres::Error) -> DeliveryError {
    // The driver's own text for a server error is only "db error"; the
    // server's message names the table, column or constraint at fault.
    match e.as_db_error() {
        Some(db) => {
            DeliveryError::Queue(format!("postgres: {}: {}", db.code().code(), db.message()))
        }
        None => DeliveryError::Queue(format!("postgres: {e}")),
    }
}

pub(super) fn ts(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn from_ts(v: i64) -> Timestamp {
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

pub(super) fn dialect_from(s: Option<&str>) -> Option<Spec> {
    match s {
        Some("cavage") => Some(Spec::Cavage),
        Some("rfc9421") => Some(Spec::Rfc9421),
        _ => None,
    }
}

pub(super) fn job_id(id: JobId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

pub(super) fn token(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(-1)
}

/// Reads [`sql::JOB_COLUMNS`] from a row: the record, its state and finish time.
pub(super) fn job_from_row(r: &Row) -> Result<(JobRecord, i16, Option<i64>), DeliveryError> {
    let lease = match (
        r.try_get::<_, Option<i64>>(10).map_err(pg)?,
        r.try_get::<_, Option<i64>>(11).map_err(pg)?,
    ) {
        (Some(token), Some(until)) => Some(LeaseInfo {
            token: u64::try_from(token).unwrap_or(0),
            until: from_ts(until),
        }),
        _ => None,
    };
    let status: Option<i32> = r.try_get(12).map_err(pg)?;
    let record = JobRecord {
        id: JobId(u64::try_from(r.try_get::<_, i64>(0).map_err(pg)?).unwrap_or(0)),
        body_id: BodyId(u64::try_from(r.try_get::<_, i64>(1).map_err(pg)?).unwrap_or(0)),
        // Both IRIs were written from the `Iri`s of a `NewActivity` and are
        // never rewritten, so they are wrapped back exactly as stored.
        activity_id: Iri::new_unchecked(r.try_get::<_, String>(2).map_err(pg)?),
        inbox: parse_stored_inbox(r.try_get::<_, &str>(3).map_err(pg)?)?,
        host: r.try_get(4).map_err(pg)?,
        key_id: Iri::new_unchecked(r.try_get::<_, String>(5).map_err(pg)?),
        attempts: u32::try_from(r.try_get::<_, i32>(6).map_err(pg)?).unwrap_or(0),
        claims: u32::try_from(r.try_get::<_, i32>(7).map_err(pg)?).unwrap_or(0),
        created_at: from_ts(r.try_get(8).map_err(pg)?),
        next_attempt_at: from_ts(r.try_get(9).map_err(pg)?),
        lease,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: r.try_get(13).map_err(pg)?,
        dialect: dialect_from(r.try_get::<_, Option<&str>>(14).map_err(pg)?),
        order_key: r.try_get(17).map_err(pg)?,
        progress: r.try_get(18).map_err(pg)?,
        collection_sync: r.try_get(19).map_err(pg)?,
    };
    Ok((
        record,
        r.try_get(15).map_err(pg)?,
        r.try_get(16).map_err(pg)?,
    ))
}

pub(super) fn finished_from(
    (record, state, finished_at): (JobRecord, i16, Option<i64>),
) -> FinishedJob {
    FinishedJob {
        record,
        settled: if state == 2 {
            Settled::GaveUp
        } else {
            Settled::Delivered
        },
        finished_at: from_ts(finished_at.unwrap_or(0)),
    }
}
