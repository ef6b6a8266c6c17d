//! The [`DeliveryQueue`] contract: jobs are persisted before any send,
//! claimed under a lease, and settled (ack / retry-at / defer / give up)
//! only by the holder of the current lease.
//!
//! # Semantics: at-least-once
//!
//! A job is written by [`enqueue_activity`](DeliveryQueue::enqueue_activity)
//! before any request leaves. A worker [`claim`](DeliveryQueue::claim)s it
//! with a lease; if the worker dies, the job becomes claimable again once
//! the lease expires, and another worker sends it. The receiver may thus
//! see the same activity twice when a worker crashed (or stalled past its
//! lease) after the POST went out and before it settled the job. Exactly-once
//! delivery is not achievable over HTTP without receiver cooperation;
//! ActivityPub receivers deduplicate by activity `id`, which archipel keeps
//! identical across retries (the body is stored once and re-sent verbatim).
//! A settle call whose lease token is no longer the job's current one fails
//! with [`DeliveryError::LeaseLost`], so a stale worker can never ack,
//! reschedule or drop a job someone else now holds.
//!
//! # Ordering
//!
//! A job may carry an ordering key ([`NewActivity::order_key`];
//! [`NewActivity::from_plan`] sets the `id` of the object the activity is
//! about). Such a job is not claimed while an older job (lower [`JobId`])
//! with the same key to the same inbox is unsettled: pending, leased, or
//! waiting for a retry. So a `Delete` never overtakes the `Create` or
//! `Update` of the same object to the same inbox, retries included, however
//! many requests a host may have in flight; jobs to other inboxes, about
//! other objects, or without a key are never held back. A held job is
//! released when its predecessor is acked or given up.
//!
//! ```
//! # futures_lite_block_on(async {
//! use std::time::Duration;
//! use archipel::delivery::{ClaimRequest, DeliveryQueue, MemoryQueue, NewActivity, PreparedBody, Timestamp};
//! use archipel::vocab::Iri;
//! let queue = MemoryQueue::new();
//! let note = "https://a.example/notes/1";
//! let about = |id: &str| -> Result<NewActivity, Box<dyn std::error::Error>> {
//!     Ok(NewActivity::new(
//!         Iri::parse(id)?,
//!         PreparedBody::new(bytes::Bytes::from_static(b"{}")),
//!         Iri::parse("https://a.example/u/alice#main-key")?,
//!         vec![url::Url::parse("https://b.example/inbox")?],
//!     )
//!     .with_order_key(note))
//! };
//! let now = Timestamp::from_millis(0);
//! let create = queue.enqueue_activity(about("https://a.example/act/create")?, now).await?;
//! let delete = queue.enqueue_activity(about("https://a.example/act/delete")?, now).await?;
//! let request = ClaimRequest {
//!     now,
//!     limit: 10,
//!     lease_for: Duration::from_secs(60),
//!     per_host_limit: 10,
//!     busy: Default::default(),
//!     paused: Default::default(),
//! };
//! // Room for ten, yet only the Create goes out; the Delete waits for it.
//! let claimed = queue.claim(&request).await?;
//! assert_eq!(claimed.iter().map(|c| c.job.id).collect::<Vec<_>>(), create);
//! queue.ack(&claimed[0].lease, Default::default()).await?;
//! let claimed = queue.claim(&request).await?;
//! assert_eq!(claimed.iter().map(|c| c.job.id).collect::<Vec<_>>(), delete);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! ```
//!
//! # Checkpoints
//!
//! A long job (a fan-out expanding into per-inbox jobs in batches) calls
//! [`checkpoint`](DeliveryQueue::checkpoint) to store where it is (at most
//! [`MAX_PROGRESS`] bytes) and extend its lease; after a crash, the next
//! claim hands that progress back in [`JobRecord::progress`].
//!
//! # Storing it durably
//!
//! Everything a backend stores is plain data ([`JobRecord`] and the body
//! bytes + SHA-256 of a [`PreparedBody`]). A relational backend needs two
//! tables: `bodies(id, bytes, sha256, refs)` written once per activity, and
//! `jobs(id, body_id, activity_id, inbox, host, key_id, attempts, claims,
//! created_at, next_attempt_at, lease_token, lease_until, last_status,
//! last_error, dialect, order_key, progress)` with an index on
//! `next_attempt_at` and a partial one on `(order_key, inbox, id)` over
//! unsettled keyed jobs, which the claim probes once per candidate (`AND
//! NOT EXISTS (… same key and inbox, lower id, unsettled)`).
//! `enqueue_activity` inserts the body and its jobs in one transaction
//! before returning; `claim` is one `UPDATE … WHERE id IN (SELECT … WHERE
//! (lease_until IS NULL AND next_attempt_at <= now) OR lease_until <= now
//! ORDER BY next_attempt_at LIMIT n FOR UPDATE SKIP LOCKED)` with a fresh
//! random `lease_token` (PostgreSQL; SQLite serialises writers anyway),
//! honouring the per-host limit with a window over `host`; every settle
//! call matches `WHERE id = ? AND lease_token = ?` and reports
//! [`DeliveryError::LeaseLost`] when no row matched. Bodies are deleted
//! when their last job is settled. Timestamps are integer milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use url::Url;

use super::{DeliveryError, DeliveryPlan, PreparedBody, Spec, Timestamp};
use crate::vocab::Iri;

pub mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

/// Identifies one job (one activity to one inbox) within a queue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct JobId(pub u64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "job#{}", self.0)
    }
}

/// Identifies a stored body (one per activity), shared by that activity's jobs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct BodyId(pub u64);

/// One activity to hand to a queue: its body (stored once) and its inboxes
/// (one job each).
///
/// The identifiers (`activity_id`, `key_id`) are [`Iri`]s, as everywhere in
/// the crate; the inboxes are [`Url`]s, as [`DeliveryPlan::inboxes`] gives
/// them: an inbox is the endpoint a worker POSTs to, parsed once when the
/// plan is made and never re-parsed per attempt.
#[derive(Debug, Clone)]
pub struct NewActivity {
    /// The activity `id` (what receivers deduplicate on).
    pub activity_id: Iri,
    /// The serialized body and its digest.
    pub body: PreparedBody,
    /// The key id to sign with; the worker looks the signer up by it
    /// (a `SignerSource`, feature `delivery`).
    pub key_id: Iri,
    /// Target inboxes.
    pub inboxes: Vec<Url>,
    /// The signature dialect to knock with first, if the app has a preference.
    pub dialect: Option<Spec>,
    /// The ordering key: a job with `Some(key)` is not claimed while an
    /// older job (lower [`JobId`]) with the same key to the same inbox is
    /// unsettled, so a `Delete` never overtakes the `Create` it follows.
    /// `None` jobs are never held back.
    pub order_key: Option<String>,
    /// A `Collection-Synchronization` header value (FEP-8fcf) per inbox:
    /// the job to that inbox stores it ([`JobRecord::collection_sync`])
    /// and the worker sends it. Each value is at most
    /// [`MAX_COLLECTION_SYNC`] bytes; a longer one is not stored.
    pub collection_sync: BTreeMap<Url, String>,
}

impl NewActivity {
    /// One activity to `inboxes`, signed with `key_id`, with no dialect
    /// preference and no ordering key (see [`with_order_key`](Self::with_order_key)).
    pub fn new(activity_id: Iri, body: PreparedBody, key_id: Iri, inboxes: Vec<Url>) -> Self {
        NewActivity {
            activity_id,
            body,
            key_id,
            inboxes,
            dialect: None,
            order_key: None,
            collection_sync: BTreeMap::new(),
        }
    }

    /// Sets the `Collection-Synchronization` header value (FEP-8fcf) the
    /// job to `inbox` sends (one of [`NewActivity::inboxes`]; others are
    /// ignored). Values over [`MAX_COLLECTION_SYNC`] bytes are dropped.
    pub fn with_collection_sync(mut self, inbox: Url, value: String) -> Self {
        if value.len() <= MAX_COLLECTION_SYNC {
            self.collection_sync.insert(inbox, value);
        }
        self
    }

    /// Sets the ordering key (usually the `id` of the object the activity
    /// is about, as [`DeliveryPlan::order_key`] derives it), so jobs to the
    /// same inbox with the same key are sent in enqueue order.
    pub fn with_order_key(mut self, key: impl Into<String>) -> Self {
        self.order_key = Some(key.into());
        self
    }

    /// Sets the dialect to knock with first (when the app knows which one
    /// the receiver accepts).
    pub fn with_dialect(mut self, dialect: Spec) -> Self {
        self.dialect = Some(dialect);
        self
    }

    /// The jobs of a [`DeliveryPlan`], to be signed with the key `key_id`
    /// (the `publicKey.id` of the sending actor, e.g. `…/users/alice#main-key`),
    /// ordered by the plan's [`order_key`](DeliveryPlan::order_key).
    pub fn from_plan(plan: &DeliveryPlan, key_id: Iri) -> Self {
        NewActivity::new(
            plan.activity_id().clone(),
            plan.body().clone(),
            key_id,
            plan.inboxes().to_vec(),
        )
        .with_order_key(plan.order_key())
    }
}

/// The longest `Collection-Synchronization` value a job stores (bytes),
/// as the receiving side reads at most
/// [`MAX_HEADER_LEN`](crate::federation::followers_sync::MAX_HEADER_LEN).
pub const MAX_COLLECTION_SYNC: usize = 2_048;

/// The largest progress a job may store with [`DeliveryQueue::checkpoint`]
/// (64 KiB): progress is a resume cursor, not a data store.
pub const MAX_PROGRESS: usize = 64 * 1024;

/// The backend-neutral record of one job, as a durable backend stores it
/// in a row (the body lives in a separate row, referenced by `body_id`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobRecord {
    /// The job's id.
    pub id: JobId,
    /// The stored body this job sends.
    pub body_id: BodyId,
    /// The activity `id` (what receivers deduplicate on).
    pub activity_id: Iri,
    /// The target inbox (a [`Url`], like [`NewActivity::inboxes`]; stored as
    /// its text and parsed back when read).
    #[serde(with = "url_text")]
    pub inbox: Url,
    /// The inbox's `host[:port]`, indexed for per-host limits.
    pub host: String,
    /// The signing key id (never the key itself).
    pub key_id: Iri,
    /// Attempts that reached an outcome (sent or failed to send).
    pub attempts: u32,
    /// Times the job was claimed (greater than `attempts` after crashes).
    pub claims: u32,
    /// When the job was enqueued.
    pub created_at: Timestamp,
    /// Not to be attempted before this time.
    pub next_attempt_at: Timestamp,
    /// The current lease, while claimed.
    pub lease: Option<LeaseInfo>,
    /// The HTTP status of the last attempt, if one came back.
    pub last_status: Option<u16>,
    /// The transport error or reason of the last attempt.
    pub last_error: Option<String>,
    /// The dialect to knock with first.
    pub dialect: Option<Spec>,
    /// The ordering key (see [`NewActivity::order_key`]).
    pub order_key: Option<String>,
    /// The progress last stored by [`DeliveryQueue::checkpoint`], handed
    /// back on the next claim so a job resumes where a crashed worker left it.
    pub progress: Option<Vec<u8>>,
    /// The `Collection-Synchronization` header value (FEP-8fcf) to send
    /// with this job, if any ([`NewActivity::with_collection_sync`]).
    #[serde(default)]
    pub collection_sync: Option<String>,
}

/// A lease as stored on the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseInfo {
    /// Unique per claim.
    pub token: u64,
    /// When the lease lapses and the job becomes claimable again.
    pub until: Timestamp,
}

/// The claim a worker holds on a job; required to settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    /// The claimed job.
    pub job: JobId,
    /// The claim token.
    pub token: u64,
    /// When the lease lapses.
    pub until: Timestamp,
}

/// A claimed job with everything needed to send it.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The lease to settle the job with.
    pub lease: Lease,
    /// The job record at claim time (`claims` already incremented).
    pub job: JobRecord,
    /// The shared body.
    pub body: PreparedBody,
}

/// What a worker asks of [`DeliveryQueue::claim`].
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The current time: jobs due at or before it (or whose lease lapsed) qualify.
    pub now: Timestamp,
    /// At most this many jobs.
    pub limit: usize,
    /// Lease length.
    pub lease_for: Duration,
    /// At most this many jobs per host in flight, counting `busy`.
    pub per_host_limit: usize,
    /// Jobs the caller already has in flight, per host.
    pub busy: BTreeMap<String, usize>,
    /// Hosts not to claim for at all (e.g. paused by `Retry-After`).
    pub paused: BTreeSet<String>,
}

/// The outcome of one attempt, stored on the job for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttemptRecord {
    /// The response status, if a response came back.
    pub status: Option<u16>,
    /// A transport error or explanation.
    pub error: Option<String>,
    /// The dialect that was used last.
    pub dialect: Option<Spec>,
}

/// Counts of a queue's contents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueStats {
    /// Jobs not settled (pending or claimed).
    pub total: usize,
    /// Jobs due now and not claimed: the backlog (including jobs held by
    /// the ordering rule behind an older one).
    pub due: usize,
    /// Jobs under a live lease.
    pub leased: usize,
    /// Stored bodies.
    pub bodies: usize,
    /// When the oldest unsettled job was enqueued (`None` when there is
    /// none): `now` minus this is the operator's "oldest pending age".
    pub oldest_created_at: Option<Timestamp>,
}

/// Durable-queue semantics for outgoing deliveries.
///
/// The in-memory [`MemoryQueue`](memory::MemoryQueue) is the default;
/// durable backends (embedded or shared between machines) implement the
/// same trait. See the module docs for the at-least-once contract.
#[async_trait::async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Persists one body and one job per inbox, all due `now`.
    async fn enqueue_activity(
        &self,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError>;

    /// Leases up to `request.limit` due jobs, oldest due first, respecting
    /// the per-host limit, paused hosts and the ordering rule (a keyed job
    /// waits for older unsettled jobs with its key to its inbox; see the
    /// module docs). Jobs whose lease lapsed count as due.
    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, DeliveryError>;

    /// The job was delivered: remove it.
    async fn ack(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError>;

    /// The attempt failed transiently: count it, release the lease, due at `at`.
    async fn retry_at(
        &self,
        lease: &Lease,
        at: Timestamp,
        attempt: AttemptRecord,
    ) -> Result<(), DeliveryError>;

    /// Release the lease without counting an attempt, due at `at` (shutdown,
    /// dead-host deferral).
    async fn defer(&self, lease: &Lease, at: Timestamp) -> Result<(), DeliveryError>;

    /// The job will never succeed (gone, refused, exhausted): remove it.
    async fn give_up(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError>;

    /// Stores `progress` on the job held under `lease` (replacing any) and
    /// extends the lease to `until`, keeping its token: a long job (a
    /// fan-out expanding in batches) records where it is, so the next claim
    /// after a crash resumes there ([`JobRecord::progress`]).
    ///
    /// Fails with [`DeliveryError::LeaseLost`] if `lease` is not the job's
    /// current one, and with [`DeliveryError::ProgressTooLarge`] over
    /// [`MAX_PROGRESS`] bytes.
    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: Vec<u8>,
        until: Timestamp,
    ) -> Result<Lease, DeliveryError>;

    /// A snapshot of one job, if it is still queued.
    async fn get(&self, job: JobId) -> Result<Option<JobRecord>, DeliveryError>;

    /// Counts at `now`, for backlog monitoring.
    async fn stats(&self, now: Timestamp) -> Result<QueueStats, DeliveryError>;

    /// The earliest time a currently unclaimable job becomes due (or a lease
    /// lapses), if any; lets idle workers sleep exactly long enough. Jobs
    /// held by the ordering rule do not count: their predecessor's due time
    /// or lease expiry does.
    async fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError>;
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

/// A settled job still kept (until pruned): delivery history and give-up
/// records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedJob {
    /// The job as it was when settled (`claims` tells how often it was
    /// claimed: more than once after a worker died holding it).
    pub record: JobRecord,
    /// How it was settled.
    pub settled: Settled,
    /// When it was settled (the settling worker's wall clock).
    pub finished_at: Timestamp,
}

/// What one `prune` call of a durable backend deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Settled jobs deleted.
    pub jobs: u64,
    /// Bodies deleted because no job refers to them any more.
    pub bodies: u64,
}

/// Refuses progress over [`MAX_PROGRESS`] bytes, naming the job.
pub(crate) fn check_progress(lease: &Lease, progress: &[u8]) -> Result<(), DeliveryError> {
    if progress.len() > MAX_PROGRESS {
        return Err(DeliveryError::ProgressTooLarge {
            job: lease.job,
            size: progress.len(),
            max: MAX_PROGRESS,
        });
    }
    Ok(())
}

/// The host key used for a job's inbox.
pub(crate) fn host_of(inbox: &Url) -> String {
    crate::client::authority(inbox)
}

/// Reads an inbox stored as text back into a [`Url`].
///
/// Backends store `Url::as_str()`, and the URL standard's serialization
/// parses back to the same URL, so this fails only for a row edited by
/// hand; the error names the stored text.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn parse_stored_inbox(inbox: &str) -> Result<Url, DeliveryError> {
    Url::parse(inbox).map_err(|e| DeliveryError::InvalidInbox {
        inbox: inbox.to_owned(),
        reason: e.to_string(),
    })
}

/// Serializes a [`JobRecord`]'s inbox as its text (the `url` crate's serde
/// support is an optional feature this crate does not enable).
mod url_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use url::Url;

    pub(super) fn serialize<S: Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(url.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = String::deserialize(d)?;
        Url::parse(&text).map_err(serde::de::Error::custom)
    }
}
