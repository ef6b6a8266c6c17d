//! [`MemoryQueue`]: the default, in-process [`DeliveryQueue`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{
    AttemptRecord, BodyId, ClaimRequest, ClaimedJob, DeliveryQueue, JobId, JobRecord, Lease,
    LeaseInfo, NewActivity, QueueStats, check_progress, host_of,
};
use crate::delivery::{DeliveryError, PreparedBody, Timestamp};

/// An in-process [`DeliveryQueue`]: jobs survive worker restarts within the
/// process (leases lapse and jobs are re-claimed), not process restarts.
///
/// Bodies are stored once per activity and dropped when its last job settles.
/// Unclaimed jobs are indexed per host, and hosts by their earliest due job,
/// so a claim costs O(hosts with due jobs + jobs claimed) however deep one
/// host's backlog is; hosts are served in order of their oldest due job.
/// A job behind an unsettled one with the same ordering key to the same
/// inbox is held out of that index until its predecessor settles.
///
/// ```
/// # futures_lite_block_on(async {
/// use archipel::delivery::{DeliveryQueue, MemoryQueue, NewActivity, PreparedBody, Timestamp};
/// use archipel::vocab::Iri;
/// let queue = MemoryQueue::new();
/// let ids = queue.enqueue_activity(NewActivity::new(
///     Iri::parse("https://a.example/act/1")?,
///     PreparedBody::new(bytes::Bytes::from_static(b"{}")),
///     Iri::parse("https://a.example/u/alice#main-key")?,
///     vec![url::Url::parse("https://b.example/inbox")?],
/// ), Timestamp::from_millis(0)).await?;
/// assert_eq!(ids.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryQueue {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_job: u64,
    next_body: u64,
    next_token: u64,
    bodies: HashMap<BodyId, (PreparedBody, usize)>,
    jobs: HashMap<JobId, JobRecord>,
    /// Unclaimed jobs per host, by due time.
    ready: HashMap<String, BTreeSet<(Timestamp, JobId)>>,
    /// Hosts with unclaimed jobs, by their earliest due time.
    heads: BTreeSet<(Timestamp, String)>,
    /// Claimed jobs by lease expiry.
    leased: BTreeSet<(Timestamp, JobId)>,
    /// Unsettled jobs with an ordering key, per key and inbox, by id. Only
    /// the first of each group is in `ready` or `leased`; the others are
    /// held until it settles, so the rule costs nothing per claim. Nested
    /// maps, so a settle looks its group up by `&str` without allocating.
    orders: HashMap<String, HashMap<String, BTreeSet<JobId>>>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in
        // a way that breaks invariants worse than losing the panicking call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Adds an unclaimed job to the per-host index.
    fn ready_insert(&mut self, host: &str, at: Timestamp, id: JobId) {
        let set = self.ready.entry(host.to_owned()).or_default();
        let old = set.first().map(|(t, _)| *t);
        set.insert((at, id));
        let new = set.first().map(|(t, _)| *t);
        if old != new {
            if let Some(old) = old {
                self.heads.remove(&(old, host.to_owned()));
            }
            if let Some(new) = new {
                self.heads.insert((new, host.to_owned()));
            }
        }
    }

    /// Removes an unclaimed job from the per-host index (if it is there).
    fn ready_remove(&mut self, host: &str, at: Timestamp, id: JobId) {
        let Some(set) = self.ready.get_mut(host) else {
            return;
        };
        let old = set.first().map(|(t, _)| *t);
        if !set.remove(&(at, id)) {
            return;
        }
        let new = set.first().map(|(t, _)| *t);
        if set.is_empty() {
            self.ready.remove(host);
        }
        if old != new {
            if let Some(old) = old {
                self.heads.remove(&(old, host.to_owned()));
            }
            if let Some(new) = new {
                self.heads.insert((new, host.to_owned()));
            }
        }
    }

    /// Checks the lease and detaches the job from the leased index.
    fn take_leased(&mut self, lease: &Lease) -> Result<JobRecord, DeliveryError> {
        let job = self
            .jobs
            .get(&lease.job)
            .ok_or(DeliveryError::LeaseLost { job: lease.job })?;
        match job.lease {
            Some(info) if info.token == lease.token => {}
            _ => return Err(DeliveryError::LeaseLost { job: lease.job }),
        }
        let mut job = self
            .jobs
            .remove(&lease.job)
            .ok_or(DeliveryError::LeaseLost { job: lease.job })?;
        if let Some(info) = job.lease.take() {
            self.leased.remove(&(info.until, job.id));
        }
        // A lapsed lease may already have been moved back to `ready`.
        self.ready_remove(&job.host, job.next_attempt_at, job.id);
        Ok(job)
    }

    /// Drops a settled job from its ordering group and makes the next job
    /// of the group (held until now) claimable.
    fn release_order(&mut self, job: &JobRecord) {
        let Some(key) = &job.order_key else {
            return;
        };
        let Some(inboxes) = self.orders.get_mut(key.as_str()) else {
            return;
        };
        let inbox = job.inbox.as_str();
        let Some(group) = inboxes.get_mut(inbox) else {
            return;
        };
        group.remove(&job.id);
        let next = group.first().copied();
        if group.is_empty() {
            inboxes.remove(inbox);
            if inboxes.is_empty() {
                self.orders.remove(key.as_str());
            }
        }
        let Some(next) = next else {
            return;
        };
        // A held job was never claimed, so it has no lease and is not in
        // `ready` yet.
        if let Some(held) = self.jobs.get(&next)
            && held.lease.is_none()
        {
            let (host, at) = (held.host.clone(), held.next_attempt_at);
            self.ready_insert(&host, at, next);
        }
    }

    /// Held jobs (not first in their ordering group) due at or before `now`.
    fn held_due(&self, now: Timestamp) -> usize {
        self.orders
            .values()
            .flat_map(HashMap::values)
            .flat_map(|group| group.iter().skip(1))
            .filter(|id| self.jobs.get(id).is_some_and(|j| j.next_attempt_at <= now))
            .count()
    }

    fn release_body(&mut self, body: BodyId) {
        let drop_it = match self.bodies.get_mut(&body) {
            Some((_, refs)) => {
                *refs = refs.saturating_sub(1);
                *refs == 0
            }
            None => false,
        };
        if drop_it {
            self.bodies.remove(&body);
        }
    }

    fn reinsert(&mut self, mut job: JobRecord, at: Timestamp) {
        job.next_attempt_at = at;
        self.ready_insert(&job.host, at, job.id);
        self.jobs.insert(job.id, job);
    }

    /// Moves jobs whose lease lapsed at or before `now` back to `ready`.
    fn reclaim_lapsed(&mut self, now: Timestamp) {
        while let Some(&(until, id)) = self.leased.first() {
            if until > now {
                break;
            }
            self.leased.pop_first();
            if let Some(job) = self.jobs.get_mut(&id) {
                // Keep `lease` set: the old holder may still settle the job
                // until someone else claims it (then the token changes).
                job.next_attempt_at = until;
                let host = job.host.clone();
                self.ready_insert(&host, until, id);
            }
        }
    }
}

#[async_trait::async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn enqueue_activity(
        &self,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        let mut inner = self.lock();
        if activity.inboxes.is_empty() {
            return Ok(Vec::new());
        }
        inner.next_body += 1;
        let body_id = BodyId(inner.next_body);
        inner
            .bodies
            .insert(body_id, (activity.body, activity.inboxes.len()));
        let mut ids = Vec::with_capacity(activity.inboxes.len());
        for inbox in &activity.inboxes {
            inner.next_job += 1;
            let id = JobId(inner.next_job);
            let job = JobRecord {
                id,
                body_id,
                activity_id: activity.activity_id.clone(),
                inbox: inbox.clone(),
                host: host_of(inbox),
                key_id: activity.key_id.clone(),
                attempts: 0,
                claims: 0,
                created_at: now,
                next_attempt_at: now,
                lease: None,
                last_status: None,
                last_error: None,
                dialect: activity.dialect,
                order_key: activity.order_key.clone(),
                progress: None,
                collection_sync: activity.collection_sync.get(inbox).cloned(),
            };
            // Behind an unsettled job with the same key to the same inbox,
            // the job is held rather than made claimable.
            let held = match &activity.order_key {
                Some(key) => {
                    let group = inner
                        .orders
                        .entry(key.clone())
                        .or_default()
                        .entry(inbox.as_str().to_owned())
                        .or_default();
                    group.insert(id);
                    group.len() > 1
                }
                None => false,
            };
            if held {
                inner.jobs.insert(id, job);
            } else {
                inner.reinsert(job, now);
            }
            ids.push(id);
        }
        Ok(ids)
    }

    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, DeliveryError> {
        let mut inner = self.lock();
        inner.reclaim_lapsed(request.now);
        let mut picked: Vec<(String, Timestamp, JobId)> = Vec::new();
        for (head, host) in &inner.heads {
            if *head > request.now || picked.len() >= request.limit {
                break;
            }
            if request.paused.contains(host) {
                continue;
            }
            let busy = request.busy.get(host).copied().unwrap_or(0);
            let room = request
                .per_host_limit
                .saturating_sub(busy)
                .min(request.limit.saturating_sub(picked.len()));
            if room == 0 {
                continue;
            }
            let Some(set) = inner.ready.get(host) else {
                continue;
            };
            for &(due, id) in set.iter().take_while(|(t, _)| *t <= request.now).take(room) {
                picked.push((host.clone(), due, id));
            }
        }
        let until = request.now.saturating_add(request.lease_for);
        let mut out = Vec::with_capacity(picked.len());
        for (host, due, id) in picked {
            inner.ready_remove(&host, due, id);
            inner.next_token += 1;
            let token = inner.next_token;
            let Some(job) = inner.jobs.get_mut(&id) else {
                continue;
            };
            job.claims = job.claims.saturating_add(1);
            job.lease = Some(LeaseInfo { token, until });
            let job = job.clone();
            inner.leased.insert((until, id));
            let Some((body, _)) = inner.bodies.get(&job.body_id) else {
                return Err(DeliveryError::Queue(format!(
                    "{id}: body {} missing",
                    job.body_id.0
                )));
            };
            out.push(ClaimedJob {
                lease: Lease {
                    job: id,
                    token,
                    until,
                },
                body: body.clone(),
                job,
            });
        }
        Ok(out)
    }

    async fn ack(&self, lease: &Lease, _attempt: AttemptRecord) -> Result<(), DeliveryError> {
        let mut inner = self.lock();
        let job = inner.take_leased(lease)?;
        inner.release_order(&job);
        inner.release_body(job.body_id);
        Ok(())
    }

    async fn retry_at(
        &self,
        lease: &Lease,
        at: Timestamp,
        attempt: AttemptRecord,
    ) -> Result<(), DeliveryError> {
        let mut inner = self.lock();
        let mut job = inner.take_leased(lease)?;
        job.attempts = job.attempts.saturating_add(1);
        job.last_status = attempt.status;
        job.last_error = attempt.error;
        if attempt.dialect.is_some() {
            job.dialect = attempt.dialect;
        }
        inner.reinsert(job, at);
        Ok(())
    }

    async fn defer(&self, lease: &Lease, at: Timestamp) -> Result<(), DeliveryError> {
        let mut inner = self.lock();
        let job = inner.take_leased(lease)?;
        inner.reinsert(job, at);
        Ok(())
    }

    async fn give_up(&self, lease: &Lease, _attempt: AttemptRecord) -> Result<(), DeliveryError> {
        let mut inner = self.lock();
        let job = inner.take_leased(lease)?;
        inner.release_order(&job);
        inner.release_body(job.body_id);
        Ok(())
    }

    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: Vec<u8>,
        until: Timestamp,
    ) -> Result<Lease, DeliveryError> {
        check_progress(lease, &progress)?;
        let mut inner = self.lock();
        let lost = DeliveryError::LeaseLost { job: lease.job };
        let (old_until, host, due) = match inner.jobs.get(&lease.job) {
            Some(JobRecord {
                lease: Some(info),
                host,
                next_attempt_at,
                ..
            }) if info.token == lease.token => (info.until, host.clone(), *next_attempt_at),
            _ => return Err(lost),
        };
        // A lapsed lease may already have been moved back to `ready`; the
        // holder keeps the job as long as nobody else claimed it.
        inner.leased.remove(&(old_until, lease.job));
        inner.ready_remove(&host, due, lease.job);
        inner.leased.insert((until, lease.job));
        let job = inner.jobs.get_mut(&lease.job).ok_or(lost)?;
        job.lease = Some(LeaseInfo {
            token: lease.token,
            until,
        });
        job.progress = Some(progress);
        Ok(Lease {
            job: lease.job,
            token: lease.token,
            until,
        })
    }

    async fn get(&self, job: JobId) -> Result<Option<JobRecord>, DeliveryError> {
        Ok(self.lock().jobs.get(&job).cloned())
    }

    async fn stats(&self, now: Timestamp) -> Result<QueueStats, DeliveryError> {
        let inner = self.lock();
        let due = inner
            .ready
            .values()
            .map(|set| set.iter().take_while(|(t, _)| *t <= now).count())
            .sum::<usize>()
            + inner.leased.iter().take_while(|(t, _)| *t <= now).count()
            + inner.held_due(now);
        let leased = inner.leased.iter().filter(|(t, _)| *t > now).count();
        Ok(QueueStats {
            total: inner.jobs.len(),
            due,
            leased,
            bodies: inner.bodies.len(),
            oldest_created_at: inner.jobs.values().map(|j| j.created_at).min(),
        })
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError> {
        let inner = self.lock();
        let ready = inner.heads.first().map(|(t, _)| *t);
        let lease = inner.leased.first().map(|(t, _)| *t);
        Ok(match (ready, lease) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }
}

#[cfg(test)]
mod tests;
