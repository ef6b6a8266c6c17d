use std::time::Duration;

use super::*;
use crate::clock::FixedClock;
use crate::federation::keys::ActorKeys;
use crate::signatures::PrivateKey;
use crate::vocab::Visibility;

const PEM: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/keys/rsa-2048-pkcs8.pem"
));
const ALICE: &str = "https://a.example/users/alice";
const BOB: &str = "https://b.example/users/bob";
const HIDDEN: &str = "https://hidden.example/users/carol";

fn setup() -> (Outbox, LocalActor) {
    let paths = Paths::new("https://a.example".parse().unwrap()).unwrap();
    let keys = ActorKeys {
        rsa: PrivateKey::from_pem(PEM).unwrap(),
        ed25519: None,
    };
    let alice = LocalActor::person(&paths, "alice", keys).unwrap();
    let clock = FixedClock(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    (Outbox::new(paths).with_clock(Arc::new(clock)), alice)
}

fn post(body: &serde_json::Value) -> Result<Posted, OutboxError> {
    let (outbox, alice) = setup();
    outbox
        .prepare(&alice, body.to_string().as_bytes())?
        .finish(None)
}

fn ids(r: &Option<Refs>) -> Vec<&str> {
    r.iter()
        .flat_map(|r| r.iter())
        .filter_map(|r| r.id().map(Iri::as_str))
        .collect()
}

#[test]
fn bare_object_is_wrapped_with_ids_author_and_addressing_both_ways() {
    let posted = post(&serde_json::json!({
        "id": "https://evil.example/objects/1",
        "type": "Note",
        "content": "hi",
        "to": ["as:Public", BOB],
        "cc": [BOB, "https://a.example/users/alice/followers"],
    }))
    .unwrap();
    let a = posted.activity();
    assert_eq!(a.type_name(), Some("Create"));
    assert_eq!(a.actor_id().map(Iri::as_str), Some(ALICE));
    let id = a.id.as_ref().unwrap().as_str();
    let rest = id.strip_prefix("https://a.example/activities/").unwrap();
    assert_eq!(rest.len(), 32, "{id}");
    assert_eq!(
        a.published.as_ref().unwrap().as_str(),
        "2023-11-14T22:13:20Z"
    );
    let o = posted.object().unwrap().as_object().unwrap();
    let oid = o.id.as_ref().unwrap().as_str();
    assert!(oid.starts_with("https://a.example/objects/"), "{oid}");
    assert_eq!(a.object_id().map(Iri::as_str), Some(oid));
    assert_eq!(o.attributed_to_id().map(Iri::as_str), Some(ALICE));
    assert_eq!(
        o.published.as_ref().unwrap().as_str(),
        "2023-11-14T22:13:20Z"
    );
    // The object's addressing went up to the activity.
    assert_eq!(ids(&a.to), ["as:Public", BOB]);
    assert_eq!(ids(&a.cc), [BOB, "https://a.example/users/alice/followers"]);
    assert_eq!(posted.visibility(), Visibility::Public);
}

#[test]
fn create_addressing_is_merged_both_ways_without_duplicates() {
    let posted = post(&serde_json::json!({
        "type": "Create",
        "actor": ALICE,
        "to": [BOB],
        "cc": ["https://x.example/u/x"],
        "object": {
            "type": "Note",
            "attributedTo": ALICE,
            "to": ["https://y.example/u/y", BOB],
            "published": "2020-01-01T00:00:00Z",
        },
    }))
    .unwrap();
    let a = posted.activity();
    let o = posted.object().unwrap().as_object().unwrap();
    for target in [&a.base, o] {
        assert_eq!(ids(&target.to), [BOB, "https://y.example/u/y"]);
        assert_eq!(ids(&target.cc), ["https://x.example/u/x"]);
    }
    // A client-given published time is kept.
    assert_eq!(
        o.published.as_ref().unwrap().as_str(),
        "2020-01-01T00:00:00Z"
    );
    assert_eq!(posted.visibility(), Visibility::Direct);
}

#[test]
fn bcc_is_in_the_delivery_form_only() {
    let posted = post(&serde_json::json!({
        "type": "Note",
        "to": [BOB],
        "bcc": [HIDDEN],
        "bto": "https://hidden.example/users/dan",
        "attachment": {"type": "Note", "bcc": HIDDEN},
    }))
    .unwrap();
    let served = serde_json::to_string(posted.activity()).unwrap();
    let object = serde_json::to_string(posted.object().unwrap()).unwrap();
    for bytes in [&served, &object] {
        assert!(!bytes.contains(HIDDEN), "{bytes}");
        assert!(!bytes.contains("\"bcc\""), "{bytes}");
        assert!(!bytes.contains("\"bto\""), "{bytes}");
        assert!(!bytes.contains("hidden.example"), "{bytes}");
    }
    let (outbox, alice) = setup();
    let draft = outbox
        .prepare(
            &alice,
            br#"{"type":"Note","bcc":"https://hidden.example/u"}"#,
        )
        .unwrap();
    let debug = format!("{draft:?}");
    assert!(!debug.contains("hidden.example"), "{debug}");
    let debug = format!("{posted:?}");
    assert!(!debug.contains("hidden.example"), "{debug}");
    let delivery = posted.delivery();
    let hidden: Vec<&str> = delivery.hidden_recipients().map(Iri::as_str).collect();
    assert_eq!(hidden, ["https://hidden.example/users/dan", HIDDEN]);
    let unredacted = serde_json::to_string(delivery.unredacted()).unwrap();
    assert!(unredacted.contains("\"bcc\"") && unredacted.contains(HIDDEN));
}

#[test]
fn foreign_actor_and_attribution_are_refused() {
    let err = post(&serde_json::json!({
        "type": "Like", "actor": BOB, "object": "https://b.example/notes/1"
    }))
    .unwrap_err();
    assert!(
        matches!(&err, OutboxError::ForeignActor { claimed, author }
            if claimed == BOB && author.as_str() == ALICE),
        "{err:?}"
    );
    let err = post(&serde_json::json!({
        "type": "Like", "actor": [ALICE, {"type": "Person"}], "object": BOB
    }))
    .unwrap_err();
    assert!(
        matches!(&err, OutboxError::ForeignActor { claimed, .. } if claimed.is_empty()),
        "{err:?}"
    );
    for body in [
        serde_json::json!({"type": "Note", "attributedTo": BOB}),
        serde_json::json!({"type": "Create", "object": {"type": "Note", "attributedTo": [ALICE, BOB]}}),
    ] {
        let err = post(&body).unwrap_err();
        assert!(
            matches!(&err, OutboxError::ForeignAttribution { claimed, .. } if claimed == BOB),
            "{err:?}"
        );
    }
}

#[test]
fn other_activities_get_id_and_actor_and_keep_addressing() {
    let posted = post(&serde_json::json!({
        "id": "https://a.example/activities/mine",
        "type": "Follow", "object": BOB, "to": BOB
    }))
    .unwrap();
    let a = posted.activity();
    assert_ne!(
        a.id.as_ref().unwrap().as_str(),
        "https://a.example/activities/mine"
    );
    assert_eq!(a.actor_id().map(Iri::as_str), Some(ALICE));
    assert_eq!(ids(&a.to), [BOB]);
    assert_eq!(posted.object(), None);
}

#[test]
fn update_delete_undo_need_the_owner() {
    let (outbox, alice) = setup();
    let target = "https://a.example/objects/n1";
    let mine = AnyObject::from_value(&serde_json::json!({
        "id": target, "type": "Note", "attributedTo": ALICE,
        "to": ["https://a.example/users/alice/followers"], "cc": [BOB]
    }))
    .unwrap();
    let theirs = AnyObject::from_value(&serde_json::json!({
        "id": target, "type": "Note", "attributedTo": BOB
    }))
    .unwrap();
    let other = AnyObject::from_value(&serde_json::json!({
        "id": "https://a.example/objects/n2", "type": "Note", "attributedTo": ALICE
    }))
    .unwrap();
    let update = serde_json::json!({
        "type": "Update", "object": {"id": target, "type": "Note", "content": "edited"}
    })
    .to_string();
    let delete = serde_json::json!({"type": "Delete", "object": target}).to_string();

    // Update without addressing inherits the stored object's.
    let draft = outbox.prepare(&alice, update.as_bytes()).unwrap();
    assert_eq!(draft.target().map(Iri::as_str), Some(target));
    let posted = draft.finish(Some(&mine)).unwrap();
    let a = posted.activity();
    assert_eq!(ids(&a.to), ["https://a.example/users/alice/followers"]);
    assert_eq!(ids(&a.cc), [BOB]);
    let o = a.embedded_object().unwrap().as_object().unwrap();
    assert_eq!(ids(&o.to), ["https://a.example/users/alice/followers"]);
    assert_eq!(o.updated.as_ref().unwrap().as_str(), "2023-11-14T22:13:20Z");
    assert_eq!(posted.visibility(), Visibility::FollowersOnly);

    for body in [&update, &delete] {
        let draft = || outbox.prepare(&alice, body.as_bytes()).unwrap();
        let err = draft().finish(Some(&theirs)).unwrap_err();
        assert!(
            matches!(&err, OutboxError::NotOwner { owner: Some(o), target: t, .. }
                if o.as_str() == BOB && t.as_str() == target),
            "{err:?}"
        );
        let err = draft().finish(None).unwrap_err();
        assert!(
            matches!(&err, OutboxError::NotOwner { owner: None, .. }),
            "{err:?}"
        );
        let err = draft().finish(Some(&other)).unwrap_err();
        assert!(
            matches!(&err, OutboxError::TargetMismatch { found: Some(f), .. }
                if f.as_str() == "https://a.example/objects/n2"),
            "{err:?}"
        );
    }
    let posted = outbox
        .prepare(&alice, delete.as_bytes())
        .unwrap()
        .finish(Some(&mine))
        .unwrap();
    assert_eq!(posted.activity().object_id().map(Iri::as_str), Some(target));

    // Undo of someone else's activity.
    let like = AnyObject::from_value(&serde_json::json!({
        "id": "https://a.example/activities/l1", "type": "Like", "actor": BOB
    }))
    .unwrap();
    let undo = br#"{"type":"Undo","object":"https://a.example/activities/l1"}"#;
    let err = outbox
        .prepare(&alice, undo)
        .unwrap()
        .finish(Some(&like))
        .unwrap_err();
    assert!(matches!(err, OutboxError::NotOwner { .. }), "{err:?}");

    // A profile update targets the owner itself: no stored document needed.
    let profile = serde_json::json!({
        "type": "Update", "to": "as:Public",
        "object": {"id": ALICE, "type": "Person", "name": "Alice"}
    })
    .to_string();
    let draft = outbox.prepare(&alice, profile.as_bytes()).unwrap();
    assert_eq!(draft.target(), None);
    assert!(draft.finish(None).is_ok());

    // Two targets: the second would escape the ownership check.
    let two = format!(r#"{{"type":"Delete","object":["{target}","https://b.example/n"]}}"#);
    let err = outbox.prepare(&alice, two.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, OutboxError::ManyObjects { kind, count: 2 } if kind == "Delete"),
        "{err:?}"
    );

    let err = outbox.prepare(&alice, br#"{"type":"Delete"}"#).unwrap_err();
    assert!(
        matches!(&err, OutboxError::MissingObject { kind } if kind == "Delete"),
        "{err:?}"
    );
}

#[test]
fn inherit_addressing_keeps_explicit_addressing() {
    let stored = Object::new("Note");
    let mut stored = stored;
    stored.to = Some(Iri::new_unchecked(BOB).into());
    let mut update = Activity::new(
        Kind::Update,
        Iri::new_unchecked("https://a.example/activities/u"),
        Iri::new_unchecked(ALICE),
    );
    update.base.cc = Some(Iri::new_unchecked("https://x.example/u").into());
    assert!(!inherit_addressing(&mut update, &stored));
    assert_eq!(update.to, None);
    update.base.cc = None;
    assert!(inherit_addressing(&mut update, &stored));
    assert_eq!(ids(&update.to), [BOB]);
}

#[test]
fn hostile_bodies_are_typed_errors() {
    let (outbox, alice) = setup();
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let deep = format!(r#"{{"type":"Note","content":{deep}}}"#);
    let err = outbox.prepare(&alice, deep.as_bytes()).unwrap_err();
    assert!(
        matches!(err, OutboxError::Body(VocabError::TooDeep { limit: 32 })),
        "{err:?}"
    );
    let big = vec![b' '; DEFAULT_MAX_BODY + 1];
    let err = outbox.prepare(&alice, &big).unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::Body(VocabError::TooLarge {
                limit: DEFAULT_MAX_BODY,
                ..
            })
        ),
        "{err:?}"
    );
    let many: Vec<String> = (0..5_000)
        .map(|i| format!("https://x.example/{i}"))
        .collect();
    let body = serde_json::json!({"type": "Note", "to": many}).to_string();
    let err = outbox.prepare(&alice, body.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            OutboxError::TooManyRecipients {
                count: 5_000,
                limit: DEFAULT_MAX_RECIPIENTS
            }
        ),
        "{err:?}"
    );
    for (body, found) in [
        (&b"[1,2]"[..], "array"),
        (b"\"Note\"", "string"),
        (b"null", "null"),
    ] {
        let err = outbox.prepare(&alice, body).unwrap_err();
        assert!(
            matches!(&err, OutboxError::Body(VocabError::NotAnObject { found: f }) if *f == found),
            "{err:?}"
        );
    }
    let err = outbox.prepare(&alice, b"{\"type\":").unwrap_err();
    assert!(
        matches!(err, OutboxError::Body(VocabError::Json { .. })),
        "{err:?}"
    );
    let err = outbox.prepare(&alice, br#"{"content":"x"}"#).unwrap_err();
    assert!(matches!(err, OutboxError::MissingType), "{err:?}");
    for kind in ["Person", "Link", "Tombstone"] {
        let body = format!(r#"{{"type":"{kind}"}}"#);
        let err = outbox.prepare(&alice, body.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, OutboxError::NotPostable { kind: k } if k == kind),
            "{err:?}"
        );
    }
    for (body, found) in [
        (r#"{"type":"Create"}"#, "no object"),
        (
            r#"{"type":"Create","object":"https://b.example/n"}"#,
            "the IRI https://b.example/n",
        ),
        (
            r#"{"type":"Create","object":[{"type":"Note"},{"type":"Note"}]}"#,
            "2 objects",
        ),
        (
            r#"{"type":"Create","object":{"type":"Like"}}"#,
            "a \"Like\"",
        ),
    ] {
        let err = outbox.prepare(&alice, body.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, OutboxError::CreateObject { found: f } if f == found),
            "{body}: {err:?}"
        );
    }
}
