//! The statements of [`PostgresQueue`](super::PostgresQueue), qualified with
//! its schema once at connect time.

/// The job columns `job_from_row` reads (jobs `j` joined with bodies `b`).
pub(super) const JOB_COLUMNS: &str = "j.id, j.body_id, b.activity_id, j.inbox, j.host, b.key_id, \
     j.attempts, j.claims, j.created_at, j.next_attempt_at, j.lease_token, j.lease_until, \
     j.last_status, j.last_error, j.dialect, j.state, j.finished_at, j.order_key, j.progress, \
     j.collection_sync";

#[derive(Debug)]
pub(super) struct Sql {
    pub(super) insert_body: String,
    pub(super) insert_jobs: String,
    pub(super) claim_select: String,
    pub(super) claim_update: String,
    pub(super) claim_fetch: String,
    pub(super) claim_bodies: String,
    pub(super) ack: String,
    pub(super) give_up: String,
    pub(super) retry: String,
    pub(super) defer: String,
    pub(super) checkpoint: String,
    pub(super) get: String,
    pub(super) finished: String,
    pub(super) given_up: String,
    pub(super) stats: String,
    pub(super) next_due: String,
    pub(super) prune_jobs: String,
    pub(super) prune_bodies: String,
}

impl Sql {
    pub(super) fn new(s: &str) -> Self {
        let from = format!("FROM {s}.jobs j JOIN {s}.bodies b ON b.id = j.body_id");
        // A job with an ordering key is claimable only when no older job
        // with the same key to the same inbox is unsettled (pending, leased
        // or waiting for a retry: all `state = 0`); one probe of the partial
        // index `jobs_order (order_key, inbox, id)` per candidate.
        let claimable = format!(
            "(j.order_key IS NULL OR NOT EXISTS (
                 SELECT 1 FROM {s}.jobs o
                 WHERE o.order_key = j.order_key AND o.inbox = j.inbox AND o.state = 0
                     AND o.id < j.id))"
        );
        Sql {
            insert_body: format!(
                "INSERT INTO {s}.bodies (activity_id, key_id, bytes, sha256, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id"
            ),
            insert_jobs: format!(
                "INSERT INTO {s}.jobs (body_id, inbox, host, created_at, next_attempt_at, available_at, dialect, order_key, collection_sync)
                 SELECT $1, t.inbox, t.host, $4, $4, $4, $5, $6, t.sync
                 FROM unnest($2::text[], $3::text[], $7::text[]) WITH ORDINALITY AS t(inbox, host, sync, n)
                 ORDER BY t.n
                 RETURNING id"
            ),
            claim_select: format!(
                "SELECT j.id, j.host FROM {s}.jobs j
                 WHERE j.state = 0 AND j.available_at <= $1 AND j.host <> ALL($2::text[])
                     AND {claimable}
                 ORDER BY j.available_at, j.id
                 LIMIT $3
                 FOR UPDATE OF j SKIP LOCKED"
            ),
            claim_update: format!(
                "UPDATE {s}.jobs SET claims = claims + 1, next_attempt_at = available_at,
                     available_at = $2, lease_until = $2,
                     lease_token = nextval('{s}.lease_tokens')
                 WHERE id = ANY($1::bigint[])"
            ),
            claim_fetch: format!(
                "SELECT {JOB_COLUMNS} {from} WHERE j.id = ANY($1::bigint[])
                 ORDER BY j.next_attempt_at, j.id"
            ),
            claim_bodies: format!(
                "SELECT id, bytes, sha256 FROM {s}.bodies WHERE id = ANY($1::bigint[])"
            ),
            ack: format!(
                "UPDATE {s}.jobs SET state = 1, finished_at = $3, attempts = attempts + 1,
                     last_status = $4, last_error = $5, dialect = COALESCE($6, dialect),
                     lease_until = NULL
                 WHERE id = $1 AND lease_token = $2 AND state = 0"
            ),
            give_up: format!(
                "UPDATE {s}.jobs SET state = 2, finished_at = $3,
                     last_status = COALESCE($4, last_status), last_error = COALESCE($5, last_error),
                     dialect = COALESCE($6, dialect), lease_until = NULL
                 WHERE id = $1 AND lease_token = $2 AND state = 0"
            ),
            retry: format!(
                "UPDATE {s}.jobs SET next_attempt_at = $3, available_at = $3, attempts = attempts + 1,
                     last_status = $4, last_error = $5, dialect = COALESCE($6, dialect),
                     lease_token = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_token = $2 AND state = 0"
            ),
            defer: format!(
                "UPDATE {s}.jobs SET next_attempt_at = $3, available_at = $3,
                     lease_token = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_token = $2 AND state = 0"
            ),
            // `available_at` follows the lease, as a claim sets it.
            checkpoint: format!(
                "UPDATE {s}.jobs SET progress = $3, lease_until = $4, available_at = $4
                 WHERE id = $1 AND lease_token = $2 AND state = 0"
            ),
            get: format!("SELECT {JOB_COLUMNS} {from} WHERE j.id = $1 AND j.state = 0"),
            finished: format!("SELECT {JOB_COLUMNS} {from} WHERE j.id = $1 AND j.state <> 0"),
            given_up: format!(
                "SELECT {JOB_COLUMNS} {from} WHERE j.state = 2
                 ORDER BY j.finished_at DESC, j.id DESC LIMIT $1"
            ),
            stats: format!(
                "SELECT count(*),
                        count(*) FILTER (WHERE available_at <= $1),
                        count(*) FILTER (WHERE lease_until > $1),
                        (SELECT count(*) FROM {s}.bodies),
                        min(created_at)
                 FROM {s}.jobs WHERE state = 0"
            ),
            // Held jobs wait for their predecessor, whose own due time (or
            // lease expiry) is what counts.
            next_due: format!(
                "SELECT j.available_at FROM {s}.jobs j WHERE j.state = 0 AND {claimable}
                 ORDER BY j.available_at, j.id LIMIT 1"
            ),
            prune_jobs: format!(
                "DELETE FROM {s}.jobs WHERE (state = 1 AND finished_at <= $1)
                                          OR (state = 2 AND finished_at <= $2)"
            ),
            prune_bodies: format!(
                "DELETE FROM {s}.bodies b WHERE NOT EXISTS
                     (SELECT 1 FROM {s}.jobs j WHERE j.body_id = b.id)"
            ),
        }
    }
}
