//! [`Clock`]: where signing and verification get "now" from.

use std::time::SystemTime;

/// A source of the current time.
///
/// Signing stamps `Date` and `created` from it; verification compares them
/// against it. Inject a [`FixedClock`] in tests or to replay a request at a
/// known time (the command-line example's `--now`).
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
/// use archipel::signatures::{Clock, FixedClock};
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

/// Seconds since the Unix epoch (negative before it).
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}
