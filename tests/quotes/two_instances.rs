//! Alice (server A) is quoted by Bob (server B): allowed automatically,
//! after manual approval, refused, and revoked after approval. B is also
//! the receiver that checks the quote.

use archipel::federation::quotes::{
    QuoteCheck, QuoteDecision, QuoteError, QuoteOutcome, QuoteState,
};
use archipel::vocab::{Iri, Object};
use serde_json::{Value, json};

use crate::node::{Node, eventually, start};

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// A public note of `author` with this `canQuote` rule.
pub fn note_with_rule(rule: Value) -> Value {
    json!({
        "type": "Note",
        "content": "<p>quotable?</p>",
        "to": [PUBLIC],
        "interactionPolicy": {"canQuote": rule}
    })
}

/// A public note quoting `quoted`.
pub fn quote_of(quoted: &Object) -> Value {
    let id = quoted.id.as_ref().unwrap().as_str();
    json!({
        "type": "Note",
        "content": format!("<p>look<span class=\"quote-inline\"><br/>RE: <a href=\"{id}\">{id}</a></span></p>"),
        "to": [PUBLIC],
        "quote": id
    })
}

/// Bob quotes `quoted` and waits for the answer; returns his post and the
/// outcome.
pub async fn bob_quotes(b: &Node, quoted: &Object) -> (Object, Result<QuoteOutcome, String>) {
    let quote = b.post("bob", quote_of(quoted)).await;
    let before = b.outcomes.lock().unwrap().len();
    b.quotes.request(&b.user("bob"), &quote).await.unwrap();
    eventually("the answer to bob's quote request", || {
        b.outcomes.lock().unwrap().len() > before
    })
    .await;
    let outcome = b.outcomes.lock().unwrap()[before].clone();
    (quote, outcome)
}

fn approved(outcome: &Result<QuoteOutcome, String>) -> Iri {
    match outcome {
        Ok(QuoteOutcome::Approved { authorization, .. }) => authorization.clone(),
        other => panic!("expected an approval, got {other:?}"),
    }
}

fn link_reason(check: QuoteCheck) -> QuoteError {
    match check {
        QuoteCheck::Link { reason, .. } => reason,
        other => panic!("expected a link, got {other:?}"),
    }
}

async fn get_status(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn allowed_automatically() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let quoted = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [PUBLIC]})),
        )
        .await;
    let (mut quote, outcome) = bob_quotes(&b, &quoted).await;
    assert_eq!(*a.decisions.lock().unwrap(), [QuoteDecision::Automatic]);
    let authorization = approved(&outcome);
    assert_eq!(
        outcome.unwrap(),
        QuoteOutcome::Approved {
            quote: quote.id.clone().unwrap(),
            authorization: authorization.clone()
        }
    );
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{}/quote_authorizations/", a.user("alice").id())),
        "{authorization}"
    );
    assert_eq!(
        b.quotes.state_of(quote.id.as_ref().unwrap()),
        Some(QuoteState::Approved {
            authorization: authorization.clone()
        })
    );
    assert!(b.quotes.attach(&mut quote));
    assert_eq!(quote.quote_authorization.as_ref(), Some(&authorization));

    // The authorization is served to anyone, as Mastodon 4.5 writes it.
    let body = reqwest::get(authorization.as_str())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["type"], "QuoteAuthorization");
    assert_eq!(doc["attributedTo"], a.user("alice").id().as_str());
    assert_eq!(
        doc["interactingObject"],
        quote.id.as_ref().unwrap().as_str()
    );
    assert_eq!(
        doc["interactionTarget"],
        quoted.id.as_ref().unwrap().as_str()
    );

    // A receiver shows it as a quote.
    match b.quotes.verify(&quote).await {
        QuoteCheck::Quote(v) => {
            assert_eq!(v.authorization.as_ref(), Some(&authorization));
            assert_eq!(&v.author, a.user("alice").id());
            assert_eq!(v.quoted_post.id(), quoted.id.as_ref());
        }
        other => panic!("expected a quote, got {other:?}"),
    }
}

#[tokio::test]
async fn pending_manual_approval_then_approved() {
    let (a, b) = (start(&["alice", "carol"]).await, start(&["bob"]).await);
    let quoted = a
        .post("alice", note_with_rule(json!({"manualApproval": [PUBLIC]})))
        .await;
    let mut quote = b.post("bob", quote_of(&quoted)).await;
    b.quotes.request(&b.user("bob"), &quote).await.unwrap();
    eventually("alice's server decides", || {
        !a.decisions.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(*a.decisions.lock().unwrap(), [QuoteDecision::Manual]);

    // Pending: no answer, the post is a link.
    let pending = a.quotes.pending(a.user("alice").id());
    assert_eq!(pending.len(), 1);
    assert_eq!(&pending[0].request.quote, quote.id.as_ref().unwrap());
    assert_eq!(
        b.quotes.state_of(quote.id.as_ref().unwrap()),
        Some(QuoteState::Pending)
    );
    assert!(!b.quotes.attach(&mut quote));
    assert!(matches!(
        link_reason(b.quotes.verify(&quote).await),
        QuoteError::NoAuthorization { .. }
    ));

    // Only the quoted post's author decides: carol, on the same server,
    // can neither approve nor refuse alice's request.
    let carol = a.user("carol");
    assert!(matches!(
        a.quotes.approve(&carol, &pending[0].request.id).await,
        Err(QuoteError::NotPending { .. })
    ));
    assert!(matches!(
        a.quotes.refuse(&carol, &pending[0].request.id).await,
        Err(QuoteError::NotPending { .. })
    ));
    assert_eq!(a.quotes.pending(a.user("alice").id()).len(), 1);

    // Alice approves.
    let auth = a
        .quotes
        .approve(&a.user("alice"), &pending[0].request.id)
        .await
        .unwrap();
    eventually("the Accept reaches bob", || {
        !b.outcomes.lock().unwrap().is_empty()
    })
    .await;
    let authorization = approved(&b.outcomes.lock().unwrap()[0]);
    assert_eq!(authorization, auth.id);
    assert!(a.quotes.pending(a.user("alice").id()).is_empty());
    assert!(b.quotes.attach(&mut quote));
    assert!(b.quotes.verify(&quote).await.is_quote());
}

#[tokio::test]
async fn refused() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    // "Just me", as Mastodon publishes it.
    let alice = a.user("alice").id().clone();
    let quoted = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [alice]})),
        )
        .await;
    let (mut quote, outcome) = bob_quotes(&b, &quoted).await;
    assert_eq!(*a.decisions.lock().unwrap(), [QuoteDecision::Refused]);
    assert_eq!(
        outcome.unwrap(),
        QuoteOutcome::Refused {
            quote: quote.id.clone().unwrap()
        }
    );
    assert_eq!(
        b.quotes.state_of(quote.id.as_ref().unwrap()),
        Some(QuoteState::Refused)
    );
    assert!(!b.quotes.attach(&mut quote));
    assert!(matches!(
        link_reason(b.quotes.verify(&quote).await),
        QuoteError::NoAuthorization { .. }
    ));
}

#[tokio::test]
async fn revoked_after_approval() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let quoted = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [PUBLIC]})),
        )
        .await;
    let (mut quote, outcome) = bob_quotes(&b, &quoted).await;
    let authorization = approved(&outcome);
    assert!(b.quotes.attach(&mut quote));
    let kept = quote.clone();

    // Nobody but alice revokes it.
    let carol = a.fed.actor("carol").await.unwrap();
    assert!(matches!(
        a.quotes.revoke(&carol, &authorization).await,
        Err(QuoteError::UnknownAuthorization { .. })
    ));
    assert_eq!(get_status(authorization.as_str()).await, 200);
    let revoked = a
        .quotes
        .revoke(&a.user("alice"), &authorization)
        .await
        .unwrap();
    assert_eq!(&revoked.quote, quote.id.as_ref().unwrap());
    assert_eq!(get_status(authorization.as_str()).await, 404);
    eventually("the Delete reaches bob", || {
        !b.revoked.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(*b.revoked.lock().unwrap(), [quote.id.clone().unwrap()]);
    assert_eq!(
        b.quotes.state_of(quote.id.as_ref().unwrap()),
        Some(QuoteState::Revoked)
    );
    assert!(!b.quotes.attach(&mut quote));
    assert_eq!(quote.quote_authorization, None);

    // A receiver still holding the old copy checks it: the authorization
    // is gone from its origin, the post is a link.
    match link_reason(b.quotes.verify(&kept).await) {
        QuoteError::Fetch { iri, .. } => assert_eq!(iri, authorization),
        other => panic!("expected a failed fetch, got {other:?}"),
    }
    // Revoking twice is an error, not a second Delete.
    let again = a
        .quotes
        .revoke(&a.user("alice"), &authorization)
        .await
        .unwrap_err();
    assert!(
        matches!(again, QuoteError::UnknownAuthorization { .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_post_whose_author_forbids_quoting_is_never_shown_as_a_quote() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    // No policy at all: the safe default, nobody but alice.
    let forbidden = a
        .post(
            "alice",
            json!({"type": "Note", "content": "<p>mine</p>", "to": [PUBLIC]}),
        )
        .await;
    let open = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [PUBLIC]})),
        )
        .await;
    let (quote, outcome) = bob_quotes(&b, &forbidden).await;
    assert!(
        matches!(outcome, Ok(QuoteOutcome::Refused { .. })),
        "{outcome:?}"
    );
    assert_eq!(*a.decisions.lock().unwrap(), [QuoteDecision::Refused]);

    // Bob's server lies: it attaches an authorization alice did issue, for
    // another quote of another post.
    let (_other, other_outcome) = bob_quotes(&b, &open).await;
    let stolen = approved(&other_outcome);
    let mut lying = quote.clone();
    lying.quote_authorization = Some(stolen.clone());
    match link_reason(b.quotes.verify(&lying).await) {
        QuoteError::Mismatch {
            field,
            authorization,
            ..
        } => {
            assert_eq!(field, "interactingObject");
            assert_eq!(authorization, stolen);
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(!b.quotes.verify(&quote).await.is_quote());
}

#[tokio::test]
async fn a_followers_only_post_is_quoted_by_its_author_only() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let (alice, bob) = (a.user("alice"), b.user("bob"));
    // Without following alice, bob's server cannot even read the post.
    let quoted = a
        .post(
            "alice",
            json!({
                "type": "Note", "content": "<p>friends only</p>", "to": [alice.followers()],
                "interactionPolicy": {"canQuote": {"automaticApproval": [PUBLIC]}}
            }),
        )
        .await;
    let quote = b.post("bob", quote_of(&quoted)).await;
    let unread = b.quotes.request(&bob, &quote).await.unwrap_err();
    assert!(matches!(unread, QuoteError::Fetch { .. }), "{unread:?}");
    assert!(a.decisions.lock().unwrap().is_empty());

    // A follower reads it; its policy says anyone, but a post only
    // followers may read is quoted by its author only.
    b.fed.follow(&bob, alice.id()).await.unwrap();
    let graph = a.fed.graph().clone();
    let (alice_id, bob_id) = (alice.id().clone(), bob.id().clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !graph.is_follower(&alice_id, &bob_id).await.unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "bob never followed alice"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (_quote, outcome) = bob_quotes(&b, &quoted).await;
    assert!(
        matches!(outcome, Ok(QuoteOutcome::Refused { .. })),
        "{outcome:?}"
    );
    assert_eq!(*a.decisions.lock().unwrap(), [QuoteDecision::Refused]);
}

#[tokio::test]
async fn an_accept_naming_a_bogus_authorization_is_no_approval() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let quoted = a
        .post("alice", note_with_rule(json!({"manualApproval": [PUBLIC]})))
        .await;
    let quote = b.post("bob", quote_of(&quoted)).await;
    b.quotes.request(&b.user("bob"), &quote).await.unwrap();
    eventually("alice's server decides", || {
        !a.decisions.lock().unwrap().is_empty()
    })
    .await;
    let pending = a.quotes.pending(a.user("alice").id());
    // Alice's server answers with an authorization it never issued.
    let alice = a.user("alice");
    let mut accept = archipel::vocab::Activity::new(
        archipel::vocab::Kind::Accept,
        Iri::parse(format!("{}#accepts/forged", alice.id())).unwrap(),
        alice.id().clone(),
    );
    accept.to = Some(b.user("bob").id().clone().into());
    accept.object = Some(archipel::vocab::Reference::from(pending[0].request.embedded()).into());
    let bogus = Iri::parse(format!("{}/quote_authorizations/feedc0de", alice.id())).unwrap();
    accept.result = Some(bogus.clone().into());
    a.fed.send(&alice, &accept).await.unwrap();
    eventually("the Accept reaches bob", || {
        !b.outcomes.lock().unwrap().is_empty()
    })
    .await;
    let outcome = b.outcomes.lock().unwrap()[0].clone();
    let error = outcome.unwrap_err();
    assert!(
        error.contains("feedc0de") && error.contains("404"),
        "{error}"
    );
    assert_eq!(
        b.quotes.state_of(quote.id.as_ref().unwrap()),
        Some(QuoteState::Pending)
    );
}

#[tokio::test]
async fn an_answer_naming_the_request_by_iri_is_understood() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let quoted = a
        .post("alice", note_with_rule(json!({"manualApproval": [PUBLIC]})))
        .await;
    let quote = b.post("bob", quote_of(&quoted)).await;
    b.quotes.request(&b.user("bob"), &quote).await.unwrap();
    eventually("alice's server decides", || {
        !a.decisions.lock().unwrap().is_empty()
    })
    .await;
    let pending = a.quotes.pending(a.user("alice").id());
    // A Reject naming the request by IRI, as some Fedify applications send.
    let alice = a.user("alice");
    let mut reject = archipel::vocab::Activity::new(
        archipel::vocab::Kind::Reject,
        Iri::parse(format!("{}#rejects/1", alice.id())).unwrap(),
        alice.id().clone(),
    );
    reject.to = Some(b.user("bob").id().clone().into());
    reject.object = Some(pending[0].request.id.clone().into());
    a.fed.send(&alice, &reject).await.unwrap();
    eventually("the Reject reaches bob", || {
        !b.outcomes.lock().unwrap().is_empty()
    })
    .await;
    assert_eq!(
        b.outcomes.lock().unwrap()[0],
        Ok(QuoteOutcome::Refused {
            quote: quote.id.clone().unwrap()
        })
    );
}
