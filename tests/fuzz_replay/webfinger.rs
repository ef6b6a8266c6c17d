//! Replays the `webfinger_resource` fuzz corpus and regressions through the
//! same public functions and checks as the fuzz target: no panics, and
//! every accepted value re-parses to itself from its printed form.

use std::path::Path;

use archipel::webfinger::{Acct, MAX_RELS, Resource, WebFingerQuery};

fn check(data: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    let mut accepted = false;
    if let Ok(a) = Acct::parse(s) {
        accepted = true;
        assert_eq!(Acct::parse(&a.to_string()).ok().as_ref(), Some(&a), "{s:?}");
        assert_eq!(Acct::parse(&a.to_uri()).ok().as_ref(), Some(&a), "{s:?}");
    }
    if let Ok(r) = Resource::parse(s) {
        accepted = true;
        assert_eq!(
            Resource::parse(&r.to_string()).ok().as_ref(),
            Some(&r),
            "{s:?}"
        );
    }
    if let Ok(q) = WebFingerQuery::parse(s) {
        accepted = true;
        assert!(q.rels.len() <= MAX_RELS);
    }
    accepted
}

#[test]
fn replay_corpus_and_regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = 0;
    let mut accepted = 0;
    for dir in [
        "corpus/webfinger_resource",
        "regressions/webfinger_resource",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() {
                files += 1;
                if check(&std::fs::read(&path).unwrap()) {
                    accepted += 1;
                }
            }
        }
    }
    assert!(files >= 5, "seed corpus missing ({files} files)");
    assert!(accepted >= 5, "seeds should exercise the accepting paths");
}

#[test]
fn hand_picked_edge_cases() {
    for input in [
        "acct:alice@example.com",
        "@alice@BÜCHER.example",
        "alice@127.0.0.1:8080",
        "a@[::ffff:1.2.3.4]:1",
        "a@0x7f.1",
        "a@example.com。",
        "resource=acct:a@b.example&rel=self",
        "resource=&rel=x",
        "http://[::1",
        "\u{0}@\u{0}",
        "acct:%zz@x",
    ] {
        check(input.as_bytes());
    }
}
