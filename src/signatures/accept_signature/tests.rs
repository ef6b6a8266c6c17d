//! Unit tests of `Accept-Signature` parsing, serialization and signing.

use bytes::Bytes;
use http::Request;

use super::*;
use crate::signatures::{BodyDigest, Signer};

#[test]
fn parses_the_rfc_example() {
    // RFC 9421 §5.1's example.
    let f = parse_accept_signature(
        r#"sig1=("@method" "@target-uri" "@authority" "content-digest" "cache-control");keyid="test-key-rsa-pss";created;tag="app-123""#,
    )
    .unwrap();
    let r = &f.requests[0];
    assert_eq!(r.label, "sig1");
    assert_eq!(
        r.components
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        [
            "@method",
            "@target-uri",
            "@authority",
            "content-digest",
            "cache-control"
        ]
    );
    assert_eq!(r.keyid.as_deref(), Some("test-key-rsa-pss"));
    assert!(r.created);
    assert!(!r.expires);
    assert_eq!(r.tag.as_deref(), Some("app-123"));
    assert_eq!(r.alg, None);
}

#[test]
fn round_trips() {
    let mut r = SignatureRequest::new("s", ["@method", "content-digest"])
        .with_alg(Algorithm::Ed25519)
        .with_created()
        .with_keyid("k\"1");
    r.expires = true;
    r.nonce = Some("n".into());
    r.tag = Some("t".into());
    let f = AcceptSignature::new(r);
    let v = f.to_header_value();
    assert_eq!(
        v,
        r#"s=("@method" "content-digest");created;expires;keyid="k\"1";alg="ed25519";nonce="n";tag="t""#
    );
    assert_eq!(parse_accept_signature(&v).unwrap(), f);
}

#[test]
fn refuses_hostile_fields_with_typed_errors() {
    let long = "a".repeat(MAX_HEADER_LEN + 1);
    assert_eq!(
        parse_accept_signature(&long),
        Err(AcceptSignatureError::TooLarge {
            len: MAX_HEADER_LEN + 1,
            max: MAX_HEADER_LEN
        })
    );
    assert_eq!(
        parse_accept_signature("a=(), b=(), c=(), d=(), e=()"),
        Err(AcceptSignatureError::TooManyRequests { count: 5, max: 4 })
    );
    let many: Vec<String> = (0..33).map(|i| format!("\"h{i}\"")).collect();
    assert_eq!(
        parse_accept_signature(&format!("s=({})", many.join(" "))),
        Err(AcceptSignatureError::TooManyComponents {
            label: "s".into(),
            count: 33,
            max: 32
        })
    );
    assert_eq!(
        parse_accept_signature("s=1"),
        Err(AcceptSignatureError::NotAnInnerList { label: "s".into() })
    );
    assert_eq!(
        parse_accept_signature("s=(date date)"),
        Err(AcceptSignatureError::InvalidComponent {
            label: "s".into(),
            reason: "component identifier is not a string"
        })
    );
    assert_eq!(
        parse_accept_signature(r#"s=("date" "date")"#),
        Err(AcceptSignatureError::InvalidComponent {
            label: "s".into(),
            reason: "component listed twice"
        })
    );
    assert_eq!(
        parse_accept_signature(r#"s=("date");created=1"#),
        Err(AcceptSignatureError::InvalidParameter {
            label: "s".into(),
            parameter: "created",
            reason: "not a boolean"
        })
    );
    assert_eq!(
        parse_accept_signature(r#"s=("date");alg=rsa"#),
        Err(AcceptSignatureError::InvalidParameter {
            label: "s".into(),
            parameter: "alg",
            reason: "not a string"
        })
    );
    assert_eq!(
        parse_accept_signature(r#"s=("date""#),
        Err(AcceptSignatureError::Malformed { position: 9 })
    );
    assert_eq!(parse_accept_signature(""), Err(AcceptSignatureError::Empty));
}

#[test]
fn component_parameters_are_kept_and_refused_when_signing() {
    let v = r#"s=("@query-param";name="q" "x";sf)"#;
    let f = parse_accept_signature(v).unwrap();
    assert_eq!(f.requests[0].components[0].params, r#";name="q""#);
    assert_eq!(f.to_header_value(), v);
    let signer = Signer::new("https://a.example/k", rsa_key());
    let mut req = Request::post("https://b.example/inbox?q=1")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(
        sign_as_requested(&mut req, &signer, None, &f.requests[0]),
        Err(AcceptSignatureError::UnsupportedComponent {
            component: r#""@query-param";name="q""#.into()
        })
    );
}

#[test]
fn challenges_only_for_the_form() {
    assert!(calls_for_challenge(&SignatureError::MissingSignature));
    assert!(calls_for_challenge(&SignatureError::MissingComponent(
        "digest".into()
    )));
    assert!(!calls_for_challenge(&SignatureError::BadSignature {
        key_id: "k".into()
    }));
    let cavage_only = VerifyPolicy {
        specs: vec![Spec::Cavage],
        ..VerifyPolicy::default()
    };
    assert_eq!(AcceptSignature::for_policy(&cavage_only, true), None);
    let get = AcceptSignature::for_policy(&VerifyPolicy::default(), false).unwrap();
    assert_eq!(
        get.to_header_value(),
        r#"sig1=("@method" "@target-uri");created"#
    );
}

#[test]
fn the_challenge_asks_for_what_the_policy_accepts() {
    // Several algorithms accepted: none named, the sender's key decides.
    let default = AcceptSignature::for_policy(&VerifyPolicy::default(), true).unwrap();
    assert_eq!(default.requests[0].alg, None);
    // One: named; and the policy's label and tag are asked for.
    let strict = VerifyPolicy {
        specs: vec![Spec::Rfc9421],
        algorithms: vec![Algorithm::Ed25519],
        signature_label: Some("inbox".into()),
        signature_tag: Some("fediverse".into()),
        ..VerifyPolicy::default()
    };
    assert_eq!(
        AcceptSignature::for_policy(&strict, true)
            .unwrap()
            .to_header_value(),
        r#"inbox=("@method" "@target-uri" "content-digest");created;alg="ed25519";tag="fediverse""#
    );
}

/// The crate's RSA-2048 test key.
fn rsa_key() -> crate::signatures::PrivateKey {
    crate::signatures::PrivateKey::from_pem(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/rsa-2048-pkcs8.pem"
    )))
    .unwrap()
}

/// The names a signed request's one signature covers.
fn covered(req: &Request<Bytes>) -> Vec<String> {
    let input = req.headers()["signature-input"].to_str().unwrap();
    let parsed = crate::signatures::parse_signature_input(input).unwrap();
    assert_eq!(parsed.len(), 1);
    parsed[0]
        .components
        .iter()
        .map(|c| c.name.clone())
        .collect()
}

#[test]
fn a_challenge_asking_for_less_gets_the_method_target_and_body_covered() {
    // An RSA key, which every feature set has (`rfc9421` does not bring
    // Ed25519).
    let key = rsa_key();
    let public = key.public_key();
    let signer = Signer::new("https://a.example/k", key);
    // A malicious inbox asks for a signature over nothing.
    let nothing = parse_accept_signature("sig1=();created").unwrap();
    let body = Bytes::from_static(br#"{"type":"Create"}"#);
    let mut req = Request::post("https://b.example/inbox")
        .body(body.clone())
        .unwrap();
    // No digest brought: computed, and covered all the same.
    sign_as_requested(&mut req, &signer, None, &nothing.requests[0]).unwrap();
    assert_eq!(covered(&req), ["@method", "@target-uri", "content-digest"]);
    assert_eq!(
        req.headers()["content-digest"],
        BodyDigest::sha256(&body).content_digest_value()
    );
    // What was asked comes first, in its order; the floor is appended.
    let path = parse_accept_signature(r#"sig1=("@path" "@method")"#).unwrap();
    let mut get = Request::get("https://b.example/users/alice")
        .body(Bytes::new())
        .unwrap();
    sign_as_requested(&mut get, &signer, None, &path.requests[0]).unwrap();
    assert_eq!(covered(&get), ["@path", "@method", "@target-uri"]);
    // And the signature verifies with the components it names.
    let mut keys = crate::signatures::MemoryKeyResolver::new();
    keys.insert("https://a.example/k", public, "https://a.example/a");
    let verifier = crate::signatures::Verifier::new(keys, VerifyPolicy::default());
    let verified = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(verifier.verify(&req))
        .unwrap();
    assert_eq!(verified.key_id, "https://a.example/k");
}
