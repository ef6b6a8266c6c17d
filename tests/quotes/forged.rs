//! Forged authorizations: served from another origin than the quoted
//! author's, naming another quote post or another quoted post, or not an
//! authorization at all; each refused with its reason.

use archipel::federation::quotes::{QuoteCheck, QuoteError};
use archipel::vocab::Iri;
use serde_json::json;

use crate::node::start;
use crate::two_instances::{PUBLIC, bob_quotes, note_with_rule};

fn reason(check: QuoteCheck) -> QuoteError {
    match check {
        QuoteCheck::Link { reason, .. } => reason,
        other => panic!("expected a link, got {other:?}"),
    }
}

#[tokio::test]
async fn forged_authorizations_are_refused() {
    let (a, b) = (start(&["alice"]).await, start(&["bob"]).await);
    let first = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [PUBLIC]})),
        )
        .await;
    let second = a
        .post(
            "alice",
            note_with_rule(json!({"automaticApproval": [PUBLIC]})),
        )
        .await;
    let (mut quote, outcome) = bob_quotes(&b, &first).await;
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(b.quotes.attach(&mut quote));
    let genuine = quote.quote_authorization.clone().unwrap();

    // Served from bob's own server, not alice's: refused before any fetch.
    let mut elsewhere = quote.clone();
    let fake = Iri::parse(format!("{}/quote_authorizations/1", b.user("bob").id())).unwrap();
    elsewhere.quote_authorization = Some(fake.clone());
    match reason(b.quotes.verify(&elsewhere).await) {
        QuoteError::CrossOrigin {
            authorization,
            author,
        } => {
            assert_eq!(authorization, fake);
            assert_eq!(&author, a.user("alice").id());
        }
        other => panic!("expected cross-origin, got {other:?}"),
    }

    // The genuine authorization, on a copy that quotes alice's other post.
    let mut retargeted = quote.clone();
    retargeted.quote = second.id.clone();
    match reason(b.quotes.verify(&retargeted).await) {
        QuoteError::Mismatch {
            field,
            found,
            expected,
            ..
        } => {
            assert_eq!(field, "interactionTarget");
            assert_eq!(found, first.id.clone());
            assert_eq!(Some(expected), second.id.clone());
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    // On alice's origin but not an authorization: her post itself.
    let mut not_one = quote.clone();
    not_one.quote_authorization = first.id.clone();
    match reason(b.quotes.verify(&not_one).await) {
        QuoteError::WrongDocument { iri, expected } => {
            assert_eq!(Some(iri), first.id.clone());
            assert_eq!(expected, "a QuoteAuthorization");
        }
        other => panic!("expected the wrong document, got {other:?}"),
    }

    // On alice's origin, never issued.
    let mut unknown = quote.clone();
    unknown.quote_authorization = Some(
        Iri::parse(format!(
            "{}/quote_authorizations/0123abcd",
            a.user("alice").id()
        ))
        .unwrap(),
    );
    assert!(matches!(
        reason(b.quotes.verify(&unknown).await),
        QuoteError::Fetch { .. }
    ));

    // The genuine one still checks.
    assert_eq!(quote.quote_authorization, Some(genuine));
    assert!(b.quotes.verify(&quote).await.is_quote());
}

/// A hostile origin serving a post of alice and an authorization for a
/// quote of it that someone else on that origin signed off.
#[tokio::test]
async fn an_authorization_by_someone_else_than_the_quoted_author_is_refused() {
    use crate::support::{Reply, TestServer};
    let origin = TestServer::start().await;
    let b = start(&["bob"]).await;
    origin.route(
        "/notes/1",
        Reply::json(
            r#"{"id":"{base}/notes/1","type":"Note","attributedTo":"{base}/users/alice","to":"as:Public"}"#,
        ),
    );
    let quote = format!(
        "{}/objects/q",
        b.fed.paths().base().as_str().trim_end_matches('/')
    );
    origin.route(
        "/auth/1",
        Reply::json(format!(
            r#"{{"id":"{{base}}/auth/1","type":"QuoteAuthorization","attributedTo":"{{base}}/users/mallory","interactingObject":"{quote}","interactionTarget":"{{base}}/notes/1"}}"#
        )),
    );
    // Served at another id than the one named: not believed either.
    origin.route(
        "/auth/2",
        Reply::json(format!(
            r#"{{"id":"{{base}}/auth/other","type":"QuoteAuthorization","attributedTo":"{{base}}/users/alice","interactingObject":"{quote}","interactionTarget":"{{base}}/notes/1"}}"#
        )),
    );
    let post = |auth: &str| {
        serde_json::from_value::<archipel::vocab::AnyObject>(json!({
            "id": quote, "type": "Note", "attributedTo": b.user("bob").id().as_str(),
            "quote": origin.url("/notes/1"), "quoteAuthorization": origin.url(auth)
        }))
        .unwrap()
        .into_object()
    };
    match reason(b.quotes.verify(&post("/auth/1")).await) {
        QuoteError::Mismatch {
            field,
            found,
            expected,
            ..
        } => {
            assert_eq!(field, "attributedTo");
            assert_eq!(found.unwrap().as_str(), origin.url("/users/mallory"));
            assert_eq!(expected.as_str(), origin.url("/users/alice"));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(matches!(
        reason(b.quotes.verify(&post("/auth/2")).await),
        QuoteError::Fetch { .. }
    ));
}
