//! The `ld_signature` fuzz target's stored inputs (its seeds in
//! `fuzz/corpus/ld_signature/`, and any crash kept in
//! `fuzz/regressions/ld_signature/`), replayed on stable through the same
//! calls as the target, so CI keeps every fixed crash fixed.

use std::path::PathBuf;

use archipel::ldsig;

use crate::vectors::public_key;

fn inputs(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// What the fuzz target does with one input.
fn replay(data: &[u8]) -> bool {
    let Ok(document) = ldsig::parse_document(data) else {
        return false;
    };
    let _ = ldsig::signature(&document);
    let verified = ldsig::verify_with_key(&document, &public_key()).is_ok();
    let _ = ldsig::signing_input(&document);
    verified
}

#[test]
fn the_seeds_verify_and_stored_inputs_do_not_panic() {
    let seeds = inputs("fuzz/corpus/ld_signature");
    let names: Vec<&str> = seeds
        .iter()
        .filter_map(|(p, _)| p.rsplit('/').next())
        .filter(|n| n.ends_with("-signed.json"))
        .collect();
    assert_eq!(
        names,
        [
            "create_note-signed.json",
            "follow-signed.json",
            "numbers-signed.json"
        ]
    );
    for (path, data) in &seeds {
        let verified = replay(data);
        if path.ends_with("-signed.json") {
            assert!(verified, "{path}");
        }
    }
    for (_, data) in inputs("fuzz/regressions/ld_signature") {
        replay(&data);
    }
}
