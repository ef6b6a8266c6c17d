//! One batch of an expansion: read followers after the cursor, resolve
//! their inboxes, plan and enqueue them; the caller checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::{Counters, FanoutBody, FanoutError, MAX_CARRIED_INBOXES, Progress};
use crate::delivery::{
    AttemptRecord, ClaimRequest, ClaimedJob, DeliveryError, DeliveryPlan, JobId, NewActivity,
    Recipient, Timestamp,
};
use crate::federation::graph::page_order;
use crate::federation::hub::Federation;
use crate::federation::recipients::RecipientResolver;
use crate::vocab::Iri;

/// A claimed fan-out job, decoded once per claim.
#[derive(Debug)]
pub(crate) struct FanoutJob {
    pub(crate) claimed: ClaimedJob,
    body: FanoutBody,
    /// Where the named recipients' deliveries went: never again for a
    /// follower.
    named_targets: HashSet<String>,
    /// The followers-synchronization header per inbox server met in this
    /// claim's last batch (the servers come in order, so a server spanning
    /// two batches is computed once), trimmed to that server after each.
    sync_known: std::sync::Mutex<BTreeMap<String, Option<String>>>,
    pub(crate) progress: Progress,
}

/// What a batch left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// More followers may follow: checkpoint and go on.
    More,
    /// The last batch is enqueued: ack the job.
    Done,
}

impl FanoutJob {
    /// Decodes the job's body and its stored progress.
    pub(crate) fn open(claimed: ClaimedJob) -> Result<FanoutJob, FanoutError> {
        let id = claimed.lease.job;
        let body = FanoutBody::decode(id, &claimed.body)?;
        let progress = Progress::decode(id, claimed.job.progress.as_deref())?;
        Ok(FanoutJob {
            claimed,
            body,
            named_targets: HashSet::new(),
            sync_known: std::sync::Mutex::default(),
            progress,
        })
    }

    /// The header cache (see `sync_known`); never held across an await.
    fn sync_known(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<String>>> {
        self.sync_known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The author whose followers are expanded.
    pub(crate) fn author(&self) -> &Iri {
        &self.body.author
    }
}

/// Where `r`'s delivery goes under `use_shared`.
fn target(r: &Recipient, use_shared: bool) -> &str {
    match (&r.shared_inbox, use_shared) {
        (Some(shared), true) => shared.as_str(),
        _ => r.inbox.as_str(),
    }
}

/// The authority a recipient's follower lives on (its id, else its inbox),
/// in [`page_order`]'s spelling.
fn follower_host(r: &Recipient) -> String {
    let url = r.id.as_ref().unwrap_or(&r.inbox);
    crate::client::authority(url)
}

/// Plans `recipients` for `job`'s activity and enqueues the jobs; returns
/// how many inboxes were enqueued. Deliveries to followers (`followers`)
/// carry the author's followers-synchronization header for each server.
async fn enqueue(
    fed: &Federation,
    job: &FanoutJob,
    recipients: Vec<Recipient>,
    followers: bool,
) -> Result<usize, FanoutError> {
    let id = job.claimed.lease.job;
    let failed = |source| FanoutError::Delivery { job: id, source };
    if recipients.is_empty() {
        return Ok(0);
    }
    let plan =
        DeliveryPlan::new(&job.body.activity, recipients, fed.plan_options()).map_err(failed)?;
    let n = plan.inboxes().len();
    if n > 0 {
        let mut new = NewActivity::from_plan(&plan, job.claimed.job.key_id.clone());
        if followers {
            let mut known = std::mem::take(&mut *job.sync_known());
            new = fed.with_sync_headers(job.author(), new, &mut known).await;
            *job.sync_known() = known;
        }
        fed.enqueue(new).await.map_err(failed)?;
    }
    Ok(n)
}

/// Enqueues the next part of `job` (the named recipients first, then one
/// batch of at most `batch` followers) and advances `job.progress`; the
/// caller stores it with a checkpoint ([`Step::More`]) or acks the job
/// ([`Step::Done`]).
pub(crate) async fn expand_batch(
    fed: &Federation,
    job: &mut FanoutJob,
    batch: usize,
    counters: &Counters,
) -> Result<Step, FanoutError> {
    let id = job.claimed.lease.job;
    let use_shared = fed.plan_options().use_shared_inbox;
    let named = job.body.named();
    job.named_targets = named
        .iter()
        .map(|r| target(r, use_shared).to_owned())
        .collect();
    if !job.progress.named_done {
        job.progress.named_done = true;
        if !named.is_empty() {
            let n = enqueue(fed, job, named, false).await?;
            Counters::add(&counters.deliveries, n as u64);
            return Ok(Step::More);
        }
    }

    let batch = batch.max(1);
    let page = fed
        .graph()
        .followers_page(job.author(), job.progress.after.as_ref(), batch)
        .await
        .map_err(|source| FanoutError::Graph { job: id, source })?;
    let done = page.len() < batch;
    let Some(last) = page.last().cloned() else {
        return Ok(Step::Done);
    };
    let resolver = RecipientResolver::new(fed.graph().as_ref(), fed.actors(), fed.paths());
    let resolved = resolver.resolve_followers(page, job.author()).await;
    Counters::add(&counters.unresolved, resolved.unresolved.len() as u64);
    #[cfg(feature = "delivery")]
    for (iri, why) in &resolved.unresolved {
        tracing::debug!(job = %id, follower = %iri, reason = %why, "fan-out: follower left out");
    }

    let last_host = page_order(&last).0;
    let carried = job.progress.carried_set();
    let mut next_carried: Vec<String> = if job.progress.host == last_host {
        job.progress.carried.clone()
    } else {
        Vec::new()
    };
    let mut recipients = Vec::with_capacity(resolved.recipients.len());
    for r in resolved.recipients {
        let t = target(&r, use_shared);
        if job.named_targets.contains(t) || carried.contains(t) {
            continue;
        }
        if follower_host(&r) == last_host
            && next_carried.len() < MAX_CARRIED_INBOXES
            && !next_carried.iter().any(|c| c == t)
        {
            next_carried.push(t.to_owned());
        }
        recipients.push(r);
    }
    drop(carried);
    let n = enqueue(fed, job, recipients, true).await?;
    Counters::add(&counters.deliveries, n as u64);
    Counters::add(&counters.batches, 1);
    job.progress.after = Some(last);
    job.sync_known().retain(|host, _| *host == last_host);
    job.progress.host = last_host;
    job.progress.carried = next_carried;
    job.progress.batches += 1;
    Ok(if done { Step::Done } else { Step::More })
}

fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// How the expansion of one fan-out job ended
/// ([`Federation::expand_fanout`](crate::federation::Federation::expand_fanout)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Expansion {
    /// Every delivery is enqueued and the job acknowledged.
    Done {
        /// The fan-out job.
        job: JobId,
        /// Follower batches it took, over all its claims.
        batches: u64,
    },
    /// Stopped between two batches; the job is released and resumes from
    /// its checkpoint.
    Stopped {
        /// The fan-out job.
        job: JobId,
    },
    /// A batch failed (graph or queue down); the job resumes from its
    /// checkpoint after [`FanoutConfig::retry_after`](super::FanoutConfig::retry_after).
    Retried {
        /// The fan-out job.
        job: JobId,
        /// Why the batch failed.
        error: FanoutError,
    },
    /// The lease lapsed and another worker holds the job now (this one
    /// stalled past it); that worker resumes from the last checkpoint.
    LeaseLost {
        /// The fan-out job.
        job: JobId,
    },
    /// The job's stored body or progress is unreadable: it is dropped.
    Dropped {
        /// The fan-out job.
        job: JobId,
        /// What could not be read.
        error: FanoutError,
    },
}

/// Claims the next due fan-out job, if any.
pub(crate) async fn claim(fed: &Federation) -> Result<Option<ClaimedJob>, DeliveryError> {
    let request = ClaimRequest {
        now: now(),
        limit: 1,
        lease_for: fed.inner.fanout_config.lease,
        // Every fan-out job's "inbox" is on this server: the bound is the
        // number of workers, not a per-host limit.
        per_host_limit: usize::MAX,
        busy: BTreeMap::new(),
        paused: BTreeSet::new(),
    };
    Ok(fed.inner.fanout.claim(&request).await?.pop())
}

/// Expands `claimed` batch by batch, checkpointing after each, to its end,
/// until `stop` is set (checked between batches), or until a batch fails.
pub(crate) async fn expand_job(
    fed: &Federation,
    claimed: ClaimedJob,
    stop: &AtomicBool,
) -> Expansion {
    let queue = &fed.inner.fanout;
    let config = &fed.inner.fanout_config;
    let counters = &fed.inner.fanout_counters;
    let mut lease = claimed.lease;
    let job_id = lease.job;
    let mut job = match FanoutJob::open(claimed) {
        Ok(job) => job,
        Err(error) => {
            let record = AttemptRecord {
                error: Some(error.to_string()),
                ..AttemptRecord::default()
            };
            let _ = queue.give_up(&lease, record).await;
            return Expansion::Dropped { job: job_id, error };
        }
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            let _ = queue.defer(&lease, now()).await;
            return Expansion::Stopped { job: job_id };
        }
        match expand_batch(fed, &mut job, config.batch, counters).await {
            Ok(Step::More) => {
                let until = now().saturating_add(config.lease);
                match queue.checkpoint(&lease, job.progress.encode(), until).await {
                    Ok(renewed) => lease = renewed,
                    Err(_) => return Expansion::LeaseLost { job: job_id },
                }
            }
            Ok(Step::Done) => {
                return match queue.ack(&lease, AttemptRecord::default()).await {
                    Ok(()) => {
                        Counters::add(&counters.expanded, 1);
                        Expansion::Done {
                            job: job_id,
                            batches: job.progress.batches,
                        }
                    }
                    Err(_) => Expansion::LeaseLost { job: job_id },
                };
            }
            Err(error) => {
                Counters::add(&counters.failed_batches, 1);
                let record = AttemptRecord {
                    error: Some(error.to_string()),
                    ..AttemptRecord::default()
                };
                let at = now().saturating_add(config.retry_after);
                let _ = queue.retry_at(&lease, at, record).await;
                return Expansion::Retried { job: job_id, error };
            }
        }
    }
}
