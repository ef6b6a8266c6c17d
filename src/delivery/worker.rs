//! The worker pool (feature `delivery`): claims jobs from a
//! [`DeliveryQueue`], sends them through a [`Delivery`] with global and
//! per-host concurrency limits, and settles each by its outcome.
//!
//! # Shutdown
//!
//! [`Workers::shutdown`] stops claiming, lets in-flight attempts finish for
//! [`WorkerConfig::shutdown_grace`], then cancels the rest and releases
//! their leases with [`DeliveryQueue::defer`] so they are due at once for
//! the next worker: nothing is lost and nothing waits for a lease to lapse.
//! [`Workers::abort`] is a crash: leases are left to lapse and the jobs are
//! re-claimed after [`WorkerConfig::lease`] (possibly delivered twice; see
//! the [queue contract](super::queue)).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tokio::task::JoinSet;

use super::{
    BreakerConfig, ClaimRequest, Delivery, DeliveryError, DeliveryEvent, DeliveryQueue,
    DeliveryReport, DialectMemory, HostBreaker, JobId, Lease, NewActivity, QueueStats, RetryPolicy,
    Spec, Timestamp,
};
use crate::clock::{Clock, SystemClock};

mod attempt;

pub(crate) use attempt::AbortOnDrop;
mod status;

pub use status::{
    AttemptCounts, DeliveryStatus, HostCounts, HostState, HostStatus, LATENCY_BUCKETS,
    LatencyHistogram, MAX_ERROR_LEN, RecentFailure,
};

/// What to do with the jobs of a host the breaker marked dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeadHostAction {
    /// Postpone them, without counting an attempt, until the next probe;
    /// give a job up with [`GiveUpReason::HostDead`](super::GiveUpReason::HostDead)
    /// once it is older than [`RetryPolicy::max_age`]. Nothing is dropped
    /// while the host might still come back.
    #[default]
    Defer,
    /// Give them up at once with `HostDead` (Mastodon's behaviour for
    /// domains marked unavailable).
    GiveUp,
}

/// Tuning of [`Workers`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// Attempts in flight at once, all hosts together (default 64).
    pub concurrency: usize,
    /// Attempts in flight at once to one host (default 4).
    pub per_host: usize,
    /// Lease taken on each claimed job; must exceed the longest attempt,
    /// both knocks included (default 120 s).
    pub lease: Duration,
    /// Longest wait between queue polls when idle (default 1 s); enqueues
    /// through [`Workers::enqueue`] and finished attempts wake the pool at once.
    pub poll_interval: Duration,
    /// A safety net around each `Delivery::send` call (default 60 s); the
    /// HTTP client's own timeout should be shorter.
    pub attempt_timeout: Duration,
    /// Backoff schedule.
    pub retry: RetryPolicy,
    /// Dead-host breaker tuning.
    pub breaker: BreakerConfig,
    /// Jobs of dead hosts: defer or give up.
    pub dead_host: DeadHostAction,
    /// The dialect of the first knock at a host with no remembered dialect
    /// (default draft-cavage, which every server verifies today).
    pub first_dialect: Spec,
    /// Retry once with the other dialect on 400/401/403, and on 5xx at the
    /// first knock on an unknown host (default `true`). A 400/401 carrying an
    /// RFC 9421 `Accept-Signature` challenge is retried once in the form it
    /// asks for instead, whatever this says; one this sender cannot meet
    /// (or read) falls back to the other dialect when this is on.
    pub double_knock: bool,
    /// Hosts whose accepted dialect is remembered (default 10 000).
    pub dialect_memory: usize,
    /// Time in-flight attempts get to finish on shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// How often the pool logs the queue's backlog (due, leased, total) as
    /// a `tracing` event at INFO (default 60 s).
    pub stats_interval: Duration,
    /// Per-job lines kept in the pool's [`DeliveryReport`]; the oldest are
    /// dropped past it, counters are kept (default 100 000).
    pub report_jobs: usize,
    /// Capacity of the event broadcast; slow subscribers miss events (the
    /// [`DeliveryReport`] kept by the pool never does) (default 4096).
    pub event_capacity: usize,
    /// Hosts whose state, last error and counts are kept for
    /// [`Workers::status`]; the least recently attempted is forgotten past
    /// it (default 10 000).
    pub hosts_tracked: usize,
    /// Failed attempts kept for [`Workers::status`], the newest (default 100).
    pub recent_failures: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 64,
            per_host: 4,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            dead_host: DeadHostAction::default(),
            first_dialect: Spec::Cavage,
            double_knock: true,
            dialect_memory: 10_000,
            shutdown_grace: Duration::from_secs(10),
            stats_interval: Duration::from_secs(60),
            report_jobs: 100_000,
            event_capacity: 4096,
            hosts_tracked: 10_000,
            recent_failures: 100,
        }
    }
}

/// Builders, one per field: the struct is `#[non_exhaustive]`, so it is
/// built from [`Default`] and adjusted.
impl WorkerConfig {
    /// Sets [`concurrency`](Self::concurrency).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets [`per_host`](Self::per_host).
    pub fn with_per_host(mut self, per_host: usize) -> Self {
        self.per_host = per_host;
        self
    }

    /// Sets [`lease`](Self::lease).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Sets [`attempt_timeout`](Self::attempt_timeout).
    pub fn with_attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.attempt_timeout = attempt_timeout;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`breaker`](Self::breaker).
    pub fn with_breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// Sets [`dead_host`](Self::dead_host).
    pub fn with_dead_host(mut self, dead_host: DeadHostAction) -> Self {
        self.dead_host = dead_host;
        self
    }

    /// Sets [`first_dialect`](Self::first_dialect).
    pub fn with_first_dialect(mut self, first_dialect: Spec) -> Self {
        self.first_dialect = first_dialect;
        self
    }

    /// Sets [`double_knock`](Self::double_knock).
    pub fn with_double_knock(mut self, double_knock: bool) -> Self {
        self.double_knock = double_knock;
        self
    }

    /// Sets [`dialect_memory`](Self::dialect_memory).
    pub fn with_dialect_memory(mut self, dialect_memory: usize) -> Self {
        self.dialect_memory = dialect_memory;
        self
    }

    /// Sets [`shutdown_grace`](Self::shutdown_grace).
    pub fn with_shutdown_grace(mut self, shutdown_grace: Duration) -> Self {
        self.shutdown_grace = shutdown_grace;
        self
    }

    /// Sets [`stats_interval`](Self::stats_interval).
    pub fn with_stats_interval(mut self, stats_interval: Duration) -> Self {
        self.stats_interval = stats_interval;
        self
    }

    /// Sets [`report_jobs`](Self::report_jobs).
    pub fn with_report_jobs(mut self, report_jobs: usize) -> Self {
        self.report_jobs = report_jobs;
        self
    }

    /// Sets [`event_capacity`](Self::event_capacity).
    pub fn with_event_capacity(mut self, event_capacity: usize) -> Self {
        self.event_capacity = event_capacity;
        self
    }

    /// Sets [`hosts_tracked`](Self::hosts_tracked).
    pub fn with_hosts_tracked(mut self, hosts_tracked: usize) -> Self {
        self.hosts_tracked = hosts_tracked;
        self
    }

    /// Sets [`recent_failures`](Self::recent_failures).
    pub fn with_recent_failures(mut self, recent_failures: usize) -> Self {
        self.recent_failures = recent_failures;
        self
    }
}

/// State shared between the dispatcher and the attempt tasks.
pub(crate) struct Shared {
    pub(crate) queue: Arc<dyn DeliveryQueue>,
    pub(crate) delivery: Arc<dyn Delivery>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WorkerConfig,
    pub(crate) state: Mutex<State>,
    pub(crate) wake: Notify,
    pub(crate) events: broadcast::Sender<DeliveryEvent>,
}

/// Mutable bookkeeping, behind one lock held only briefly.
pub(crate) struct State {
    pub(crate) busy: BTreeMap<String, usize>,
    pub(crate) paused: HashMap<String, Timestamp>,
    pub(crate) in_flight: HashMap<JobId, Lease>,
    pub(crate) breaker: HostBreaker,
    pub(crate) dialects: DialectMemory,
    pub(crate) report: DeliveryReport,
    /// What the operator sees: hosts, recent failures, counts, latency.
    pub(crate) observed: status::Observed,
}

impl Shared {
    /// "Now" from the injected clock, at the queue's millisecond resolution.
    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_system_time(self.clock.now())
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements; a poisoned lock
        // only means an attempt task panicked, which must not stop delivery.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn emit(&self, event: DeliveryEvent) {
        {
            let mut st = self.state();
            st.report.record(&event);
            if let DeliveryEvent::Deferred { .. } = event {
                st.observed.deferred();
            }
            // Bound memory in a long-running server: forget the oldest job
            // lines (the counters keep counting).
            while st.report.jobs.len() > self.config.report_jobs {
                st.report.jobs.pop_first();
            }
        }
        // No subscriber is fine.
        let _ = self.events.send(event);
    }
}

/// A running pool of delivery workers.
///
/// ```no_run
/// # async fn demo(delivery: std::sync::Arc<dyn archipel::delivery::Delivery>,
/// #               plan: archipel::delivery::DeliveryPlan) -> Result<(), archipel::Error> {
/// use archipel::delivery::{MemoryQueue, NewActivity, WorkerConfig, Workers};
/// use std::sync::Arc;
/// let workers = Workers::start(Arc::new(MemoryQueue::new()), delivery, WorkerConfig::default());
/// use archipel::vocab::Iri;
/// let key_id = Iri::parse("https://me.example/u/alice#main-key")?;
/// workers.enqueue(NewActivity::from_plan(&plan, key_id)).await?;
/// // ... later
/// let stopped = workers.shutdown().await;
/// println!("{} delivered, {} given up", stopped.report.delivered, stopped.report.given_up);
/// # Ok(()) }
/// ```
pub struct Workers {
    shared: Arc<Shared>,
    stop: Arc<Notify>,
    /// Set by [`Workers::abort`]: the claim loop cancels its attempts and
    /// returns without releasing their leases.
    crash: Arc<AtomicBool>,
    dispatcher: tokio::task::JoinHandle<Vec<JobId>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts a pool on the current tokio runtime with the system clock.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(
        queue: Arc<dyn DeliveryQueue>,
        delivery: Arc<dyn Delivery>,
        config: WorkerConfig,
    ) -> Self {
        Self::start_with_clock(queue, delivery, config, Arc::new(SystemClock))
    }

    /// Starts a pool whose retry, lease and breaker decisions read `clock`.
    pub fn start_with_clock(
        queue: Arc<dyn DeliveryQueue>,
        delivery: Arc<dyn Delivery>,
        config: WorkerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let state = State {
            busy: BTreeMap::new(),
            paused: HashMap::new(),
            in_flight: HashMap::new(),
            breaker: HostBreaker::new(config.breaker.clone()),
            dialects: DialectMemory::new(config.dialect_memory),
            report: DeliveryReport::default(),
            observed: status::Observed::new(config.hosts_tracked, config.recent_failures),
        };
        let shared = Arc::new(Shared {
            queue,
            delivery,
            clock,
            config,
            state: Mutex::new(state),
            wake: Notify::new(),
            events,
        });
        let stop = Arc::new(Notify::new());
        let crash = Arc::new(AtomicBool::new(false));
        let dispatcher = tokio::spawn(dispatch(shared.clone(), stop.clone(), crash.clone()));
        Workers {
            shared,
            stop,
            crash,
            dispatcher,
        }
    }

    /// Persists an activity's jobs and wakes the pool.
    pub async fn enqueue(&self, activity: NewActivity) -> Result<Vec<JobId>, DeliveryError> {
        let now = self.shared.now();
        let ids = self.shared.queue.enqueue_activity(activity, now).await?;
        self.wake();
        Ok(ids)
    }

    /// Wakes the pool (after enqueueing through the queue directly).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// A stream of events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DeliveryEvent> {
        self.shared.events.subscribe()
    }

    /// The report of everything this pool did so far (a copy: for
    /// frequent polling prefer [`finished`](Self::finished)).
    pub fn report(&self) -> DeliveryReport {
        self.shared.state().report.clone()
    }

    /// Jobs this pool brought to a final state (delivered, gone, given up),
    /// without copying the report.
    pub fn finished(&self) -> usize {
        self.shared.state().report.finished()
    }

    /// The queue's counts now: `due` is the backlog waiting for a worker.
    pub async fn backlog(&self) -> Result<QueueStats, DeliveryError> {
        self.shared.queue.stats(self.shared.now()).await
    }

    /// The operator's view now: the queue's backlog and its oldest age,
    /// each tracked host's state with its next attempt and last error, the
    /// latest failures, attempts by outcome and their latency.
    ///
    /// # Errors
    /// When the queue cannot count its jobs.
    pub async fn status(&self) -> Result<DeliveryStatus, DeliveryError> {
        let queue = self.backlog().await?;
        let now = self.shared.now();
        let st = self.shared.state();
        let hosts = st
            .observed
            .hosts(now, &st.paused, |host| st.breaker.view(host));
        Ok(DeliveryStatus {
            now,
            queue,
            oldest_pending_age: queue.oldest_created_at.map(|t| now.saturating_since(t)),
            in_flight: st.in_flight.len(),
            host_counts: status::count(&hosts),
            hosts,
            recent_failures: st.observed.recent_failures(),
            attempts: st.observed.attempts,
            latency: st.observed.latency.clone(),
        })
    }

    /// Each tracked host's state now (dead, paused, failing, healthy), with
    /// its next attempt and last error; the synchronous part of
    /// [`status`](Self::status).
    pub fn hosts(&self) -> Vec<HostStatus> {
        let now = self.shared.now();
        let st = self.shared.state();
        st.observed
            .hosts(now, &st.paused, |host| st.breaker.view(host))
    }

    /// Jobs being attempted right now.
    pub fn in_flight(&self) -> Vec<JobId> {
        let mut ids: Vec<JobId> = self.shared.state().in_flight.keys().copied().collect();
        ids.sort();
        ids
    }

    /// The dialect remembered for `host`, if any.
    pub fn remembered_dialect(&self, host: &str) -> Option<Spec> {
        self.shared.state().dialects.get(host)
    }

    /// Stops claiming, waits up to the grace period for in-flight attempts,
    /// then releases the leases of the unfinished ones (due at once).
    pub async fn shutdown(self) -> Stopped {
        self.stop.notify_one();
        let released = self.dispatcher.await.unwrap_or_default();
        Stopped {
            report: self.shared.state().report.clone(),
            unsettled: released,
        }
    }

    /// Stops at once as if the process crashed: in-flight attempts are
    /// cancelled and their leases left to lapse; `unsettled` lists them.
    pub async fn abort(self) -> Stopped {
        // The claim loop cancels its attempt tasks and waits until each
        // has stopped before returning: an attempt running on another
        // thread may still settle its job, and the report read below must
        // include it (dropping the task set would cancel without waiting).
        self.crash.store(true, Ordering::SeqCst);
        self.stop.notify_one();
        let unsettled = self.dispatcher.await.unwrap_or_default();
        Stopped {
            report: self.shared.state().report.clone(),
            unsettled,
        }
    }
}

/// What a stopped pool leaves behind.
#[derive(Debug, Clone, Default)]
pub struct Stopped {
    /// Everything the pool did.
    pub report: DeliveryReport,
    /// Jobs claimed but not settled when it stopped: released to the queue
    /// by [`Workers::shutdown`], left leased by [`Workers::abort`].
    pub unsettled: Vec<JobId>,
}

/// The claim loop.
async fn dispatch(shared: Arc<Shared>, stop: Arc<Notify>, crash: Arc<AtomicBool>) -> Vec<JobId> {
    let mut tasks = JoinSet::new();
    let config = &shared.config;
    let mut last_stats = tokio::time::Instant::now();
    // Since when the pool has been nearly full without claiming.
    let mut holding_since: Option<tokio::time::Instant> = None;
    loop {
        if crash.load(Ordering::SeqCst) {
            break;
        }
        while tasks.try_join_next().is_some() {}
        if last_stats.elapsed() >= config.stats_interval {
            last_stats = tokio::time::Instant::now();
            log_backlog(&shared).await;
        }
        // Full: nothing to claim, and a finishing attempt wakes the loop.
        // Nearly full: wait until a batch of slots is free rather than
        // claim (a transaction) for every attempt that finishes, but not
        // longer than `CLAIM_HOLD` (attempts stuck on slow hosts must not
        // keep the free slots from jobs for healthy ones).
        let free = config
            .concurrency
            .saturating_sub(shared.state().in_flight.len());
        let full = free == 0;
        let now = tokio::time::Instant::now();
        let hold_until = if !full && free < claim_batch(config) && !tasks.is_empty() {
            let since = *holding_since.get_or_insert(now);
            Some(since + CLAIM_HOLD).filter(|until| *until > now)
        } else {
            None
        };
        if hold_until.is_none() {
            holding_since = None;
        }
        if !full && hold_until.is_none() {
            let claimed = match claim_some(&shared).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery: claim failed");
                    Vec::new()
                }
            };
            let got_any = !claimed.is_empty();
            for job in claimed {
                tasks.spawn(attempt::run(shared.clone(), job));
            }
            if got_any && shared.state().in_flight.len() < config.concurrency {
                // There may be more due; claim again right away.
                continue;
            }
        }
        // Full or holding, a finishing attempt wakes the loop (or the end
        // of the hold): the queue need not be asked when its next job is
        // due.
        let sleep = match hold_until {
            Some(until) => until.saturating_duration_since(now),
            None if full || shared.state().in_flight.len() >= config.concurrency => {
                config.poll_interval
            }
            None => idle_sleep(&shared).await,
        };
        tokio::select! {
            _ = stop.notified() => break,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    if crash.load(Ordering::SeqCst) {
        // A crash: cancel every attempt where it stands and leave the
        // leases to lapse, but wait until the tasks are gone.
        tasks.shutdown().await;
        let mut unsettled: Vec<JobId> = shared.state().in_flight.keys().copied().collect();
        unsettled.sort();
        return unsettled;
    }
    // Graceful: let in-flight attempts finish, then release the rest.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(config.shutdown_grace, drain)
        .await
        .is_err()
    {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let leftover: Vec<Lease> = shared.state().in_flight.drain().map(|(_, l)| l).collect();
    let now = shared.now();
    let mut released: Vec<JobId> = leftover.iter().map(|l| l.job).collect();
    released.sort();
    for lease in leftover {
        match shared.queue.defer(&lease, now).await {
            Ok(()) => {
                let inbox = match shared.queue.get(lease.job).await {
                    Ok(Some(job)) => job.inbox.into(),
                    _ => String::new(),
                };
                shared.emit(DeliveryEvent::Deferred {
                    job: lease.job,
                    inbox,
                    until: now,
                });
            }
            Err(e) => {
                tracing::warn!(job = %lease.job, error = %e, "delivery: release on shutdown failed")
            }
        }
    }
    released
}

/// Logs the queue's backlog, so operators see it forming.
async fn log_backlog(shared: &Shared) {
    let in_flight = shared.state().in_flight.len();
    match shared.queue.stats(shared.now()).await {
        Ok(stats) => tracing::info!(
            due = stats.due,
            leased = stats.leased,
            total = stats.total,
            in_flight,
            "delivery backlog"
        ),
        Err(e) => tracing::warn!(error = %e, "delivery: queue stats failed"),
    }
}

/// The fewest free slots worth a claim while attempts are in flight: an
/// eighth of the pool. A saturated pool then claims in batches, one
/// transaction per batch instead of one per finished attempt, and loses
/// nothing: the other seven eighths are still in flight. A pool with
/// nothing in flight claims whatever is due at once.
fn claim_batch(config: &WorkerConfig) -> usize {
    (config.concurrency / 8).max(1)
}

/// The longest a nearly full pool waits for a batch of free slots before
/// it claims for the few it has. A draining pool frees a batch within a
/// few milliseconds; one whose attempts hang on slow hosts still fills
/// its free slots.
const CLAIM_HOLD: Duration = Duration::from_millis(20);

/// Claims as many jobs as free slots allow and books them as in flight.
async fn claim_some(shared: &Shared) -> Result<Vec<super::ClaimedJob>, DeliveryError> {
    let config = &shared.config;
    let now = shared.now();
    let request = {
        let mut st = shared.state();
        let free = config.concurrency.saturating_sub(st.in_flight.len());
        if free == 0 {
            return Ok(Vec::new());
        }
        st.paused.retain(|_, until| *until > now);
        ClaimRequest {
            now,
            limit: free,
            lease_for: config.lease,
            per_host_limit: config.per_host.max(1),
            busy: st.busy.clone(),
            paused: st.paused.keys().cloned().collect::<BTreeSet<_>>(),
        }
    };
    let claimed = shared.queue.claim(&request).await?;
    let mut st = shared.state();
    for job in &claimed {
        *st.busy.entry(job.job.host.clone()).or_insert(0) += 1;
        st.in_flight.insert(job.job.id, job.lease);
    }
    Ok(claimed)
}

/// How long to sleep when there is nothing to claim.
async fn idle_sleep(shared: &Shared) -> Duration {
    let poll = shared.config.poll_interval;
    let now = shared.now();
    let mut wait = match shared.queue.next_due().await {
        // Due now but not claimable (host saturated): a finishing attempt wakes us.
        Ok(Some(at)) if at > now => at.saturating_since(now).min(poll),
        _ => poll,
    };
    if let Some(until) = shared.state().paused.values().min() {
        wait = wait.min(until.saturating_since(now));
    }
    // Never spin: a due job on a saturated host is woken by a finishing task.
    wait.max(Duration::from_millis(5))
}
