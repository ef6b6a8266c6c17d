//! Replays the `inbox_request` fuzz corpus and regressions through the same
//! harness the fuzz target runs (`tests/support/inbox_fuzz_input.rs`),
//! asserting no panic and a documented refusal status for each input.

use crate::support::inbox_fuzz_input;

use std::path::PathBuf;

#[test]
fn replay_inbox_request_corpus() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["corpus/inbox_request", "regressions/inbox_request"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let _ = inbox_fuzz_input::run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "the committed seed corpus is missing");
}

#[test]
fn harness_refuses_typical_inputs_with_exact_errors() {
    use archipel::inbox::InboxError;
    let empty_digest = "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let unsigned = format!("application/activity+json\n{empty_digest}\n\n");
    assert!(matches!(
        inbox_fuzz_input::run(unsigned.as_bytes()),
        Some(InboxError::Unsigned)
    ));
    let empty_body = format!("application/activity+json\n{empty_digest}\nkeyId=\"x\"\n");
    assert!(matches!(
        inbox_fuzz_input::run(empty_body.as_bytes()),
        Some(InboxError::InvalidJson { .. })
    ));
    assert!(matches!(
        inbox_fuzz_input::run(b"text/html\n\n\n{}"),
        Some(InboxError::UnsupportedContentType { .. })
    ));
}
