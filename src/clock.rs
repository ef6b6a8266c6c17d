//! [`Clock`]: where archipel gets "now" from, so that signing, verification,
//! retry schedules and leases can be tested (and replayed) at a chosen time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
///
/// Signing stamps `Date` and `created` from it and verification compares them
/// against it; the delivery workers schedule retries and leases by it. Inject
/// a [`FixedClock`] to replay a request at a known time (the command-line
/// example's `--now`) or a [`ManualClock`] to drive time forward in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system clock ([`SystemTime::now`]); the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant, for tests and replays.
///
/// ```
/// use archipel::clock::{Clock, FixedClock};
/// use std::time::{Duration, UNIX_EPOCH};
/// let clock = FixedClock(UNIX_EPOCH + Duration::from_secs(1_618_884_473));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_618_884_473));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// A clock that only moves when told to, for tests of time-dependent logic
/// (millisecond resolution).
///
/// ```
/// use archipel::clock::{Clock, ManualClock};
/// use std::time::{Duration, UNIX_EPOCH};
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1));
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(3));
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock stopped at `start` (times before the Unix epoch read as the epoch).
    pub fn new(start: impl Into<SystemTime>) -> Self {
        ManualClock(AtomicU64::new(millis_since_epoch(start.into())))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `t` (may move it backwards, to test clock skew).
    pub fn set(&self, t: impl Into<SystemTime>) {
        self.0.store(millis_since_epoch(t.into()), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

fn millis_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}
