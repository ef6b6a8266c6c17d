//! Replays the `delivery_retry_after` fuzz corpus and regressions through
//! the same public function the fuzz target calls, on the stable toolchain.

use std::time::Duration;

use archipel::delivery::{Timestamp, parse_retry_after};

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let path = format!("{root}/{dir}/delivery_retry_after");
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            out.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn retry_after_corpus_replays_without_panic() {
    let inputs = inputs();
    assert!(inputs.len() >= 10, "seed corpus missing");
    for (name, data) in inputs {
        let Ok(s) = std::str::from_utf8(&data) else {
            continue;
        };
        for now in [0, 1_700_000_000_000, u64::MAX] {
            let now = Timestamp::from_millis(now);
            if let Some(d) = parse_retry_after(s, now)
                && !s.trim().bytes().all(|b| b.is_ascii_digit())
            {
                let later = now.saturating_add(Duration::from_secs(1));
                assert!(parse_retry_after(s, later).unwrap() <= d, "{name}");
            }
        }
    }
}

#[test]
fn seeds_parse_as_expected() {
    let now = Timestamp::from_millis(784_111_777_000); // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(
        parse_retry_after(" 30 ", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Some(Duration::ZERO)
    );
    // RFC 9110 §5.6.7: senders MUST use IMF-fixdate, but recipients MUST
    // also accept the obsolete RFC 850 and asctime forms.
    assert_eq!(
        parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(
        parse_retry_after("Sun Nov  6 08:50:37 1994", now),
        Some(Duration::from_secs(60))
    );
    assert_eq!(parse_retry_after("99999999999999999999", now), None);
}
