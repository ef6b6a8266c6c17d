//! The command-line example's `sign` and `verify` subcommands, run
//! in-process on JSON requests, in both dialects.

use crate::{sign, verify};

// The CLI modules also expose `run` for main.rs; these tests use `run_with`.

use std::process::ExitCode;

fn keys() -> (String, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys");
    (
        format!("{dir}/rsa-2048-pkcs8.pem"),
        format!("{dir}/rsa-2048-spki.pem"),
    )
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn run(
    f: fn(&[String], &str, &mut dyn std::io::Write, &mut dyn std::io::Write) -> ExitCode,
    a: &[&str],
    input: &str,
) -> (ExitCode, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = f(&args(a), input, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

const REQUEST: &str = r#"{"method":"POST","url":"https://b.example/inbox","headers":{"content-type":"application/activity+json"},"body":"{\"type\":\"Follow\"}"}"#;

fn round_trip(spec: &str) -> serde_json::Value {
    let (private, public) = keys();
    let (code, signed, err) = run(
        sign::run_with,
        &[
            "--key",
            &private,
            "--key-id",
            "https://a.example/actor#main-key",
            "--spec",
            spec,
            "--now",
            "2023-11-14T22:13:20Z",
        ],
        REQUEST,
    );
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    let v: serde_json::Value = serde_json::from_str(&signed).unwrap();
    assert_eq!(v["headers"]["date"], "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_eq!(v["headers"]["host"], "b.example");
    let (code, out, err) = run(
        verify::run_with,
        &[
            "--public-key",
            &public,
            "--now",
            "2023-11-14T22:20:00+00:00",
        ],
        &signed,
    );
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn cavage_sign_then_verify() {
    let v = round_trip("cavage");
    assert_eq!(
        v,
        serde_json::json!({"verified": true, "key_id": "https://a.example/actor#main-key",
            "owner": "https://a.example/actor", "spec": "cavage", "algorithm": "rsa-v1_5-sha256"})
    );
}

#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_sign_then_verify() {
    assert_eq!(round_trip("rfc9421")["spec"], "rfc9421");
}

#[test]
fn verify_failure_exits_1_with_the_typed_error() {
    let (private, public) = keys();
    let (_, signed, _) = run(
        sign::run_with,
        &[
            "--key",
            &private,
            "--key-id",
            "https://a.example/actor#main-key",
            "--now",
            "2023-11-14T22:13:20Z",
        ],
        REQUEST,
    );
    // Two hours later: stale.
    let (code, out, err) = run(
        verify::run_with,
        &["--public-key", &public, "--now", "2023-11-15T00:13:20Z"],
        &signed,
    );
    assert_eq!((code, out.as_str()), (ExitCode::FAILURE, ""));
    assert_eq!(
        err,
        "error: StaleDate { age_secs: 7200, max_secs: 3900 }: signature is stale: signed 7200 s ago, limit 3900 s\n"
    );
}

#[test]
fn bad_arguments_are_reported() {
    let (code, _, err) = run(sign::run_with, &["--key-id", "x"], REQUEST);
    assert_eq!(
        (code, err.as_str()),
        (
            ExitCode::FAILURE,
            "error: sign: --key PRIVATE.pem is required\n"
        )
    );
    let (_, public) = keys();
    let (code, _, err) = run(
        verify::run_with,
        &["--public-key", &public, "--now", "yesterday"],
        REQUEST,
    );
    assert_eq!(
        (code, err.as_str()),
        (
            ExitCode::FAILURE,
            "error: --now: `yesterday` is not an RFC 3339 timestamp\n"
        )
    );
}
