//! Gone actors: a peer answers `410` for bob's actor document (and so for
//! his key). Bob's `Delete` of himself reaches the application's hook,
//! once; a `Delete` of someone else, of a note, or the self-delete of an
//! actor whose document still answers is refused `401` and reaches no
//! hook; without a hook, even bob's self-delete stays `401`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::inbox::gone::GoneActor;
use archipel::signatures::{PrivateKey, Signer};

use crate::common::{self, Calls};
use crate::support::{Reply, TestServer};

fn delete(actor: &str, n: usize, object: &str) -> String {
    format!(
        r#"{{"@context":"https://www.w3.org/ns/activitystreams","type":"Delete","id":"{actor}#delete-{n}","actor":"{actor}","object":"{object}","to":["https://www.w3.org/ns/activitystreams#Public"]}}"#
    )
}

/// Bob and carol are gone (410); dave's actor answers, but his key
/// document is gone (404).
async fn peer() -> TestServer {
    let peer = TestServer::start().await;
    peer.route("/users/bob", Reply::status(410));
    peer.route("/users/carol", Reply::status(410));
    peer.route("/keys/dave", Reply::status(404));
    let dave = peer.url("/users/dave");
    peer.route(
        "/users/dave",
        Reply::ok(
            "application/activity+json",
            format!(r#"{{"id":"{dave}","type":"Person","inbox":"{dave}/inbox"}}"#),
        ),
    );
    peer
}

fn signer(key_id: String) -> Signer {
    // Any key: the real one cannot be fetched any more.
    Signer::new(key_id, PrivateKey::generate_ed25519().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_confirmed_self_delete_reaches_the_hook() {
    let peer = peer().await;
    let got: Arc<Mutex<Vec<GoneActor>>> = Arc::default();
    let hook_got = got.clone();
    let server = common::serve(
        |b| {
            b.on_gone_actor(move |gone| {
                let got = hook_got.clone();
                async move {
                    got.lock().unwrap().push(gone);
                    Ok(())
                }
            })
        },
        |_| common::dispatcher(Calls::new(0), "route", Duration::ZERO),
    )
    .await;
    let (bob, carol, dave) = (
        peer.url("/users/bob"),
        peer.url("/users/carol"),
        peer.url("/users/dave"),
    );
    let bob_key = signer(format!("{bob}#main-key"));

    let (status, _) = common::post(&server.base, &bob_key, delete(&bob, 1, &bob)).await;
    assert_eq!(status, 202);
    assert_eq!(
        got.lock().unwrap().clone(),
        vec![GoneActor::new(
            bob.parse().unwrap(),
            format!("{bob}#delete-1").parse().unwrap(),
            410
        )]
    );
    // The actor IRI was fetched again to confirm, after the key fetch.
    let fetches = peer
        .requests()
        .iter()
        .filter(|r| r.target == "/users/bob")
        .count();
    assert_eq!(fetches, 2, "the key fetch and the confirmation");

    // The same Delete again: answered, not handed over twice.
    let (status, _) = common::post(&server.base, &bob_key, delete(&bob, 1, &bob)).await;
    assert_eq!(status, 202);
    assert_eq!(got.lock().unwrap().len(), 1);
    let fetches = peer
        .requests()
        .iter()
        .filter(|r| r.target == "/users/bob")
        .count();
    assert_eq!(
        fetches, 3,
        "the gone key is remembered: one confirmation more"
    );

    // Bob "deletes" carol (also gone) or a note: not a self-delete.
    let (status, _) = common::post(&server.base, &bob_key, delete(&bob, 2, &carol)).await;
    assert_eq!(status, 401);
    let note = peer.url("/notes/1");
    let (status, _) = common::post(&server.base, &bob_key, delete(&bob, 3, &note)).await;
    assert_eq!(status, 401);

    // Dave's key is gone, but dave answers: nothing confirms the claim.
    let dave_key = signer(peer.url("/keys/dave"));
    let (status, _) = common::post(&server.base, &dave_key, delete(&dave, 1, &dave)).await;
    assert_eq!(status, 401);
    assert_eq!(got.lock().unwrap().len(), 1, "only bob's self-delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_hook_a_gone_actor_stays_refused_and_is_not_fetched_again() {
    let peer = peer().await;
    let server = common::serve(
        |b| b,
        |_| common::dispatcher(Calls::new(0), "route", Duration::ZERO),
    )
    .await;
    let bob = peer.url("/users/bob");
    let (status, body) = common::post(
        &server.base,
        &signer(format!("{bob}#main-key")),
        delete(&bob, 1, &bob),
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("gone (410)"), "{body}");
    let fetches = peer
        .requests()
        .iter()
        .filter(|r| r.target == "/users/bob")
        .count();
    assert_eq!(fetches, 1, "the key fetch only");
}
