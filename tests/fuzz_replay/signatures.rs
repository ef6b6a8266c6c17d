//! Replays the committed fuzz seeds and regressions for the signature
//! parsers on the stable toolchain, through the same public functions the
//! fuzz targets call, with the same assertions.

use std::future::Future as _;
use std::path::Path;

use archipel::signatures::*;

/// The committed seed `name` of `target`'s corpus (its verdict is pinned
/// below, so a seed that goes missing fails the test instead of passing
/// silently).
fn seed(target: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Verifies a POST to `https://example.com/inbox?x=1` (dated 2014, with a
/// matching `Digest`) carrying `signature`, with a resolver that knows no
/// key; the in-memory resolver never waits, so one poll decides.
fn verify_2014_post(signature: &str) -> Result<Verified, SignatureError> {
    let req = http::Request::post("https://example.com/inbox?x=1")
        .header("host", "example.com")
        .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
        .header(
            "digest",
            "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        )
        .header("signature", http::HeaderValue::from_str(signature).unwrap())
        .body(bytes::Bytes::from_static(br#"{"hello": "world"}"#))
        .unwrap();
    let verifier = Verifier::new(MemoryKeyResolver::new(), VerifyPolicy::default());
    let fut = std::pin::pin!(verifier.verify(&req));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.poll(&mut cx) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => panic!("in-memory resolver never waits"),
    }
}

/// The seeds' exact verdicts: the key id each parses to, and why the
/// verifier refuses it (the policy's checks come before any key lookup:
/// a POST must cover `(request-target)` and `digest`, and 2014 is stale).
#[test]
fn cavage_seeds_have_their_verdicts() {
    let target = "cavage_signature_header";
    for (name, key_id, verdict) in [
        (
            "authorization-escapes",
            "k\"1",
            SignatureError::MissingComponent("(request-target)".into()),
        ),
        (
            "c1",
            "Test",
            SignatureError::MissingComponent("(request-target)".into()),
        ),
        (
            "c2",
            "Test",
            SignatureError::MissingComponent("digest".into()),
        ),
        (
            "c3",
            "Test",
            SignatureError::StaleDate {
                age_secs: 0,
                max_secs: 3900,
            },
        ),
        (
            "hs2019-created",
            "https://a.example/users/alice#main-key",
            SignatureError::StaleDate {
                age_secs: 0,
                max_secs: 3900,
            },
        ),
    ] {
        let header = seed(target, name);
        let parsed = parse_cavage_signature(&header).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.key_id, key_id, "{name}");
        let err = verify_2014_post(&header).unwrap_err();
        match (&err, &verdict) {
            // The age depends on today's date; the limit does not.
            (
                SignatureError::StaleDate { max_secs, .. },
                SignatureError::StaleDate { max_secs: want, .. },
            ) => assert_eq!(max_secs, want, "{name}"),
            _ => assert_eq!(err.to_string(), verdict.to_string(), "{name}"),
        }
    }
}

/// Labels and covered-component counts of the RFC 9421 seeds (B.2.1–B.2.3,
/// B.2.6 of the RFC, and a two-signature header).
#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_seeds_have_their_verdicts() {
    let target = "rfc9421_signature_input";
    for (name, want) in [
        ("b21", vec![("sig-b21", 0)]),
        ("b22", vec![("sig-b22", 3)]),
        ("b23", vec![("sig-b23", 8)]),
        ("b26", vec![("sig-b26", 6)]),
        ("two-signatures", vec![("sig1", 6), ("sig2", 3)]),
    ] {
        let list =
            parse_signature_input(&seed(target, name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: Vec<(&str, usize)> = list
            .iter()
            .map(|i| (i.label.as_str(), i.components.len()))
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

/// Which of the two digest syntaxes accepts each seed, and how many
/// entries it yields: RFC 3230 `Digest` values are bare base64, RFC 9530
/// `Content-Digest` values are `:byte sequences:`.
#[test]
fn digest_seeds_have_their_verdicts() {
    let target = "digest_header";
    for (name, legacy, content) in [
        ("content-both", None, Some(2)),
        ("legacy-sha256", Some(1), None),
        ("mixed", Some(1), None),
    ] {
        let header = seed(target, name);
        assert_eq!(
            parse_digest_header(&header).ok().map(|e| e.len()),
            legacy,
            "{name}: Digest"
        );
        assert_eq!(
            parse_content_digest(&header).ok().map(|e| e.len()),
            content,
            "{name}: Content-Digest"
        );
    }
}

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn cavage_signature_header_inputs() {
    let all = inputs("cavage_signature_header");
    assert!(all.len() >= 5, "seed corpus missing");
    let mut parsed = 0;
    for (name, data) in all {
        let Ok(s) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(sig) = parse_cavage_signature(s) {
            assert!(sig.components().count() <= s.len(), "{name}");
            parsed += 1;
        }
        let Ok(value) = http::HeaderValue::from_str(s) else {
            continue;
        };
        let req = http::Request::post("https://example.com/inbox?x=1")
            .header("host", "example.com")
            .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
            .header(
                "digest",
                "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            )
            .header("signature", value)
            .body(bytes::Bytes::from_static(br#"{"hello": "world"}"#))
            .unwrap();
        let verifier = Verifier::new(MemoryKeyResolver::new(), VerifyPolicy::default());
        let fut = std::pin::pin!(verifier.verify(&req));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.poll(&mut cx) {
            std::task::Poll::Ready(r) => assert!(r.is_err(), "{name}: no key can verify"),
            std::task::Poll::Pending => panic!("{name}: in-memory resolver never waits"),
        }
    }
    assert!(parsed >= 5);
}

#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_signature_input_inputs() {
    let all = inputs("rfc9421_signature_input");
    assert!(all.len() >= 5, "seed corpus missing");
    for (name, data) in all {
        let Ok(s) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(list) = parse_signature_input(s) {
            for input in list {
                let again = parse_signature_input(&input.to_header_member()).unwrap();
                assert_eq!(again, vec![input], "{name}");
            }
        }
    }
}

#[test]
fn digest_header_inputs() {
    let all = inputs("digest_header");
    assert!(all.len() >= 3, "seed corpus missing");
    for (name, data) in all {
        let Ok(s) = std::str::from_utf8(&data) else {
            continue;
        };
        for entries in [parse_digest_header(s), parse_content_digest(s)]
            .into_iter()
            .flatten()
        {
            assert!(!entries.is_empty() && entries.len() <= 16, "{name}");
        }
    }
}
