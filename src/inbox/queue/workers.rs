//! [`InboundWorkers`] (feature `delivery`): claim stored activities, run
//! the dispatcher, settle each by its outcome.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{InboundQueue, decode};
use crate::delivery::{
    AttemptRecord, ClaimRequest, ClaimedJob, JobId, Lease, RetryPolicy, Timestamp,
};
use crate::federation::dispatch::Dispatcher;

/// Tuning of [`InboundWorkers`]. The defaults suit a small server (two
/// cores): handlers mostly wait on a database or an origin fetch, so a few
/// run at once, and one origin gets at most a quarter of them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InboundConfig {
    /// Activities processed at once, all origins together (default 16).
    pub concurrency: usize,
    /// Activities of one origin (the sender's `host[:port]`) processed at
    /// once (default 4), so one busy origin cannot starve the others.
    pub per_origin: usize,
    /// Lease taken on each claimed activity; must exceed
    /// [`handler_timeout`](Self::handler_timeout) (default 120 s). A worker
    /// that dies holding one leaves it to lapse, then another runs it.
    pub lease: Duration,
    /// Longest a handler may run before the attempt counts as failed and
    /// is retried (default 60 s).
    pub handler_timeout: Duration,
    /// Longest wait between queue polls when idle (default 1 s); an
    /// [`InboundQueue::enqueue`] wakes the pool at once.
    pub poll_interval: Duration,
    /// Backoff of failed attempts (default: 8 attempts, the first retry
    /// after 10 s, ×3 each time, at most 1 h apart, given up after a day:
    /// retries over about 2.5 hours).
    pub retry: RetryPolicy,
    /// Time in-flight handlers get to finish on [`InboundWorkers::shutdown`]
    /// (default 10 s); the rest are released to the queue.
    pub shutdown_grace: Duration,
    /// Activities the queue keeps at most, processed or not (default
    /// [`DEFAULT_MAX_DEPTH`](super::DEFAULT_MAX_DEPTH), 100,000); past it
    /// the inbox answers `503` with `Retry-After` before reading the body
    /// ([`InboundQueue::check_room`]). Set on the queue when the pool
    /// starts.
    pub max_depth: usize,
    /// How often the inbox's check ([`InboundQueue::check_room`]) reads
    /// the backend's own count of kept activities (default
    /// [`DEFAULT_DEPTH_REFRESH`](super::DEFAULT_DEPTH_REFRESH), 5 s),
    /// correcting the in-memory count (activities enqueued or settled by
    /// other machines sharing the backend, settles lost in a crash). Set
    /// on the queue when the pool starts.
    pub depth_refresh: Duration,
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig {
            concurrency: 16,
            per_origin: 4,
            lease: Duration::from_secs(120),
            handler_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            retry: RetryPolicy::default()
                .with_max_attempts(8)
                .with_initial_delay(Duration::from_secs(10))
                .with_max_delay(Duration::from_secs(3600))
                .with_max_age(Duration::from_secs(24 * 3600)),
            shutdown_grace: Duration::from_secs(10),
            max_depth: super::DEFAULT_MAX_DEPTH,
            depth_refresh: super::DEFAULT_DEPTH_REFRESH,
        }
    }
}

/// Builders, one per field: the struct is `#[non_exhaustive]`.
impl InboundConfig {
    /// Sets [`concurrency`](Self::concurrency).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets [`per_origin`](Self::per_origin).
    pub fn with_per_origin(mut self, per_origin: usize) -> Self {
        self.per_origin = per_origin;
        self
    }

    /// Sets [`lease`](Self::lease).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets [`handler_timeout`](Self::handler_timeout).
    pub fn with_handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
        self
    }

    /// Sets [`poll_interval`](Self::poll_interval).
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// Sets [`retry`](Self::retry).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`shutdown_grace`](Self::shutdown_grace).
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets [`depth_refresh`](Self::depth_refresh).
    pub fn with_depth_refresh(mut self, every: Duration) -> Self {
        self.depth_refresh = every;
        self
    }
}

/// What a stopped pool did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboundStopped {
    /// Activities this pool processed successfully.
    pub processed: u64,
    /// Failed attempts this pool scheduled for a retry.
    pub retried: u64,
    /// Activities this pool gave up.
    pub failed: u64,
    /// Activities claimed but not settled when it stopped: released to the
    /// queue by [`InboundWorkers::shutdown`], left leased by
    /// [`InboundWorkers::abort`] (a settle already running on a database
    /// thread at the crash may still land).
    pub unsettled: Vec<JobId>,
}

struct Shared {
    queue: InboundQueue,
    dispatcher: Dispatcher,
    config: InboundConfig,
    state: Mutex<State>,
    processed: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
}

#[derive(Default)]
struct State {
    busy: BTreeMap<String, usize>,
    in_flight: HashMap<JobId, Lease>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Consistent between statements; a poisoned lock only means a task
        // panicked, which must not stop processing.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, outcome: &Outcome) {
        let (mine, queue) = match outcome {
            Outcome::Done => (&self.processed, &self.queue.counters().processed),
            Outcome::Retry(..) => (&self.retried, &self.queue.counters().retried),
            Outcome::GiveUp(_) => (&self.failed, &self.queue.counters().failed),
        };
        mine.fetch_add(1, Ordering::Relaxed);
        queue.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running pool of inbound workers (see the [module docs](super)).
///
/// ```no_run
/// # async fn demo(fed: archipel::federation::Federation) {
/// use std::sync::Arc;
/// use archipel::delivery::MemoryQueue;
/// use archipel::inbox::queue::{InboundConfig, InboundQueue, InboundWorkers};
/// let inbound = InboundQueue::new(Arc::new(MemoryQueue::new()));
/// let workers = InboundWorkers::start(inbound.clone(), fed.dispatcher(), InboundConfig::default());
/// // ... the inbox route enqueues into `inbound` ...
/// let stopped = workers.shutdown().await;
/// println!("{} processed, {} given up", stopped.processed, stopped.failed);
/// # }
/// ```
pub struct InboundWorkers {
    shared: Arc<Shared>,
    stop: Arc<Notify>,
    crash: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<JobId>>,
}

impl std::fmt::Debug for InboundWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundWorkers")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl InboundWorkers {
    /// Starts a pool on the current tokio runtime, processing `queue`'s
    /// activities with `dispatcher`.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(queue: InboundQueue, dispatcher: Dispatcher, config: InboundConfig) -> Self {
        let counters = queue.counters();
        counters
            .max_depth
            .store(config.max_depth as u64, Ordering::Relaxed);
        let every = u64::try_from(config.depth_refresh.as_millis()).unwrap_or(u64::MAX);
        counters.refresh_every.store(every, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            queue,
            dispatcher,
            config,
            state: Mutex::new(State::default()),
            processed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let stop = Arc::new(Notify::new());
        let crash = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(claim_loop(shared.clone(), stop.clone(), crash.clone()));
        InboundWorkers {
            shared,
            stop,
            crash,
            task,
        }
    }

    /// Activities being processed right now.
    pub fn in_flight(&self) -> usize {
        self.shared.state().in_flight.len()
    }

    /// Stops claiming, lets in-flight handlers finish within the grace
    /// period, then releases the leases of the rest (due at once).
    pub async fn shutdown(self) -> InboundStopped {
        self.stop.notify_one();
        let shared = self.shared.clone();
        let unsettled = self.task.await.unwrap_or_default();
        stopped(&shared, unsettled)
    }

    /// Stops at once as if the process crashed: handlers are cancelled
    /// where they stand and their leases left to lapse.
    pub async fn abort(self) -> InboundStopped {
        self.crash.store(true, Ordering::SeqCst);
        self.stop.notify_one();
        let shared = self.shared.clone();
        let unsettled = self.task.await.unwrap_or_default();
        stopped(&shared, unsettled)
    }
}

fn stopped(shared: &Shared, unsettled: Vec<JobId>) -> InboundStopped {
    InboundStopped {
        processed: shared.processed.load(Ordering::Relaxed),
        retried: shared.retried.load(Ordering::Relaxed),
        failed: shared.failed.load(Ordering::Relaxed),
        unsettled,
    }
}

async fn claim_loop(shared: Arc<Shared>, stop: Arc<Notify>, crash: Arc<AtomicBool>) -> Vec<JobId> {
    let mut tasks = JoinSet::new();
    let wake = shared.queue.counters().clone();
    loop {
        if crash.load(Ordering::SeqCst) {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let claimed = match claim_some(&shared).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "inbound: claim failed");
                Vec::new()
            }
        };
        let got_any = !claimed.is_empty();
        let full = shared.state().in_flight.len() >= shared.config.concurrency.max(1);
        for job in claimed {
            tasks.spawn(process(shared.clone(), job));
        }
        if got_any && !full {
            continue;
        }
        let sleep = idle_sleep(&shared).await;
        tokio::select! {
            _ = stop.notified() => break,
            _ = wake.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    if crash.load(Ordering::SeqCst) {
        // A crash: cancel every handler and leave the leases to lapse.
        tasks.shutdown().await;
        let mut unsettled: Vec<JobId> = shared.state().in_flight.keys().copied().collect();
        unsettled.sort();
        return unsettled;
    }
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(shared.config.shutdown_grace, drain)
        .await
        .is_err()
    {
        tasks.shutdown().await;
    }
    let leftover: Vec<Lease> = shared.state().in_flight.drain().map(|(_, l)| l).collect();
    let now = now();
    let mut released: Vec<JobId> = leftover.iter().map(|l| l.job).collect();
    released.sort();
    for lease in leftover {
        if let Err(e) = shared.queue.backend().defer(&lease, now).await {
            tracing::warn!(job = %lease.job, error = %e, "inbound: release on shutdown failed");
        }
    }
    released
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

async fn claim_some(shared: &Shared) -> Result<Vec<ClaimedJob>, crate::delivery::DeliveryError> {
    let config = &shared.config;
    let request = {
        let st = shared.state();
        let free = config.concurrency.max(1).saturating_sub(st.in_flight.len());
        if free == 0 {
            return Ok(Vec::new());
        }
        ClaimRequest {
            now: now(),
            limit: free,
            lease_for: config.lease,
            per_host_limit: config.per_origin.max(1),
            busy: st.busy.clone(),
            paused: BTreeSet::new(),
        }
    };
    let claimed = shared.queue.backend().claim(&request).await?;
    let mut st = shared.state();
    for job in &claimed {
        *st.busy.entry(job.job.host.clone()).or_insert(0) += 1;
        st.in_flight.insert(job.job.id, job.lease);
    }
    Ok(claimed)
}

async fn idle_sleep(shared: &Shared) -> Duration {
    let poll = shared.config.poll_interval;
    let now = now();
    let wait = match shared.queue.backend().next_due().await {
        Ok(Some(at)) if at > now => at.saturating_since(now).min(poll),
        _ => poll,
    };
    wait.max(Duration::from_millis(5))
}

/// How one attempt ended.
enum Outcome {
    Done,
    Retry(AttemptRecord),
    GiveUp(AttemptRecord),
}

fn record(status: Option<u16>, error: String) -> AttemptRecord {
    AttemptRecord {
        status,
        error: Some(error),
        dialect: None,
    }
}

async fn process(shared: Arc<Shared>, claimed: ClaimedJob) {
    let job = claimed.job;
    let span = tracing::info_span!(
        "inbound_process",
        job = %job.id,
        activity = %job.activity_id,
        origin = %job.host,
        attempt = job.attempts + 1,
    );
    let outcome = attempt(&shared, &job.activity_id, &claimed.body)
        .instrument(span.clone())
        .await;
    let outcome = match outcome {
        Outcome::Retry(rec) => {
            let failed = job.attempts.saturating_add(1);
            match shared
                .config
                .retry
                .next_attempt(now(), job.created_at, failed, None, job.id.0)
            {
                Some(at) => {
                    settle(&shared, &claimed.lease, &Outcome::Retry(rec), Some(at)).await;
                    Outcome::Retry(AttemptRecord::default())
                }
                None => {
                    let rec = AttemptRecord {
                        error: rec.error.map(|e| format!("attempts spent: {e}")),
                        ..rec
                    };
                    let gave_up = Outcome::GiveUp(rec);
                    settle(&shared, &claimed.lease, &gave_up, None).await;
                    gave_up
                }
            }
        }
        other => {
            settle(&shared, &claimed.lease, &other, None).await;
            other
        }
    };
    shared.count(&outcome);
    let _entered = span.enter();
    match &outcome {
        Outcome::Done => tracing::debug!("inbound: processed"),
        Outcome::Retry(_) => tracing::info!("inbound: failed, will retry"),
        Outcome::GiveUp(rec) => {
            tracing::warn!(
                reason = rec.error.as_deref().unwrap_or(""),
                "inbound: given up"
            )
        }
    }
    let mut st = shared.state();
    st.in_flight.remove(&job.id);
    if let Some(n) = st.busy.get_mut(&job.host) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            st.busy.remove(&job.host);
        }
    }
}

/// Rebuilds the activity and runs the dispatcher on it.
async fn attempt(
    shared: &Arc<Shared>,
    activity: &crate::vocab::Iri,
    body: &crate::delivery::PreparedBody,
) -> Outcome {
    // As the inbox parsed it, when this process stored it moments ago;
    // else read back from the stored envelope.
    let handed = shared.queue.take_handoff(activity.as_str());
    let incoming = match handed.map_or_else(|| decode(activity.as_str(), body.bytes()), Ok) {
        Ok(i) => i,
        // A stored envelope that does not read back never will.
        Err(e) => return Outcome::GiveUp(record(None, e.to_string())),
    };
    let dispatcher = shared.dispatcher.clone();
    // Its own task, so a panicking handler (in a poll or in a drop) is a
    // failed attempt, not a lost slot, and the timeout fires on time even
    // when a handler blocks its thread instead of yielding. (Catching the
    // panic within this task instead saved a spawn per activity, about
    // 1 % of the inbound path, at the cost of both guarantees.)
    let handle = tokio::spawn(async move { dispatcher.dispatch(incoming).await }.in_current_span());
    // Cancels the handler when the attempt is dropped (a crash or a
    // shutdown past its grace), so no handler outlives its pool.
    let guard = crate::delivery::AbortOnDrop(handle.abort_handle());
    let result = tokio::time::timeout(shared.config.handler_timeout, handle).await;
    drop(guard);
    match result {
        Ok(Ok(Ok(_))) => Outcome::Done,
        Ok(Ok(Err(e))) => {
            let status = e.status();
            let rec = record(Some(status.as_u16()), e.to_string());
            if status.is_client_error() {
                // The sender's fault (not the owner, not our Follow): it
                // will never succeed.
                Outcome::GiveUp(rec)
            } else {
                Outcome::Retry(rec)
            }
        }
        Ok(Err(join)) => Outcome::Retry(record(None, format!("handler panicked: {join}"))),
        Err(_) => Outcome::Retry(record(
            None,
            format!(
                "handler still running after {} ms",
                shared.config.handler_timeout.as_millis()
            ),
        )),
    }
}

async fn settle(shared: &Shared, lease: &Lease, outcome: &Outcome, at: Option<Timestamp>) {
    let backend = shared.queue.backend();
    let result = match (outcome, at) {
        (Outcome::Done, _) => backend.ack(lease, AttemptRecord::default()).await,
        (Outcome::Retry(rec), Some(at)) => backend.retry_at(lease, at, rec.clone()).await,
        (Outcome::Retry(rec), None) | (Outcome::GiveUp(rec), _) => {
            backend.give_up(lease, rec.clone()).await
        }
    };
    match result {
        Ok(()) if at.is_none() => shared.queue.settled_one(),
        Ok(()) => {}
        // A lost lease: another worker holds the job now and settles it.
        Err(e) => tracing::warn!(job = %lease.job, error = %e, "inbound: settle failed"),
    }
}
