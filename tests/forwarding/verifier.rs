//! `ForwardedVerifier` against a scripted origin: what each activity type
//! can be believed through, the proof's controller, and the per-origin
//! and per-forwarder budgets that bound what forwarders make us fetch.

use std::sync::Arc;
use std::time::Duration;

use archipel::client::ReqwestClient;
use archipel::federation::forwarding::ForwardedVerifier;
use archipel::fetch::Fetcher;
use archipel::inbox::{Authenticity, ForwardedError, VerifyForwarded};
use archipel::proof::ProofOptions;
use archipel::signatures::PrivateKey;
use archipel::vocab::Iri;
use serde_json::{Value, json};

use crate::support::{Reply, TestServer};

fn verifier() -> ForwardedVerifier {
    let client = ReqwestClient::new(crate::support::local_policy()).unwrap();
    ForwardedVerifier::new(Fetcher::new(Arc::new(client)))
}

fn serve(origin: &TestServer, path: &str, document: &Value) {
    origin.route(
        path,
        Reply::ok("application/activity+json", document.to_string()),
    );
}

#[tokio::test]
async fn update_is_believed_through_its_object_and_like_only_through_its_own_copy() {
    let origin = TestServer::start().await;
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let note = json!({"id": origin.url("/notes/1"), "type": "Note", "attributedTo": alice,
                      "content": "edited", "to": ["https://www.w3.org/ns/activitystreams#Public"]});
    serve(&origin, "/notes/1", &note);
    let update = json!({"id": origin.url("/updates/1"), "type": "Update", "actor": alice,
                        "object": note, "to": ["https://www.w3.org/ns/activitystreams#Public"]});
    let v = verifier();
    assert_eq!(
        v.verify_forwarded(&update, &alice, None).await.unwrap(),
        Authenticity::Refetched {
            from: Iri::new_unchecked(origin.url("/notes/1"))
        }
    );

    // A Like of the same origin's note, not served at its id: its object
    // says nothing about who liked it.
    let like = json!({"id": origin.url("/likes/1"), "type": "Like", "actor": alice,
                      "object": origin.url("/notes/1")});
    match v.verify_forwarded(&like, &alice, None).await {
        Err(ForwardedError::Unverified { reasons, .. }) => {
            assert!(
                reasons.contains("a Like is believed only from its own copy"),
                "{reasons}"
            )
        }
        other => panic!("{other:?}"),
    }
    // Served, but not as forwarded.
    serve(
        &origin,
        "/likes/1",
        &json!({"id": origin.url("/likes/1"), "type": "Like", "actor": alice,
                "object": origin.url("/notes/2")}),
    );
    assert!(matches!(
        v.verify_forwarded(&like, &alice, None).await,
        Err(ForwardedError::ContentMismatch { from, .. }) if from == origin.url("/likes/1")
    ));
}

#[tokio::test]
async fn a_delete_is_believed_once_its_object_is_gone_or_a_tombstone() {
    let origin = TestServer::start().await;
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let delete = |n: u32| {
        json!({"id": origin.url(&format!("/deletes/{n}")), "type": "Delete", "actor": alice,
               "object": origin.url(&format!("/notes/{n}"))})
    };
    origin.route("/notes/1", Reply::status(410));
    serve(
        &origin,
        "/notes/2",
        &json!({"id": origin.url("/notes/2"), "type": "Tombstone"}),
    );
    serve(
        &origin,
        "/notes/3",
        &json!({"id": origin.url("/notes/3"), "type": "Note", "attributedTo": alice}),
    );
    let v = verifier();
    for n in [1, 2] {
        assert_eq!(
            v.verify_forwarded(&delete(n), &alice, None).await.unwrap(),
            Authenticity::Refetched {
                from: Iri::new_unchecked(origin.url(&format!("/notes/{n}")))
            }
        );
    }
    assert!(matches!(
        v.verify_forwarded(&delete(3), &alice, None).await,
        Err(ForwardedError::NotDeleted { object, .. }) if object == origin.url("/notes/3")
    ));
    // A 404 is also what an origin answers for what the requester may not
    // see (a followers-only post): it confirms nothing.
    origin.route("/notes/4", Reply::status(404));
    match v.verify_forwarded(&delete(4), &alice, None).await {
        Err(ForwardedError::Unverified { reasons, .. }) => assert!(
            reasons.contains(&format!("{:?} answers 404", origin.url("/notes/4"))),
            "{reasons}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn only_a_single_object_is_believed_through_the_origins_copy() {
    let origin = TestServer::start().await;
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let public = "https://www.w3.org/ns/activitystreams#Public";
    let note = |n: u32, content: &str| {
        json!({"id": origin.url(&format!("/notes/{n}")), "type": "Note", "attributedTo": alice,
               "content": content, "to": [public]})
    };
    serve(&origin, "/notes/1", &note(1, "genuine"));
    origin.route("/notes/2", Reply::status(410));
    let create = |object: Value| {
        json!({"id": origin.url("/creates/1"), "type": "Create", "actor": alice,
               "object": object, "to": [public]})
    };
    let v = verifier();
    // The genuine note alone is confirmed by its origin...
    assert_eq!(
        v.verify_forwarded(&create(json!([note(1, "genuine")])), &alice, None)
            .await
            .unwrap(),
        Authenticity::Refetched {
            from: Iri::new_unchecked(origin.url("/notes/1"))
        }
    );
    // ...but not a forged one beside it.
    let two = create(json!([note(1, "genuine"), note(3, "forged")]));
    match v.verify_forwarded(&two, &alice, None).await {
        Err(ForwardedError::Unverified { reasons, .. }) => {
            assert!(reasons.contains("it has 2 objects"), "{reasons}")
        }
        other => panic!("{other:?}"),
    }
    // Nor a Delete of a gone note and of one that still exists.
    let delete = json!({"id": origin.url("/deletes/1"), "type": "Delete", "actor": alice,
                        "object": [origin.url("/notes/2"), origin.url("/notes/1")]});
    match v.verify_forwarded(&delete, &alice, None).await {
        Err(ForwardedError::Unverified { reasons, .. }) => {
            assert!(reasons.contains("it has 2 objects"), "{reasons}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_ld_signature_by_a_key_off_the_actors_origin_fetches_nothing() {
    let (origin, elsewhere) = (TestServer::start().await, TestServer::start().await);
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let pem = include_str!("../interop/keys/rsa-2048-pkcs8.pem");
    let key = PrivateKey::from_pem(pem).unwrap();
    let creator = Iri::new_unchecked(elsewhere.url("/keys/alice"));
    let like = json!({"@context": ["https://www.w3.org/ns/activitystreams",
                                   "https://w3id.org/security/v1"],
                      "id": origin.url("/likes/1"), "type": "Like", "actor": alice,
                      "object": "https://b.example/notes/1"});
    let signed = archipel::ldsig::sign(&like, &key, &creator, "2026-01-01T00:00:00Z").unwrap();
    match verifier().verify_forwarded(&signed, &alice, None).await {
        Err(ForwardedError::Unverified { reasons, .. }) => assert!(
            reasons.contains(&format!(
                "its creator {:?} is not on the actor's origin",
                creator.as_str()
            )),
            "{reasons}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(elsewhere.requests().len(), 0);
}

#[tokio::test]
async fn a_proof_by_another_actor_of_the_origin_is_not_the_actors() {
    let origin = TestServer::start().await;
    let (alice, mallory) = (origin.url("/users/alice"), origin.url("/users/mallory"));
    let key = PrivateKey::generate_ed25519().unwrap();
    let method = format!("{mallory}#ed25519-key");
    serve(
        &origin,
        "/users/mallory",
        &json!({"id": mallory, "type": "Person", "inbox": format!("{mallory}/inbox"),
                "assertionMethod": [{"id": method, "type": "Multikey", "controller": mallory,
                    "publicKeyMultibase": key.public_key().to_multibase().unwrap()}]}),
    );
    let like = json!({"id": origin.url("/likes/1"), "type": "Like", "actor": alice,
                      "object": "https://b.example/notes/1"});
    let signed =
        archipel::proof::sign(&like, &key, &ProofOptions::new(Iri::new_unchecked(method))).unwrap();
    let err = verifier()
        .verify_forwarded(&signed, &Iri::new_unchecked(&alice), None)
        .await;
    assert!(
        matches!(&err, Err(ForwardedError::NotTheActor { signer, actor, .. })
            if signer == &mallory && actor == &alice),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_forwarder_cannot_make_us_fetch_past_the_origins_budget() {
    let origin = TestServer::start().await;
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let v = verifier().with_fetch_budget(2, Duration::from_secs(3600));
    let like = |n: u32| {
        json!({"id": origin.url(&format!("/likes/{n}")), "type": "Like", "actor": alice,
               "object": "https://b.example/notes/1"})
    };
    for n in 0..2 {
        assert!(matches!(
            v.verify_forwarded(&like(n), &alice, None).await,
            Err(ForwardedError::Unverified { .. })
        ));
    }
    let spent = v.verify_forwarded(&like(2), &alice, None).await;
    assert!(
        matches!(&spent, Err(ForwardedError::OverBudget { host }) if host == "127.0.0.1"),
        "{spent:?}"
    );
    assert_eq!(origin.requests().len(), 2);
}

#[tokio::test]
async fn a_forwarder_is_refused_past_its_own_budget_before_the_origins() {
    let origin = TestServer::start().await;
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let (evil, good) = (
        Iri::new_unchecked("https://evil.example/actor"),
        Iri::new_unchecked("https://good.example/actor"),
    );
    let v = verifier()
        .with_fetch_budget(3, Duration::from_secs(3600))
        .with_forwarder_budget(2, Duration::from_secs(3600));
    let like = |n: u32| {
        json!({"id": origin.url(&format!("/likes/{n}")), "type": "Like", "actor": alice,
               "object": "https://b.example/notes/1"})
    };
    for n in 0..2 {
        assert!(matches!(
            v.verify_forwarded(&like(n), &alice, Some(&evil)).await,
            Err(ForwardedError::Unverified { .. })
        ));
    }
    // evil.example's own budget is spent: refused without a fetch...
    let spent = v.verify_forwarded(&like(2), &alice, Some(&evil)).await;
    assert!(
        matches!(&spent, Err(ForwardedError::OverBudget { host }) if host == "evil.example"),
        "{spent:?}"
    );
    assert_eq!(origin.requests().len(), 2);
    // ...so the origin has some left for another forwarder's.
    let other = v.verify_forwarded(&like(3), &alice, Some(&good)).await;
    assert!(
        matches!(&other, Err(ForwardedError::Unverified { .. })),
        "{other:?}"
    );
    assert_eq!(origin.requests().len(), 3);
}

#[tokio::test]
async fn ld_signature_key_fetches_are_charged_to_the_forwarder() {
    let origin = TestServer::start().await;
    // One RSA key published by several actors: each names a key id of its
    // own, so each needs a fetch.
    let key = PrivateKey::generate_rsa_2048().unwrap();
    let pem = key.public_key().to_spki_pem();
    let signed_like = |n: u32| {
        let actor = origin.url(&format!("/users/u{n}"));
        let key_id = format!("{actor}#main-key");
        serve(
            &origin,
            &format!("/users/u{n}"),
            &json!({"id": actor, "type": "Person", "inbox": format!("{actor}/inbox"),
                    "publicKey": {"id": key_id, "owner": actor, "publicKeyPem": pem}}),
        );
        let like = json!({"@context": "https://www.w3.org/ns/activitystreams",
                          "id": origin.url(&format!("/likes/{n}")), "type": "Like",
                          "actor": actor, "object": "https://b.example/notes/1"});
        let signed = archipel::ldsig::sign(
            &like,
            &key,
            &Iri::new_unchecked(key_id),
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        (signed, Iri::new_unchecked(actor))
    };
    let (evil, good) = (
        Iri::new_unchecked("https://evil.example/actor"),
        Iri::new_unchecked("https://good.example/actor"),
    );
    let v = verifier().with_forwarder_budget(2, Duration::from_secs(3600));
    for n in 0..2 {
        let (like, actor) = signed_like(n);
        let got = v.verify_forwarded(&like, &actor, Some(&evil)).await;
        assert!(
            matches!(&got, Ok(Authenticity::LdSignature { .. })),
            "{got:?}"
        );
    }
    assert_eq!(origin.requests().len(), 2);
    // A third actor's key would be a third fetch on evil.example's behalf.
    let (like, actor) = signed_like(2);
    let spent = v.verify_forwarded(&like, &actor, Some(&evil)).await;
    assert!(
        matches!(&spent, Err(ForwardedError::OverBudget { host }) if host == "evil.example"),
        "{spent:?}"
    );
    assert_eq!(origin.requests().len(), 2);
    // A key already held costs nothing, even past the budget...
    let (like, actor) = signed_like(0);
    let held = v.verify_forwarded(&like, &actor, Some(&evil)).await;
    assert!(
        matches!(&held, Ok(Authenticity::LdSignature { .. })),
        "{held:?}"
    );
    // ...and another forwarder has a budget of its own.
    let (like, actor) = signed_like(2);
    let other = v.verify_forwarded(&like, &actor, Some(&good)).await;
    assert!(
        matches!(&other, Ok(Authenticity::LdSignature { .. })),
        "{other:?}"
    );
    assert_eq!(origin.requests().len(), 3);
}

#[tokio::test]
async fn federation_verify_forwarded_checks_what_the_inbox_checks_first() {
    let policy = archipel::policy::DomainPolicy::new();
    policy.block("spam.example").unwrap();
    let client = ReqwestClient::new(crate::support::local_policy()).unwrap();
    let fed = archipel::federation::Federation::builder("https://c.example".parse().unwrap())
        .with_client(Arc::new(client))
        .with_domain_policy(policy)
        .build()
        .await
        .unwrap();
    let spam = json!({"id": "https://spam.example/1", "type": "Create",
                      "actor": "https://spam.example/users/s", "object": "https://spam.example/n/1"});
    let blocked = fed.verify_forwarded(&spam, None).await;
    assert!(
        matches!(&blocked, Err(ForwardedError::Blocked { host }) if host == "spam.example"),
        "{blocked:?}"
    );
    let elsewhere = json!({"id": "https://b.example/1", "type": "Create",
                           "actor": "https://a.example/users/a", "object": "https://a.example/n/1"});
    let refused = fed.verify_forwarded(&elsewhere, None).await;
    assert!(
        matches!(&refused, Err(ForwardedError::Unverified { reasons, .. })
            if reasons == "its id is not on its actor's origin"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_embedded_copy_without_context_matches_the_served_activity() {
    let origin = TestServer::start().await;
    let alice = Iri::new_unchecked(origin.url("/users/alice"));
    let like = json!({"id": origin.url("/likes/1"), "type": "Like", "actor": alice,
                      "object": "https://b.example/notes/1"});
    let mut served = like.clone();
    served["@context"] = "https://www.w3.org/ns/activitystreams".into();
    serve(&origin, "/likes/1", &served);
    let v = verifier();
    assert_eq!(
        v.verify_forwarded(&like, &alice, None).await.unwrap(),
        Authenticity::Refetched {
            from: Iri::new_unchecked(origin.url("/likes/1"))
        }
    );
    // A copy with a context of its own is compared with it.
    let mut other = like.clone();
    other["@context"] =
        json!(["https://www.w3.org/ns/activitystreams", {"x": "https://x.example/"}]);
    assert!(matches!(
        v.verify_forwarded(&other, &alice, None).await,
        Err(ForwardedError::ContentMismatch { .. })
    ));
}
