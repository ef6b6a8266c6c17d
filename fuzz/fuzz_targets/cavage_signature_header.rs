//! Fuzzes the draft-cavage `Signature` header parser and the verifier
//! path behind it (components, dates, digest, signing string).
#![no_main]

use archipel::signatures::{MemoryKeyResolver, Verifier, VerifyPolicy, parse_cavage_signature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sig) = parse_cavage_signature(s) {
        assert!(sig.components().count() <= s.len());
    }
    let Ok(value) = http::HeaderValue::from_str(s) else {
        return;
    };
    let req = http::Request::post("https://example.com/inbox?x=1")
        .header("host", "example.com")
        .header("date", "Sun, 05 Jan 2014 21:31:40 GMT")
        .header("digest", "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=")
        .header("signature", value)
        .body(bytes::Bytes::from_static(br#"{"hello": "world"}"#))
        .unwrap();
    let verifier = Verifier::new(MemoryKeyResolver::new(), VerifyPolicy::default());
    use std::future::Future as _;
    let fut = std::pin::pin!(verifier.verify(&req));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    // The in-memory resolver never waits: one poll completes.
    assert!(fut.poll(&mut cx).is_ready());
});
