//! The receiving side: the Federation's inbox refuses a draft-cavage
//! signature that leaves out the digest with `401` and an
//! `Accept-Signature` challenge; an independent RFC 9421 implementation
//! (Python `http_sf` + `http-message-signatures`) reads it and signs again
//! as asked, and that request is accepted. So is archipel's own answer to
//! the challenge; a forged signature gets no challenge. An inbox with a
//! stricter policy asks for what it accepts (its one algorithm, its tag),
//! and an Ed25519 sender meets it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use archipel::federation::Federation;
use archipel::signatures::accept_signature::{
    AcceptSignature, HEADER_NAME, parse_accept_signature, sign_as_requested,
};
use archipel::signatures::{BodyDigest, PrivateKey, Signer};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::support::{Reply, TestServer};

const PEM: &str = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
const PUBLIC_PEM: &str = include_str!("../interop/keys/rsa-2048-spki.pem");
/// What the Federation's inbox (the default verify policy) asks for: no
/// `alg`, since it accepts three.
const CHALLENGE: &str = r#"sig1=("@method" "@target-uri" "content-digest");created"#;

struct Setup {
    /// Serves alice's actor document (and her key).
    alice: TestServer,
    bob_inbox: String,
    _fed: Federation,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Setup {
    fn key_id(&self) -> String {
        self.alice.url("/users/alice#main-key")
    }

    /// A Create of a Note by alice to bob.
    fn body(&self, n: u32) -> Bytes {
        let alice = self.alice.url("/users/alice");
        Bytes::from(
            json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{alice}/activities/{n}"),
                "type": "Create",
                "actor": alice,
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {
                    "id": format!("{alice}/notes/{n}"),
                    "type": "Note",
                    "attributedTo": alice,
                    "content": "hello",
                    "to": ["https://www.w3.org/ns/activitystreams#Public"],
                },
            })
            .to_string(),
        )
    }

    fn post(&self, body: Bytes) -> http::Request<Bytes> {
        http::Request::post(&self.bob_inbox)
            .header("content-type", "application/activity+json")
            .body(body)
            .unwrap()
    }
}

async fn setup() -> Setup {
    let alice = TestServer::start().await;
    alice.route(
        "/users/alice",
        Reply::ok(
            "application/activity+json",
            json!({
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": "{base}/users/alice",
                "type": "Person",
                "preferredUsername": "alice",
                "inbox": "{base}/users/alice/inbox",
                "publicKey": {
                    "id": "{base}/users/alice#main-key",
                    "owner": "{base}/users/alice",
                    "publicKeyPem": PUBLIC_PEM,
                },
            })
            .to_string(),
        ),
    );
    let (listener, fed) = crate::support::loopback::federation(&["bob"], false).await;
    let bob_inbox = fed.local("bob").unwrap().inbox().to_string();
    let dispatcher = fed
        .dispatcher()
        .on_create(|_cx, _create| async move { Ok(()) });
    let router = fed.router(dispatcher);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Setup {
        alice,
        bob_inbox,
        _fed: fed,
        task,
    }
}

/// POSTs `req`; the status and the `Accept-Signature` header, if any.
async fn send(req: http::Request<Bytes>) -> (u16, Option<String>) {
    let (parts, body) = req.into_parts();
    let mut r = reqwest::Client::new()
        .post(parts.uri.to_string())
        .body(body);
    for (k, v) in &parts.headers {
        r = r.header(k.as_str(), v.to_str().unwrap());
    }
    let resp = tokio::time::timeout(std::time::Duration::from_secs(20), r.send())
        .await
        .expect("the inbox answers within 20 s")
        .unwrap();
    let challenge = resp
        .headers()
        .get(HEADER_NAME)
        .map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), challenge)
}

/// A draft-cavage signature by alice that leaves the digest out.
fn without_digest(setup: &Setup, body: Bytes) -> http::Request<Bytes> {
    let signer = Signer::new(setup.key_id(), PrivateKey::from_pem(PEM).unwrap())
        .cavage_components("(request-target) host date");
    let mut req = setup.post(body);
    signer.sign(&mut req).unwrap();
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_is_answered_with_a_challenge_archipel_meets() {
    let setup = setup().await;
    let (status, challenge) = send(without_digest(&setup, setup.body(1))).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some(CHALLENGE));
    // Signed again as asked: accepted.
    let wanted = parse_accept_signature(CHALLENGE).unwrap();
    let signer = Signer::new(setup.key_id(), PrivateKey::from_pem(PEM).unwrap());
    let body = setup.body(1);
    let digest = BodyDigest::sha256(&body);
    let mut req = setup.post(body);
    sign_as_requested(&mut req, &signer, Some(&digest), &wanted.requests[0]).unwrap();
    assert_eq!(send(req).await, (202, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_request_is_challenged_and_a_forged_one_is_not() {
    let setup = setup().await;
    assert_eq!(
        send(setup.post(setup.body(2))).await,
        (401, Some(CHALLENGE.to_owned()))
    );
    // Well-formed but made with another key: no form would help.
    let other = PrivateKey::from_pem(include_str!(
        "../interop/keys/rfc9421-test-key-rsa-pss-pkcs8.pem"
    ))
    .unwrap();
    let forged = Signer::new(setup.key_id(), other);
    let mut req = setup.post(setup.body(2));
    forged.sign(&mut req).unwrap();
    assert_eq!(send(req).await, (401, None));
}

fn python() -> Option<PathBuf> {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop/venv/bin/python");
    let ready = py.exists()
        && Command::new(&py)
            .args(["-c", "import http_sf, http_message_signatures"])
            .status()
            .is_ok_and(|s| s.success());
    ready.then_some(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_implementation_reads_the_challenge_and_is_accepted() {
    let Some(py) = python() else {
        crate::support::skip_or_fail(
            "the Python RFC 9421 peer (http_sf, http-message-signatures)",
            "not installed in target/interop (run `bash tests/interop/setup.sh`)",
        );
        return;
    };
    let setup = setup().await;
    let (status, challenge) = send(without_digest(&setup, setup.body(3))).await;
    assert_eq!(status, 401);
    let challenge = challenge.expect("a challenge");
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/accept_signature/peer_challenge.py");
    let body = setup.body(3);
    let input = json!({
        "challenge": challenge,
        "request": {
            "method": "POST",
            "url": setup.bob_inbox,
            "headers": {"content-type": "application/activity+json"},
            "body": String::from_utf8(body.to_vec()).unwrap(),
        },
        "key": PEM,
        "keyId": setup.key_id(),
    });
    let mut child = Command::new(py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    // What the independent parser read.
    assert_eq!(
        answer["parsed"],
        json!({
            "label": "sig1",
            "components": ["@method", "@target-uri", "content-digest"],
            "params": {"created": true},
        })
    );
    // And the request it signed that way is accepted.
    let mut req = setup.post(body);
    for (k, v) in answer["request"]["headers"].as_object().unwrap() {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
        );
    }
    let input = req.headers()["signature-input"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        input.starts_with(r#"sig1=("@method" "@target-uri" "content-digest");created="#),
        "{input}"
    );
    assert_eq!(send(req).await, (202, None));
    // The challenge round-trips through archipel's own parser too.
    assert_eq!(
        parse_accept_signature(&challenge).unwrap(),
        AcceptSignature::for_policy(&archipel::signatures::VerifyPolicy::default(), true).unwrap()
    );
}

/// An `Inbox` served through the `VerifiedActivity` extractor, verifying
/// with `policy` and knowing alice's key.
async fn strict_inbox(
    policy: archipel::signatures::VerifyPolicy,
    alice: &str,
    key: &PrivateKey,
) -> (String, tokio::task::JoinHandle<()>) {
    use archipel::axum::VerifiedActivity;
    use archipel::inbox::Inbox;
    use archipel::signatures::{MemoryKeyResolver, Verifier};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut keys = MemoryKeyResolver::new();
    keys.insert(format!("{alice}#main-key"), key.public_key(), alice);
    let inbox = Inbox::new(std::sync::Arc::new(Verifier::new(keys, policy)))
        .with_public_base(base.parse().unwrap());
    let router = axum::Router::new()
        .route(
            "/inbox",
            axum::routing::post(|VerifiedActivity(_): VerifiedActivity| async {
                http::StatusCode::ACCEPTED
            }),
        )
        .with_state(inbox);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("{base}/inbox"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stricter_inbox_asks_for_what_it_accepts_and_an_ed25519_sender_meets_it() {
    use archipel::signatures::{Algorithm, Spec, VerifyPolicy};
    let alice = "https://a.example/users/alice";
    let key = PrivateKey::generate_ed25519().unwrap();
    let mut policy = VerifyPolicy::default();
    policy.specs = vec![Spec::Rfc9421];
    policy.algorithms = vec![Algorithm::Ed25519];
    policy.signature_tag = Some("strict-inbox".to_owned());
    let (inbox, task) = strict_inbox(policy, alice, &key).await;
    let body = Bytes::from(
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{alice}/activities/1"),
            "type": "Like",
            "actor": alice,
            "object": "https://b.example/notes/1",
        })
        .to_string(),
    );
    let post = || {
        http::Request::post(&inbox)
            .header("content-type", "application/activity+json")
            .body(body.clone())
            .unwrap()
    };
    // A draft-cavage signature: the dialect is refused, and the challenge
    // names the one algorithm and the tag this inbox accepts.
    let mut cavage = post();
    Signer::new(format!("{alice}#main-key"), key.clone())
        .sign(&mut cavage)
        .unwrap();
    let (status, challenge) = send(cavage).await;
    assert_eq!(status, 401);
    let challenge = challenge.expect("a challenge");
    assert_eq!(
        challenge,
        r#"sig1=("@method" "@target-uri" "content-digest");created;alg="ed25519";tag="strict-inbox""#
    );
    // Met with the Ed25519 key: accepted.
    let wanted = parse_accept_signature(&challenge).unwrap();
    let signer = Signer::new(format!("{alice}#main-key"), key);
    let mut req = post();
    sign_as_requested(
        &mut req,
        &signer,
        Some(&BodyDigest::sha256(&body)),
        &wanted.requests[0],
    )
    .unwrap();
    assert_eq!(send(req).await, (202, None));
    task.abort();
}
