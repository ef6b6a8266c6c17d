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

/// The exact verdict on every committed seed and regression: whether it is
/// an account (`Acct`), a `resource` value (`Resource`) and a WebFinger
/// query string (`WebFingerQuery`). Each listed file must exist.
#[test]
fn seeds_have_their_verdicts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    // (file under fuzz/, acct, resource, query)
    let table: &[(&str, bool, bool, bool)] = &[
        ("corpus/webfinger_resource/acct_uri", true, true, false),
        ("corpus/webfinger_resource/at_handle", true, true, false),
        ("corpus/webfinger_resource/idn", true, true, false),
        ("corpus/webfinger_resource/ipv6", true, true, false),
        ("corpus/webfinger_resource/pct", true, true, false),
        ("corpus/webfinger_resource/port", true, true, false),
        ("corpus/webfinger_resource/query", false, false, true),
        ("corpus/webfinger_resource/query_url", false, false, true),
        ("corpus/webfinger_resource/two_at", false, false, false),
        ("corpus/webfinger_resource/url", false, true, false),
        // Minimised fuzz finds: an acct-shaped host with odd labels is
        // still an account; a bare http(s) URL is a resource only.
        (
            "corpus/webfinger_resource/min_412f8e655f13",
            true,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_7924280e4899",
            true,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_c4d73ecd0e61",
            true,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_4e76ea8cfe40",
            false,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_515f2a4b708c",
            false,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_881c05e0726b",
            false,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_ae27ff51e868",
            false,
            true,
            false,
        ),
        (
            "corpus/webfinger_resource/min_367510465b7d",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_40f4d2b3de77",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_5a5c8642d991",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_641db27d95c6",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_64270870238b",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_71044aba3f47",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_7d207b81c963",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_860a248cbd0b",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_88eef276bc0c",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_a0ad4a935520",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_a34c14a4291a",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_a7be5c933f91",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_a9b50f72b3d2",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_aef0bcbdc05c",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_b25509521a18",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_c8f34c5e8757",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_d770815a14fb",
            false,
            false,
            false,
        ),
        (
            "corpus/webfinger_resource/min_ec551089a78b",
            false,
            false,
            false,
        ),
        // A Unicode host whose punycode exceeds DNS limits: refused.
        (
            "regressions/webfinger_resource/long_idn_host_roundtrip",
            false,
            false,
            false,
        ),
    ];
    for &(file, acct, resource, query) in table {
        let data = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let s = std::str::from_utf8(&data).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (
                Acct::parse(s).is_ok(),
                Resource::parse(s).is_ok(),
                WebFingerQuery::parse(s).is_ok()
            ),
            (acct, resource, query),
            "{file}: (acct, resource, query) for {s:?}"
        );
    }
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
