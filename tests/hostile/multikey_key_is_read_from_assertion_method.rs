//! Positive control for FEP-521a: an actor publishing an Ed25519
//! `Multikey` in `assertionMethod` (and an RSA key in `publicKey`) is
//! verified with either; a Multikey whose `controller` is someone else is
//! refused.

use archipel::inbox::InboxError;
use archipel::signatures::{KeyRefusal, PrivateKey, SignatureError, Spec};

use crate::key_fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multikey_key_is_read_from_assertion_method() {
    let ed = PrivateKey::from_pem(include_str!("../interop/keys/ed25519-pkcs8.pem")).unwrap();
    let v = TestServer::start().await;
    let bob = v.url("/users/bob");
    let ed_key = format!("{bob}#ed25519-key");
    let stray_key = format!("{bob}#stray");
    let doc = serde_json::json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"],
        "id": bob, "type": "Person", "inbox": format!("{bob}/inbox"),
        "publicKey": {"id": format!("{bob}#main-key"), "owner": bob,
                      "publicKeyPem": bob_key().public_key().to_spki_pem()},
        "assertionMethod": [
            {"id": ed_key, "type": "Multikey", "controller": bob,
             "publicKeyMultibase": ed.public_key().to_multibase().unwrap()},
            {"id": stray_key, "type": "Multikey", "controller": "https://evil.example/users/x",
             "publicKeyMultibase": ed.public_key().to_multibase().unwrap()}
        ]
    });
    v.route(
        "/users/bob",
        Reply::ok("application/activity+json", doc.to_string()),
    );
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);

    let status = post_signed(&inbox, &inbox, like(&bob, 1), &ed_key, &ed, Spec::Rfc9421).await;
    assert_eq!(status, 202);
    let status = post_signed(&inbox, &inbox, like(&bob, 2), &ed_key, &ed, Spec::Cavage).await;
    assert_eq!(status, 202);
    let status = post_signed(&inbox, &inbox, like(&bob, 3), &stray_key, &ed, Spec::Cavage).await;
    assert_eq!(status, 401);
    assert_eq!(
        *ours.seen.accepted.lock().unwrap(),
        [v.url("/likes/1"), v.url("/likes/2")]
    );
    match ours.seen.refused.lock().unwrap().as_slice() {
        [
            InboxError::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::OwnerMismatch { owner, document },
                ..
            }),
        ] => {
            assert_eq!(owner, "https://evil.example/users/x");
            assert_eq!(document, &bob);
        }
        other => panic!("{other:?}"),
    }
}
