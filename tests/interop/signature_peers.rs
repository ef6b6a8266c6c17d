//! Cross-implementation tests: independent peers sign and archipel
//! verifies, archipel signs and the peers verify, in both dialects and,
//! for RFC 9421, with each algorithm of §3.3 archipel implements
//! (`rsa-v1_5-sha256`, `rsa-pss-sha512`, `ed25519`).
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

const KEY_ID: &str = "https://a.example/users/alice#main-key";

/// A key pair for one algorithm, and another key of the same type whose
/// verdict on the pair's signatures must be "no".
struct Keys {
    private: &'static str,
    public: &'static str,
    other_public: &'static str,
    algorithm: Algorithm,
    /// Whether the algorithm is named: archipel's signer is told it, and
    /// the peer's signature carries the `alg` parameter. Otherwise both
    /// sides take it from the key (an `id-RSASSA-PSS` key means
    /// `rsa-pss-sha512`, RFC 9421 §3.2).
    explicit: bool,
}

const RSA_V1_5: Keys = Keys {
    private: include_str!("keys/rsa-2048-pkcs8.pem"),
    public: include_str!("keys/rsa-2048-spki.pem"),
    other_public: include_str!("keys/rfc9421-test-key-rsa-pkcs1-public.pem"),
    algorithm: Algorithm::RsaV1_5Sha256,
    explicit: true,
};

/// An ordinary `rsaEncryption` actor key used for RSA-PSS: the algorithm
/// comes from the signer's configuration and the `alg` parameter.
#[cfg(feature = "rfc9421")]
const RSA_PSS: Keys = Keys {
    algorithm: Algorithm::RsaPssSha512,
    explicit: true,
    ..RSA_V1_5
};

/// RFC 9421's `test-key-rsa-pss` (B.1.2), whose PKCS#8 says
/// `id-RSASSA-PSS`; its public key in the same form (`openssl pkey
/// -pubout`), unlike the `rsaEncryption` SPKI the RFC prints.
#[cfg(feature = "rfc9421")]
const RSA_PSS_KEY: Keys = Keys {
    private: include_str!("keys/rfc9421-test-key-rsa-pss-pkcs8.pem"),
    public: include_str!("keys/rfc9421-test-key-rsa-pss-spki-rsassa-pss.pem"),
    other_public: include_str!("keys/rsa-2048-spki.pem"),
    algorithm: Algorithm::RsaPssSha512,
    explicit: false,
};

#[cfg(all(feature = "rfc9421", feature = "ed25519"))]
const ED25519: Keys = Keys {
    private: include_str!("keys/ed25519-pkcs8.pem"),
    public: include_str!("keys/ed25519-spki.pem"),
    other_public: include_str!("keys/rfc9421-test-key-ed25519-spki.pem"),
    algorithm: Algorithm::Ed25519,
    explicit: true,
};

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

fn verifier(public: &str) -> Verifier<MemoryKeyResolver> {
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        KEY_ID,
        PublicKey::from_pem(public).unwrap(),
        "https://a.example/users/alice",
    );
    Verifier::new(keys, VerifyPolicy::default())
}

async fn peer_signs_archipel_verifies(kind: &str, spec: Spec, keys: &Keys) {
    let msg = json!({
        "cmd": "sign",
        "request": to_json(&post()),
        "key": keys.private,
        "keyId": KEY_ID,
        "alg": keys.algorithm.as_str(),
        "includeAlg": keys.explicit,
    });
    let Some(signed) = call(kind, msg) else {
        return;
    };
    let req = from_json(&signed);
    if spec == Spec::Rfc9421 {
        let input = req.headers()["signature-input"].to_str().unwrap();
        assert_eq!(input.contains(";alg="), keys.explicit, "{input}");
    }
    let v = verifier(keys.public).verify(&req).await.unwrap();
    assert_eq!(
        (v.key_id.as_str(), v.spec, v.algorithm),
        (KEY_ID, spec, keys.algorithm)
    );
    // A tampered body is caught by the digest check.
    let mut bad = req.clone();
    *bad.body_mut() = Bytes::from_static(b"{}");
    assert!(matches!(
        verifier(keys.public).verify(&bad).await,
        Err(SignatureError::DigestMismatch { .. })
    ));
    // Another key of the same type does not verify the signature.
    assert_eq!(
        verifier(keys.other_public).verify(&req).await,
        Err(SignatureError::BadSignature {
            key_id: KEY_ID.to_owned()
        })
    );
}

fn archipel_signs_peer_verifies(kind: &str, spec: Spec, keys: &Keys) -> Option<Value> {
    let mut req = post();
    let mut signer = Signer::new(KEY_ID, PrivateKey::from_pem(keys.private).unwrap()).spec(spec);
    if keys.explicit {
        signer = signer.algorithm(keys.algorithm);
    }
    signer.sign(&mut req).unwrap();
    let msg = json!({
        "cmd": "verify",
        "request": to_json(&req),
        "key": keys.public,
        "alg": keys.algorithm.as_str(),
    });
    let out = call(kind, msg.clone())?;
    assert_eq!(out["verified"], true, "{out}");
    assert_eq!(out["keyId"], KEY_ID);
    // The peer rejects a tampered target.
    let mut tampered = msg.clone();
    tampered["request"]["url"] = json!("https://b.example/users/eve/inbox?x=1");
    let out = call(kind, tampered).unwrap();
    assert_eq!(out["verified"], false, "{out}");
    Some(msg)
}

/// What the RFC 9421 peer says about `msg` once `edit` has changed it.
#[cfg(feature = "rfc9421")]
fn rfc9421_peer_verdict(msg: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut msg = msg.clone();
    edit(&mut msg);
    call("rfc9421", msg).unwrap()
}

/// archipel signs with `keys`; the Python peer accepts the signature with
/// the pair's public key and the `alg` it names, and refuses it (with the
/// reason it gives) over a tampered body and with another key.
#[cfg(feature = "rfc9421")]
fn rfc9421_archipel_signs_python_verifies_with(keys: &Keys) {
    let Some(msg) = archipel_signs_peer_verifies("rfc9421", Spec::Rfc9421, keys) else {
        return;
    };
    assert!(
        msg["request"]["headers"]["signature-input"]
            .as_str()
            .unwrap()
            .contains(&format!(";alg=\"{}\"", keys.algorithm)),
        "{msg}"
    );
    let out = rfc9421_peer_verdict(&msg, |m| m["request"]["body"] = json!("{}"));
    assert_eq!(
        (&out["verified"], &out["error"]),
        (&json!(false), &json!(BODY_REFUSED)),
        "{out}"
    );
    let out = rfc9421_peer_verdict(&msg, |m| m["key"] = json!(keys.other_public));
    assert_eq!(
        (&out["verified"], &out["error"]),
        (&json!(false), &json!(SIGNATURE_REFUSED)),
        "{out}"
    );
}

/// The Python peer's words for a body that does not match `Content-Digest`.
#[cfg(feature = "rfc9421")]
const BODY_REFUSED: &str = "InvalidSignature('Content-Digest does not match the message body')";
/// The Python peer's words for a signature that does not verify.
#[cfg(feature = "rfc9421")]
const SIGNATURE_REFUSED: &str = "InvalidSignature(InvalidSignature())";

#[tokio::test]
async fn cavage_node_http_signature_signs_archipel_verifies() {
    peer_signs_archipel_verifies("cavage", Spec::Cavage, &RSA_V1_5).await;
}

#[test]
fn cavage_archipel_signs_node_http_signature_verifies() {
    archipel_signs_peer_verifies("cavage", Spec::Cavage, &RSA_V1_5);
}

#[cfg(feature = "rfc9421")]
#[tokio::test]
async fn rfc9421_python_signs_archipel_verifies() {
    peer_signs_archipel_verifies("rfc9421", Spec::Rfc9421, &RSA_V1_5).await;
}

#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_archipel_signs_python_verifies() {
    rfc9421_archipel_signs_python_verifies_with(&RSA_V1_5);
}

#[cfg(feature = "rfc9421")]
#[tokio::test]
async fn rfc9421_rsa_pss_python_signs_archipel_verifies() {
    peer_signs_archipel_verifies("rfc9421", Spec::Rfc9421, &RSA_PSS).await;
}

#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_rsa_pss_archipel_signs_python_verifies() {
    rfc9421_archipel_signs_python_verifies_with(&RSA_PSS);
}

#[cfg(feature = "rfc9421")]
#[tokio::test]
async fn rfc9421_rsa_pss_key_python_signs_archipel_verifies() {
    peer_signs_archipel_verifies("rfc9421", Spec::Rfc9421, &RSA_PSS_KEY).await;
}

#[cfg(feature = "rfc9421")]
#[test]
fn rfc9421_rsa_pss_key_archipel_signs_python_verifies() {
    rfc9421_archipel_signs_python_verifies_with(&RSA_PSS_KEY);
}

#[cfg(all(feature = "rfc9421", feature = "ed25519"))]
#[tokio::test]
async fn rfc9421_ed25519_python_signs_archipel_verifies() {
    peer_signs_archipel_verifies("rfc9421", Spec::Rfc9421, &ED25519).await;
}

#[cfg(all(feature = "rfc9421", feature = "ed25519"))]
#[test]
fn rfc9421_ed25519_archipel_signs_python_verifies() {
    rfc9421_archipel_signs_python_verifies_with(&ED25519);
}
