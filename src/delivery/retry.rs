//! [`RetryPolicy`]: exponential backoff with jitter, `Retry-After`
//! handling, and the maximum job age.
//!
//! # The default schedule
//!
//! 12 attempts: the first at once, then retries after 30 s, 1.5 min, 4.5 min,
//! 13.5 min, 40.5 min, ~2 h, ~6 h, then every 12 h (the cap) four more
//! times; each delay is jittered by ±25 %. Cumulative time to the last
//! attempt is ≈ 9.1 h + 4 × 12 h ≈ 57 h (≈ 2.4 days).
//!
//! | | attempts | first retry | spacing | window |
//! |---|---|---|---|---|
//! | archipel (default) | 12 | 30 s | ×3, cap 12 h, ±25 % jitter | ≈ 2.4 days |
//! | Mastodon (Sidekiq) | 17 (16 retries) | ~15–25 s | `n⁴ + 15 + rand` s | ≈ 2–3 days |
//! | Fedify | 10 | 1 s | ×2, cap 12 h | ≈ 8.5 min |
//! | Lemmy (`activitypub_federation`) | 4 | 0 / 60 s | 60 s, 1 h, 60 h | ≈ 2.5 days |
//!
//! The early retries are quick like Fedify's, so a deploy restart or a
//! brief 502 costs seconds, not minutes; the tail is as long as Mastodon's
//! and Lemmy's, so a server down for a weekend still gets its posts. The
//! jitter spreads the retries of a large fan-out so a recovering host is not
//! hit by every job in the same second (the November 2022 thundering herd).

use std::time::Duration;

use super::Timestamp;

/// When to try again, and when to stop.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Total attempts, the first included (default 12).
    pub max_attempts: u32,
    /// Delay after the first failed attempt (default 30 s).
    pub initial_delay: Duration,
    /// Growth factor between consecutive delays (default 3.0).
    pub factor: f64,
    /// Cap on a single backoff delay (default 12 h).
    pub max_delay: Duration,
    /// Fraction of ± jitter applied to each delay (default 0.25).
    pub jitter: f64,
    /// A `Retry-After` longer than this is clamped to it (default 24 h).
    pub max_retry_after: Duration,
    /// A job older than this is given up instead of retried or deferred
    /// (default 3 days).
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 12,
            initial_delay: Duration::from_secs(30),
            factor: 3.0,
            max_delay: Duration::from_secs(12 * 3600),
            jitter: 0.25,
            max_retry_after: Duration::from_secs(24 * 3600),
            max_age: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// Builders, one per field: the struct is `#[non_exhaustive]`, so it is
/// built from [`Default`] and adjusted.
impl RetryPolicy {
    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets [`initial_delay`](Self::initial_delay).
    pub fn with_initial_delay(mut self, initial_delay: Duration) -> Self {
        self.initial_delay = initial_delay;
        self
    }

    /// Sets [`factor`](Self::factor).
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// Sets [`max_age`](Self::max_age).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
}

impl RetryPolicy {
    /// The un-jittered delay after `failed` attempts have failed (`failed ≥ 1`).
    pub fn base_delay(&self, failed: u32) -> Duration {
        let exp = failed.saturating_sub(1).min(64);
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let secs = self.initial_delay.as_secs_f64() * factor.powi(exp as i32);
        let capped = secs.min(self.max_delay.as_secs_f64());
        Duration::try_from_secs_f64(capped).unwrap_or(self.max_delay)
    }

    /// The jittered delay after `failed` failed attempts; `seed` (e.g. the
    /// job id) makes the jitter deterministic per job and spread across jobs.
    pub fn delay(&self, failed: u32, seed: u64) -> Duration {
        let base = self.base_delay(failed).as_secs_f64();
        let jitter = self.jitter.clamp(0.0, 1.0);
        let unit = unit_interval(splitmix64(seed ^ (u64::from(failed) << 48)));
        let scaled = base * (1.0 - jitter + 2.0 * jitter * unit);
        Duration::try_from_secs_f64(scaled.max(0.0)).unwrap_or(self.max_delay)
    }

    /// When to try a job again after its `failed`-th failed attempt, or
    /// `None` when the attempts or the job's age are exhausted.
    ///
    /// A `Retry-After` (clamped to [`max_retry_after`](Self::max_retry_after))
    /// pushes the time later, never earlier.
    pub fn next_attempt(
        &self,
        now: Timestamp,
        created_at: Timestamp,
        failed: u32,
        retry_after: Option<Duration>,
        seed: u64,
    ) -> Option<Timestamp> {
        if failed >= self.max_attempts {
            return None;
        }
        let mut wait = self.delay(failed, seed);
        if let Some(ra) = retry_after {
            wait = wait.max(ra.min(self.max_retry_after));
        }
        let at = now.saturating_add(wait);
        if at.saturating_since(created_at) > self.max_age {
            return None;
        }
        Some(at)
    }
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an
/// HTTP-date, relative to `now`. A date in the past means zero.
///
/// All three HTTP-date forms are read, as RFC 9110 §5.6.7 requires of
/// recipients: IMF-fixdate (what senders must use), and the obsolete RFC 850
/// and asctime forms that old servers and proxies still send. Anything else
/// (a negative or fractional number, a time zone other than `GMT`, a weekday
/// that does not match the date, a day the month does not have, a leap
/// second, more than 64 bytes) is `None`: the caller then falls back to its
/// own backoff.
///
/// An RFC 850 two-digit year is read as 19xx from `70` and as 20xx below
/// (the `httpdate` convention); RFC 9110 would map a year more than 50 years
/// ahead to the past instead, which differs only for dates from 2070 on, far
/// beyond any [`RetryPolicy::max_retry_after`].
///
/// ```
/// use archipel::delivery::{parse_retry_after, Timestamp};
/// use std::time::Duration;
/// let now = Timestamp::from_millis(784_111_777_000); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), Some(Duration::from_secs(60)));
/// assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:51:37 GMT", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun Nov  6 08:52:37 1994", now), Some(Duration::from_secs(180)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || value.len() > 64 {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    // httpdate validates the whole date (weekday included) and reads the
    // three forms of RFC 9110 §5.6.7.
    let at = httpdate::parse_http_date(value).ok()?;
    Some(Timestamp::from_system_time(at).saturating_since(now))
}

/// SplitMix64: a tiny, well-distributed mixer for per-job jitter.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit_interval(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_matches_documentation() {
        let p = RetryPolicy::default();
        let delays: Vec<u64> = (1..p.max_attempts)
            .map(|n| p.base_delay(n).as_secs())
            .collect();
        assert_eq!(
            delays,
            [
                30, 90, 270, 810, 2430, 7290, 21870, 43200, 43200, 43200, 43200
            ]
        );
        let total: u64 = delays.iter().sum();
        assert_eq!(total, 205_590); // ≈ 57.1 h ≈ 2.4 days
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies_per_job() {
        let p = RetryPolicy::default();
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..1000 {
            let d = p.delay(3, seed).as_secs_f64();
            assert!((202.5..=337.5).contains(&d), "{d}");
            distinct.insert(d.to_bits());
        }
        assert!(distinct.len() > 900);
        assert_eq!(p.delay(3, 7), p.delay(3, 7));
    }

    #[test]
    fn next_attempt_honours_retry_after_and_limits() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let now = Timestamp::from_millis(1_000_000);
        assert_eq!(
            p.next_attempt(now, now, 1, None, 1),
            Some(now.saturating_add(Duration::from_secs(30)))
        );
        assert_eq!(
            p.next_attempt(now, now, 1, Some(Duration::from_secs(600)), 1),
            Some(now.saturating_add(Duration::from_secs(600)))
        );
        // Shorter Retry-After never brings a retry earlier than the backoff.
        assert_eq!(
            p.next_attempt(now, now, 2, Some(Duration::from_secs(1)), 1),
            Some(now.saturating_add(Duration::from_secs(90)))
        );
        // Clamp absurd Retry-After values.
        assert_eq!(
            p.next_attempt(now, now, 1, Some(Duration::from_secs(10 * 86_400)), 1),
            Some(now.saturating_add(Duration::from_secs(86_400)))
        );
        assert_eq!(p.next_attempt(now, now, 12, None, 1), None);
        let old = Timestamp::from_millis(0);
        let p2 = RetryPolicy {
            max_age: Duration::from_secs(60),
            ..p
        };
        assert_eq!(
            p2.next_attempt(Timestamp::from_millis(50_000), old, 1, None, 1),
            None
        );
    }

    #[test]
    fn retry_after_reads_all_three_http_date_forms() {
        // RFC 9110 §5.6.7: recipients MUST accept IMF-fixdate and the
        // obsolete RFC 850 and asctime forms. `now` is 08:49:37 that day.
        let now = Timestamp::from_millis(784_111_777_000);
        for (value, secs) in [
            ("Sun, 06 Nov 1994 08:59:37 GMT", 600),
            ("Sunday, 06-Nov-94 09:49:37 GMT", 3_600),
            ("Sun Nov  6 10:49:38 1994", 7_201),
            // asctime with a two-digit day, RFC 850 across a month end.
            ("Mon Nov 14 08:49:37 1994", 8 * 86_400),
            ("Thursday, 01-Dec-94 08:49:37 GMT", 25 * 86_400),
        ] {
            assert_eq!(
                parse_retry_after(value, now),
                Some(Duration::from_secs(secs)),
                "{value}"
            );
        }
        // An RFC 850 year below 70 is 20xx.
        assert_eq!(
            parse_retry_after(
                "Wednesday, 25-Nov-26 12:00:10 GMT",
                Timestamp::from_millis(1_795_608_000_000)
            ),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn retry_after_rejects_malformed_values() {
        let now = Timestamp::from_millis(0);
        for bad in [
            "",
            "-1",
            "1.5",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "99999999999999999999999",
            // Broken RFC 850 and asctime dates: wrong weekday, zone, day.
            "Monday, 06-Nov-94 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 UTC",
            "Sun Nov 36 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            // Past the 64-byte cap, though it would read as 120 s.
            "0000000000000000000000000000000000000000000000000000000000000000120",
            // A weekday that does not match the date, a day the month does
            // not have, a leap second: not a valid IMF-fixdate.
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Thu, 30 Feb 1995 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:60 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after(
                "Thu, 01 Jan 1970 00:00:00 GMT",
                Timestamp::from_millis(5_000)
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 12:00:00 GMT", now),
            Some(Duration::from_secs(1_795_608_000))
        );
    }
}
