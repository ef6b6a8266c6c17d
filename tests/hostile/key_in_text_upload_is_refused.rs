//! Issue 12.1, second impersonation: a user-uploaded file on the victim's
//! origin, served as `text/plain`, holds `{"id": keyId, "owner": bob,
//! "publicKeyPem": attacker key}`. Only JSON media types are key documents:
//! refused, `401`, nothing handed to the application. Served as JSON, the
//! same file is still refused: bob does not list that key. And a JSON
//! upload claiming to *be* bob's actor document is not served at its `id`:
//! bob's real document is fetched instead, which does not publish the key.

use archipel::inbox::InboxError;
use archipel::signatures::{KeyRefusal, SignatureError, Spec};

use crate::key_fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_in_text_upload_is_refused() {
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let upload = |path: &str| {
        serde_json::json!({
            "id": victim.url(path), "owner": bob,
            "publicKeyPem": evil_key().public_key().to_spki_pem()
        })
        .to_string()
    };
    victim.route(
        "/media/upload.txt",
        Reply::ok("text/plain", upload("/media/upload.txt")),
    );
    victim.route(
        "/media/upload.json",
        Reply::ok("application/json", upload("/media/upload.json")),
    );
    let fake_bob = victim.url("/media/bob.json");
    victim.route(
        "/media/bob.json",
        Reply::ok(
            "application/activity+json",
            actor(
                &bob,
                vec![serde_json::json!({
                    "id": fake_bob, "owner": bob,
                    "publicKeyPem": evil_key().public_key().to_spki_pem()
                })],
            ),
        ),
    );
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);

    let text_key = victim.url("/media/upload.txt");
    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 1),
        &text_key,
        &evil_key(),
        Spec::Rfc9421,
    )
    .await;
    assert_eq!(status, 401);

    let json_key = victim.url("/media/upload.json");
    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 2),
        &json_key,
        &evil_key(),
        Spec::Cavage,
    )
    .await;
    assert_eq!(status, 401);

    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 3),
        &fake_bob,
        &evil_key(),
        Spec::Cavage,
    )
    .await;
    assert_eq!(status, 401);

    assert!(
        ours.seen.accepted.lock().unwrap().is_empty(),
        "nothing handed over"
    );
    let refused = ours.seen.refused.lock().unwrap();
    match refused.as_slice() {
        [
            InboxError::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::NotJson { content_type, .. },
                ..
            }),
            InboxError::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::NotListedByOwner { owner },
                ..
            }),
            InboxError::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::NotPublished { document },
                ..
            }),
        ] => {
            assert_eq!(content_type, "text/plain");
            assert_eq!(owner, &bob);
            assert_eq!(document, &bob, "read from bob's real document");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        hits(&victim, "/users/bob"),
        2,
        "the owner, then the claimed id"
    );
}
