//! The dispatcher's rules for quote activities, on a real inbox: a
//! `QuoteRequest` only for a post of this server, its quote post on the
//! sender's origin; an `Accept` of a `QuoteRequest` only for one a local
//! actor sent. A refusal never reaches the handler.

use serde_json::json;

use crate::node::start;
use crate::support::loopback::post_signed;
use crate::two_instances::{PUBLIC, note_with_rule};

#[tokio::test]
async fn quote_requests_only_for_local_posts_from_the_quote_posts_origin() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let bob = b.user("bob");
    let alice = a.user("alice");
    let post = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [PUBLIC]})),
        )
        .await;
    let post = post.id.unwrap();
    let quote = format!(
        "{}/objects/q1",
        b.fed.paths().base().as_str().trim_end_matches('/')
    );
    let request = |n: u32, object: &str, instrument: &str| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "QuoteRequest",
            "id": format!("{}#quote_request/{n}", bob.id()),
            "actor": bob.id().as_str(),
            "object": object,
            "instrument": instrument
        })
    };
    let inbox = alice.inbox().as_str().to_owned();
    // An actor is not a post.
    assert_eq!(
        post_signed(&inbox, &bob, &request(1, alice.id().as_str(), &quote)).await,
        400
    );
    // A post of another server.
    let elsewhere = format!(
        "{}/objects/x",
        b.fed.paths().base().as_str().trim_end_matches('/')
    );
    assert_eq!(
        post_signed(&inbox, &bob, &request(2, &elsewhere, &quote)).await,
        400
    );
    // A quote post on another origin than the sender's.
    let foreign = format!(
        "{}/objects/y",
        a.fed.paths().base().as_str().trim_end_matches('/')
    );
    assert_eq!(
        post_signed(&inbox, &bob, &request(3, post.as_str(), &foreign)).await,
        403
    );
    // No quote post at all.
    let mut none = request(4, post.as_str(), &quote);
    none.as_object_mut().unwrap().remove("instrument");
    assert_eq!(post_signed(&inbox, &bob, &none).await, 400);
    // An embedded quote post by someone else.
    let mut theirs = request(5, post.as_str(), &quote);
    theirs["instrument"] = json!({
        "id": quote, "type": "Note", "attributedTo": alice.id().as_str(), "quote": post.as_str()
    });
    assert_eq!(post_signed(&inbox, &bob, &theirs).await, 403);
    assert!(a.decisions.lock().unwrap().is_empty());

    // Accept of a QuoteRequest no local actor sent: refused too.
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Accept",
        "id": format!("{}#accepts/1", alice.id()),
        "actor": alice.id().as_str(),
        "object": {
            "type": "QuoteRequest", "id": format!("{}#r", alice.id()),
            "actor": alice.id().as_str(), "object": "https://elsewhere.example/1",
            "instrument": "https://elsewhere.example/2"
        },
        "result": format!("{}/quote_authorizations/1", alice.id())
    });
    assert_eq!(
        post_signed(bob.inbox().as_str(), &alice, &accept).await,
        400
    );
    assert!(b.outcomes.lock().unwrap().is_empty());

    // A post of this server it does not have: the handler refuses, 403.
    let missing = format!(
        "{}/objects/nothing",
        a.fed.paths().base().as_str().trim_end_matches('/')
    );
    assert_eq!(
        post_signed(&inbox, &bob, &request(7, &missing, &quote)).await,
        403
    );
    assert!(a.decisions.lock().unwrap().is_empty());

    // The well-formed request is decided.
    assert_eq!(
        post_signed(&inbox, &bob, &request(6, post.as_str(), &quote)).await,
        202
    );
    assert_eq!(a.decisions.lock().unwrap().len(), 1);
}
