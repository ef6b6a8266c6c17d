//! The sending side: a strict loopback receiver accepts only an RFC 9421
//! signature in a form it names in `Accept-Signature`; the workers retry
//! once in that form at once, remember it for the host, and give up with a
//! typed reason (no second request) on a challenge they cannot meet.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::client::ReqwestClient;
use archipel::delivery::{
    DeliveryEvent, GiveUpReason, MemoryQueue, NewActivity, PreparedBody, SignedDelivery, SignerMap,
    WorkerConfig, Workers,
};
use archipel::signatures::{
    Algorithm, MemoryKeyResolver, PrivateKey, Signer, Spec, Verifier, VerifyPolicy,
};
use archipel::vocab::Iri;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;

const KEY_ID: &str = "https://me.example/users/alice#main-key";
const PEM: &str = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
/// What the strict receiver asks for: RSA-PSS, the content type covered,
/// and its own application tag.
const WANTED: &str = r#"sig1=("@method" "@target-uri" "content-type" "content-digest");created;alg="rsa-pss-sha512";tag="strict-test""#;

/// A receiver that verifies with archipel's verifier restricted to RFC 9421
/// RSA-PSS, and also requires `content-type` and its tag to be covered;
/// anything else is `401` with the challenge of its route (`/inbox/{n}`).
struct Strict {
    verifier: Verifier<MemoryKeyResolver>,
    challenges: Vec<String>,
    /// (route, `Signature-Input` or "cavage") per request.
    log: Mutex<Vec<(usize, String)>>,
}

async fn inbox(
    State(s): State<Arc<Strict>>,
    Path(n): Path<usize>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let request = http::Request::from_parts(parts, body);
    let input = request
        .headers()
        .get("signature-input")
        .map_or("cavage".to_owned(), |v| v.to_str().unwrap().to_owned());
    s.log.lock().unwrap().push((n, input.clone()));
    let verified = s.verifier.verify(&request).await;
    let covered = input.contains(r#""content-type""#) && input.contains(r#"tag="strict-test""#);
    if verified.is_ok() && covered {
        return StatusCode::ACCEPTED.into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        [("accept-signature", s.challenges[n].as_str())],
        "signature refused",
    )
        .into_response()
}

struct Receiver {
    strict: Arc<Strict>,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    fn requests(&self, route: usize) -> Vec<String> {
        let log = self.strict.log.lock().unwrap();
        log.iter()
            .filter(|(n, _)| *n == route)
            .map(|(_, i)| i.clone())
            .collect()
    }
}

async fn receiver(challenges: Vec<String>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = PrivateKey::from_pem(PEM).unwrap();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(KEY_ID, key.public_key(), "https://me.example/users/alice");
    let mut policy = VerifyPolicy::default().with_public_base(base.parse().unwrap());
    policy.specs = vec![Spec::Rfc9421];
    policy.algorithms = vec![Algorithm::RsaPssSha512];
    let strict = Arc::new(Strict {
        verifier: Verifier::new(keys, policy),
        challenges,
        log: Mutex::new(Vec::new()),
    });
    let router = axum::Router::new()
        .route("/inbox/{n}", axum::routing::post(inbox))
        .with_state(Arc::clone(&strict));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Receiver { strict, base, task }
}

fn workers() -> (Workers, Arc<MemoryQueue>) {
    let client = ReqwestClient::new(crate::support::local_policy()).unwrap();
    let signer = Signer::new(KEY_ID, PrivateKey::from_pem(PEM).unwrap());
    let delivery = SignedDelivery::new(client, [signer].into_iter().collect::<SignerMap>());
    let queue = Arc::new(MemoryQueue::new());
    let config = WorkerConfig::default()
        .with_poll_interval(Duration::from_millis(20))
        .with_attempt_timeout(Duration::from_secs(10));
    // Double-knocking stays on (the default): a challenge must replace it.
    (
        Workers::start(queue.clone(), Arc::new(delivery), config),
        queue,
    )
}

fn activity(n: u32, inboxes: &[String]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked(format!("https://me.example/activities/{n}")),
        PreparedBody::new(Bytes::from(format!(
            r#"{{"id":"https://me.example/activities/{n}","type":"Create"}}"#
        ))),
        Iri::new_unchecked(KEY_ID),
        inboxes
            .iter()
            .map(|s| url::Url::parse(s).unwrap())
            .collect(),
    )
}

/// The settled events of `count` jobs, in order, within 20 s.
async fn settled(
    events: &mut tokio::sync::broadcast::Receiver<DeliveryEvent>,
    count: usize,
) -> Vec<DeliveryEvent> {
    let mut out = Vec::new();
    while out.len() < count {
        let e = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("a job did not settle within 20 s")
            .unwrap();
        if matches!(
            e,
            DeliveryEvent::Delivered { .. } | DeliveryEvent::GaveUp { .. }
        ) {
            out.push(e);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_is_met_once_in_the_requested_form_and_remembered() {
    let rx = receiver(vec![WANTED.to_owned()]).await;
    let (workers, _queue) = workers();
    let mut events = workers.subscribe();
    let inbox = format!("{}/inbox/0", rx.base);
    workers
        .enqueue(activity(1, std::slice::from_ref(&inbox)))
        .await
        .unwrap();
    match &settled(&mut events, 1).await[..] {
        [
            DeliveryEvent::Delivered {
                attempts, dialect, ..
            },
        ] => {
            assert_eq!(*attempts, 1, "the challenge retry is part of the attempt");
            assert_eq!(*dialect, Spec::Rfc9421);
        }
        other => panic!("expected one delivery, got {other:?}"),
    }
    let seen = rx.requests(0);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], "cavage");
    let asked = r#"sig1=("@method" "@target-uri" "content-type" "content-digest");created="#;
    assert!(seen[1].starts_with(asked), "{}", seen[1]);
    assert!(
        seen[1].ends_with(&format!(
            r#";keyid="{KEY_ID}";alg="rsa-pss-sha512";tag="strict-test""#
        )),
        "{}",
        seen[1]
    );
    // The host's form is remembered: the next job knocks once, as asked.
    workers.enqueue(activity(2, &[inbox])).await.unwrap();
    assert!(matches!(
        &settled(&mut events, 1).await[..],
        [DeliveryEvent::Delivered { attempts: 1, .. }]
    ));
    let seen = rx.requests(0);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[2].starts_with(asked), "{}", seen[2]);
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_that_cannot_be_met_is_a_typed_failure_without_a_retry() {
    // (challenge, the reason the job is given up with)
    let cases: Vec<(String, String)> = vec![
        (
            r#"sig1=("@method" "@target-uri");alg="ed25519""#.into(),
            "Accept-Signature: requested algorithm ed25519 cannot be made with a rsa key".into(),
        ),
        (
            r#"sig1=("@method" "@target-uri");alg="hmac-sha256""#.into(),
            r#"Accept-Signature: requested algorithm "hmac-sha256" is not supported"#.into(),
        ),
        (
            r#"sig1=("@method" "x-not-in-the-request")"#.into(),
            r#"Accept-Signature: requested component "x-not-in-the-request" is not in the request"#
                .into(),
        ),
        (
            r#"sig1=("@method" "@status")"#.into(),
            r#"Accept-Signature: requested component "\"@status\"" cannot be signed on a request"#
                .into(),
        ),
        (
            r#"sig1=("@method");keyid="https://other.example/key""#.into(),
            format!(
                r#"Accept-Signature: requested key "https://other.example/key", but this request is signed by "{KEY_ID}""#
            ),
        ),
        (
            r#"sig1=("@method""#.into(),
            "Accept-Signature header: not a valid structured-field dictionary at byte 15".into(),
        ),
        (
            format!(r#"sig1=("@method");nonce="{}""#, "n".repeat(9000)),
            "Accept-Signature header: 9025 bytes exceeds the limit of 8192".into(),
        ),
    ];
    let rx = receiver(cases.iter().map(|(c, _)| c.clone()).collect()).await;
    let (workers, _queue) = workers();
    let mut events = workers.subscribe();
    for (n, (_, reason)) in cases.iter().enumerate() {
        let inbox = format!("{}/inbox/{n}", rx.base);
        workers
            .enqueue(activity(u32::try_from(n).unwrap(), &[inbox]))
            .await
            .unwrap();
        match &settled(&mut events, 1).await[..] {
            [
                DeliveryEvent::GaveUp {
                    attempts,
                    status,
                    reason: got,
                    ..
                },
            ] => {
                assert_eq!(*attempts, 1, "case {n}");
                assert_eq!(*status, Some(401), "case {n}");
                assert_eq!(
                    *got,
                    GiveUpReason::SignatureChallenge {
                        status: 401,
                        reason: reason.clone()
                    },
                    "case {n}"
                );
            }
            other => panic!("case {n}: expected a give-up, got {other:?}"),
        }
        // One request: neither the challenge nor a blind second knock.
        assert_eq!(rx.requests(n), ["cavage"], "case {n}");
    }
    // The operator sees why, the reason cut to its bound.
    let status = workers.status().await.unwrap();
    let first = status
        .recent_failures
        .iter()
        .find(|f| f.inbox.ends_with("/inbox/0"))
        .unwrap();
    assert_eq!(
        first.reason,
        "status 401 with a signature challenge that cannot be met: Accept-Signature: requested algorithm ed25519 cannot be made with a rsa key: HTTP 401"
    );
    assert!(first.gave_up);
    workers.shutdown().await;
}
