//! Real-world shapes decode into the typed fields, and everything comes back
//! out exactly as it went in.

use archipel::vocab::{AnyObject, Category, Iri, Kind, OneOrMany, Reference};
use serde_json::{Value, json};

fn parse(v: &Value) -> AnyObject {
    AnyObject::from_slice(&serde_json::to_vec(v).unwrap()).unwrap()
}

fn round_trips(v: &Value) -> AnyObject {
    let o = parse(v);
    assert_eq!(&serde_json::to_value(&o).unwrap(), v);
    o
}

fn obj(a: &AnyObject) -> &archipel::vocab::Object {
    a.as_object().unwrap()
}

fn iris(r: &OneOrMany<Reference>) -> Vec<&str> {
    r.iter().map(|r| r.as_iri().unwrap().as_str()).collect()
}

#[test]
fn audience_single_string_and_array_keep_their_form() {
    let doc =
        json!({"type": "Note", "to": "https://a.example/u/1", "cc": ["https://a.example/u/2"]});
    let o = round_trips(&doc);
    let o = obj(&o);
    assert!(matches!(o.to, Some(OneOrMany::One(_))));
    assert!(matches!(o.cc, Some(OneOrMany::Many(_))));
    assert_eq!(iris(o.to.as_ref().unwrap()), ["https://a.example/u/1"]);
    assert_eq!(iris(o.cc.as_ref().unwrap()), ["https://a.example/u/2"]);
}

#[test]
fn reference_may_be_iri_embedded_object_or_link() {
    let doc = json!({
        "type": "Note",
        "attributedTo": [
            "https://a.example/users/alice",
            {"type": "Person", "id": "https://b.example/users/bob", "inbox": "https://b.example/users/bob/inbox"}
        ],
        "url": {"type": "Link", "href": "https://a.example/@alice/1", "mediaType": "text/html"}
    });
    let o = round_trips(&doc);
    let o = obj(&o);
    let by = o.attributed_to.as_ref().unwrap().as_slice();
    assert_eq!(by[0].as_iri().unwrap(), "https://a.example/users/alice");
    let bob = by[1].as_object().unwrap().as_actor().unwrap();
    assert_eq!(
        bob.inbox.as_ref().unwrap(),
        "https://b.example/users/bob/inbox"
    );
    assert_eq!(by[1].id().unwrap(), "https://b.example/users/bob");
    let url = o.url.as_ref().unwrap().first().unwrap();
    let Some(AnyObject::Link(link)) = url.as_object() else {
        panic!("url is not a Link")
    };
    assert_eq!(link.href.as_ref().unwrap(), "https://a.example/@alice/1");
    assert_eq!(link.media_type.as_deref(), Some("text/html"));
    assert_eq!(url.id().unwrap(), "https://a.example/@alice/1");
}

#[test]
fn public_in_all_three_spellings() {
    for spelling in [
        "https://www.w3.org/ns/activitystreams#Public",
        "as:Public",
        "Public",
    ] {
        let to = round_trips(&json!({"type": "Note", "to": [spelling]}));
        assert!(to.is_public(), "{spelling} in to");
        let cc = round_trips(&json!({"type": "Note", "cc": spelling}));
        assert!(cc.is_public(), "{spelling} in cc");
        // The spelling that came in is the spelling that goes out.
        assert_eq!(serde_json::to_value(&cc).unwrap()["cc"], json!(spelling));
    }
    let private = round_trips(&json!({"type": "Note", "to": ["https://a.example/u/1/followers"]}));
    assert!(!private.is_public());
}

#[test]
fn type_array_dispatches_on_first_known_name() {
    let doc = json!({"type": ["geojson:Feature", "Place"], "name": "Harbour", "latitude": 59.9, "longitude": 10});
    let o = round_trips(&doc);
    let AnyObject::Place(p) = &o else {
        panic!("not a Place: {o:?}")
    };
    assert_eq!(p.latitude.as_ref().unwrap().as_f64(), Some(59.9));
    assert_eq!(p.longitude.as_ref().unwrap().as_u64(), Some(10));
    assert_eq!(o.type_names(), ["geojson:Feature", "Place"]);
    assert_eq!(o.kind(), Some(Kind::Place));
    assert!(o.has_type("Place"));
}

#[test]
fn as_prefixed_type_names_dispatch() {
    let o = round_trips(
        &json!({"type": "as:Follow", "actor": "https://a.example/u", "object": "https://b.example/u"}),
    );
    let a = o.as_activity().unwrap();
    assert_eq!(a.object_id().unwrap(), "https://b.example/u");
    assert_eq!(
        Kind::from_name("https://www.w3.org/ns/activitystreams#Note")
            .unwrap()
            .category(),
        Category::Object
    );
}

#[test]
fn language_maps() {
    let doc = json!({
        "type": "Note",
        "content": "<p>hei</p>",
        "contentMap": {"nb": "<p>hei</p>", "en": "<p>hi</p>"},
        "nameMap": {"und": "Havn"},
        "summaryMap": {"en": "cw"}
    });
    let o = round_trips(&doc);
    let o = obj(&o);
    let cm = o.content_map.as_ref().unwrap();
    assert_eq!(cm.get("nb").map(String::as_str), Some("<p>hei</p>"));
    assert_eq!(cm.get("en").map(String::as_str), Some("<p>hi</p>"));
    assert_eq!(
        o.name_map.as_ref().unwrap().get("und").map(String::as_str),
        Some("Havn")
    );
    assert_eq!(
        o.summary_map
            .as_ref()
            .unwrap()
            .get("en")
            .map(String::as_str),
        Some("cw")
    );
    // A language map with a non-string value stays verbatim.
    let odd = round_trips(&json!({"type": "Note", "contentMap": {"en": "x", "de": null}}));
    assert!(obj(&odd).content_map.is_none());
    assert_eq!(
        obj(&odd).extra["contentMap"],
        json!({"en": "x", "de": null})
    );
}

#[test]
fn context_as_string_array_object_or_missing() {
    let s =
        round_trips(&json!({"@context": "https://www.w3.org/ns/activitystreams", "type": "Note"}));
    assert!(
        obj(&s)
            .ld_context
            .as_ref()
            .unwrap()
            .includes("https://www.w3.org/ns/activitystreams")
    );
    let a = round_trips(&json!({
        "@context": ["https://w3id.org/security/v1", "http://www.w3.org/ns/activitystreams", {"@language": "und"}],
        "type": "Note"
    }));
    let ctx = obj(&a).ld_context.as_ref().unwrap();
    assert!(ctx.includes("https://www.w3.org/ns/activitystreams"));
    assert_eq!(ctx.to_value()[2], json!({"@language": "und"}));
    let o = round_trips(
        &json!({"@context": {"@vocab": "https://www.w3.org/ns/activitystreams#"}, "type": "Note"}),
    );
    assert!(
        !obj(&o)
            .ld_context
            .as_ref()
            .unwrap()
            .includes("https://www.w3.org/ns/activitystreams")
    );
    let none = round_trips(&json!({"type": "Note"}));
    assert!(obj(&none).ld_context.is_none());
}

#[test]
fn unknown_properties_and_types_are_kept() {
    let doc = json!({
        "type": "ChatMessage",
        "id": "https://p.example/objects/1",
        "content": "hi",
        "_misskey_content": "hi",
        "isCat": true,
        "vcard:bday": "2000-01-01",
        "inbox": "https://p.example/inbox"
    });
    let o = round_trips(&doc);
    let AnyObject::Unknown(u) = &o else {
        panic!("expected Unknown")
    };
    assert_eq!(u.id.as_ref().unwrap(), "https://p.example/objects/1");
    assert_eq!(u.content.as_deref(), Some("hi"));
    assert_eq!(u.extra["isCat"], json!(true));
    assert_eq!(u.extra["vcard:bday"], json!("2000-01-01"));
    // Actor-only properties on a non-actor are kept in extra.
    assert_eq!(u.extra["inbox"], json!("https://p.example/inbox"));
    assert_eq!(o.kind(), None);
}

#[test]
fn explicit_nulls_stay_null() {
    let doc =
        json!({"type": "Note", "summary": null, "inReplyTo": null, "icon": null, "content": "x"});
    let o = round_trips(&doc);
    let o = obj(&o);
    assert_eq!(o.summary, None);
    assert_eq!(o.in_reply_to, None);
    assert_eq!(o.extra["summary"], Value::Null);
    assert_eq!(o.extra["inReplyTo"], Value::Null);
    assert_eq!(o.content.as_deref(), Some("x"));
}

#[test]
fn string_booleans_numbers_and_value_objects_stay_verbatim() {
    let doc = json!({
        "type": "Person",
        "discoverable": "true",
        "manuallyApprovesFollowers": {"@value": "False", "type": "xsd:boolean"},
        "indexable": false,
        "identifier": "15",
        "inbox": "https://h.example/inbox"
    });
    let o = round_trips(&doc);
    let a = o.as_actor().unwrap();
    assert_eq!(a.discoverable, None);
    assert_eq!(a.extra["discoverable"], json!("true"));
    assert_eq!(a.manually_approves_followers, None);
    assert_eq!(
        a.extra["manuallyApprovesFollowers"]["@value"],
        json!("False")
    );
    assert_eq!(a.indexable, Some(false));
    assert_eq!(a.extra["identifier"], json!("15"));
}

#[test]
fn empty_type_array_round_trips() {
    let doc = json!({"type": "Person", "id": "https://k.example/u", "publicKey": {"id": "https://k.example/u#key", "type": [], "owner": "https://k.example/u", "publicKeyPem": "PEM"}});
    let o = round_trips(&doc);
    let key = o.as_actor().unwrap().public_key.as_ref().unwrap();
    assert_eq!(key.kind, Some(OneOrMany::Many(vec![])));
    assert_eq!(key.public_key_pem.as_deref(), Some("PEM"));
}

#[test]
fn duplicate_keys_last_wins() {
    let bytes = br#"{"type":"Question","closed":"2019-09-19T00:32:36","content":"first","closed":true,"content":"second","votersCount":null,"votersCount":3}"#;
    let o = AnyObject::from_slice(bytes).unwrap();
    let AnyObject::Question(q) = &o else {
        panic!("not a Question")
    };
    assert_eq!(q.closed, Some(json!(true)));
    assert_eq!(q.content.as_deref(), Some("second"));
    assert_eq!(q.voters_count, Some(3));
    assert!(!q.extra.contains_key("votersCount"));
    let expected: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(serde_json::to_value(&o).unwrap(), expected);
    // Typed first, then an untypable duplicate: the raw one wins.
    let o =
        AnyObject::from_slice(br#"{"type":"Note","sensitive":true,"sensitive":"yes"}"#).unwrap();
    assert_eq!(obj(&o).sensitive, None);
    assert_eq!(
        serde_json::to_value(&o).unwrap(),
        json!({"type": "Note", "sensitive": "yes"})
    );
}

#[test]
fn single_tag_and_attachment_objects_and_icon_arrays() {
    let doc = json!({
        "type": "Note",
        "tag": {"type": "Hashtag", "href": "/tags/test", "name": "#test"},
        "attachment": {"type": "Document", "mediaType": "image/png", "url": "https://o.example/a.png"},
        "icon": [{"type": "Image", "url": "https://o.example/1.png"}, {"type": "Image", "url": "https://o.example/2.png"}]
    });
    let o = round_trips(&doc);
    let o = obj(&o);
    let tag = o.tag.as_ref().unwrap();
    assert!(matches!(tag, OneOrMany::One(_)));
    let Some(AnyObject::Link(h)) = tag.first().unwrap().as_object() else {
        panic!()
    };
    assert!(h.has_type("Hashtag"));
    assert_eq!(h.href.as_ref().unwrap().as_str(), "/tags/test");
    assert_eq!(h.href.as_ref().unwrap().scheme(), None);
    assert_eq!(o.icon.as_ref().unwrap().len(), 2);
    let att = o
        .attachment
        .as_ref()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(att.media_type.as_deref(), Some("image/png"));
}

#[test]
fn non_http_and_invalid_iris_are_kept() {
    let doc = json!({
        "type": "Note",
        "id": "https://a.example//double//slash",
        "conversation": "tag:a.example,2024-01-01:objectId=1:objectType=Conversation",
        "url": ["magnet:?xt=urn:btih:abc", "https://a.example/v/1"],
        "context": "tag:a.example,2024:thread"
    });
    let o = round_trips(&doc);
    let o = obj(&o);
    let urls = o.url.as_ref().unwrap();
    assert_eq!(
        urls.as_slice()[0].as_iri().unwrap().scheme(),
        Some("magnet")
    );
    assert_eq!(
        o.context
            .as_ref()
            .unwrap()
            .first()
            .unwrap()
            .as_iri()
            .unwrap()
            .scheme(),
        Some("tag")
    );
    assert_eq!(o.id.as_ref().unwrap().host(), Some("a.example"));
    let bare = Iri::new_unchecked("bridgy.example");
    assert!(!bare.is_valid());
    assert!(bare.to_url().is_err());
}

#[test]
fn dates_are_kept_as_written_and_interpreted_on_demand() {
    let doc = json!({"type": "Note", "published": "2019-09-19T00:32:36.785333", "updated": "2024-01-01T00:00:00.1234567+00:00"});
    let o = round_trips(&doc);
    let o = obj(&o);
    assert_eq!(
        o.published.as_ref().unwrap().as_str(),
        "2019-09-19T00:32:36.785333"
    );
    assert_eq!(
        o.published.as_ref().unwrap().unix_seconds(),
        Some(1_568_853_156)
    );
    assert_eq!(
        o.updated.as_ref().unwrap().unix_seconds(),
        Some(1_704_067_200)
    );
}

#[test]
fn escaped_slashes_and_html_escapes_decode() {
    let bytes = br#"{"type":"Note","id":"https:\/\/g.example\/notice\/1","content":"\u003cp\u003ehi\u003c/p\u003e","url":"https:\/\/g.example\/n\/1"}"#;
    let o = AnyObject::from_slice(bytes).unwrap();
    assert_eq!(o.id().unwrap(), "https://g.example/notice/1");
    assert_eq!(obj(&o).content.as_deref(), Some("<p>hi</p>"));
    let expected: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(serde_json::to_value(&o).unwrap(), expected);
}

#[test]
fn every_vocabulary_type_dispatches() {
    for kind in Kind::ALL {
        let o = parse(&json!({"type": kind.as_str()}));
        let got = match &o {
            AnyObject::Object(_) => Category::Object,
            AnyObject::Activity(_) => Category::Activity,
            AnyObject::Question(_) => Category::Question,
            AnyObject::Actor(_) => Category::Actor,
            AnyObject::Collection(_) => Category::Collection,
            AnyObject::Link(_) => Category::Link,
            AnyObject::Place(_) => Category::Place,
            AnyObject::Profile(_) => Category::Profile,
            AnyObject::Relationship(_) => Category::Relationship,
            AnyObject::Tombstone(_) => Category::Tombstone,
            other => panic!("{kind} landed in {other:?}"),
        };
        assert_eq!(got, kind.category(), "{kind}");
        assert_eq!(o.kind(), Some(*kind));
    }
}

#[test]
fn relationship_keeps_its_object() {
    let doc = json!({"type": "Relationship", "subject": "https://a.example/a", "relationship": "http://purl.org/vocab/relationship/acquaintanceOf", "object": "https://a.example/b"});
    let o = round_trips(&doc);
    let AnyObject::Relationship(r) = &o else {
        panic!()
    };
    assert_eq!(
        r.subject.as_ref().unwrap().id().unwrap(),
        "https://a.example/a"
    );
    assert_eq!(iris(r.object.as_ref().unwrap()), ["https://a.example/b"]);
}

/// Fuzzing found that a 53-digit number came back one ULP off through a text
/// round-trip; serde_json's `float_roundtrip` parsing fixes it.
#[test]
fn long_numbers_round_trip_through_text() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/regressions/vocab_json/float_53_digits.json"
    ))
    .unwrap();
    let o = AnyObject::from_slice(&bytes).unwrap();
    let input: Value = serde_json::from_slice(&bytes).unwrap();
    let text = serde_json::to_vec(&o).unwrap();
    let output: Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(output, input);
    assert_eq!(output["type"].as_f64(), Some(2.2222222222222222e52));
    assert!(obj(&o).kind.is_none());
}
