//! FEP-044f quote posts as Mastodon 4.5 writes them (from Mastodon's
//! published ActivityPub documentation and the FEP-044f examples): quote
//! posts, `QuoteRequest`, `QuoteAuthorization`, the `Accept`/`Reject`
//! answers and the `Delete` that revokes an authorization. Each document
//! round-trips exactly, unknown properties kept.

use archipel::vocab::{AnyObject, Context, InteractionPolicy, InteractionRule, Iri, Kind, Object};
use serde_json::{Value, json};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn parse(v: &Value) -> AnyObject {
    let o = AnyObject::from_slice(&serde_json::to_vec(v).unwrap()).unwrap();
    assert_eq!(&serde_json::to_value(&o).unwrap(), v, "round-trip");
    o
}

fn mastodon_context() -> Value {
    Context::activitystreams_with_quotes().to_value()
}

#[test]
fn mastodon_quote_post_reads_every_quote_term() {
    let doc = json!({
        "@context": mastodon_context(),
        "id": "https://example.com/users/bob/statuses/1",
        "type": "Note",
        "attributedTo": "https://example.com/users/bob",
        "to": [PUBLIC],
        "cc": ["https://example.com/users/bob/followers", "https://example.org/users/alice"],
        "content": "<p>I am quoting alice's post<span class=\"quote-inline\"><br/>RE: <a href=\"https://example.org/@alice/1\">https://example.org/@alice/1</a></span></p>",
        "quote": "https://example.org/users/alice/statuses/1",
        "_misskey_quote": "https://example.org/users/alice/statuses/1",
        "quoteUri": "https://example.org/users/alice/statuses/1",
        "quoteAuthorization": "https://example.org/users/alice/quote_authorizations/1",
        "interactionPolicy": {
            "canQuote": {"automaticApproval": ["https://example.com/users/bob"]}
        },
        "atomUri": "https://example.com/users/bob/statuses/1",
        "conversation": "tag:example.com,2025-09-01:objectId=1:objectType=Conversation"
    });
    let any = parse(&doc);
    assert_eq!(any.kind(), Some(Kind::Note));
    let note = any.as_object().unwrap();
    let quoted = "https://example.org/users/alice/statuses/1";
    assert_eq!(note.quote.as_ref().unwrap(), quoted);
    assert_eq!(note.misskey_quote.as_ref().unwrap(), quoted);
    assert_eq!(note.quote_uri.as_ref().unwrap(), quoted);
    assert_eq!(note.quoted_post().unwrap(), quoted);
    assert_eq!(
        note.quote_authorization.as_ref().unwrap(),
        "https://example.org/users/alice/quote_authorizations/1"
    );
    let rule = note
        .interaction_policy
        .as_ref()
        .unwrap()
        .can_quote
        .as_ref()
        .unwrap();
    let auto: Vec<&str> = rule
        .automatic_approval
        .iter()
        .flatten()
        .map(Iri::as_str)
        .collect();
    assert_eq!(auto, ["https://example.com/users/bob"]);
    assert_eq!(rule.manual_approval, None);
    // Mastodon's own terms stay in `extra`.
    assert_eq!(
        note.extra["atomUri"],
        "https://example.com/users/bob/statuses/1"
    );
}

#[test]
fn older_quote_spellings_are_read_in_mastodons_order() {
    let only_url = parse(&json!({
        "id": "https://f.example/notes/2", "type": "Note",
        "quoteUrl": "https://k.example/notes/9"
    }));
    assert_eq!(
        only_url.as_object().unwrap().quoted_post().unwrap(),
        "https://k.example/notes/9"
    );
    let only_uri = parse(&json!({
        "id": "https://f.example/notes/3", "type": "Note",
        "quoteUri": "https://k.example/notes/8"
    }));
    assert_eq!(
        only_uri.as_object().unwrap().quoted_post().unwrap(),
        "https://k.example/notes/8"
    );
    // `quote` wins over the older spellings when they disagree.
    let both = parse(&json!({
        "id": "https://f.example/notes/4", "type": "Note",
        "quoteUrl": "https://k.example/notes/7", "quote": "https://k.example/notes/6"
    }));
    assert_eq!(
        both.as_object().unwrap().quoted_post().unwrap(),
        "https://k.example/notes/6"
    );
    let none = parse(&json!({"id": "https://f.example/notes/5", "type": "Note"}));
    assert_eq!(none.as_object().unwrap().quoted_post(), None);
}

#[test]
fn interaction_policy_with_manual_approval_and_unknown_rules_is_kept() {
    // GoToSocial publishes more rules than canQuote, and may add keys.
    let doc = json!({
        "id": "https://g.example/statuses/1", "type": "Note",
        "interactionPolicy": {
            "canQuote": {
                "automaticApproval": "https://g.example/users/carol/followers",
                "manualApproval": [PUBLIC],
                "always": ["https://g.example/users/carol"]
            },
            "canLike": {"automaticApproval": [PUBLIC]},
            "canReply": {"automaticApproval": [PUBLIC]}
        }
    });
    let any = parse(&doc);
    let policy = any
        .as_object()
        .unwrap()
        .interaction_policy
        .as_ref()
        .unwrap();
    let rule = policy.can_quote.as_ref().unwrap();
    assert_eq!(
        rule.automatic_approval.as_ref().unwrap().first().unwrap(),
        "https://g.example/users/carol/followers"
    );
    assert_eq!(
        rule.manual_approval.as_ref().unwrap().first().unwrap(),
        PUBLIC
    );
    assert_eq!(
        rule.extra["always"],
        json!(["https://g.example/users/carol"])
    );
    assert_eq!(
        policy.extra["canLike"],
        json!({"automaticApproval": [PUBLIC]})
    );
}

#[test]
fn malformed_policy_is_kept_verbatim_not_typed() {
    // A policy that is a string, or a rule that is a number, cannot be typed:
    // the field stays empty and the value goes back out unchanged.
    let doc = json!({
        "id": "https://g.example/statuses/2", "type": "Note",
        "interactionPolicy": "nobody",
        "quoteAuthorization": 7
    });
    let any = parse(&doc);
    let note = any.as_object().unwrap();
    assert_eq!(note.interaction_policy, None);
    assert_eq!(note.quote_authorization, None);
    assert_eq!(note.extra["interactionPolicy"], "nobody");
    let bad_rule = parse(&json!({
        "id": "https://g.example/statuses/3", "type": "Note",
        "interactionPolicy": {"canQuote": 3}
    }));
    let policy = bad_rule
        .as_object()
        .unwrap()
        .interaction_policy
        .as_ref()
        .unwrap();
    assert_eq!(policy.can_quote, None);
    assert_eq!(policy.extra["canQuote"], 3);
}

#[test]
fn mastodon_quote_request_with_embedded_instrument() {
    let doc = json!({
        "@context": mastodon_context(),
        "id": "https://example.com/users/bob/statuses/1/quote",
        "type": "QuoteRequest",
        "actor": "https://example.com/users/bob",
        "object": "https://example.org/users/alice/statuses/1",
        "instrument": {
            "id": "https://example.com/users/bob/statuses/1",
            "type": "Note",
            "attributedTo": "https://example.com/users/bob",
            "to": [PUBLIC],
            "content": "I am quoting alice's post",
            "quote": "https://example.org/users/alice/statuses/1"
        }
    });
    let any = parse(&doc);
    assert_eq!(any.kind(), Some(Kind::QuoteRequest));
    let AnyObject::Activity(req) = &any else {
        panic!("a QuoteRequest decodes as an Activity: {any:?}");
    };
    assert_eq!(
        req.object_id().unwrap(),
        "https://example.org/users/alice/statuses/1"
    );
    let instrument = req.instrument.as_ref().unwrap().first().unwrap();
    assert_eq!(
        instrument.id().unwrap(),
        "https://example.com/users/bob/statuses/1"
    );
    let embedded = instrument.as_object().unwrap().as_object().unwrap();
    assert_eq!(
        embedded.quote.as_ref().unwrap(),
        "https://example.org/users/alice/statuses/1"
    );
}

#[test]
fn mastodon_quote_authorization() {
    let doc = json!({
        "@context": mastodon_context(),
        "type": "QuoteAuthorization",
        "id": "https://example.org/users/alice/quote_authorizations/1",
        "attributedTo": "https://example.org/users/alice",
        "interactingObject": "https://example.com/users/bob/statuses/1",
        "interactionTarget": "https://example.org/users/alice/statuses/1"
    });
    let any = parse(&doc);
    assert_eq!(any.kind(), Some(Kind::QuoteAuthorization));
    let auth = any.as_object().unwrap();
    assert_eq!(
        auth.interacting_object.as_ref().unwrap(),
        "https://example.com/users/bob/statuses/1"
    );
    assert_eq!(
        auth.interaction_target.as_ref().unwrap(),
        "https://example.org/users/alice/statuses/1"
    );
    assert_eq!(
        auth.attributed_to_id().unwrap(),
        "https://example.org/users/alice"
    );
}

#[test]
fn mastodon_accept_reject_and_revoking_delete() {
    let request = json!({
        "type": "QuoteRequest",
        "id": "https://example.com/users/bob/statuses/1/quote",
        "actor": "https://example.com/users/bob",
        "object": "https://example.org/users/alice/statuses/1",
        "instrument": "https://example.com/users/bob/statuses/1"
    });
    let accept = parse(&json!({
        "@context": mastodon_context(),
        "type": "Accept",
        "id": "https://example.org/users/alice#accepts/quote_requests/1",
        "actor": "https://example.org/users/alice",
        "to": "https://example.com/users/bob",
        "object": request,
        "result": "https://example.org/users/alice/quote_authorizations/1"
    }));
    let AnyObject::Activity(accept) = &accept else {
        panic!("Accept is an Activity")
    };
    assert_eq!(
        accept
            .result
            .as_ref()
            .unwrap()
            .first()
            .unwrap()
            .id()
            .unwrap(),
        "https://example.org/users/alice/quote_authorizations/1"
    );
    let inner = accept
        .object
        .as_ref()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(inner.kind(), Some(Kind::QuoteRequest));

    let reject = parse(&json!({
        "@context": mastodon_context(),
        "type": "Reject",
        "id": "https://example.org/users/alice#rejects/quote_requests/2",
        "actor": "https://example.org/users/alice",
        "object": request
    }));
    assert_eq!(reject.kind(), Some(Kind::Reject));

    let delete = parse(&json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Delete",
        "id": "https://example.org/users/alice/quote_authorizations/1#delete",
        "actor": "https://example.org/users/alice",
        "to": [PUBLIC],
        "object": "https://example.org/users/alice/quote_authorizations/1"
    }));
    let AnyObject::Activity(delete) = &delete else {
        panic!("Delete is an Activity")
    };
    assert_eq!(
        delete.object_id().unwrap(),
        "https://example.org/users/alice/quote_authorizations/1"
    );
}

#[test]
fn built_policy_serializes_as_mastodon_writes_it() {
    let mut note = Object::new("Note").with_id(Iri::parse("https://a.example/n/1").unwrap());
    note.interaction_policy = Some(Box::new(InteractionPolicy::can_quote(
        InteractionRule::new(vec![Iri::parse(PUBLIC).unwrap()], vec![]),
    )));
    let v = serde_json::to_value(&note).unwrap();
    assert_eq!(
        v["interactionPolicy"],
        json!({"canQuote": {"automaticApproval": [PUBLIC]}})
    );
    let again: AnyObject = serde_json::from_value(v).unwrap();
    assert_eq!(
        again.as_object().unwrap().interaction_policy,
        note.interaction_policy
    );
}
