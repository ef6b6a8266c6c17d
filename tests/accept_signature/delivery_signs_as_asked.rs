//! The sending side: a strict loopback receiver accepts only an RFC 9421
//! signature in a form it names in `Accept-Signature`; the workers retry
//! once in that form at once, remember it for the host (as the host's form,
//! which another actor's key can make too), and on a challenge they cannot
//! meet fall back to the blind double-knock, giving up with a typed reason
//! when that is refused too.

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
/// Bob's key is Ed25519: a form learnt from alice's RSA-PSS delivery must
/// not stop his.
const BOB_KEY_ID: &str = "https://me.example/users/bob#main-key";
const PEM: &str = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
/// What the strict receiver asks for: RSA-PSS, the content type covered,
/// and its own application tag.
const WANTED: &str = r#"sig1=("@method" "@target-uri" "content-type" "content-digest");created;alg="rsa-pss-sha512";tag="strict-test""#;

/// A receiver that verifies with archipel's verifier restricted to RFC 9421
/// RSA-PSS and Ed25519, and also requires `content-type` and its tag to be
/// covered (on a lenient route, any RFC 9421 signature archipel's default
/// policy accepts will do); anything else is `401` with the challenge of
/// its route (`/inbox/{n}`).
struct Strict {
    verifier: Verifier<MemoryKeyResolver>,
    lenient: Verifier<MemoryKeyResolver>,
    /// (challenge, lenient) per route.
    challenges: Vec<(String, bool)>,
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
    let (challenge, lenient) = &s.challenges[n];
    let accepted = if *lenient {
        s.lenient.verify(&request).await.is_ok()
    } else {
        s.verifier.verify(&request).await.is_ok()
            && input.contains(r#""content-type""#)
            && input.contains(r#"tag="strict-test""#)
    };
    if accepted {
        return StatusCode::ACCEPTED.into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        [("accept-signature", challenge.as_str())],
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

/// Bob's Ed25519 key, made once for the test binary.
fn bob_key() -> PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_ed25519().unwrap())
        .clone()
}

/// A receiver whose routes all answer with their own challenge.
async fn receiver(challenges: Vec<String>) -> Receiver {
    receiver_with(challenges.into_iter().map(|c| (c, false)).collect()).await
}

async fn receiver_with(challenges: Vec<(String, bool)>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = PrivateKey::from_pem(PEM).unwrap();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(KEY_ID, key.public_key(), "https://me.example/users/alice");
    keys.insert(
        BOB_KEY_ID,
        bob_key().public_key(),
        "https://me.example/users/bob",
    );
    let mut policy = VerifyPolicy::default().with_public_base(base.parse().unwrap());
    policy.specs = vec![Spec::Rfc9421];
    let mut lenient_policy = policy.clone();
    policy.algorithms = vec![Algorithm::RsaPssSha512, Algorithm::Ed25519];
    lenient_policy.signature_tag = None;
    let strict = Arc::new(Strict {
        verifier: Verifier::new(keys.clone(), policy),
        lenient: Verifier::new(keys, lenient_policy),
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
    let bob = Signer::new(BOB_KEY_ID, bob_key());
    let delivery = SignedDelivery::new(client, [signer, bob].into_iter().collect::<SignerMap>());
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
    activity_by(KEY_ID, n, inboxes)
}

fn activity_by(key_id: &str, n: u32, inboxes: &[String]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked(format!("https://me.example/activities/{n}")),
        PreparedBody::new(Bytes::from(format!(
            r#"{{"id":"https://me.example/activities/{n}","type":"Create"}}"#
        ))),
        Iri::new_unchecked(key_id),
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
async fn a_challenge_that_cannot_be_met_falls_back_to_the_other_dialect_then_gives_up_typed() {
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
        // Two requests: the first knock, then the blind second knock in
        // the other dialect's usual form (no challenge made: it cannot be).
        let seen = rx.requests(n);
        assert_eq!(seen.len(), 2, "case {n}: {seen:?}");
        assert_eq!(seen[0], "cavage", "case {n}");
        assert!(
            seen[1].starts_with(r#"sig1=("@method" "@target-uri""#)
                && seen[1].ends_with(r#";alg="rsa-v1_5-sha256""#),
            "case {n}: {}",
            seen[1]
        );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmet_challenge_falls_back_to_the_blind_knock_which_may_succeed() {
    // The inbox asks for an algorithm nobody can make, but accepts any
    // RFC 9421 signature: the other dialect's usual form gets through.
    let rx = receiver_with(vec![(
        r#"sig1=("@method" "@target-uri");alg="hmac-sha256""#.to_owned(),
        true,
    )])
    .await;
    let (workers, _queue) = workers();
    let mut events = workers.subscribe();
    let inbox = format!("{}/inbox/0", rx.base);
    workers.enqueue(activity(1, &[inbox])).await.unwrap();
    match &settled(&mut events, 1).await[..] {
        [
            DeliveryEvent::Delivered {
                attempts, dialect, ..
            },
        ] => {
            assert_eq!(*attempts, 1);
            assert_eq!(*dialect, Spec::Rfc9421);
        }
        other => panic!("expected a delivery, got {other:?}"),
    }
    let seen = rx.requests(0);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], "cavage");
    assert!(
        seen[1].ends_with(r#";alg="rsa-v1_5-sha256""#),
        "{}",
        seen[1]
    );
    workers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_learnt_from_one_actor_serves_another_actors_key() {
    // The challenge fixes alice's key and RSA-PSS; what the host wants of
    // everyone is the components and the tag.
    let challenge = format!(
        r#"sig1=("@method" "@target-uri" "content-type" "content-digest");created;keyid="{KEY_ID}";alg="rsa-pss-sha512";tag="strict-test""#
    );
    let rx = receiver(vec![challenge]).await;
    let (workers, _queue) = workers();
    let mut events = workers.subscribe();
    let inbox = format!("{}/inbox/0", rx.base);
    workers
        .enqueue(activity(1, std::slice::from_ref(&inbox)))
        .await
        .unwrap();
    assert!(matches!(
        &settled(&mut events, 1).await[..],
        [DeliveryEvent::Delivered { attempts: 1, .. }]
    ));
    assert_eq!(rx.requests(0).len(), 2, "{:?}", rx.requests(0));
    // Bob (Ed25519) knocks once, in the host's form made with his key.
    workers
        .enqueue(activity_by(BOB_KEY_ID, 2, std::slice::from_ref(&inbox)))
        .await
        .unwrap();
    match &settled(&mut events, 1).await[..] {
        [
            DeliveryEvent::Delivered {
                attempts, dialect, ..
            },
        ] => {
            assert_eq!(*attempts, 1);
            assert_eq!(*dialect, Spec::Rfc9421);
        }
        other => panic!("expected bob's delivery, got {other:?}"),
    }
    let seen = rx.requests(0);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen[2].starts_with(
            r#"sig1=("@method" "@target-uri" "content-type" "content-digest");created="#
        ) && seen[2].ends_with(&format!(
            r#";keyid="{BOB_KEY_ID}";alg="ed25519";tag="strict-test""#
        )),
        "{}",
        seen[2]
    );
    // And alice still gets the host's algorithm: the form is still known.
    workers.enqueue(activity(3, &[inbox])).await.unwrap();
    assert!(matches!(
        &settled(&mut events, 1).await[..],
        [DeliveryEvent::Delivered { attempts: 1, .. }]
    ));
    let seen = rx.requests(0);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen[3].ends_with(&format!(
            r#";keyid="{KEY_ID}";alg="rsa-pss-sha512";tag="strict-test""#
        )),
        "{}",
        seen[3]
    );
    workers.shutdown().await;
}
