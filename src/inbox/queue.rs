//! The inbound queue: verify, persist, answer `202`, process later.
//!
//! Without it, an inbox runs the application's handler before answering,
//! so a burst of activities holds one request (and one database
//! transaction, one fetch of an embedded object's origin) open per
//! activity, and a handler failure is answered `500` for the sender to
//! retry on its own schedule, or never. With it, the route stores each
//! verified activity and answers at once; [`InboundWorkers`] (feature
//! `delivery`) run the handlers with bounded concurrency and retry what
//! failed.
//!
//! # The decision it makes
//!
//! **No new backend.** An [`InboundQueue`] stores each activity as one job
//! in a [`DeliveryQueue`] of its own (a separate `MemoryQueue`, SQLite
//! file, or PostgreSQL schema), so leases, retries, the finished history
//! and several worker machines sharing one database all come from the
//! delivery queue's tested machinery. The job's `inbox` is the sender's
//! actor IRI: the queue's per-host limit becomes a per-origin fairness
//! limit, so one busy origin cannot take every worker.
//!
//! **What is stored.** The job body is a small versioned envelope: what
//! the inbox established (the [`Verified`](crate::signatures::Verified)
//! facts, the id, type and actor) and the exact received bytes, so the
//! [`Incoming`] handed to the dispatcher after a restart is the one the
//! inbox accepted: no verification again, no network.
//!
//! **At least once.** A job is written before the route answers `202`; a
//! worker that dies holding one leaves its lease to lapse and another
//! worker runs it again, so a handler may see an activity twice after a
//! crash (never twice otherwise). Handlers should be idempotent by activity
//! id, as ActivityPub receivers already are. Repeats from the sender are
//! refused before the queue by the inbox's [`SeenStore`](super::SeenStore);
//! when persisting fails the route forgets the id again, so the sender's
//! retry is accepted.
//!
//! **Outcomes.** A handler that succeeds settles the job. A refusal the
//! sender caused (a `4xx` [`DispatchError`](crate::federation::dispatch::DispatchError):
//! not the owner, not our Follow) will never succeed: it is given up at
//! once with the reason. Anything else (a handler or store error, an
//! origin that did not answer) is retried with backoff
//! ([`InboundConfig::retry`]); once the attempts are spent it is given up,
//! and durable backends keep the give-up record (reason included) in their
//! finished history: nothing is dropped silently.
//!
//! **Bounded.** A queue keeps at most [`DEFAULT_MAX_DEPTH`] (100,000)
//! activities unless configured otherwise (`InboundConfig::max_depth`,
//! feature `delivery`). Past it the inbox answers `503` with
//! `Retry-After` ([`QueueFull`]) right after admission, before reading the
//! body or fetching a key, and gives the origin its admission token back.
//! The route reads a count kept in memory ([`InboundQueue::check_room`]):
//! each enqueue raises it, each settle lowers it, and once every few
//! seconds (`InboundConfig::depth_refresh`, 5 s) one request sets it to the
//! backend's own count first, which also counts what other machines
//! sharing the backend stored and settled (a web-only machine running no
//! workers included). No other request reads the backend to decide.
//!
//! **Same object, in order.** Each job carries the id of the object the
//! activity is about as its order key, with the sender as its inbox, so a
//! sender's `Delete` of a note is not processed before its `Create` of it,
//! retries included.
//!
//! ```
//! # #[cfg(feature = "ed25519")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use archipel::delivery::MemoryQueue;
//! use archipel::inbox::Inbox;
//! use archipel::inbox::queue::InboundQueue;
//! # use archipel::signatures::{MemoryKeyResolver, PrivateKey, Signer, Verifier, VerifyPolicy};
//! # let bob_key = PrivateKey::generate_ed25519()?;
//! # let mut keys = MemoryKeyResolver::new();
//! # keys.insert("https://b.example/users/bob#key", bob_key.public_key(), "https://b.example/users/bob");
//! # let inbox = Inbox::new(Arc::new(Verifier::new(keys, VerifyPolicy::default())))
//! #     .with_public_base("https://books.example".parse()?);
//! # let body = r#"{"@context":"https://www.w3.org/ns/activitystreams","type":"Like",
//! #   "id":"https://b.example/likes/1","actor":"https://b.example/users/bob",
//! #   "object":"https://books.example/objects/1"}"#;
//! # let mut request = http::Request::post("https://books.example/inbox")
//! #     .header("content-type", "application/activity+json")
//! #     .header("host", "books.example")
//! #     .body(bytes::Bytes::from(body))?;
//! # Signer::new("https://b.example/users/bob#key", bob_key).sign(&mut request)?;
//!
//! let inbound = InboundQueue::new(Arc::new(MemoryQueue::new()));
//! // For every POST to an inbox: verify, persist, then answer 202.
//! let incoming = inbox.receive(&request).await?;
//! if let Err(e) = inbound.enqueue(&incoming).await {
//!     // Not stored: let the sender's retry through, answer 503.
//!     inbox.seen_store().forget(incoming.id.as_str()).await;
//!     return Err(e.into());
//! }
//! let stats = inbound.stats().await?;
//! assert_eq!((stats.depth, stats.processed), (1, 0));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "ed25519"))]
//! # fn main() {}
//! ```

mod envelope;
#[cfg(all(feature = "delivery", feature = "axum"))]
mod handoff;
#[cfg(feature = "delivery")]
mod workers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use url::Url;

use super::Incoming;
use crate::delivery::{DeliveryError, DeliveryQueue, JobId, NewActivity, PreparedBody, Timestamp};
#[cfg(feature = "delivery")]
use envelope::decode;

#[cfg(feature = "delivery")]
#[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
pub use workers::{InboundConfig, InboundStopped, InboundWorkers};

/// Errors of the inbound queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboundError {
    /// The queue backend failed; the activity was not stored.
    #[error("inbound queue: {0}")]
    Queue(#[from] DeliveryError),
    /// The activity's actor is not a URL a job can be filed under.
    #[error("inbound queue: actor {actor:?} of {activity:?} is not a URL: {reason}")]
    Actor {
        /// The activity id.
        activity: String,
        /// The actor IRI.
        actor: String,
        /// Why it did not parse.
        reason: String,
    },
    /// The queue holds its most activities: refused before verification
    /// (see [`InboundQueue::check_room`]).
    #[error(transparent)]
    Full(#[from] QueueFull),
    /// A stored envelope could not be written or read back.
    #[error("inbound queue: envelope of {activity:?}: {reason}")]
    Envelope {
        /// The activity id.
        activity: String,
        /// What was wrong.
        reason: String,
    },
}

/// Counts of an inbound queue, for an operator page or a metrics scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboundStats {
    /// Activities waiting to be processed now or being processed (due +
    /// leased): the backlog.
    pub depth: usize,
    /// Activities being processed (under a live lease).
    pub leased: usize,
    /// When the oldest unsettled activity was accepted (its age is how far
    /// behind processing runs), if the backend reports it.
    pub oldest_created_at: Option<Timestamp>,
    /// Activities processed successfully by this process's workers.
    pub processed: u64,
    /// Failed attempts scheduled for a retry.
    pub retried: u64,
    /// Activities given up (refused by the dispatcher, or attempts spent).
    pub failed: u64,
}

/// How long [`InboundQueue::sqlite_options`] and
/// [`InboundQueue::postgres_options`] keep the record of an activity given
/// up (one day): long enough for an operator to see why, short enough that
/// a flood of refused activities cannot fill the disk.
pub const KEEP_GIVEN_UP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How many activities an inbound queue keeps at most, processed or not
/// yet settled, unless configured otherwise
/// ([`InboundConfig::max_depth`](InboundConfig::max_depth), feature
/// `delivery`): 100,000, a few hours of a busy small server's traffic
/// (and, at Mastodon's 1 MiB body cap, a bounded disk). Past it the inbox
/// answers `503` before reading or verifying anything.
pub const DEFAULT_MAX_DEPTH: usize = 100_000;

/// The `Retry-After` a full inbound queue answers with (30 s): senders
/// retry on their own backoff anyway; this asks them not to come back at
/// once.
pub const FULL_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// How often [`InboundQueue::check_room`] sets its count from the
/// backend's unless configured otherwise (`InboundConfig::depth_refresh`):
/// 5 s.
pub const DEFAULT_DEPTH_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// The inbound queue is full: the inbox refuses new activities, before
/// any body read, key fetch or signature check, until the workers catch
/// up. Answer it with [`QueueFull::response`]: `503 Service Unavailable`
/// with `Retry-After` ([`FULL_RETRY_AFTER`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inbound queue: full, {kept} activities kept of at most {max_depth}; retry after {} s", FULL_RETRY_AFTER.as_secs())]
#[non_exhaustive]
pub struct QueueFull {
    /// Activities kept (the queue's count as this process last knew it).
    pub kept: u64,
    /// The cap.
    pub max_depth: u64,
}

impl QueueFull {
    /// `503 Service Unavailable` (RFC 9110 §15.6.4): the server is
    /// overloaded for now, which is what a sender's retry logic expects.
    pub fn status(&self) -> http::StatusCode {
        http::StatusCode::SERVICE_UNAVAILABLE
    }

    /// The answer to send: the status, `Retry-After` in seconds (RFC 9110
    /// §10.2.3) and the message as plain text.
    pub fn response(&self) -> http::Response<bytes::Bytes> {
        let mut response = http::Response::new(bytes::Bytes::from(self.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from(FULL_RETRY_AFTER.as_secs()),
        );
        response
    }
}

/// The stored job of `incoming`: its envelope, filed under the sender.
fn job_of(incoming: &Incoming) -> Result<NewActivity, InboundError> {
    let actor = Url::parse(incoming.actor.as_str()).map_err(|e| InboundError::Actor {
        activity: super::echo(incoming.id.as_str()),
        actor: super::echo(incoming.actor.as_str()),
        reason: e.to_string(),
    })?;
    let body = PreparedBody::new(envelope::encode(incoming)?);
    Ok(NewActivity::new(
        incoming.id.clone(),
        body,
        incoming.verified.key_id.clone(),
        vec![actor],
    )
    .with_order_key(order_key(incoming)))
}

/// Counters shared by the queue handle and its workers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) processed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Activities kept (unsettled), as this process knows: raised by each
    /// enqueue, lowered by each settle of its workers, and set to the
    /// backend's own count whenever it is read ([`InboundQueue::stats`],
    /// [`InboundQueue::check_room`] once per `refresh_every`), which also
    /// brings in what other machines sharing the backend did.
    pub(crate) kept: AtomicU64,
    /// When `kept` was last set from the backend (ms since the epoch; 0:
    /// never, so the first check reads it).
    pub(crate) refreshed_at: AtomicU64,
    /// How often (ms) a check sets `kept` from the backend first.
    pub(crate) refresh_every: AtomicU64,
    /// The cap on `kept` ([`DEFAULT_MAX_DEPTH`] until workers set theirs).
    pub(crate) max_depth: AtomicU64,
    /// Requests refused because the queue was full.
    pub(crate) refused_full: AtomicU64,
    /// Wakes idle workers when an activity is stored.
    #[cfg(feature = "delivery")]
    pub(crate) wake: tokio::sync::Notify,
}

/// Stores verified activities for later processing (see the [module
/// docs](self)). Cheap to clone: clones share the queue and the counters.
#[derive(Clone)]
pub struct InboundQueue {
    queue: Arc<dyn DeliveryQueue>,
    counters: Arc<Counters>,
    /// What the inbox route (feature `axum`) hands this process's workers
    /// (feature `delivery`).
    #[cfg(all(feature = "delivery", feature = "axum"))]
    handoff: Arc<handoff::Handoff>,
}

impl std::fmt::Debug for InboundQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundQueue")
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl InboundQueue {
    /// An inbound queue storing its jobs in `queue`, which must be a queue
    /// of its own (not the delivery queue): its jobs are activities to
    /// process, not to send.
    pub fn new(queue: Arc<dyn DeliveryQueue>) -> Self {
        InboundQueue {
            queue,
            counters: Arc::new(Counters {
                max_depth: AtomicU64::new(DEFAULT_MAX_DEPTH as u64),
                refresh_every: AtomicU64::new(millis(DEFAULT_DEPTH_REFRESH)),
                ..Counters::default()
            }),
            #[cfg(all(feature = "delivery", feature = "axum"))]
            handoff: Arc::default(),
        }
    }

    /// Whether the queue has room for another activity: called by the
    /// inbox route right after admission, before the body is read, so a
    /// full queue costs a request no key fetch or signature check. Reads
    /// an in-memory count; only the first check after each
    /// `depth_refresh` (5 s) reads the backend's count first (see the
    /// [module docs](self)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::sync::Arc;
    /// use archipel::delivery::MemoryQueue;
    /// use archipel::inbox::queue::InboundQueue;
    /// let inbound = InboundQueue::new(Arc::new(MemoryQueue::new()));
    /// assert_eq!(inbound.check_room().await, Ok(()));
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`QueueFull`] when the queue keeps its most activities
    /// ([`DEFAULT_MAX_DEPTH`], or `InboundConfig::max_depth` once workers
    /// started): answer [`QueueFull::response`].
    pub async fn check_room(&self) -> Result<(), QueueFull> {
        if self.refresh_due() {
            // A failing backend leaves the count as it was: the enqueue
            // that follows reports the failure.
            let _ = self.stats().await;
        }
        let kept = self.counters.kept.load(Ordering::Relaxed);
        let max_depth = self.counters.max_depth.load(Ordering::Relaxed);
        if kept < max_depth {
            return Ok(());
        }
        self.counters.refused_full.fetch_add(1, Ordering::Relaxed);
        Err(QueueFull { kept, max_depth })
    }

    /// Whether this caller should set the count from the backend now: the
    /// last time is `refresh_every` ago, and no other caller took it.
    fn refresh_due(&self) -> bool {
        let c = &self.counters;
        let now = millis(wall_clock());
        let last = c.refreshed_at.load(Ordering::Relaxed);
        now.saturating_sub(last) >= c.refresh_every.load(Ordering::Relaxed)
            && c.refreshed_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Requests refused by [`check_room`](Self::check_room) since the
    /// queue was made, for an operator's refusal counts.
    pub fn refused_full(&self) -> u64 {
        self.counters.refused_full.load(Ordering::Relaxed)
    }

    /// Persists `incoming` and returns its job id once it is stored (and
    /// durable, as far as the backend makes it); wakes the workers.
    ///
    /// # Errors
    /// [`InboundError::Queue`] when the backend fails: the activity is not
    /// stored, so the caller should answer `503` and
    /// [`forget`](super::SeenStore::forget) its id, letting the sender's
    /// retry through.
    pub async fn enqueue(&self, incoming: &Incoming) -> Result<JobId, InboundError> {
        let job = job_of(incoming)?;
        self.store(job, incoming.id.as_str()).await
    }

    /// [`enqueue`](Self::enqueue), with the parsed activity handed to this
    /// process's workers in memory, so the one that claims it skips
    /// decoding the stored copy (the inbox route's path).
    #[cfg(feature = "axum")]
    pub(crate) async fn enqueue_owned(&self, incoming: Incoming) -> Result<JobId, InboundError> {
        let job = job_of(&incoming)?;
        let id = incoming.id.as_str().to_owned();
        // Handed over before the job exists: a worker may claim it as soon
        // as it is stored.
        #[cfg(feature = "delivery")]
        self.handoff.put(incoming);
        let stored = self.store(job, &id).await;
        #[cfg(feature = "delivery")]
        if stored.is_err() {
            self.handoff.forget(&id);
        }
        stored
    }

    /// The activity `id` as the inbox parsed it, when this process stored
    /// it and no worker took it yet.
    #[cfg(feature = "delivery")]
    pub(crate) fn take_handoff(&self, id: &str) -> Option<Incoming> {
        #[cfg(feature = "axum")]
        return self.handoff.take(id);
        #[cfg(not(feature = "axum"))]
        {
            let _ = id;
            None
        }
    }

    async fn store(&self, job: NewActivity, id: &str) -> Result<JobId, InboundError> {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let ids = self.queue.enqueue_activity(job, now).await?;
        self.counters.kept.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "delivery")]
        self.counters.wake.notify_one();
        ids.first().copied().ok_or_else(|| {
            InboundError::Queue(DeliveryError::Queue(format!(
                "no job stored for {}",
                super::echo(id)
            )))
        })
    }

    /// The queue's counts now, and what this process's workers did.
    ///
    /// # Errors
    /// [`InboundError::Queue`] when the backend fails.
    pub async fn stats(&self) -> Result<InboundStats, InboundError> {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let q = self.queue.stats(now).await?;
        self.counters.kept.store(q.total as u64, Ordering::Relaxed);
        let now = millis(wall_clock());
        self.counters.refreshed_at.store(now, Ordering::Relaxed);
        Ok(InboundStats {
            depth: q.due + q.leased,
            leased: q.leased,
            oldest_created_at: q.oldest_created_at,
            processed: self.counters.processed.load(Ordering::Relaxed),
            retried: self.counters.retried.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        })
    }

    /// Options for an inbound queue's own SQLite file (e.g.
    /// `inbound.sqlite3`): a processed activity needs no history, so it is
    /// pruned at once, and give-up records are kept
    /// [`KEEP_GIVEN_UP`] (a day, not the delivery queue's week): a
    /// sender's refused activities cost disk for a bounded time only.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), archipel::Error> {
    /// use std::sync::Arc;
    /// use archipel::delivery::SqliteQueue;
    /// use archipel::inbox::queue::InboundQueue;
    /// let file = SqliteQueue::open_with("data/inbound.sqlite3", InboundQueue::sqlite_options()).await?;
    /// let inbound = InboundQueue::new(Arc::new(file));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    pub fn sqlite_options() -> crate::delivery::queue::sqlite::SqliteOptions {
        crate::delivery::queue::sqlite::SqliteOptions {
            keep_delivered: std::time::Duration::ZERO,
            keep_given_up: KEEP_GIVEN_UP,
            ..Default::default()
        }
    }

    /// Options for an inbound queue in PostgreSQL: schema
    /// `archipel_inbound` (apart from the delivery queue's `archipel`;
    /// every worker machine uses the same), retention as
    /// [`InboundQueue::sqlite_options`].
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres_options() -> crate::delivery::queue::postgres::PostgresOptions {
        crate::delivery::queue::postgres::PostgresOptions {
            schema: "archipel_inbound".into(),
            keep_delivered: std::time::Duration::ZERO,
            keep_given_up: KEEP_GIVEN_UP,
            ..Default::default()
        }
    }

    /// The backend holding the jobs (e.g. to read a durable backend's
    /// give-up records).
    pub fn backend(&self) -> &Arc<dyn DeliveryQueue> {
        &self.queue
    }

    #[cfg(feature = "delivery")]
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// One activity fewer kept (a worker settled it for good).
    #[cfg(feature = "delivery")]
    pub(crate) fn settled_one(&self) {
        // Saturating: a refresh may already have counted it out.
        let _ = self
            .counters
            .kept
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Milliseconds of `d` (saturating).
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The time since the epoch (zero for a clock set before it).
fn wall_clock() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// What an activity is about, for ordering: the id of its (first) object,
/// embedded or named, else the activity's own id.
pub(crate) fn order_key(incoming: &Incoming) -> String {
    incoming
        .activity
        .as_activity()
        .and_then(|a| a.object_id())
        .unwrap_or(&incoming.id)
        .as_str()
        .to_owned()
}
