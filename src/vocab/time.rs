//! [`DateTime`]: an `xsd:dateTime` kept as written, parsed on demand.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::decode::{Leaf, leaf_decode};

/// A timestamp (`published`, `updated`, `startTime`, ...; AS2 uses
/// `xsd:dateTime`, RFC 3339 in practice) kept exactly as written.
///
/// Real payloads omit the timezone, use `+00:00` or carry 7- and 9-digit
/// fractions; keeping the string makes round-trips exact, and
/// [`DateTime::to_system_time`] interprets it when needed.
///
/// ```
/// use archipel::vocab::DateTime;
/// let t = DateTime::from_unix(1_700_000_000);
/// assert_eq!(t.as_str(), "2023-11-14T22:13:20Z");
/// assert_eq!(t.unix_seconds(), Some(1_700_000_000));
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DateTime(Box<str>);

impl DateTime {
    /// Wrap a timestamp string as written (no validation).
    pub fn new_unchecked(s: impl Into<String>) -> Self {
        DateTime(s.into().into_boxed_str())
    }

    /// Format seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        DateTime(
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                rem / 3600,
                (rem / 60) % 60,
                rem % 60
            )
            .into_boxed_str(),
        )
    }

    /// The current time, in whole seconds.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        DateTime::from_unix(secs)
    }

    /// The string as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Seconds since the Unix epoch (fraction dropped), if the string is an
    /// RFC 3339 date-time. A missing timezone is read as UTC, as servers that
    /// omit it mean.
    pub fn unix_seconds(&self) -> Option<i64> {
        parse_rfc3339(&self.0)
    }

    /// As a [`SystemTime`], see [`DateTime::unix_seconds`].
    pub fn to_system_time(&self) -> Option<SystemTime> {
        let s = self.unix_seconds()?;
        if s >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(s.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(s.unsigned_abs()))
        }
    }
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, se) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(c @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
            let off = num(i + 1, 2)? * 3600 + num(i + 4, 2)? * 60;
            if *c == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| DateTime(s.into_boxed_str()))
    }
}

impl Leaf for DateTime {
    const WHAT: &'static str = "a date-time string";
    fn from_string(v: String) -> Result<Self, String> {
        Ok(DateTime(v.into_boxed_str()))
    }
}
leaf_decode!(DateTime);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_world_spellings() {
        let t = |s: &str| DateTime::new_unchecked(s).unix_seconds();
        assert_eq!(t("2019-09-19T00:32:36.785333"), Some(1_568_853_156));
        assert_eq!(t("2019-09-19T00:32:36Z"), Some(1_568_853_156));
        assert_eq!(t("2019-09-19T02:32:36.1234567+02:00"), Some(1_568_853_156));
        assert_eq!(
            t("2019-09-18T23:32:36.123456789-01:00"),
            Some(1_568_853_156)
        );
        assert_eq!(t("2019-13-19T00:32:36Z"), None);
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("2019-09-19T00:32:36Zjunk"), None);
    }

    #[test]
    fn formats_round_trip() {
        for secs in [0, 951_782_400, 1_700_000_000, -86_400] {
            assert_eq!(DateTime::from_unix(secs).unix_seconds(), Some(secs));
        }
        assert_eq!(
            DateTime::from_unix(951_782_400).as_str(),
            "2000-02-29T00:00:00Z"
        );
    }
}
