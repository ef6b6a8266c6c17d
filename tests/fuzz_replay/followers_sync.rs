//! Replays the `collection_sync_header` fuzz corpus and regressions through
//! the same check as the fuzz target (no panic; what parses writes back to
//! a value that parses the same), and pins each seed's verdict.

use std::path::Path;

use archipel::federation::followers_sync::{MAX_HEADER_LEN, SyncHeader};

fn check(data: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(header) = SyncHeader::parse(s) else {
        return false;
    };
    assert!(s.len() <= MAX_HEADER_LEN);
    assert_eq!(
        SyncHeader::parse(&header.to_header_value()).as_ref(),
        Ok(&header),
        "{s:?}"
    );
    true
}

#[test]
fn replay_collection_sync_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut verdicts = Vec::new();
    for dir in [
        "corpus/collection_sync_header",
        "regressions/collection_sync_header",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                verdicts.push((name, check(&std::fs::read(&path).unwrap())));
            }
        }
    }
    verdicts.sort();
    let seeds: Vec<(&str, bool)> = verdicts.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    for want in [
        ("duplicate", false),
        ("escape", false),
        ("mastodon", true),
        ("reordered", true),
        ("trailing_comma", false),
    ] {
        assert!(seeds.contains(&want), "{want:?} in {seeds:?}");
    }
}
