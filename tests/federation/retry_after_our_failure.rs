//! An activity the server failed to handle for a reason of its own (a
//! handler's error, a spent budget: `5xx`) is not remembered as received:
//! the sender's retry is handled, not answered `202` as a duplicate and
//! dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;

use crate::fed_node;
use crate::support::loopback::{accepting_follows, federation, post_signed};

#[tokio::test]
async fn a_retry_after_our_own_failure_is_handled_not_dropped_as_a_duplicate() {
    let a = fed_node::start(&["alice"], false).await;
    let (listener, fed) = federation(&["bob"], false).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let dispatcher = accepting_follows(&fed).on_create({
        let calls = calls.clone();
        move |_cx, _create| {
            let calls = calls.clone();
            async move {
                // Our store is down the first time.
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err("the store is unavailable".into());
                }
                Ok(())
            }
        }
    });
    let app = fed.routes(dispatcher).into_router();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });

    let alice = a.fed.local("alice").unwrap();
    let base = &a.base;
    let create = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{base}/users/alice/statuses/1/activity"),
        "type": "Create",
        "actor": alice.id(),
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {"id": format!("{base}/users/alice/statuses/1"), "type": "Note",
                   "attributedTo": alice.id(), "content": "hello",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"]}
    });
    let inbox = fed.local("bob").unwrap().inbox().to_string();
    assert_eq!(post_signed(&inbox, &alice, &create).await, 500);
    assert_eq!(post_signed(&inbox, &alice, &create).await, 202);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the retry was not handled");
    // Handled once: now it is a duplicate.
    assert_eq!(post_signed(&inbox, &alice, &create).await, 202);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    server.abort();
}
