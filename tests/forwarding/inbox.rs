//! The inbox's forwarding branch alone, with a stand-in `VerifyForwarded`:
//! refused as before without one; with one, the forwarder still answers
//! to the domain policy, the checks that need no network come first, and
//! only a verified copy marks its id as seen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use archipel::inbox::{Authenticity, ForwardedError, Inbox, InboxError, VerifyForwarded};
use archipel::policy::DomainPolicy;
use archipel::signatures::{MemoryKeyResolver, PrivateKey, Signer, Verifier, VerifyPolicy};
use archipel::vocab::Iri;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

const ALICE: &str = "https://a.example/users/alice";
const ALICE_KEY: &str = "https://a.example/users/alice#main-key";
const BOB: &str = "https://b.example/users/bob";
const BOB_KEY: &str = "https://b.example/users/bob#main-key";
/// A key of bob's served by another host than his, as standalone key
/// documents may be.
const BOB_KEY_ELSEWHERE: &str = "https://keys.example/bob";

/// Establishes every activity by an LD signature of its actor, or refuses
/// it as altered while `fail` is set; counts its calls.
struct Stub {
    calls: AtomicUsize,
    fail: Mutex<bool>,
    /// The forwarder of the last call.
    forwarder: Mutex<Option<Iri>>,
}

#[async_trait::async_trait]
impl VerifyForwarded for Stub {
    async fn verify_forwarded(
        &self,
        document: &Value,
        actor: &Iri,
        forwarder: Option<&Iri>,
    ) -> Result<Authenticity, ForwardedError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.forwarder.lock().unwrap() = forwarder.cloned();
        if *self.fail.lock().unwrap() {
            return Err(ForwardedError::ContentMismatch {
                id: document["id"].as_str().unwrap().to_owned(),
                from: document["id"].as_str().unwrap().to_owned(),
            });
        }
        Ok(Authenticity::LdSignature {
            creator: Iri::new_unchecked(format!("{actor}#main-key")),
        })
    }
}

struct Fixture {
    keys: MemoryKeyResolver,
    alice: Signer,
    bob: Signer,
    bob_elsewhere: Signer,
    policy: DomainPolicy,
    stub: Arc<Stub>,
}

fn fixture() -> Fixture {
    let (alice, bob) = (
        PrivateKey::generate_ed25519().unwrap(),
        PrivateKey::generate_ed25519().unwrap(),
    );
    let mut keys = MemoryKeyResolver::new();
    keys.insert(ALICE_KEY, alice.public_key(), ALICE);
    keys.insert(BOB_KEY, bob.public_key(), BOB);
    keys.insert(BOB_KEY_ELSEWHERE, bob.public_key(), BOB);
    Fixture {
        keys,
        alice: Signer::new(ALICE_KEY, alice),
        bob: Signer::new(BOB_KEY, bob.clone()),
        bob_elsewhere: Signer::new(BOB_KEY_ELSEWHERE, bob),
        policy: DomainPolicy::new(),
        stub: Arc::new(Stub {
            calls: AtomicUsize::new(0),
            fail: Mutex::new(false),
            forwarder: Mutex::new(None),
        }),
    }
}

impl Fixture {
    fn inbox(&self, forwarding: bool) -> Inbox {
        let verifier = Verifier::new(self.keys.clone(), VerifyPolicy::default());
        let inbox = Inbox::new(Arc::new(verifier))
            .with_domain_policy(self.policy.clone())
            .with_public_base(url::Url::parse("https://c.example").unwrap());
        if forwarding {
            inbox.with_forwarding(self.stub.clone())
        } else {
            inbox
        }
    }

    fn calls(&self) -> usize {
        self.stub.calls.load(Ordering::SeqCst)
    }
}

fn request(by: &Signer, body: &Value) -> http::Request<Bytes> {
    let mut req = http::Request::post("https://c.example/inbox")
        .header("host", "c.example")
        .header("content-type", "application/activity+json")
        .body(Bytes::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    by.sign(&mut req).unwrap();
    req
}

fn reply(n: u32) -> Value {
    json!({
        "id": format!("https://a.example/activities/{n}"), "type": "Create", "actor": ALICE,
        "object": {"id": format!("https://a.example/notes/{n}"), "type": "Note",
                   "attributedTo": ALICE, "content": "hi"},
    })
}

#[tokio::test]
async fn without_a_verifier_a_forwarded_activity_is_an_actor_mismatch() {
    let f = fixture();
    let err = f.inbox(false).receive(&request(&f.bob, &reply(1))).await;
    assert!(
        matches!(&err, Err(InboxError::ActorMismatch { owner, actor, .. }) if owner == BOB && actor == ALICE),
        "{err:?}"
    );
}

#[tokio::test]
async fn with_a_verifier_it_records_how_and_by_whom() {
    let f = fixture();
    let inbox = f.inbox(true);
    let got = inbox.receive(&request(&f.bob, &reply(1))).await.unwrap();
    assert_eq!(got.actor, ALICE);
    assert_eq!(got.verified.owner, BOB);
    assert_eq!(got.forwarded_by, Some(Iri::new_unchecked(BOB)));
    // The verifier is told who forwarded it, to charge its fetches.
    assert_eq!(
        *f.stub.forwarder.lock().unwrap(),
        Some(Iri::new_unchecked(BOB))
    );
    assert_eq!(
        got.authenticity,
        Authenticity::LdSignature {
            creator: Iri::new_unchecked(ALICE_KEY)
        }
    );
    // A direct delivery does not ask the verifier.
    let direct = inbox.receive(&request(&f.alice, &reply(2))).await.unwrap();
    assert_eq!(direct.authenticity, Authenticity::HttpSignature);
    assert_eq!(direct.forwarded_by, None);
    assert_eq!(f.calls(), 1);
}

#[tokio::test]
async fn a_blocked_forwarder_is_refused_before_any_verification() {
    let f = fixture();
    f.policy.block("b.example").unwrap();
    // Signed with a key on an allowed host: the forwarder is still bob.
    let err = f
        .inbox(true)
        .receive(&request(&f.bob_elsewhere, &reply(1)))
        .await;
    assert!(
        matches!(&err, Err(InboxError::Blocked { host }) if host == "b.example"),
        "{err:?}"
    );
    assert_eq!(f.calls(), 0);
}

#[tokio::test]
async fn a_foreign_delete_is_refused_before_any_verification() {
    let f = fixture();
    let delete = json!({"id": "https://a.example/activities/9", "type": "Delete",
                        "actor": ALICE, "object": "https://b.example/notes/1"});
    let err = f.inbox(true).receive(&request(&f.bob, &delete)).await;
    assert!(
        matches!(&err, Err(InboxError::ForeignObject { kind: "Delete", .. })),
        "{err:?}"
    );
    assert_eq!(f.calls(), 0);
}

#[tokio::test]
async fn a_refused_copy_does_not_make_the_genuine_one_a_duplicate() {
    let f = fixture();
    let inbox = f.inbox(true);
    *f.stub.fail.lock().unwrap() = true;
    let err = inbox
        .receive(&request(&f.bob, &reply(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            InboxError::Forwarded(ForwardedError::ContentMismatch { .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    let genuine = inbox.receive(&request(&f.alice, &reply(1))).await.unwrap();
    assert_eq!(genuine.authenticity, Authenticity::HttpSignature);
    // Now seen: a forwarded copy is a duplicate, without being verified
    // (and fetched for) again.
    *f.stub.fail.lock().unwrap() = false;
    let before = f.calls();
    let again = inbox.receive(&request(&f.bob, &reply(1))).await;
    assert!(
        matches!(again, Err(InboxError::Duplicate { .. })),
        "{again:?}"
    );
    assert_eq!(f.calls(), before);
}

#[test]
fn a_spent_budget_is_503_and_a_blocked_actor_403() {
    let spent = InboxError::Forwarded(ForwardedError::OverBudget {
        host: "a.example".into(),
    });
    assert_eq!(spent.status(), StatusCode::SERVICE_UNAVAILABLE);
    let blocked = InboxError::Forwarded(ForwardedError::Blocked {
        host: "a.example".into(),
    });
    assert_eq!(blocked.status(), StatusCode::FORBIDDEN);
}
