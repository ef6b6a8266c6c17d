//! Replays the `vocab_json` fuzz corpus and every past crash through the same
//! entry point the fuzz target uses, with the same checks, on stable Rust.

use std::path::Path;

use archipel::vocab::{AnyObject, ParseLimits};

/// The fuzz target's body (`fuzz/fuzz_targets/vocab_json.rs`).
fn check(data: &[u8]) {
    let limits = ParseLimits::default()
        .with_max_bytes(64 * 1024)
        .with_max_depth(32);
    let Ok(doc) = AnyObject::from_slice_with(data, &limits) else {
        return;
    };
    let out = serde_json::to_vec(&doc).unwrap();
    let input: serde_json::Value = serde_json::from_slice(data).unwrap();
    let output: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        serde_json::to_value(&doc).ok().as_ref(),
        Some(&input),
        "decode lost data"
    );
    assert_eq!(input, output, "round-trip changed the document");
    let again = AnyObject::from_slice_with(&out, &ParseLimits::default()).unwrap();
    assert_eq!(serde_json::to_vec(&again).unwrap(), out);
}

fn replay(dir: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{} fails the fuzz checks", path.display());
            n += 1;
        }
    }
    n
}

#[test]
fn corpus_and_regressions_replay_cleanly() {
    let seeds = replay("fuzz/corpus/vocab_json");
    let crashes = replay("fuzz/regressions/vocab_json");
    assert!(
        seeds >= 10,
        "expected the committed seed corpus, found {seeds} files"
    );
    eprintln!("replayed {seeds} seeds and {crashes} regressions");
}
