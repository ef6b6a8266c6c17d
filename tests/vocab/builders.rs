//! Constructors for the common activities produce the JSON Mastodon expects,
//! and private recipients are stripped before delivery.

use archipel::vocab::audience::PUBLIC;
use archipel::vocab::{Activity, AnyObject, Audience, Iri, Kind, Object, Visibility};
use serde_json::json;

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

const AS: &str = "https://www.w3.org/ns/activitystreams";

#[test]
fn follow_accept_undo() {
    let follow = Activity::follow(
        iri("https://a.example/f/1"),
        iri("https://a.example/u/alice"),
        iri("https://b.example/u/bob"),
    );
    assert_eq!(
        serde_json::to_value(&follow).unwrap(),
        json!({
            "@context": AS,
            "id": "https://a.example/f/1",
            "type": "Follow",
            "actor": "https://a.example/u/alice",
            "object": "https://b.example/u/bob",
            "to": "https://b.example/u/bob"
        })
    );
    let accept = Activity::accept(
        iri("https://b.example/a/1"),
        iri("https://b.example/u/bob"),
        AnyObject::from(follow.clone()),
    );
    let v = serde_json::to_value(&accept).unwrap();
    assert_eq!(v["type"], "Accept");
    assert_eq!(v["to"], "https://a.example/u/alice");
    assert_eq!(v["object"]["type"], "Follow");
    assert_eq!(v["object"]["id"], "https://a.example/f/1");
    let reject = Activity::reject(
        iri("https://b.example/r/1"),
        iri("https://b.example/u/bob"),
        iri("https://a.example/f/1"),
    );
    assert_eq!(
        serde_json::to_value(&reject).unwrap()["object"],
        "https://a.example/f/1"
    );
    let undo = Activity::undo(
        iri("https://a.example/f/1#undo"),
        iri("https://a.example/u/alice"),
        AnyObject::from(follow),
    );
    assert_eq!(undo.type_name(), Some("Undo"));
    assert_eq!(undo.embedded_object().unwrap().kind(), Some(Kind::Follow));
    assert_eq!(
        serde_json::to_value(&undo).unwrap()["to"],
        "https://b.example/u/bob"
    );
}

#[test]
fn create_copies_the_audience_of_its_object() {
    let followers = iri("https://a.example/u/alice/followers");
    let mut note = Object::new("Note")
        .with_id(iri("https://a.example/n/1"))
        .with_attributed_to(iri("https://a.example/u/alice"))
        .with_content("<p>hi</p>");
    Audience::public(followers.clone())
        .with_cc([iri("https://b.example/u/bob")])
        .apply(&mut note);
    let create = Activity::create(
        iri("https://a.example/n/1/activity"),
        iri("https://a.example/u/alice"),
        note.into(),
    );
    let v = serde_json::to_value(&create).unwrap();
    assert_eq!(v["to"], json!([PUBLIC]));
    assert_eq!(
        v["cc"],
        json!([
            "https://a.example/u/alice/followers",
            "https://b.example/u/bob"
        ])
    );
    assert_eq!(v["object"]["to"], json!([PUBLIC]));
    assert_eq!(v["object"]["content"], "<p>hi</p>");
    assert_eq!(create.visibility(Some(&followers)), Visibility::Public);
    // Parses back to the same structure.
    let back = AnyObject::from_slice(&serde_json::to_vec(&create).unwrap()).unwrap();
    assert_eq!(back, AnyObject::from(create));
}

#[test]
fn other_constructors_set_type_actor_object() {
    let (id, me, it) = (
        iri("https://a.example/x/1"),
        iri("https://a.example/u/a"),
        iri("https://b.example/n/9"),
    );
    let cases: Vec<(Activity, &str)> = vec![
        (
            Activity::announce(id.clone(), me.clone(), it.clone()),
            "Announce",
        ),
        (Activity::like(id.clone(), me.clone(), it.clone()), "Like"),
        (
            Activity::delete(id.clone(), me.clone(), it.clone()),
            "Delete",
        ),
        (Activity::block(id.clone(), me.clone(), it.clone()), "Block"),
        (
            Activity::update(
                id.clone(),
                me.clone(),
                Object::new("Note").with_id(it.clone()).into(),
            ),
            "Update",
        ),
    ];
    for (a, kind) in cases {
        assert_eq!(a.type_name(), Some(kind));
        assert_eq!(a.actor_id(), Some(&me));
        assert_eq!(a.object_id(), Some(&it), "{kind}");
        assert_eq!(a.id.as_ref(), Some(&id));
    }
    let flag = Activity::flag(
        id,
        me,
        vec![iri("https://b.example/u/b"), it],
        Some("spam".into()),
    );
    let v = serde_json::to_value(&flag).unwrap();
    assert_eq!(
        v["object"],
        json!(["https://b.example/u/b", "https://b.example/n/9"])
    );
    assert_eq!(v["content"], "spam");
}

#[test]
fn bto_and_bcc_are_stripped_before_sending() {
    let doc = br#"{"type":"Create","actor":"https://a.example/u/a","to":["https://b.example/u/b"],"bto":["https://c.example/u/c"],"bcc":"https://d.example/u/d",
        "object":{"type":"Note","bcc":["https://d.example/u/d"],"bto":null,"content":"x",
            "attachment":[{"type":"Note","as:bcc":"https://d.example/u/d","name":"a"}],
            "tag":{"type":"Mention","https://www.w3.org/ns/activitystreams#bto":"https://c.example/u/c","href":"https://b.example/u/b"}}}"#;
    let mut o = AnyObject::from_slice(doc).unwrap();
    o.strip_private_recipients().unwrap();
    let v = serde_json::to_value(&o).unwrap();
    assert_eq!(
        v,
        json!({"type":"Create","actor":"https://a.example/u/a","to":["https://b.example/u/b"],
            "object":{"type":"Note","content":"x",
                "attachment":[{"type":"Note","name":"a"}],
                "tag":{"type":"Mention","href":"https://b.example/u/b"}}})
    );
}
