//! Outgoing delivery: plan, queue, sign, send, classify, retry.
//!
//! An application hands over an activity and its resolved recipients;
//! archipel gets it to every inbox as fast as the network allows, without
//! losing any and without hammering anyone:
//!
//! 1. [`DeliveryPlan`] turns recipients into the unique set of inboxes (one
//!    per shared inbox), strips `bto`/`bcc` (at every nesting level, in every
//!    spelling), and serializes and digests the body once for the whole
//!    fan-out.
//! 2. A [`DeliveryQueue`] persists one job per inbox before anything is sent
//!    ([`MemoryQueue`] by default; durable backends implement the same trait).
//! 3. Workers (feature `delivery`) claim jobs under a lease with global and
//!    per-host concurrency limits, sign and send each through a pluggable
//!    [`Delivery`] (which never follows a redirect: a 3xx gives the job up
//!    with [`GiveUpReason::Redirected`]), classify the outcome
//!    ([`classify_status`]), retry with
//!    backoff and jitter ([`RetryPolicy`]) honouring `Retry-After`, skip dead
//!    hosts (a breaker tuned by [`BreakerConfig`]), and double-knock between signature
//!    [`Spec`]s, or sign once more exactly as an inbox's RFC 9421
//!    `Accept-Signature` challenge asks.
//! 4. Every step is reported as a [`DeliveryEvent`], aggregated in a
//!    [`DeliveryReport`], and traced with `tracing` spans.
//!
//! The pure parts (plan, queue trait and in-memory queue, retry schedule,
//! classification, reports) need only the core
//! dependencies; the worker pool needs the `delivery` feature (tokio and
//! tracing).

use bytes::Bytes;
use url::Url;

use crate::signatures::Spec;
use crate::vocab::Iri;

mod breaker;
#[cfg(feature = "delivery")]
mod dialect;
mod outcome;
mod plan;
pub mod queue;
mod report;
mod retry;
#[cfg(feature = "delivery")]
mod signed;
mod time;
#[cfg(feature = "delivery")]
mod worker;
#[cfg(feature = "delivery")]
pub(crate) use worker::AbortOnDrop;

pub use breaker::BreakerConfig;
// The breaker and the dialect memory are the worker pool's own state.
#[cfg(feature = "delivery")]
pub(crate) use breaker::{Admission, HostBreaker, Transition};
#[cfg(feature = "delivery")]
pub(crate) use dialect::DialectMemory;
pub use outcome::{GiveUpReason, Verdict, classify_error, classify_status, is_host_failure_status};
pub use plan::{
    DeliveryPlan, HostFilter, PlanOptions, PreparedBody, Recipient, SkipReason, is_public_iri,
};
pub use queue::memory::MemoryQueue;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use queue::postgres::PostgresQueue;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use queue::sqlite::SqliteQueue;
pub use queue::{
    AttemptRecord, BodyId, ClaimRequest, ClaimedJob, DeliveryQueue, JobId, JobRecord, Lease,
    LeaseInfo, NewActivity, QueueStats,
};
pub use report::{DeliveryEvent, DeliveryReport, JobOutcome, JobSummary};
pub use retry::{RetryPolicy, parse_retry_after};
#[cfg(feature = "delivery")]
#[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
pub use signed::{SignedDelivery, SignerMap, SignerSource};
pub use time::Timestamp;
#[cfg(feature = "delivery")]
#[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
pub use worker::{
    AttemptCounts, DeadHostAction, DeliveryStatus, HostCounts, HostState, HostStatus,
    LATENCY_BUCKETS, LatencyHistogram, MAX_ERROR_LEN, RecentFailure, Stopped, WorkerConfig,
    Workers,
};

/// Errors of the `delivery` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The activity could not be serialized to a JSON object.
    #[error("delivery: activity could not be serialized: {0}")]
    Serialize(String),
    /// The activity has no string `id`, so receivers could not deduplicate it.
    #[error("delivery: activity has no `id`")]
    MissingActivityId,
    /// The serialized activity is larger than the plan allows.
    #[error("delivery: body is {size} bytes, more than the {max}-byte limit")]
    BodyTooLarge {
        /// Serialized size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A job's inbox is not a valid URL.
    #[error("delivery: inbox {inbox:?} is not a valid URL: {reason}")]
    InvalidInbox {
        /// The stored inbox.
        inbox: String,
        /// The parse error.
        reason: String,
    },
    /// The lease presented is not the job's current one (it lapsed and the
    /// job was claimed again, or the job was already settled).
    #[error("delivery: lease on {job} lost (lapsed and re-claimed, or already settled)")]
    LeaseLost {
        /// The job.
        job: JobId,
    },
    /// A checkpoint's progress is larger than a queue stores.
    #[error("delivery queue: progress of {job} is {size} bytes, more than the {max}-byte limit")]
    ProgressTooLarge {
        /// The job.
        job: JobId,
        /// The progress size.
        size: usize,
        /// The limit ([`queue::MAX_PROGRESS`]).
        max: usize,
    },
    /// The queue backend failed.
    #[error("delivery queue: {0}")]
    Queue(String),
    /// No signer is known for the job's key id. Retried within the retry
    /// budget: the key may be loaded later (it does not count against the
    /// host).
    #[error("delivery: no signer for key id {key_id:?}")]
    NoSigner {
        /// The key id.
        key_id: String,
    },
    /// The request could not be signed.
    #[error("delivery: signing for {inbox} failed: {reason}")]
    Signing {
        /// The target inbox.
        inbox: String,
        /// Why.
        reason: String,
    },
    /// The POST timed out.
    #[error("delivery: POST to {inbox} timed out")]
    Timeout {
        /// The target inbox.
        inbox: String,
    },
    /// The connection could not be established.
    #[error("delivery: could not connect to {inbox}: {reason}")]
    Connect {
        /// The target inbox.
        inbox: String,
        /// Why.
        reason: String,
    },
    /// Local policy refused the request (blocked domain, private address).
    #[error("delivery: POST to {inbox} refused by policy: {reason}")]
    Refused {
        /// The target inbox.
        inbox: String,
        /// Why.
        reason: String,
    },
    /// The inbox answered with a redirect (any 3xx), which delivery never
    /// follows: the signature covers this inbox only, and a redirected
    /// `POST` either turns into a `GET` (301/302/303) or re-sends the body
    /// to another target (307/308). Retrying the same URL gets the same
    /// answer, so the job is given up with
    /// [`GiveUpReason::Redirected`]; the application should re-resolve the
    /// recipient's inbox.
    #[error("delivery: POST to {inbox} answered {status} (redirect to {location:?}), not followed")]
    Redirected {
        /// The target inbox.
        inbox: String,
        /// The 3xx status.
        status: u16,
        /// The `Location` header, empty if missing or not text.
        location: String,
    },
    /// The [`HttpClient`](crate::client::HttpClient) followed a redirect
    /// although the request asked it not to
    /// ([`RedirectMode::Manual`](crate::client::RedirectMode::Manual)): the
    /// response came from another URL, so it proves nothing about this
    /// inbox and is not counted as delivered.
    #[error(
        "delivery: POST to {inbox} was answered by {final_url} after a redirect the client followed"
    )]
    RedirectFollowed {
        /// The target inbox.
        inbox: String,
        /// The URL that answered.
        final_url: String,
    },
    /// Any other transport failure (reset mid-response, protocol error).
    #[error("delivery: POST to {inbox} failed: {reason}")]
    Transport {
        /// The target inbox.
        inbox: String,
        /// Why.
        reason: String,
    },
}

/// One POST to make: everything a [`Delivery`] needs to sign and send.
#[derive(Debug, Clone, Copy)]
pub struct SendRequest<'a> {
    /// The job (for logs).
    pub job: JobId,
    /// The activity `id`.
    pub activity_id: &'a Iri,
    /// The target inbox.
    pub inbox: &'a Url,
    /// The key id to sign with.
    pub key_id: &'a Iri,
    /// The body and its precomputed digest.
    pub body: &'a PreparedBody,
    /// The signature dialect to use for this knock.
    pub dialect: Spec,
    /// The `Collection-Synchronization` header value (FEP-8fcf) to send,
    /// if the job has one ([`JobRecord::collection_sync`](queue::JobRecord::collection_sync)).
    pub collection_sync: Option<&'a str>,
    /// The signature the inbox asked for (RFC 9421 `Accept-Signature`), to
    /// be made instead of the dialect's usual one
    /// ([`sign_as_requested`](crate::signatures::accept_signature::sign_as_requested)).
    #[cfg(feature = "rfc9421")]
    pub requested: Option<&'a crate::signatures::accept_signature::SignatureRequest>,
}

/// The pluggable "sign and send one POST" step.
///
/// The default implementation signs with archipel's signer and sends
/// through an `HttpClient`; tests and applications can swap in their own
/// (a recorder, a different HTTP stack, a relay). It returns the response
/// whatever its status: classification is the worker's job. Errors map to
/// outcomes by [`classify_error`]: [`DeliveryError::Timeout`],
/// [`DeliveryError::Connect`] and [`DeliveryError::Transport`] are retried,
/// anything else is permanent.
#[async_trait::async_trait]
pub trait Delivery: Send + Sync {
    /// Signs `request` with its dialect and POSTs it.
    async fn send(&self, request: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError>;
}
