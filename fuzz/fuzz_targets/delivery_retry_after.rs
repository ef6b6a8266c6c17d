//! Fuzzes `Retry-After` parsing (delay-seconds or an HTTP-date, from remote
//! servers' 429/503 answers): never panics, never overflows, and a result
//! is consistent with a later "now".
#![no_main]

use archipel::delivery::{Timestamp, parse_retry_after};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for now in [0, 1_700_000_000_000, u64::MAX] {
        let now = Timestamp::from_millis(now);
        if let Some(d) = parse_retry_after(s, now) {
            // A date means "this long from now": never longer from a later now.
            if !s.trim().bytes().all(|b| b.is_ascii_digit()) {
                let later = now.saturating_add(std::time::Duration::from_secs(1));
                let d2 = parse_retry_after(s, later).unwrap();
                assert!(d2 <= d);
            }
        }
    }
});
