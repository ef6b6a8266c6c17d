//! Issue 12.1, first impersonation: the victim has an open redirect; the
//! attacker signs with keyId `https://victim/redirect?to=https://evil/k#main-key`
//! and `evil` serves a document claiming to be bob, publishing the
//! attacker's key. The redirect leaves the victim's origin: refused, `401`,
//! nothing handed to the application, and the victim's real bob is fine.

use archipel::inbox::InboxError;
use archipel::signatures::{KeyRefusal, SignatureError, Spec};

use crate::key_fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_via_open_redirect_is_refused() {
    let victim = victim(&[]).await;
    let evil = TestServer::start().await;
    let bob = victim.url("/users/bob");
    let redirect = format!("/redirect?to={}", evil.url("/k"));
    let key_id = format!("{}#main-key", victim.url(&redirect));
    victim.route(&redirect, Reply::redirect(302, evil.url("/k")));
    evil.route(
        "/k",
        Reply::ok(
            "application/activity+json",
            actor(
                &bob,
                vec![serde_json::json!({
                    "id": key_id, "owner": bob,
                    "publicKeyPem": evil_key().public_key().to_spki_pem()
                })],
            ),
        ),
    );
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);

    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 1),
        &key_id,
        &evil_key(),
        Spec::Cavage,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        hits(&victim, &redirect),
        1,
        "the key id was dereferenced once"
    );
    assert!(
        ours.seen.accepted.lock().unwrap().is_empty(),
        "nothing handed over"
    );
    match ours.seen.refused.lock().unwrap().as_slice() {
        [
            InboxError::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::CrossOriginRedirect { url, final_url },
                ..
            }),
        ] => {
            assert_eq!(url, &victim.url(&redirect));
            assert_eq!(final_url, &evil.url("/k"));
        }
        other => panic!("{other:?}"),
    }

    // Positive control: bob's own key still verifies on the same inbox.
    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 2),
        &format!("{bob}#main-key"),
        &bob_key(),
        Spec::Cavage,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        *ours.seen.accepted.lock().unwrap(),
        [victim.url("/likes/2")]
    );
}
