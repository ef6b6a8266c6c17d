//! `proof::verify` over HTTP: the key comes from the controlling actor's
//! `assertionMethod`, fetched from a real 127.0.0.1 server.

use std::sync::Arc;

use archipel::client::ReqwestClient;
use archipel::fetch::Fetcher;
use archipel::proof::{self, ContextForm, ProofError, ProofOptions};
use archipel::signatures::PrivateKey;
use archipel::vocab::Iri;
use serde_json::{Value, json};

use crate::support::{Reply, TestServer, local_policy};

fn fetcher() -> Fetcher {
    Fetcher::new(Arc::new(ReqwestClient::new(local_policy()).unwrap()))
}

fn actor(server: &TestServer, key: &PrivateKey, controller: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/multikey/v1"],
        "id": server.url("/users/alice"), "type": "Person",
        "inbox": server.url("/users/alice/inbox"),
        "assertionMethod": [{
            "id": server.url("/users/alice#ed25519-key"), "type": "Multikey",
            "controller": controller,
            "publicKeyMultibase": key.public_key().to_multibase().unwrap()
        }]
    })
}

fn note(id: &str, method: &str, key: &PrivateKey) -> Value {
    let doc = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id, "type": "Note", "content": "signed at the source"
    });
    proof::sign(&doc, key, &ProofOptions::new(Iri::parse(method).unwrap())).unwrap()
}

#[tokio::test]
async fn verifies_with_the_key_from_assertion_method() {
    let server = TestServer::start().await;
    let key = PrivateKey::generate_ed25519().unwrap();
    let alice = server.url("/users/alice");
    server.route(
        "/users/alice",
        Reply::json(actor(&server, &key, &alice).to_string()),
    );
    let method = server.url("/users/alice#ed25519-key");
    let signed = note(&server.url("/notes/1"), &method, &key);

    let verified = proof::verify(&signed, &fetcher()).await.unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].verification_method.as_str(), method);
    assert_eq!(
        verified[0].controller.as_ref().map(Iri::as_str),
        Some(alice.as_str())
    );
    assert_eq!(verified[0].form, ContextForm::InProof);

    // Altered in transit: refused, naming the method.
    let mut t = signed.clone();
    t["content"] = "altered".into();
    match proof::verify(&t, &fetcher()).await {
        Err(ProofError::Invalid {
            verification_method,
        }) => assert_eq!(verification_method, method),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_key_cannot_vouch_for_another_origin() {
    let server = TestServer::start().await;
    let key = PrivateKey::generate_ed25519().unwrap();
    let alice = server.url("/users/alice");
    server.route(
        "/users/alice",
        Reply::json(actor(&server, &key, &alice).to_string()),
    );
    let signed = note(
        "https://elsewhere.example/notes/1",
        &server.url("/users/alice#ed25519-key"),
        &key,
    );
    match proof::verify(&signed, &fetcher()).await {
        Err(ProofError::OriginMismatch { document, .. }) => {
            assert_eq!(document, "https://elsewhere.example/notes/1")
        }
        other => panic!("{other:?}"),
    }
    // Nothing was fetched for it.
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_key_must_be_controlled_by_the_actor_listing_it() {
    let server = TestServer::start().await;
    let key = PrivateKey::generate_ed25519().unwrap();
    let mallory = server.url("/users/mallory");
    server.route(
        "/users/alice",
        Reply::json(actor(&server, &key, &mallory).to_string()),
    );
    let signed = note(
        &server.url("/notes/1"),
        &server.url("/users/alice#ed25519-key"),
        &key,
    );
    match proof::verify(&signed, &fetcher()).await {
        Err(ProofError::MethodNotFound { controller, .. }) => {
            assert_eq!(controller, server.url("/users/alice"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_actor_served_under_another_id_is_refused() {
    let server = TestServer::start().await;
    let key = PrivateKey::generate_ed25519().unwrap();
    // /users/alice serves a document claiming to be /users/bob.
    let mut doc = actor(&server, &key, &server.url("/users/bob"));
    doc["id"] = server.url("/users/bob").into();
    server.route("/users/alice", Reply::json(doc.to_string()));
    server.route("/users/bob", Reply::status(404));
    let signed = note(
        &server.url("/notes/1"),
        &server.url("/users/alice#ed25519-key"),
        &key,
    );
    match proof::verify(&signed, &fetcher()).await {
        Err(ProofError::Fetch {
            verification_method,
            ..
        }) => {
            assert_eq!(verification_method, server.url("/users/alice#ed25519-key"))
        }
        other => panic!("{other:?}"),
    }
}
