//! Quote posts between two minimal_server instances, through their
//! outboxes only: the quoted user's policy (automatic, manual, just me),
//! approving a pending quote, revoking an authorization; the quoting
//! server attaches the authorization and updates the note, and the quoted
//! server (which follows the quoter) shows the note as a quote only while
//! the authorization holds.

use archipel::federation::quotes::QuoteState;
use archipel::vocab::Iri;
use serde_json::{Value, json};

use crate::app::Running;
use crate::minimal_server::{eventually, following, post_outbox, start};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

/// Sets `user`'s quote policy with an `Update` of their actor.
async fn set_policy(server: &Running, user: &str, rule: Value) {
    let me = server.app.actor_iri(user);
    let update = json!({
        "type": "Update",
        "object": {"id": me, "type": "Person", "interactionPolicy": {"canQuote": rule}}
    });
    let (status, body) = post_outbox(server, user, update).await;
    assert_eq!(status, 201, "{body}");
}

/// Posts `note` as `user`; returns the note's id.
async fn post_note(server: &Running, user: &str, note: Value) -> Iri {
    let (status, create) = post_outbox(server, user, note).await;
    assert_eq!(status, 201, "{create}");
    let stored = server.app.store.post(&iri(&create)).await.unwrap();
    let activity = stored.object.as_activity().unwrap();
    activity.object_id().unwrap().clone()
}

/// Two servers; alice (on A) follows bob (on B), so A receives bob's notes.
async fn pair() -> (Running, Running) {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob"], &[], &[]).await;
    let bob = b.app.actor_iri("bob");
    let (status, body) = post_outbox(
        &a,
        "alice",
        json!({"type": "Follow", "object": bob.clone()}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    eventually("alice follows bob", || async {
        following(&a, "alice").await.contains(&bob)
    })
    .await;
    (a, b)
}

async fn bob_quotes(b: &Running, quoted: &Iri) -> Iri {
    let note = json!({"type": "Note", "content": "<p>look</p>", "quote": quoted.as_str()});
    post_note(b, "bob", note).await
}

/// The `quoteAuthorization` of bob's note as his server serves it now.
async fn served_authorization(b: &Running, quote: &Iri) -> Option<String> {
    let stored = b.app.store.post(quote).await?;
    let note = stored.object.as_object()?.clone();
    note.quote_authorization.map(|i| i.as_str().to_owned())
}

#[tokio::test]
async fn quoted_automatically_then_revoked() {
    let (a, b) = pair().await;
    set_policy(&a, "alice", json!({"automaticApproval": [PUBLIC]})).await;
    let quoted = post_note(&a, "alice", json!({"type": "Note", "content": "<p>hi</p>"})).await;
    // Her note says who may quote it.
    let served = a.app.store.post(&quoted).await.unwrap();
    let policy = served
        .object
        .as_object()
        .unwrap()
        .interaction_policy
        .clone();
    let rule = policy.unwrap().can_quote.unwrap();
    assert_eq!(rule.automatic_approval.unwrap().first().unwrap(), PUBLIC);

    let quote = bob_quotes(&b, &quoted).await;
    eventually("alice's server shows bob's note as a quote", || async {
        a.app.quotes.shown_as_quote(&quote) == Some(true)
    })
    .await;
    let authorization = served_authorization(&b, &quote).await.unwrap();
    assert!(
        authorization.starts_with(&format!(
            "{}/quote_authorizations/",
            a.app.actor_iri("alice")
        )),
        "{authorization}"
    );

    // Alice revokes it: bob's note loses it, and is a link again.
    let revoke = json!({"type": "Delete", "object": authorization});
    let (status, body) = post_outbox(&a, "alice", revoke).await;
    assert_eq!(status, 201, "{body}");
    eventually("bob's note loses its authorization", || async {
        served_authorization(&b, &quote).await.is_none()
    })
    .await;
    assert_eq!(
        b.app.quotes.quotes.state_of(&quote),
        Some(QuoteState::Revoked)
    );
    eventually("alice's server shows bob's note as a link", || async {
        a.app.quotes.shown_as_quote(&quote) == Some(false)
    })
    .await;
}

#[tokio::test]
async fn pending_then_approved_and_just_me_refused() {
    let (a, b) = pair().await;
    let alice = a.app.actor_iri("alice");
    set_policy(&a, "alice", json!({"manualApproval": [PUBLIC]})).await;
    let quoted = post_note(
        &a,
        "alice",
        json!({"type": "Note", "content": "<p>ask me</p>"}),
    )
    .await;
    let quote = bob_quotes(&b, &quoted).await;
    eventually("the request waits for alice", || async {
        a.app.quotes.quotes.pending(&iri(&alice)).len() == 1
    })
    .await;
    eventually("alice's server received bob's note", || async {
        a.app.quotes.shown_as_quote(&quote).is_some()
    })
    .await;
    assert_eq!(a.app.quotes.shown_as_quote(&quote), Some(false));
    assert_eq!(served_authorization(&b, &quote).await, None);

    let request = a.app.quotes.quotes.pending(&iri(&alice))[0]
        .request
        .id
        .clone();
    let approve = json!({"type": "Accept", "object": request.as_str()});
    let (status, body) = post_outbox(&a, "alice", approve).await;
    assert_eq!(status, 201, "{body}");
    eventually("alice's server shows bob's note as a quote", || async {
        a.app.quotes.shown_as_quote(&quote) == Some(true)
    })
    .await;
    assert!(served_authorization(&b, &quote).await.is_some());

    // "Just me": a later note of alice cannot be quoted.
    set_policy(&a, "alice", json!({"automaticApproval": [alice]})).await;
    let mine = post_note(
        &a,
        "alice",
        json!({"type": "Note", "content": "<p>mine</p>"}),
    )
    .await;
    let refused = bob_quotes(&b, &mine).await;
    eventually("bob's server hears the refusal", || async {
        b.app.quotes.quotes.state_of(&refused) == Some(QuoteState::Refused)
    })
    .await;
    assert_eq!(served_authorization(&b, &refused).await, None);
    eventually("alice's server received the refused quote", || async {
        a.app.quotes.shown_as_quote(&refused).is_some()
    })
    .await;
    assert_eq!(a.app.quotes.shown_as_quote(&refused), Some(false));
}
