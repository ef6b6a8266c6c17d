//! [`HostBreaker`]: the dead-host circuit breaker, so a worker never blocks
//! on a host that has been failing for a long time.
//!
//! A host that fails continuously (timeouts, connection errors, 5xx, 408)
//! for [`BreakerConfig::dead_after`] is marked dead: its jobs are not sent
//! (the worker defers or gives them up, see
//! [`DeadHostAction`](super::DeadHostAction)) and reported. After
//! [`BreakerConfig::probe_after`] one job is let through as a probe; its
//! success revives the host, its failure keeps it dead for another cooldown.
//! Any success resets the failure span.

// Only the worker pool (feature `delivery`) keeps a breaker; without it the
// configuration type is all that is used.
#![cfg_attr(not(feature = "delivery"), allow(dead_code))]

use std::collections::HashMap;
use std::time::Duration;

use super::Timestamp;

/// Tuning of the worker pool's dead-host circuit breaker: a host failing
/// without a single success for [`dead_after`](Self::dead_after) is
/// skipped, then probed once every [`probe_after`](Self::probe_after).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerConfig {
    /// How long a host must fail without a single success to be marked dead
    /// (default 1 h).
    pub dead_after: Duration,
    /// How long a dead host is left alone before a probe (default 10 min).
    pub probe_after: Duration,
    /// At most this many hosts tracked; healthy entries are forgotten first
    /// (default 100 000).
    pub max_hosts: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            dead_after: Duration::from_secs(3600),
            probe_after: Duration::from_secs(600),
            max_hosts: 100_000,
        }
    }
}

/// Builders, one per field: the struct is `#[non_exhaustive]`, so it is
/// built from [`Default`] and adjusted.
impl BreakerConfig {
    /// Sets [`dead_after`](Self::dead_after).
    pub fn with_dead_after(mut self, dead_after: Duration) -> Self {
        self.dead_after = dead_after;
        self
    }

    /// Sets [`probe_after`](Self::probe_after).
    pub fn with_probe_after(mut self, probe_after: Duration) -> Self {
        self.probe_after = probe_after;
        self
    }

    /// Sets [`max_hosts`](Self::max_hosts).
    pub fn with_max_hosts(mut self, max_hosts: usize) -> Self {
        self.max_hosts = max_hosts;
        self
    }
}

/// What the breaker says about sending to a host now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send.
    Allow,
    /// Send, as the one probe of a dead host.
    Probe,
    /// Do not send; the host is dead until the given time (next probe).
    Skip {
        /// When a probe will next be allowed.
        until: Timestamp,
    },
}

/// A change of a host's state, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// The host just crossed `dead_after`.
    Died,
    /// A probe (or any success) revived a dead host.
    Revived,
}

#[derive(Debug, Clone, Copy)]
struct HostState {
    failing_since: Timestamp,
    dead_until: Option<Timestamp>,
    probe_started: Option<Timestamp>,
}

/// Per-host failure tracking; pure state, driven by the worker with the time.
#[derive(Debug, Default)]
pub(crate) struct HostBreaker {
    config: BreakerConfig,
    hosts: HashMap<String, HostState>,
}

impl HostBreaker {
    /// A breaker with the given tuning.
    pub fn new(config: BreakerConfig) -> Self {
        HostBreaker {
            config,
            hosts: HashMap::new(),
        }
    }

    /// Whether a job for `host` may be sent at `now`.
    pub fn admit(&mut self, host: &str, now: Timestamp) -> Admission {
        let probe_after = self.config.probe_after;
        let Some(state) = self.hosts.get_mut(host) else {
            return Admission::Allow;
        };
        let Some(dead_until) = state.dead_until else {
            return Admission::Allow;
        };
        if now < dead_until {
            return Admission::Skip { until: dead_until };
        }
        match state.probe_started {
            // A probe is in flight (or its worker died): wait for it, but
            // not forever.
            Some(started) if now < started.saturating_add(probe_after) => Admission::Skip {
                until: started.saturating_add(probe_after),
            },
            _ => {
                state.probe_started = Some(now);
                Admission::Probe
            }
        }
    }

    /// Records a success; revives the host if it was dead.
    pub fn record_success(&mut self, host: &str) -> Option<Transition> {
        let state = self.hosts.remove(host)?;
        state.dead_until.map(|_| Transition::Revived)
    }

    /// Records a host failure at `now`; reports when the host just died.
    pub fn record_failure(&mut self, host: &str, now: Timestamp) -> Option<Transition> {
        if !self.hosts.contains_key(host) && self.hosts.len() >= self.config.max_hosts {
            self.hosts.retain(|_, s| s.dead_until.is_some());
            if self.hosts.len() >= self.config.max_hosts {
                return None;
            }
        }
        let state = self.hosts.entry(host.to_owned()).or_insert(HostState {
            failing_since: now,
            dead_until: None,
            probe_started: None,
        });
        let was_dead = state.dead_until.is_some();
        if was_dead || now.saturating_since(state.failing_since) >= self.config.dead_after {
            state.dead_until = Some(now.saturating_add(self.config.probe_after));
            state.probe_started = None;
        }
        (!was_dead && state.dead_until.is_some()).then_some(Transition::Died)
    }

    /// `(failing since, dead until)` of a host that failed since its last
    /// success; `None` for a host in good standing.
    pub fn view(&self, host: &str) -> Option<(Timestamp, Option<Timestamp>)> {
        self.hosts
            .get(host)
            .map(|s| (s.failing_since, s.dead_until))
    }

    /// Whether `host` is currently marked dead.
    #[cfg(test)]
    pub fn is_dead(&self, host: &str) -> bool {
        self.hosts.get(host).is_some_and(|s| s.dead_until.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp::from_millis(s * 1000)
    }

    #[test]
    fn dies_after_span_probes_after_cooldown_and_revives() {
        let mut b = HostBreaker::new(BreakerConfig {
            dead_after: Duration::from_secs(60),
            probe_after: Duration::from_secs(30),
            max_hosts: 10,
        });
        assert_eq!(b.record_failure("h", t(0)), None);
        assert_eq!(b.record_failure("h", t(59)), None);
        assert_eq!(b.admit("h", t(59)), Admission::Allow);
        assert_eq!(b.record_failure("h", t(60)), Some(Transition::Died));
        assert!(b.is_dead("h"));
        assert_eq!(b.admit("h", t(61)), Admission::Skip { until: t(90) });
        assert_eq!(b.admit("h", t(90)), Admission::Probe);
        // Only one probe at a time.
        assert_eq!(b.admit("h", t(91)), Admission::Skip { until: t(120) });
        // Probe fails: dead for another cooldown, no second "Died".
        assert_eq!(b.record_failure("h", t(95)), None);
        assert_eq!(b.admit("h", t(100)), Admission::Skip { until: t(125) });
        assert_eq!(b.admit("h", t(125)), Admission::Probe);
        assert_eq!(b.record_success("h"), Some(Transition::Revived));
        assert_eq!(b.admit("h", t(126)), Admission::Allow);
        assert!(!b.is_dead("h"));
    }

    #[test]
    fn success_resets_the_span() {
        let mut b = HostBreaker::new(BreakerConfig {
            dead_after: Duration::from_secs(60),
            ..BreakerConfig::default()
        });
        b.record_failure("h", t(0));
        assert_eq!(b.record_success("h"), None);
        assert_eq!(b.record_failure("h", t(59)), None);
        assert_eq!(b.record_failure("h", t(100)), None);
        assert_eq!(b.record_failure("h", t(119)), Some(Transition::Died));
    }

    #[test]
    fn lost_probe_is_retried_after_cooldown() {
        let mut b = HostBreaker::new(BreakerConfig {
            dead_after: Duration::ZERO,
            probe_after: Duration::from_secs(10),
            max_hosts: 10,
        });
        assert_eq!(b.record_failure("h", t(0)), Some(Transition::Died));
        assert_eq!(b.admit("h", t(10)), Admission::Probe);
        assert_eq!(b.admit("h", t(19)), Admission::Skip { until: t(20) });
        assert_eq!(b.admit("h", t(20)), Admission::Probe);
    }

    #[test]
    fn bounded_keeps_dead_hosts() {
        let mut b = HostBreaker::new(BreakerConfig {
            dead_after: Duration::ZERO,
            probe_after: Duration::from_secs(10),
            max_hosts: 2,
        });
        b.record_failure("dead", t(0));
        b.hosts.get_mut("dead").unwrap();
        b.record_failure("a", t(0));
        b.record_failure("b", t(0));
        assert!(b.is_dead("dead"));
        assert!(b.hosts.len() <= 2);
    }
}
