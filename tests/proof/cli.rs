//! The command-line example's `proof sign` / `proof verify`, run in-process
//! on documents and key files.

use std::process::ExitCode;

use serde_json::Value;

use crate::proof_cli::run_with;

const DOC: &str = r#"{"@context":"https://www.w3.org/ns/activitystreams","id":"https://a.example/notes/1","type":"Note","content":"hi"}"#;
const METHOD: &str = "https://a.example/users/alice#ed25519-key";

fn key(name: &str) -> String {
    format!("{}/tests/interop/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str], input: &str) -> (ExitCode, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(&args, input, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn signed() -> String {
    let (code, out, err) = run(
        &[
            "sign",
            "--key",
            &key("ed25519-pkcs8.pem"),
            "--key-id",
            METHOD,
            "--created",
            "2026-01-01T00:00:00Z",
        ],
        DOC,
    );
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    out
}

/// A file in the temporary directory holding `text`, unique to this process.
fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("archipel-proof-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn sign_then_verify_with_a_pem_key() {
    let doc: Value = serde_json::from_str(&signed()).unwrap();
    assert_eq!(doc["proof"]["verificationMethod"], METHOD);
    assert_eq!(
        doc["proof"]["@context"],
        "https://www.w3.org/ns/activitystreams"
    );
    let (code, out, _) = run(
        &["verify", "--public-key", &key("ed25519-spki.pem")],
        &doc.to_string(),
    );
    assert_eq!(code, ExitCode::SUCCESS);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["proofs"][0]["verificationMethod"], METHOD);
    assert_eq!(report["proofs"][0]["form"], "context-in-proof");
}

#[test]
fn verify_with_a_multikey_file_either_way() {
    let pem = std::fs::read_to_string(key("ed25519-spki.pem")).unwrap();
    let mb = archipel::signatures::PublicKey::from_pem(&pem)
        .unwrap()
        .to_multibase()
        .unwrap();
    let bare = temp_file("bare.txt", &format!("{mb}\n"));
    let object = temp_file(
        "multikey.json",
        &serde_json::json!({"id": METHOD, "type": "Multikey", "publicKeyMultibase": mb})
            .to_string(),
    );
    let doc = signed();
    for file in [&bare, &object] {
        let (code, out, err) = run(&["verify", "--public-key", file], &doc);
        assert_eq!(code, ExitCode::SUCCESS, "{file}: {err}");
        assert!(out.contains("\"verified\":true"), "{out}");
    }
    let _ = std::fs::remove_file(bare);
    let _ = std::fs::remove_file(object);
}

#[test]
fn verify_fails_with_the_reason_on_altered_content_or_another_key() {
    let altered = signed().replace("\"hi\"", "\"bye\"");
    let (code, out, err) = run(
        &["verify", "--public-key", &key("ed25519-spki.pem")],
        &altered,
    );
    assert_eq!(code, ExitCode::FAILURE);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["verified"], false);
    assert_eq!(
        report["reason"],
        format!(
            "proof by {METHOD} does not verify: the document was altered or signed by another key"
        )
    );
    assert!(err.starts_with("error: proof by"), "{err}");

    let other = key("rfc9421-test-key-ed25519-spki.pem");
    let (code, out, _) = run(&["verify", "--public-key", &other], &signed());
    assert_eq!(code, ExitCode::FAILURE);
    assert!(out.contains("does not verify"), "{out}");

    let (code, out, _) = run(&["verify", "--public-key", &key("ed25519-spki.pem")], DOC);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(out.contains("document has no `proof`"), "{out}");
}

#[test]
fn sign_refuses_an_rsa_key_and_bad_input() {
    let (code, _, err) = run(
        &[
            "sign",
            "--key",
            &key("rsa-2048-pkcs8.pem"),
            "--key-id",
            METHOD,
        ],
        DOC,
    );
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        err.contains("eddsa-jcs-2022 needs an Ed25519 key, got rsa"),
        "{err}"
    );
    let (code, _, err) = run(
        &[
            "sign",
            "--key",
            &key("ed25519-pkcs8.pem"),
            "--key-id",
            METHOD,
        ],
        "[1,2]",
    );
    assert_eq!(code, ExitCode::FAILURE);
    assert!(
        err.contains("document must be a JSON object, found an array"),
        "{err}"
    );
    let (code, _, err) = run(&["sign", "--key", &key("ed25519-pkcs8.pem")], DOC);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(err.contains("--key-id IRI is required"), "{err}");
    let (code, _, _) = run(&["frobnicate"], DOC);
    assert_eq!(code, ExitCode::from(2));
}
