//! Cross-implementation tests: independent peers sign and archipel
//! verifies, archipel signs and the peers verify, in both dialects.
//!
//! Peers (installed by `tests/interop/setup.sh` into `target/interop/`):
//! Joyent's Node `http-signature` (draft-cavage) and Python
//! `http-message-signatures` (RFC 9421). Without them the tests skip with a
//! notice, or fail under `ARCHIPEL_REQUIRE_PEERS=1` (see `support::skip_or_fail`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use archipel::signatures::*;
use bytes::Bytes;
use serde_json::{Value, json};

const PRIVATE: &str = include_str!("keys/rsa-2048-pkcs8.pem");
const PUBLIC: &str = include_str!("keys/rsa-2048-spki.pem");
const KEY_ID: &str = "https://a.example/users/alice#main-key";

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop")
}

fn peer(kind: &str) -> Option<Command> {
    let dir = interop_dir();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    let (program, args): (PathBuf, Vec<String>) = match kind {
        "cavage" => {
            if !dir.join("node/node_modules/http-signature").exists() {
                return None;
            }
            (
                "node".into(),
                vec![
                    script.join("peer_cavage.js").display().to_string(),
                    dir.join("node").display().to_string(),
                ],
            )
        }
        _ => {
            let py = dir.join("venv/bin/python");
            if !py.exists() {
                return None;
            }
            (
                py,
                vec![script.join("peer_rfc9421.py").display().to_string()],
            )
        }
    };
    let mut c = Command::new(program);
    c.args(args);
    Some(c)
}

fn call(kind: &str, msg: Value) -> Option<Value> {
    let Some(mut cmd) = peer(kind) else {
        crate::support::skip_or_fail(
            &format!("the {kind} signature peer"),
            "not installed in target/interop (run `bash tests/interop/setup.sh`)",
        );
        return None;
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(msg.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{kind} peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn to_json(req: &http::Request<Bytes>) -> Value {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(v.to_str().unwrap().to_owned()),
            )
        })
        .collect();
    json!({
        "method": req.method().as_str(),
        "url": req.uri().to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(req.body()),
    })
}

fn from_json(v: &Value) -> http::Request<Bytes> {
    let mut b = http::Request::builder()
        .method(v["method"].as_str().unwrap())
        .uri(v["url"].as_str().unwrap());
    for (k, val) in v["headers"].as_object().unwrap() {
        b = b.header(k.as_str(), val.as_str().unwrap());
    }
    b.body(Bytes::from(v["body"].as_str().unwrap_or("").to_owned()))
        .unwrap()
}

fn post() -> http::Request<Bytes> {
    http::Request::post("https://b.example/users/bob/inbox?x=1")
        .header("content-type", "application/activity+json")
        .body(Bytes::from_static(
            br#"{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow","actor":"https://a.example/users/alice","object":"https://b.example/users/bob"}"#,
        ))
        .unwrap()
}

fn verifier() -> Verifier<MemoryKeyResolver> {
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        KEY_ID,
        PublicKey::from_pem(PUBLIC).unwrap(),
        "https://a.example/users/alice",
    );
    Verifier::new(keys, VerifyPolicy::default())
}

async fn peer_signs_archipel_verifies(kind: &str, spec: Spec) {
    let msg = json!({"cmd": "sign", "request": to_json(&post()), "key": PRIVATE, "keyId": KEY_ID});
    let Some(signed) = call(kind, msg) else {
        return;
    };
    let req = from_json(&signed);
    let v = verifier().verify(&req).await.unwrap();
    assert_eq!(
        (v.key_id.as_str(), v.spec, v.algorithm),
        (KEY_ID, spec, Algorithm::RsaV1_5Sha256)
    );
    // And a tampered body is caught by the digest check.
    let mut bad = req.clone();
    *bad.body_mut() = Bytes::from_static(b"{}");
    assert!(matches!(
        verifier().verify(&bad).await,
        Err(SignatureError::DigestMismatch { .. })
    ));
}

fn archipel_signs_peer_verifies(kind: &str, spec: Spec) {
    let mut req = post();
    Signer::new(KEY_ID, PrivateKey::from_pem(PRIVATE).unwrap())
        .spec(spec)
        .sign(&mut req)
        .unwrap();
    let msg = json!({"cmd": "verify", "request": to_json(&req), "key": PUBLIC});
    let Some(out) = call(kind, msg.clone()) else {
        return;
    };
    assert_eq!(out["verified"], true, "{out}");
    assert_eq!(out["keyId"], KEY_ID);
    // The peer rejects a tampered target.
    let mut tampered = msg;
    tampered["request"]["url"] = json!("https://b.example/users/eve/inbox?x=1");
    let out = call(kind, tampered).unwrap();
    assert_eq!(out["verified"], false, "{out}");
}

#[tokio::test]
async fn cavage_node_http_signature_signs_archipel_verifies() {
    peer_signs_archipel_verifies("cavage", Spec::Cavage).await;
}

#[test]
fn cavage_archipel_signs_node_http_signature_verifies() {
    archipel_signs_peer_verifies("cavage", Spec::Cavage);
}

#[cfg(feature = "rfc9421")]
#[tokio::test]
async fn rfc9421_python_signs_archipel_verifies() {
    peer_signs_archipel_verifies("rfc9421", Spec::Rfc9421).await;
}

#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_archipel_signs_python_verifies() {
    archipel_signs_peer_verifies("rfc9421", Spec::Rfc9421);
}
