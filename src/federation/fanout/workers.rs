//! The expansion workers (feature `delivery`): each claims one fan-out
//! job at a time and expands it batch by batch, checkpointing after each.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::expand::{Expansion, claim, expand_job};
use crate::delivery::Timestamp;
use crate::federation::hub::{Federation, Inner};

/// What runs the expansions of one [`Federation`]; see
/// [`Federation::start_fanout`](crate::federation::Federation::start_fanout).
pub(crate) struct FanoutWorkers {
    stop: Arc<AtomicBool>,
    wakers: Vec<Arc<Notify>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FanoutWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanoutWorkers")
            .field("workers", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// One worker. The handle is held weakly (and only while working), so a
/// running pool does not keep a dropped [`Federation`] alive.
struct Worker {
    fed: Weak<Inner>,
    poll_interval: Duration,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl FanoutWorkers {
    /// Starts `workers` expansion tasks on the current runtime.
    pub(crate) fn start(fed: Weak<Inner>, workers: usize, poll_interval: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut wakers = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..workers.max(1) {
            let wake = Arc::new(Notify::new());
            wakers.push(wake.clone());
            let worker = Worker {
                fed: fed.clone(),
                poll_interval,
                stop: stop.clone(),
                wake,
            };
            tasks.push(tokio::spawn(worker.run()));
        }
        FanoutWorkers {
            stop,
            wakers,
            tasks,
        }
    }

    /// Wakes every idle worker (a fan-out job was written).
    pub(crate) fn wake(&self) {
        for w in &self.wakers {
            w.notify_one();
        }
    }

    /// Stops: each worker finishes the batch it is on, checkpoints it, and
    /// releases its job for the next pool.
    pub(crate) async fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Worker {
    async fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            let Some(inner) = self.fed.upgrade() else {
                return;
            };
            let fed = Federation { inner };
            match claim(&fed).await {
                Ok(Some(claimed)) => {
                    let span = tracing::info_span!("fanout", job = %claimed.lease.job);
                    log(expand_job(&fed, claimed, &self.stop).instrument(span).await);
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "fan-out: claim failed"),
            }
            let now = Timestamp::from_system_time(SystemTime::now());
            let wait = match fed.inner.fanout.next_due().await {
                Ok(Some(at)) => at.saturating_since(now).min(self.poll_interval),
                _ => self.poll_interval,
            };
            drop(fed);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

fn log(outcome: Expansion) {
    match outcome {
        Expansion::Done { job, batches } => tracing::debug!(%job, batches, "fan-out: expanded"),
        Expansion::Stopped { job } => tracing::debug!(%job, "fan-out: stopped, released"),
        Expansion::Retried { job, error } => {
            tracing::warn!(%job, %error, "fan-out: batch failed, retried later");
        }
        Expansion::LeaseLost { job } => tracing::warn!(%job, "fan-out: lease lost"),
        Expansion::Dropped { job, error } => tracing::error!(%job, %error, "fan-out: job dropped"),
    }
}
