//! Issue 12.2: a signature bob made for `evil.example/inbox` is replayed
//! by evil to our inbox, `Host: evil.example` included. With a public
//! base (`https://social.example`), the signed authority must be ours:
//! `401` in both dialects, nothing handed to the application. The same
//! activity signed for our public base verifies (positive control).

use archipel::inbox::InboxError;
use archipel::signatures::{SignatureError, Spec};

use crate::key_fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_replay_is_refused() {
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let key_id = format!("{bob}#main-key");
    let ours = ours(Some("https://social.example"), |r| r).await;
    let inbox = format!("{}/inbox", ours.url);

    for (n, spec) in [(1, Spec::Cavage), (2, Spec::Rfc9421)] {
        let status = post_signed(
            "https://evil.example/inbox",
            &inbox,
            like(&bob, n),
            &key_id,
            &bob_key(),
            spec,
        )
        .await;
        assert_eq!(status, 401, "{spec:?}");
    }
    assert!(
        ours.seen.accepted.lock().unwrap().is_empty(),
        "nothing handed over"
    );
    match ours.seen.refused.lock().unwrap().as_slice() {
        [
            InboxError::Signature(SignatureError::BadSignature { key_id: a }),
            InboxError::Signature(SignatureError::BadSignature { key_id: b }),
        ] => {
            assert_eq!((a, b), (&key_id, &key_id));
        }
        other => panic!("{other:?}"),
    }

    // Positive control: signed for our public base, sent with that Host.
    for (n, spec) in [(3, Spec::Cavage), (4, Spec::Rfc9421)] {
        let status = post_signed(
            "https://social.example/inbox",
            &inbox,
            like(&bob, n),
            &key_id,
            &bob_key(),
            spec,
        )
        .await;
        assert_eq!(status, 202, "{spec:?}");
    }
    assert_eq!(
        *ours.seen.accepted.lock().unwrap(),
        [victim.url("/likes/3"), victim.url("/likes/4")]
    );
}
