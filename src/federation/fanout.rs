//! Two-stage fan-out: [`Federation::send`] of an activity addressed to the
//! author's followers writes **one** fan-out job, whatever the follower
//! count; expansion workers turn it into delivery jobs in bounded batches.
//!
//! # What it decides
//!
//! - **The poster waits for one write.** `send` resolves only what the
//!   activity names (a few actors, through the cache, as before), checks
//!   that the activity can be planned (an `id`, the body cap), and persists
//!   one job in the fan-out queue ([`FederationBuilder::with_fanout_queue`],
//!   default in memory; a server uses a durable one). It reads no follower
//!   and fetches no follower's actor, so it costs the same for 10 followers
//!   as for 100 000.
//! - **Memory is bounded by the batch.** An expansion worker reads
//!   [`FanoutConfig::batch`] followers at a time
//!   ([`Graph::followers_page`](super::graph::Graph::followers_page), in
//!   `(authority, IRI)` order), resolves their inboxes through the actor
//!   cache, plans the batch exactly as an eager send does ([`DeliveryPlan`]:
//!   `bto`/`bcc` stripped, shared inboxes, domain policy, local hosts
//!   skipped), enqueues its delivery jobs, then stores where it is with
//!   [`DeliveryQueue::checkpoint`]. Nothing holds the whole follower list.
//! - **One copy per shared inbox.** A server's followers are contiguous in
//!   that order, so the checkpoint carries the shared inboxes already used
//!   for the server the batch ended on (at most [`MAX_CARRIED_INBOXES`]),
//!   and the named recipients' inboxes are never enqueued again for a
//!   follower.
//! - **A crash resumes, at least once.** The next claim of the job (after
//!   its lease lapses) starts after the last checkpoint. A crash between a
//!   batch's enqueue and its checkpoint enqueues that one batch again: its
//!   receivers get the activity twice and drop the copy by `id`, as every
//!   ActivityPub receiver does (the [queue contract](crate::delivery::queue)).
//! - **Order per object.** The fan-out job carries the plan's ordering key
//!   (the object's id), and its "inbox" is the author's followers
//!   collection, so a `Delete`'s fan-out is not claimed before the
//!   `Create`'s has finished expanding, and the delivery jobs of each inbox
//!   are enqueued in that order (the delivery queue keeps it).
//!
//! An activity that does not address the author's followers (a Follow, an
//! Accept, a direct message) is planned and queued at once, as before; so
//! is [`Federation::send_to`] (the per-recipient rendering path), whose
//! audience is resolved eagerly and bounded by
//! [`DEFAULT_MAX_RECIPIENTS`](super::recipients::DEFAULT_MAX_RECIPIENTS).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use archipel::federation::{Federation, Graph};
//! use archipel::vocab::{AnyObject, Audience, Iri, Object};
//! let fed = Federation::builder("https://a.example".parse()?).build().await?;
//! let alice = fed.actor("alice").await?;
//! for n in 0..3 {
//!     let f = Iri::parse(&format!("https://b{n}.example/users/f"))?;
//!     fed.graph().add_follower(alice.id(), &f).await?;
//! }
//! let mut note = Object::new("Note").with_content("to my followers");
//! Audience::followers_only(alice.followers().clone()).apply(&mut note);
//! let create = fed.create(&alice, AnyObject::from(note))?;
//! let sent = fed.send(&alice, &create).await?;
//! // One fan-out job, no delivery job yet: workers expand it later.
//! assert!(sent.fanout.is_some() && sent.jobs.is_empty());
//! let now = archipel::delivery::Timestamp::from_system_time(std::time::SystemTime::now());
//! assert_eq!(fed.fanout_queue().stats(now).await?.total, 1);
//! # Ok(()) }
//! ```
//!
//! [`Federation::send`]: super::Federation::send
//! [`Federation::send_to`]: super::Federation::send_to
//! [`FederationBuilder::with_fanout_queue`]: super::FederationBuilder::with_fanout_queue
//! [`DeliveryPlan`]: crate::delivery::DeliveryPlan
//! [`DeliveryQueue::checkpoint`]: crate::delivery::DeliveryQueue::checkpoint

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use url::Url;

use std::sync::Arc;

use super::error::FederationError;
use super::hub::{Federation, Sent};
use super::local::LocalActor;
use super::recipients::RecipientResolver;
use crate::delivery::{
    DeliveryError, DeliveryPlan, DeliveryQueue, JobId, NewActivity, PreparedBody, Recipient,
    Timestamp,
};
use crate::vocab::{Activity, Iri};

mod expand;
#[cfg(feature = "delivery")]
mod workers;

pub use expand::Expansion;

#[cfg(feature = "delivery")]
pub(crate) use workers::FanoutWorkers;

/// The default number of followers read, resolved and enqueued per batch.
pub const DEFAULT_BATCH: usize = 1_000;
/// At most this many shared inboxes of the server a batch ended on are
/// carried to the next batch (a server has one, rarely a few).
pub const MAX_CARRIED_INBOXES: usize = 64;

/// Why a fan-out job could not be written or expanded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FanoutError {
    /// The job's stored body or progress is not what this version writes.
    #[error("fan-out {job}: stored {what} unreadable: {reason}")]
    Stored {
        /// The fan-out job.
        job: JobId,
        /// `body` or `progress`.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The fan-out job could not be encoded.
    #[error("fan-out of {activity}: cannot encode the job: {reason}")]
    Encode {
        /// The activity's id.
        activity: Iri,
        /// The encoder's message.
        reason: String,
    },
    /// The follow graph failed while reading a batch of followers.
    #[error("fan-out {job}: {source}")]
    Graph {
        /// The fan-out job.
        job: JobId,
        /// The graph's error.
        source: super::graph::GraphError,
    },
    /// Planning or queueing a batch's deliveries failed.
    #[error("fan-out {job}: {source}")]
    Delivery {
        /// The fan-out job.
        job: JobId,
        /// The delivery error.
        source: DeliveryError,
    },
}

/// Tuning of the expansion workers ([`Federation::start_fanout`]).
///
/// [`Federation::start_fanout`]: super::Federation::start_fanout
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FanoutConfig {
    /// Followers per batch (default [`DEFAULT_BATCH`]; at least 1): the
    /// bound on what one expansion holds in memory.
    pub batch: usize,
    /// Fan-out jobs expanded at once (default 2).
    pub workers: usize,
    /// Lease taken on a fan-out job, renewed at each checkpoint; must
    /// exceed the time one batch takes, actor fetches included (default
    /// 120 s). After a crash, the job resumes once it lapses.
    pub lease: Duration,
    /// Longest wait between polls when idle (default 1 s); a `send` wakes
    /// the workers at once.
    pub poll_interval: Duration,
    /// How long a batch that failed (graph or queue down) waits before it
    /// is tried again (default 10 s).
    pub retry_after: Duration,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        FanoutConfig {
            batch: DEFAULT_BATCH,
            workers: 2,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            retry_after: Duration::from_secs(10),
        }
    }
}

/// Builders, one per field (the struct is `#[non_exhaustive]`).
impl FanoutConfig {
    /// Sets [`batch`](Self::batch) (at least 1).
    #[must_use]
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Sets [`workers`](Self::workers) (at least 1).
    #[must_use]
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Sets [`lease`](Self::lease).
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    #[must_use]
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Sets [`retry_after`](Self::retry_after).
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// What the expansion did since the handle was built, read at any time
/// ([`Federation::fanout_stats`](super::Federation::fanout_stats)): plain
/// counters for an operator page or a metrics scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FanoutStats {
    /// Fan-out jobs written by `send`.
    pub enqueued: u64,
    /// Fan-out jobs fully expanded.
    pub expanded: u64,
    /// Batches enqueued and checkpointed.
    pub batches: u64,
    /// Delivery jobs (inboxes) the batches enqueued.
    pub deliveries: u64,
    /// Followers whose actor could not be resolved (left out).
    pub unresolved: u64,
    /// Batches that failed and were put back for a retry.
    pub failed_batches: u64,
}

/// The counters behind [`FanoutStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) expanded: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) deliveries: AtomicU64,
    pub(crate) unresolved: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> FanoutStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FanoutStats {
            enqueued: read(&self.enqueued),
            expanded: read(&self.expanded),
            batches: read(&self.batches),
            deliveries: read(&self.deliveries),
            unresolved: read(&self.unresolved),
            failed_batches: read(&self.failed_batches),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A recipient as the fan-out body stores it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredRecipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    inbox: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shared_inbox: Option<String>,
}

impl StoredRecipient {
    fn from_recipient(r: &Recipient) -> StoredRecipient {
        StoredRecipient {
            id: r.id.as_ref().map(|u| u.as_str().to_owned()),
            inbox: r.inbox.as_str().to_owned(),
            shared_inbox: r.shared_inbox.as_ref().map(|u| u.as_str().to_owned()),
        }
    }

    /// Back to a [`Recipient`]; `None` for an inbox that no longer parses
    /// (a row edited by hand), which is then left out.
    fn to_recipient(&self) -> Option<Recipient> {
        let mut r = Recipient::new(Url::parse(&self.inbox).ok()?);
        r.id = self.id.as_deref().and_then(|s| Url::parse(s).ok());
        r.shared_inbox = self
            .shared_inbox
            .as_deref()
            .and_then(|s| Url::parse(s).ok());
        Some(r)
    }
}

/// The fan-out job's body: the activity with `bto`/`bcc` already removed
/// (they never rest in the queue), whose followers to expand, and the
/// named recipients resolved when it was sent.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct FanoutBody {
    pub(crate) activity: serde_json::Value,
    pub(crate) author: Iri,
    pub(crate) named: Vec<StoredRecipient>,
}

impl FanoutBody {
    /// The body for `activity` by `author`, to `named` besides the
    /// followers.
    pub(crate) fn new(
        activity: &crate::vocab::Activity,
        author: &Iri,
        named: &[Recipient],
    ) -> Result<FanoutBody, FanoutError> {
        let encode = |reason: String| FanoutError::Encode {
            activity: activity
                .id
                .clone()
                .unwrap_or_else(|| Iri::new_unchecked("(no id)")),
            reason,
        };
        let mut value = serde_json::to_value(activity).map_err(|e| encode(e.to_string()))?;
        crate::vocab::audience::strip_hidden_audience(&mut value);
        Ok(FanoutBody {
            activity: value,
            author: author.clone(),
            named: named.iter().map(StoredRecipient::from_recipient).collect(),
        })
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> Result<PreparedBody, FanoutError> {
        let bytes = serde_json::to_vec(self).map_err(|e| FanoutError::Encode {
            activity: self.author.clone(),
            reason: e.to_string(),
        })?;
        Ok(PreparedBody::new(Bytes::from(bytes)))
    }

    pub(crate) fn decode(job: JobId, body: &PreparedBody) -> Result<FanoutBody, FanoutError> {
        serde_json::from_slice(body.bytes()).map_err(|e| FanoutError::Stored {
            job,
            what: "body",
            reason: e.to_string(),
        })
    }

    pub(crate) fn named(&self) -> Vec<Recipient> {
        self.named
            .iter()
            .filter_map(StoredRecipient::to_recipient)
            .collect()
    }
}

/// Where an expansion is: stored with each checkpoint, read back on the
/// next claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Progress {
    /// The named recipients were enqueued.
    pub(crate) named_done: bool,
    /// The last follower of the last batch enqueued.
    pub(crate) after: Option<Iri>,
    /// The authority of that follower.
    pub(crate) host: String,
    /// The inboxes already enqueued for followers on `host`.
    pub(crate) carried: Vec<String>,
    /// Batches done.
    pub(crate) batches: u64,
}

impl Progress {
    pub(crate) fn decode(job: JobId, bytes: Option<&[u8]>) -> Result<Progress, FanoutError> {
        match bytes {
            None => Ok(Progress::default()),
            Some(b) => serde_json::from_slice(b).map_err(|e| FanoutError::Stored {
                job,
                what: "progress",
                reason: e.to_string(),
            }),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        // Plain strings and integers: serialization cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub(crate) fn carried_set(&self) -> HashSet<&str> {
        self.carried.iter().map(String::as_str).collect()
    }
}

impl Federation {
    /// The two-stage path of [`Federation::send`]: the named addressees
    /// resolved now, one fan-out job for the rest.
    pub(crate) async fn send_fanout(
        &self,
        author: &LocalActor,
        activity: &Activity,
    ) -> Result<Sent, FederationError> {
        if activity.actor_id() != Some(author.id()) {
            return Err(FederationError::NotTheAuthor {
                actor: activity.actor_id().map(|a| a.as_str().to_owned()),
                author: author.id().clone(),
            });
        }
        // The author must be able to sign what is queued.
        if self.local_by_id(author.id()).is_none() {
            self.register(author.clone());
        }
        let named = RecipientResolver::new(self.graph().as_ref(), self.actors(), self.paths())
            .without_followers()
            .resolve(activity, author)
            .await;
        // Planned once with nobody, so that what would fail every batch
        // (no id, a body past the cap) fails here, and the job gets the
        // plan's ordering key.
        let plan = DeliveryPlan::new(activity, Vec::<Recipient>::new(), self.plan_options())?;
        let body = FanoutBody::new(activity, author.id(), &named.recipients)?.encode()?;
        let followers =
            Url::parse(author.followers().as_str()).map_err(|e| FanoutError::Encode {
                activity: plan.activity_id().clone(),
                reason: format!("followers collection {}: {e}", author.followers()),
            })?;
        let mut job = NewActivity::from_plan(&plan, author.key_id().clone());
        job.body = body;
        job.inboxes = vec![followers];
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        let ids = self.inner.fanout.enqueue_activity(job, now).await?;
        Counters::add(&self.inner.fanout_counters.enqueued, 1);
        #[cfg(feature = "delivery")]
        if let Some(workers) = self.inner.fanout_workers.lock().await.as_ref() {
            workers.wake();
        }
        Ok(Sent {
            activity: activity.id.clone(),
            jobs: Vec::new(),
            fanout: ids.first().copied(),
            local: named.local,
            unresolved: named.unresolved,
            over_cap: named.skipped,
            skipped: Vec::new(),
        })
    }

    /// Claims the next due fan-out job, if any, and expands it to its end
    /// on the caller's task, checkpointing after each batch: what the
    /// workers of [`Federation::start_fanout`] do, for an application that
    /// runs its own loop (or has no tokio runtime: the `delivery` feature
    /// off). `None` when no fan-out job is due.
    ///
    /// # Errors
    /// [`FederationError::Delivery`] if the fan-out queue cannot claim; a
    /// failing batch is an [`Expansion::Retried`], not an error.
    pub async fn expand_fanout(&self) -> Result<Option<Expansion>, FederationError> {
        let never = std::sync::atomic::AtomicBool::new(false);
        match expand::claim(self).await? {
            Some(claimed) => Ok(Some(expand::expand_job(self, claimed, &never).await)),
            None => Ok(None),
        }
    }

    /// The fan-out queue ([`FederationBuilder::with_fanout_queue`]).
    ///
    /// [`FederationBuilder::with_fanout_queue`]: super::FederationBuilder::with_fanout_queue
    pub fn fanout_queue(&self) -> &Arc<dyn DeliveryQueue> {
        &self.inner.fanout
    }

    /// What the fan-out did since this handle was built.
    pub fn fanout_stats(&self) -> FanoutStats {
        self.inner.fanout_counters.snapshot()
    }

    /// Starts the fan-out expansion workers on the fan-out queue, with the
    /// builder's [`FanoutConfig`] ([`Federation::start_delivery`] calls it;
    /// call it alone on a machine that only expands). A pool already
    /// running is kept.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn start_fanout(&self) {
        let mut slot = self.inner.fanout_workers.lock().await;
        if slot.is_none() {
            let config = &self.inner.fanout_config;
            *slot = Some(FanoutWorkers::start(
                Arc::downgrade(&self.inner),
                config.workers,
                config.poll_interval,
            ));
        }
    }

    /// Stops the expansion workers, if they run: each finishes and
    /// checkpoints the batch it is on and releases its job, which the next
    /// pool resumes.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn stop_fanout(&self) {
        let workers = self.inner.fanout_workers.lock().await.take();
        if let Some(w) = workers {
            w.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests;
