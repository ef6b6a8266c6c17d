//! Every document of the shared real-world corpus parses, lands in its typed
//! struct when its `type` is in the vocabulary, and round-trips exactly.

use std::io::Write;
use std::path::{Path, PathBuf};

use archipel::vocab::{AnyObject, Kind};
use serde_json::Value;

/// The shared corpus holds 388 documents; far fewer means a broken checkout,
/// not a passing run.
const MIN_CORPUS_FILES: usize = 300;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/activitypub")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Whether the top-level `type` names a vocabulary type.
fn has_vocab_type(v: &Value) -> bool {
    let names: Vec<&str> = match v.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    names.into_iter().any(|n| Kind::from_name(n).is_some())
}

#[test]
fn corpus_parses_types_and_round_trips() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        crate::support::skip_or_fail("the shared corpus", &format!("{} absent", dir.display()));
        return;
    }
    let mut files = Vec::new();
    walk(&dir, &mut files);
    // A corpus directory that lost its files must not pass as "all parsed".
    assert!(
        files.len() >= MIN_CORPUS_FILES,
        "only {} JSON files under {} (expected at least {MIN_CORPUS_FILES})",
        files.len(),
        dir.display()
    );
    let (mut parsed, mut round_tripped, mut unknown) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        let bytes = std::fs::read(path).unwrap();
        let expected: Value = serde_json::from_slice(&bytes).unwrap();
        let doc = match AnyObject::from_slice(&bytes) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{name}: parse: {e}"));
                continue;
            }
        };
        parsed += 1;
        if matches!(doc, AnyObject::Unknown(_)) {
            unknown += 1;
            if has_vocab_type(&expected) {
                failures.push(format!("{name}: vocabulary type landed in Unknown"));
            }
        }
        // Typed fields really are typed, not parked in `extra`.
        if let Some(id) = expected.get("id").and_then(Value::as_str)
            && doc.id().map(|i| i.as_str()) != Some(id)
        {
            failures.push(format!("{name}: id not decoded as an IRI"));
        }
        if let (Some(inbox), Some(actor)) = (
            expected.get("inbox").and_then(Value::as_str),
            doc.as_actor(),
        ) && actor.inbox.as_ref().map(|i| i.as_str()) != Some(inbox)
        {
            failures.push(format!("{name}: actor inbox not decoded"));
        }
        let back = serde_json::to_value(&doc).unwrap();
        // Decoding the already parsed value (what the fetcher does) gives
        // the same document as decoding the bytes.
        match AnyObject::from_value(&expected) {
            Ok(again) if serde_json::to_value(&again).unwrap() == back => {}
            Ok(_) => failures.push(format!("{name}: from_value differs from from_slice")),
            Err(e) => failures.push(format!("{name}: from_value: {e}")),
        }
        if back == expected {
            round_tripped += 1;
        } else {
            failures.push(format!("{name}: round-trip differs"));
        }
    }
    // Written to the process's stderr directly so it shows without
    // `--nocapture` (libtest only captures the print macros).
    writeln!(
        std::io::stderr(),
        "corpus: {} documents, {parsed} parsed, {round_tripped} round-tripped, {unknown} unknown-type",
        files.len()
    )
    .unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(parsed, files.len());
    assert_eq!(round_tripped, files.len());
}
