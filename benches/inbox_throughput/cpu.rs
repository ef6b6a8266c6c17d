//! The CPU time of the server's threads, sampled during a run, so that a
//! window's rate can be told apart from load other processes put on the
//! machine: a server that slows down as its state grows spends more CPU
//! per activity; a server crowded out by another process does not.
//!
//! Read from Linux's `/proc/self/task/*/schedstat` (nanoseconds on a CPU)
//! for the threads named [`SERVER_THREADS`]; elsewhere there is no figure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The name of the server runtime's threads, workers and blocking pool alike.
pub const SERVER_THREADS: &str = "server";

/// How often the sampler reads the threads' CPU time.
const PERIOD: Duration = Duration::from_millis(10);

/// CPU time of the threads named [`SERVER_THREADS`] so far (threads that
/// ended are no longer counted: keep the server's threads alive for the run).
pub fn server_cpu() -> Option<Duration> {
    threads_cpu(SERVER_THREADS)
}

/// CPU time so far of this process's threads named `name` (Linux), else
/// `None`.
pub fn threads_cpu(name: &str) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim_end() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// A background thread noting `(wall time since origin, server CPU)`.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<(Duration, Duration)>>,
}

impl Sampler {
    /// Starts sampling every few milliseconds; times count from `origin`.
    pub fn start(origin: Instant) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Some(cpu) = server_cpu() {
                    samples.push((origin.elapsed(), cpu));
                }
                std::thread::sleep(PERIOD);
            }
            if let Some(cpu) = server_cpu() {
                samples.push((origin.elapsed(), cpu));
            }
            samples
        });
        Sampler { stop, handle }
    }

    /// Stops and returns the samples, oldest first.
    pub fn finish(self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        Samples(self.handle.join().unwrap_or_default())
    }
}

/// The samples of one run.
pub struct Samples(Vec<(Duration, Duration)>);

impl Samples {
    /// Server CPU time at wall time `t`, interpolated between samples.
    fn at(&self, t: Duration) -> Option<Duration> {
        let after = self.0.iter().position(|(wall, _)| *wall >= t)?;
        let (w1, c1) = *self.0.get(after)?;
        let Some(&(w0, c0)) = after.checked_sub(1).and_then(|i| self.0.get(i)) else {
            return Some(c1);
        };
        let span = (w1 - w0).as_secs_f64();
        let part = if span > 0.0 {
            (t.saturating_sub(w0)).as_secs_f64() / span
        } else {
            1.0
        };
        Some(c0 + (c1.saturating_sub(c0)).mul_f64(part))
    }

    /// Server CPU time spent between wall times `from` and `to`.
    pub fn between(&self, from: Duration, to: Duration) -> Option<Duration> {
        Some(self.at(to)?.saturating_sub(self.at(from)?))
    }
}
