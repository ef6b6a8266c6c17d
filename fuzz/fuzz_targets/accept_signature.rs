//! Fuzzes the RFC 9421 `Accept-Signature` parser and signing as requested:
//! any bytes parse or fail with a typed error; whatever parses re-serializes
//! to a field that parses back to the same value; and signing a fixed
//! request in each requested form either succeeds with a signature that
//! covers that form (plus the method, target and digest it always covers)
//! or fails with a typed error (never a panic).
#![no_main]

use std::sync::OnceLock;

use archipel::signatures::accept_signature::{parse_accept_signature, sign_as_requested};
use archipel::signatures::{BodyDigest, PrivateKey, Signer};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

/// An Ed25519 signer (cheap to sign with), made once.
fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = PrivateKey::generate_ed25519().expect("an Ed25519 key");
        Signer::new("https://a.example/users/alice#main-key", key)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(field) = parse_accept_signature(s) else {
        return;
    };
    let again = parse_accept_signature(&field.to_header_value())
        .expect("a re-serialized Accept-Signature parses");
    assert_eq!(again, field);
    let body = Bytes::from_static(br#"{"type":"Create"}"#);
    let digest = BodyDigest::sha256(&body);
    for wanted in &field.requests {
        let mut req = http::Request::post("https://b.example/inbox?x=1")
            .header("content-type", "application/activity+json")
            .body(body.clone())
            .expect("a fixed request builds");
        if sign_as_requested(&mut req, signer(), Some(&digest), wanted).is_ok() {
            let input = req
                .headers()
                .get("signature-input")
                .and_then(|v| v.to_str().ok())
                .expect("a signed request has Signature-Input");
            let parsed = archipel::signatures::parse_signature_input(input)
                .expect("our Signature-Input parses");
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].label, wanted.label);
            // What was asked, in its order, then the floor it left out.
            let covered = &parsed[0].components;
            assert!(covered.starts_with(&wanted.components));
            for name in ["@method", "@target-uri", "content-digest"] {
                assert!(covered.iter().any(|c| c.name == name), "{name} covered");
            }
        }
    }
});
