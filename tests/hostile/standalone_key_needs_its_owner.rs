//! A standalone key document (`id`, `owner`, `publicKeyPem`) on the
//! victim's origin counts only if the owner's actor document lists it
//! (Mastodon's rule): a key the owner does not list is refused; one it
//! lists, by reference, verifies (positive control).

use archipel::inbox::InboxError;
use archipel::signatures::{KeyRefusal, SignatureError, Spec};

use crate::key_fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_key_needs_its_owner() {
    // Bob lists `/keys/bob-2` by reference; nobody lists `/keys/stray`.
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let listed = victim.url("/keys/bob-2");
    victim.route(
        "/users/bob",
        Reply::ok(
            "application/activity+json",
            actor(
                &bob,
                vec![
                    serde_json::json!({
                        "id": format!("{bob}#main-key"), "owner": bob,
                        "publicKeyPem": bob_key().public_key().to_spki_pem()
                    }),
                    serde_json::json!(listed),
                ],
            ),
        ),
    );
    let key_doc = |id: &str, pem: String| {
        serde_json::json!({
            "@context": "https://w3id.org/security/v1",
            "id": id, "type": "Key", "owner": bob, "publicKeyPem": pem
        })
        .to_string()
    };
    let stray = victim.url("/keys/stray");
    victim.route(
        "/keys/stray",
        Reply::ok(
            "application/ld+json; profile=\"https://w3id.org/security/v1\"",
            key_doc(&stray, evil_key().public_key().to_spki_pem()),
        ),
    );
    victim.route(
        "/keys/bob-2",
        Reply::ok(
            "application/activity+json",
            key_doc(&listed, bob_key().public_key().to_spki_pem()),
        ),
    );
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);

    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 1),
        &stray,
        &evil_key(),
        Spec::Cavage,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        ours.seen.accepted.lock().unwrap().is_empty(),
        "nothing handed over"
    );
    match ours.seen.refused.lock().unwrap().as_slice() {
        [
            InboxError::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::NotListedByOwner { owner },
                key_id,
            }),
        ] => {
            assert_eq!(owner, &bob);
            assert_eq!(key_id, &stray);
        }
        other => panic!("{other:?}"),
    }

    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 2),
        &listed,
        &bob_key(),
        Spec::Rfc9421,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        *ours.seen.accepted.lock().unwrap(),
        [victim.url("/likes/2")]
    );
}
