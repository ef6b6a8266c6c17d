//! Issue 12, item 4: an activity id (or actor) past 2 KiB is refused with a
//! typed `400` before any key is fetched, so it is neither verified nor
//! recorded in the dedup store.

use archipel::inbox::{InboxConfig, InboxError};
use http::StatusCode;
use serde_json::json;

use crate::inbox_peers::Peers;

#[tokio::test]
async fn three_kib_id_is_400_and_leaves_no_trace() {
    let p = Peers::start().await;
    let long_id = format!("{}/activities/{}", p.evil.base(), "x".repeat(3 * 1024));
    let like = json!({
        "id": long_id, "type": "Like", "actor": p.eve(), "object": p.bobs_note()
    });
    let err = p.inbox.receive(&p.signed_by_eve(like)).await.unwrap_err();
    match &err {
        InboxError::PropertyTooLong {
            property,
            limit,
            actual,
        } => assert_eq!(
            (*property, *limit, *actual),
            ("id", InboxConfig::DEFAULT_MAX_IRI_BYTES, long_id.len())
        ),
        other => panic!("expected PropertyTooLong, got {other:?}"),
    }
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert_eq!(p.seen.len(), 0);
    // Refused before verification: eve's key was never fetched.
    assert_eq!(p.evil.requests().len(), 0);

    let long_actor = format!("{}/users/{}", p.evil.base(), "e".repeat(3 * 1024));
    let like = json!({
        "id": format!("{}/activities/l2", p.evil.base()), "type": "Like",
        "actor": long_actor, "object": p.bobs_note()
    });
    let err = p.inbox.receive(&p.signed_by_eve(like)).await.unwrap_err();
    assert!(
        matches!(
            err,
            InboxError::PropertyTooLong {
                property: "actor",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(p.seen.len(), 0);
    assert_eq!(p.evil.requests().len(), 0);
}
