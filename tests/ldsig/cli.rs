//! The command-line example's `ld-sign` / `ld-verify`, run in-process on
//! documents and key files.

use std::process::ExitCode;

use serde_json::Value;

use crate::ld_cli::{sign_with, verify_with};

const DOC: &str = r#"{"@context":"https://www.w3.org/ns/activitystreams","id":"https://a.example/users/alice#follows/1","type":"Follow","actor":"https://a.example/users/alice","object":"https://b.example/users/bob"}"#;
const CREATOR: &str = "https://a.example/users/alice#main-key";

fn key(name: &str) -> String {
    format!("{}/tests/interop/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

type Run = fn(&[String], &str, &mut dyn std::io::Write, &mut dyn std::io::Write) -> ExitCode;

fn run(f: Run, args: &[&str], input: &str) -> (ExitCode, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = f(&args, input, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn signed(created: Option<&str>) -> String {
    let pem = key("rsa-2048-pkcs8.pem");
    let mut args = vec!["--key", &pem, "--creator", CREATOR];
    if let Some(c) = created {
        args.extend(["--created", c]);
    }
    let (code, out, err) = run(sign_with, &args, DOC);
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    out
}

#[test]
fn ld_sign_then_ld_verify() {
    let doc: Value = serde_json::from_str(&signed(Some("2026-01-01T00:00:00Z"))).unwrap();
    assert_eq!(doc["signature"]["type"], "RsaSignature2017");
    assert_eq!(doc["signature"]["creator"], CREATOR);
    assert_eq!(doc["signature"]["created"], "2026-01-01T00:00:00Z");
    let (code, out, _) = run(
        verify_with,
        &["--public-key", &key("rsa-2048-spki.pem")],
        &doc.to_string(),
    );
    assert_eq!(code, ExitCode::SUCCESS);
    let verdict: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        verdict,
        serde_json::json!({"verified": true, "creator": CREATOR, "created": "2026-01-01T00:00:00Z",
                           "covers_json": true})
    );
}

#[test]
fn ld_verify_says_when_the_signature_does_not_cover_the_json() {
    // An inline context moves `content` aside: the signature covers the
    // text in `c2`, and the `content` a reader sees is unsigned.
    let doc = r#"{"@context":["https://www.w3.org/ns/activitystreams",{"content":null,"c2":"as:content"}],"id":"https://a.example/notes/1","type":"Note","attributedTo":"https://a.example/users/alice","c2":"signed"}"#;
    let pem = key("rsa-2048-pkcs8.pem");
    let (code, out, err) = run(sign_with, &["--key", &pem, "--creator", CREATOR], doc);
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    let mut signed: Value = serde_json::from_str(&out).unwrap();
    signed["content"] = "forged, and not signed".into();
    let (code, out, _) = run(
        verify_with,
        &["--public-key", &key("rsa-2048-spki.pem")],
        &signed.to_string(),
    );
    assert_eq!(code, ExitCode::SUCCESS, "the graph's signature is valid");
    let verdict: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["verified"], true);
    assert_eq!(verdict["covers_json"], false, "{verdict}");
    assert!(
        verdict["uncovered"].as_str().unwrap().contains("content"),
        "{verdict}"
    );
}

#[test]
fn ld_sign_dates_the_signature_now_by_default() {
    let doc: Value = serde_json::from_str(&signed(None)).unwrap();
    let created = doc["signature"]["created"].as_str().unwrap();
    let t = archipel::vocab::DateTime::new_unchecked(created)
        .unix_seconds()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 300, "{created}");
}

#[test]
fn ld_verify_exits_1_with_the_reason() {
    let mut doc: Value = serde_json::from_str(&signed(Some("2026-01-01T00:00:00Z"))).unwrap();
    doc["object"] = "https://b.example/users/carol".into();
    let (code, out, err) = run(
        verify_with,
        &["--public-key", &key("rsa-2048-spki.pem")],
        &doc.to_string(),
    );
    assert_eq!(code, ExitCode::FAILURE);
    let verdict: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["verified"], false);
    assert_eq!(
        verdict["reason"],
        "signature by https://a.example/users/alice#main-key does not verify: the document was altered or signed by another key"
    );
    assert!(err.starts_with("error: signature by"), "{err}");
    // A remote context is refused by name.
    doc["@context"] = serde_json::json!([
        "https://www.w3.org/ns/activitystreams",
        "https://evil.example/ctx"
    ]);
    let (code, out, _) = run(
        verify_with,
        &["--public-key", &key("rsa-2048-spki.pem")],
        &doc.to_string(),
    );
    assert_eq!(code, ExitCode::FAILURE);
    let verdict: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        verdict["reason"],
        "remote JSON-LD context \"https://evil.example/ctx\" is not preloaded, and contexts are never fetched"
    );
}

#[cfg(feature = "ed25519")]
#[test]
fn ld_sign_refuses_an_ed25519_key() {
    let (code, _, err) = run(
        sign_with,
        &["--key", &key("ed25519-pkcs8.pem"), "--creator", CREATOR],
        DOC,
    );
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        err.contains("RsaSignature2017 needs an RSA key, got ed25519"),
        "{err}"
    );
}

#[test]
fn ld_sign_names_a_missing_flag() {
    let (code, _, err) = run(sign_with, &["--creator", CREATOR], DOC);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(err.contains("ld-sign: --key KEY.pem is required"), "{err}");
}
