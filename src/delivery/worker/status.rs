//! What the worker pool shows an operator: where each host stands, the
//! latest failures and why, attempts by outcome and how long they took.
//!
//! The pool records every attempt here as it settles (one short lock, no
//! I/O), and [`Workers::status`](super::Workers::status) joins it with the
//! breaker, the paused hosts and the queue's counts into a
//! [`DeliveryStatus`]. Everything is bounded: at most
//! [`WorkerConfig::hosts_tracked`](super::WorkerConfig::hosts_tracked)
//! hosts (the least recently attempted is forgotten first), the last
//! [`WorkerConfig::recent_failures`](super::WorkerConfig::recent_failures)
//! failures, and error texts cut at [`MAX_ERROR_LEN`] bytes, since hosts and
//! errors come from the network.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::delivery::{JobId, QueueStats, Timestamp};

/// Longest error text kept per host or per failure, in bytes: a peer's
/// answer can be arbitrarily long.
pub const MAX_ERROR_LEN: usize = 300;

/// Upper bounds, in seconds, of the attempt latency histogram's buckets
/// (a last bucket, `+Inf`, catches the rest). From a loopback answer
/// (milliseconds) to the default 60 s attempt timeout.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Where a host stands for the worker pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum HostState {
    /// The breaker marked it dead: its jobs wait for the next probe.
    Dead,
    /// It asked to be left alone (`Retry-After`): nothing is sent before
    /// the pause ends.
    Paused,
    /// It failed (timeout, refused connection, 5xx) since its last
    /// success, not yet long enough to be marked dead; retried on the
    /// backoff schedule.
    Failing,
    /// It answers (a refusal of one inbox, like 410 or 403, is an answer).
    Healthy,
}

impl HostState {
    /// The lowercase name, as in metrics labels and pages.
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Dead => "dead",
            HostState::Paused => "paused",
            HostState::Failing => "failing",
            HostState::Healthy => "healthy",
        }
    }
}

impl std::fmt::Display for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One host as the pool sees it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct HostStatus {
    /// The host (and port, when not the default), as the queue keys it.
    pub host: String,
    /// Where it stands.
    pub state: HostState,
    /// When it is next tried: the end of a pause, the next probe of a dead
    /// host, or the latest retry scheduled for it; `None` when healthy.
    pub next_attempt: Option<Timestamp>,
    /// When it was last attempted.
    pub last_attempt: Option<Timestamp>,
    /// The last status it answered, if any.
    pub last_status: Option<u16>,
    /// Why its last attempt failed (`None` after a success), at most
    /// [`MAX_ERROR_LEN`] bytes.
    pub last_error: Option<String>,
    /// Since when it fails without a success (the breaker's span).
    pub failing_since: Option<Timestamp>,
    /// Attempts it answered with success since tracked.
    pub delivered: u64,
    /// Attempts that failed since tracked.
    pub failed: u64,
}

/// How many tracked hosts are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct HostCounts {
    /// Answering.
    pub healthy: usize,
    /// Failing since their last success, not yet dead.
    pub failing: usize,
    /// Paused by `Retry-After`.
    pub paused: usize,
    /// Marked dead by the breaker.
    pub dead: usize,
}

/// One failed attempt, for the operator's "recent failures".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RecentFailure {
    /// When it settled.
    pub at: Timestamp,
    /// The job.
    pub job: JobId,
    /// The target inbox.
    pub inbox: String,
    /// Its host.
    pub host: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The status answered, if any.
    pub status: Option<u16>,
    /// Why, at most [`MAX_ERROR_LEN`] bytes: the status or transport error,
    /// or the give-up reason.
    pub reason: String,
    /// Whether the job was given up (`false`: it will be retried).
    pub gave_up: bool,
}

/// Attempts and deferrals since the pool started, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct AttemptCounts {
    /// Delivered (2xx).
    pub delivered: u64,
    /// Failed transiently, retry scheduled.
    pub retried: u64,
    /// Given up because the inbox is gone (410).
    pub gone: u64,
    /// Given up for any other reason (rejected, refused, exhausted, dead host).
    pub gave_up: u64,
    /// Postponed without an attempt (dead host, shutdown).
    pub deferred: u64,
}

/// Attempt durations in fixed buckets ([`LATENCY_BUCKETS`]), as a
/// Prometheus histogram keeps them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct LatencyHistogram {
    /// Attempts per bucket, not cumulative: `counts[i]` took at most
    /// `LATENCY_BUCKETS[i]` seconds and more than the bound before it; the
    /// last entry counts those over every bound.
    pub counts: [u64; LATENCY_BUCKETS.len() + 1],
    /// The durations added up, in seconds.
    pub sum_seconds: f64,
    /// Attempts observed.
    pub count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: [0; LATENCY_BUCKETS.len() + 1],
            sum_seconds: 0.0,
            count: 0,
        }
    }
}

impl LatencyHistogram {
    /// Adds one attempt that took `took`.
    pub fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(n) = self.counts.get_mut(bucket) {
            *n += 1;
        }
        self.sum_seconds += secs;
        self.count += 1;
    }

    /// `(upper bound in seconds, attempts in that bucket)`, the last bound
    /// being infinity; not cumulative.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        LATENCY_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().copied())
    }
}

/// The operator's view of delivery at one instant: from
/// [`Workers::status`](super::Workers::status) or
/// [`Federation::delivery_status`](crate::federation::Federation::delivery_status).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct DeliveryStatus {
    /// When the snapshot was taken (the pool's clock).
    pub now: Timestamp,
    /// The queue's counts: `due` is the backlog.
    pub queue: QueueStats,
    /// How long the oldest unsettled job has waited.
    pub oldest_pending_age: Option<Duration>,
    /// Attempts running now.
    pub in_flight: usize,
    /// Tracked hosts, dead first, then paused, failing, healthy; by name
    /// within a state.
    pub hosts: Vec<HostStatus>,
    /// Tracked hosts per state.
    pub host_counts: HostCounts,
    /// The latest failures, newest first.
    pub recent_failures: Vec<RecentFailure>,
    /// Attempts by outcome since the pool started.
    pub attempts: AttemptCounts,
    /// Attempt durations.
    pub latency: LatencyHistogram,
}

/// One host's record in the table.
#[derive(Debug, Clone, Default)]
struct HostRecord {
    last_attempt: Option<Timestamp>,
    last_status: Option<u16>,
    last_error: Option<String>,
    next_retry: Option<Timestamp>,
    delivered: u64,
    failed: u64,
}

/// How one attempt ended, as recorded.
pub(crate) enum Settled {
    Delivered,
    Retry { at: Timestamp },
    GaveUp { gone: bool },
}

/// The pool's bounded observations (kept in its state, under its lock).
#[derive(Debug)]
pub(crate) struct Observed {
    max_hosts: usize,
    max_failures: usize,
    hosts: HashMap<String, HostRecord>,
    failures: VecDeque<RecentFailure>,
    pub(crate) attempts: AttemptCounts,
    pub(crate) latency: LatencyHistogram,
}

/// Cuts `text` to at most [`MAX_ERROR_LEN`] bytes on a character boundary.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_ERROR_LEN {
        return text.to_owned();
    }
    let mut end = MAX_ERROR_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

/// One attempt's facts, for [`Observed::attempt`].
pub(crate) struct AttemptFacts<'a> {
    pub(crate) job: JobId,
    pub(crate) host: &'a str,
    pub(crate) inbox: &'a str,
    pub(crate) attempts: u32,
    pub(crate) status: Option<u16>,
    /// Why it failed, `None` when delivered.
    pub(crate) reason: Option<String>,
    pub(crate) took: Option<Duration>,
    pub(crate) now: Timestamp,
}

impl Observed {
    pub(crate) fn new(max_hosts: usize, max_failures: usize) -> Self {
        Observed {
            max_hosts: max_hosts.max(1),
            max_failures,
            hosts: HashMap::new(),
            failures: VecDeque::new(),
            attempts: AttemptCounts::default(),
            latency: LatencyHistogram::default(),
        }
    }

    /// The host's record, making room for it when the table is full.
    fn host(&mut self, host: &str) -> &mut HostRecord {
        if !self.hosts.contains_key(host) && self.hosts.len() >= self.max_hosts {
            // Forget the least recently attempted host: an operator looks
            // at what happens now.
            let oldest = self
                .hosts
                .iter()
                .min_by_key(|(_, r)| r.last_attempt)
                .map(|(h, _)| h.clone());
            if let Some(oldest) = oldest {
                self.hosts.remove(&oldest);
            }
        }
        self.hosts.entry(host.to_owned()).or_default()
    }

    /// Records one settled attempt.
    pub(crate) fn attempt(&mut self, facts: AttemptFacts<'_>, settled: Settled) {
        if let Some(took) = facts.took {
            self.latency.observe(took);
        }
        let (gave_up, next_retry) = match settled {
            Settled::Delivered => {
                self.attempts.delivered += 1;
                (false, None)
            }
            Settled::Retry { at } => {
                self.attempts.retried += 1;
                (false, Some(at))
            }
            Settled::GaveUp { gone: true } => {
                self.attempts.gone += 1;
                (true, None)
            }
            Settled::GaveUp { gone: false } => {
                self.attempts.gave_up += 1;
                (true, None)
            }
        };
        let reason = facts.reason.as_deref().map(bounded);
        let record = self.host(facts.host);
        record.last_attempt = Some(facts.now);
        record.last_status = facts.status;
        record.next_retry = next_retry;
        match &reason {
            None => {
                record.delivered += 1;
                record.last_error = None;
            }
            Some(reason) => {
                record.failed += 1;
                record.last_error = Some(reason.clone());
            }
        }
        if let Some(reason) = reason
            && self.max_failures > 0
        {
            if self.failures.len() >= self.max_failures {
                self.failures.pop_front();
            }
            self.failures.push_back(RecentFailure {
                at: facts.now,
                job: facts.job,
                inbox: facts.inbox.to_owned(),
                host: facts.host.to_owned(),
                attempts: facts.attempts,
                status: facts.status,
                reason,
                gave_up,
            });
        }
    }

    /// Records a job postponed without an attempt.
    pub(crate) fn deferred(&mut self) {
        self.attempts.deferred += 1;
    }

    /// The tracked hosts, given the breaker's and the pauses' view at `now`:
    /// `breaker(host)` is `(failing since, dead until)`.
    pub(crate) fn hosts(
        &self,
        now: Timestamp,
        paused: &HashMap<String, Timestamp>,
        breaker: impl Fn(&str) -> Option<(Timestamp, Option<Timestamp>)>,
    ) -> Vec<HostStatus> {
        let mut hosts: Vec<HostStatus> = self
            .hosts
            .iter()
            .map(|(host, r)| {
                let breaker = breaker(host);
                let pause = paused.get(host).copied().filter(|until| *until > now);
                let (state, next_attempt) = match (breaker, pause) {
                    (Some((_, Some(dead_until))), _) => (HostState::Dead, Some(dead_until)),
                    (_, Some(until)) => (HostState::Paused, Some(until)),
                    // The breaker tracks a host from its first host
                    // failure (timeout, refused connection, 5xx) to its
                    // next success; a 410 or 4xx is the inbox's answer,
                    // not the host's failure.
                    (Some(_), _) => (HostState::Failing, r.next_retry),
                    _ => (HostState::Healthy, None),
                };
                HostStatus {
                    host: host.clone(),
                    state,
                    next_attempt,
                    last_attempt: r.last_attempt,
                    last_status: r.last_status,
                    last_error: r.last_error.clone(),
                    failing_since: breaker.map(|(since, _)| since),
                    delivered: r.delivered,
                    failed: r.failed,
                }
            })
            .collect();
        hosts.sort_by(|a, b| (a.state, &a.host).cmp(&(b.state, &b.host)));
        hosts
    }

    /// The latest failures, newest first.
    pub(crate) fn recent_failures(&self) -> Vec<RecentFailure> {
        self.failures.iter().rev().cloned().collect()
    }
}

/// Counts `hosts` per state.
pub(crate) fn count(hosts: &[HostStatus]) -> HostCounts {
    let mut counts = HostCounts::default();
    for host in hosts {
        match host.state {
            HostState::Healthy => counts.healthy += 1,
            HostState::Failing => counts.failing += 1,
            HostState::Paused => counts.paused += 1,
            HostState::Dead => counts.dead += 1,
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn facts<'a>(host: &'a str, reason: Option<&str>, now: u64) -> AttemptFacts<'a> {
        AttemptFacts {
            job: JobId(now),
            host,
            inbox: "https://h.example/inbox",
            attempts: 1,
            status: Some(if reason.is_some() { 500 } else { 202 }),
            reason: reason.map(str::to_owned),
            took: Some(Duration::from_millis(30)),
            now: t(now),
        }
    }

    #[test]
    fn hosts_are_classified_and_ordered() {
        let mut o = Observed::new(10, 10);
        o.attempt(facts("ok.example", None, 1), Settled::Delivered);
        o.attempt(
            facts("sick.example", Some("HTTP 500"), 2),
            Settled::Retry { at: t(50) },
        );
        o.attempt(
            facts("slow.example", Some("HTTP 429"), 3),
            Settled::Retry { at: t(60) },
        );
        o.attempt(
            facts("dead.example", Some("timed out"), 4),
            Settled::Retry { at: t(70) },
        );
        // A dead host that also asked for a pause is shown dead: the
        // breaker's probe decides when it is tried again.
        let paused = HashMap::from([
            ("slow.example".to_owned(), t(90)),
            ("dead.example".to_owned(), t(95)),
        ]);
        let hosts = o.hosts(t(10), &paused, |h| match h {
            "dead.example" => Some((t(0), Some(t(99)))),
            "sick.example" | "slow.example" => Some((t(2), None)),
            _ => None,
        });
        let view: Vec<(&str, HostState, Option<Timestamp>, Option<&str>)> = hosts
            .iter()
            .map(|h| {
                (
                    h.host.as_str(),
                    h.state,
                    h.next_attempt,
                    h.last_error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            view,
            vec![
                (
                    "dead.example",
                    HostState::Dead,
                    Some(t(99)),
                    Some("timed out")
                ),
                (
                    "slow.example",
                    HostState::Paused,
                    Some(t(90)),
                    Some("HTTP 429")
                ),
                (
                    "sick.example",
                    HostState::Failing,
                    Some(t(50)),
                    Some("HTTP 500")
                ),
                ("ok.example", HostState::Healthy, None, None),
            ]
        );
        assert_eq!(
            count(&hosts),
            HostCounts {
                healthy: 1,
                failing: 1,
                paused: 1,
                dead: 1
            }
        );
        // A pause that ended no longer counts; the breaker's view does.
        let later = o.hosts(t(95), &paused, |h| {
            (h == "slow.example").then_some((t(2), None))
        });
        assert_eq!(
            later
                .iter()
                .find(|h| h.host == "slow.example")
                .map(|h| h.state),
            Some(HostState::Failing)
        );
    }

    #[test]
    fn bounded_tables_forget_the_oldest() {
        let mut o = Observed::new(2, 2);
        o.attempt(facts("a", Some("first"), 1), Settled::Retry { at: t(9) });
        o.attempt(facts("b", Some("second"), 2), Settled::Retry { at: t(9) });
        o.attempt(facts("c", Some("third"), 3), Settled::GaveUp { gone: true });
        let hosts: Vec<String> = o
            .hosts(t(4), &HashMap::new(), |_| None)
            .into_iter()
            .map(|h| h.host)
            .collect();
        assert_eq!(hosts, vec!["b", "c"]);
        let reasons: Vec<(String, bool)> = o
            .recent_failures()
            .into_iter()
            .map(|f| (f.reason, f.gave_up))
            .collect();
        assert_eq!(
            reasons,
            vec![("third".to_owned(), true), ("second".to_owned(), false)]
        );
        assert_eq!(
            o.attempts,
            AttemptCounts {
                retried: 2,
                gone: 1,
                ..AttemptCounts::default()
            }
        );
    }

    #[test]
    fn long_errors_are_cut_on_a_char_boundary() {
        let mut o = Observed::new(2, 2);
        let long = "é".repeat(400);
        o.attempt(facts("a", Some(&long), 1), Settled::Retry { at: t(9) });
        let kept = &o.recent_failures()[0].reason;
        assert_eq!(kept.len(), MAX_ERROR_LEN + "…".len());
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn latency_lands_in_its_bucket() {
        let mut h = LatencyHistogram::default();
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(120));
        let nonzero: Vec<(f64, u64)> = h.buckets().filter(|(_, n)| *n > 0).collect();
        assert_eq!(nonzero, vec![(0.005, 1), (0.05, 1), (f64::INFINITY, 1)]);
        assert_eq!(h.count, 3);
        assert!((h.sum_seconds - 120.035).abs() < 1e-9);
    }
}
