//! Replays the committed fuzz seeds and regressions for the signature
//! parsers on the stable toolchain, through the same public functions the
//! fuzz targets call, with the same assertions.

use std::future::Future as _;
use std::path::Path;

use archipel::signatures::*;

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
