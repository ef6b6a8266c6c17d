//! Security, Mastodon (`toot:`), Misskey and FEP-521a terms decode into
//! typed fields.

use archipel::vocab::{Actor, AnyObject, Kind, Object, OneOrMany};
use serde_json::{Value, json};

fn parse(v: &Value) -> AnyObject {
    let o = AnyObject::from_slice(&serde_json::to_vec(v).unwrap()).unwrap();
    assert_eq!(&serde_json::to_value(&o).unwrap(), v, "round-trip");
    o
}

#[test]
fn mastodon_actor() {
    let doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "https://m.example/users/alice",
        "type": "Person",
        "preferredUsername": "alice",
        "inbox": "https://m.example/users/alice/inbox",
        "outbox": "https://m.example/users/alice/outbox",
        "followers": "https://m.example/users/alice/followers",
        "following": "https://m.example/users/alice/following",
        "featured": "https://m.example/users/alice/collections/featured",
        "featuredTags": "https://m.example/users/alice/collections/tags",
        "manuallyApprovesFollowers": true,
        "discoverable": true,
        "indexable": false,
        "movedTo": "https://n.example/users/alice",
        "alsoKnownAs": ["https://n.example/users/alice"],
        "attributionDomains": ["alice.example"],
        "endpoints": {"sharedInbox": "https://m.example/inbox"},
        "publicKey": {
            "id": "https://m.example/users/alice#main-key",
            "owner": "https://m.example/users/alice",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"
        },
        "assertionMethod": [{
            "id": "https://m.example/users/alice#ed25519-key",
            "type": "Multikey",
            "controller": "https://m.example/users/alice",
            "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        }],
        "attachment": [{"type": "PropertyValue", "name": "Site", "value": "<a href=\"https://alice.example\">alice.example</a>"}]
    });
    let o = parse(&doc);
    let a: &Actor = o.as_actor().unwrap();
    assert_eq!(a.preferred_username.as_deref(), Some("alice"));
    assert_eq!(
        a.inbox.as_ref().unwrap(),
        "https://m.example/users/alice/inbox"
    );
    assert_eq!(
        a.endpoints.as_ref().unwrap().shared_inbox.as_ref().unwrap(),
        "https://m.example/inbox"
    );
    assert_eq!(a.delivery_inbox().unwrap(), "https://m.example/inbox");
    assert_eq!(
        a.followers_id().unwrap(),
        "https://m.example/users/alice/followers"
    );
    let key = a.public_key.as_ref().unwrap();
    assert_eq!(
        key.id.as_ref().unwrap(),
        "https://m.example/users/alice#main-key"
    );
    assert_eq!(key.owner.as_ref().unwrap(), "https://m.example/users/alice");
    assert!(
        key.public_key_pem
            .as_ref()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let mk = a.assertion_method.as_ref().unwrap().first().unwrap();
    assert_eq!(
        mk.controller.as_ref().unwrap(),
        "https://m.example/users/alice"
    );
    assert_eq!(
        mk.public_key_multibase.as_deref(),
        Some("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    );
    assert_eq!(a.manually_approves_followers, Some(true));
    assert_eq!(a.discoverable, Some(true));
    assert_eq!(a.indexable, Some(false));
    assert_eq!(
        a.featured.as_ref().unwrap().id().unwrap(),
        "https://m.example/users/alice/collections/featured"
    );
    assert_eq!(
        a.featured_tags.as_ref().unwrap().id().unwrap(),
        "https://m.example/users/alice/collections/tags"
    );
    assert_eq!(
        a.moved_to.as_ref().unwrap(),
        "https://n.example/users/alice"
    );
    assert_eq!(
        a.also_known_as.as_ref().unwrap().as_slice()[0],
        "https://n.example/users/alice"
    );
    assert_eq!(
        a.attribution_domains,
        Some(OneOrMany::Many(vec!["alice.example".to_owned()]))
    );
    let field = a
        .attachment
        .as_ref()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(field.kind(), Some(Kind::PropertyValue));
    assert_eq!(
        field.as_object().unwrap().value.as_deref(),
        Some("<a href=\"https://alice.example\">alice.example</a>")
    );
}

#[test]
fn mastodon_note_terms() {
    let doc = json!({
        "type": "Note",
        "sensitive": true,
        "summary": "cw",
        "tag": [
            {"type": "Hashtag", "href": "https://m.example/tags/rust", "name": "#rust"},
            {"id": "https://m.example/emojis/1", "type": "Emoji", "name": ":ferris:", "icon": {"type": "Image", "mediaType": "image/png", "url": "https://m.example/ferris.png"}}
        ],
        "attachment": [{"type": "Document", "mediaType": "image/jpeg", "url": "https://m.example/a.jpg", "blurhash": "UBL_:rOpGG-;", "focalPoint": [0.5, -0.25], "width": 640, "height": 480}],
        "quoteUrl": "https://k.example/notes/9",
        "_misskey_quote": "https://k.example/notes/9"
    });
    let o = parse(&doc);
    let n: &Object = o.as_object().unwrap();
    assert_eq!(n.sensitive, Some(true));
    assert_eq!(n.quote_url.as_ref().unwrap(), "https://k.example/notes/9");
    assert_eq!(
        n.misskey_quote.as_ref().unwrap(),
        "https://k.example/notes/9"
    );
    let tags = n.tag.as_ref().unwrap().as_slice();
    assert_eq!(tags[0].as_object().unwrap().kind(), Some(Kind::Hashtag));
    let emoji = tags[1].as_object().unwrap();
    assert_eq!(emoji.kind(), Some(Kind::Emoji));
    let icon = emoji
        .as_object()
        .unwrap()
        .icon
        .as_ref()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(
        icon.as_object()
            .unwrap()
            .url
            .as_ref()
            .unwrap()
            .first()
            .unwrap()
            .as_iri()
            .unwrap(),
        "https://m.example/ferris.png"
    );
    let doc_att = n
        .attachment
        .as_ref()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(doc_att.blurhash.as_deref(), Some("UBL_:rOpGG-;"));
    let fp: Vec<f64> = doc_att
        .focal_point
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.as_f64().unwrap())
        .collect();
    assert_eq!(fp, [0.5, -0.25]);
    assert_eq!((doc_att.width, doc_att.height), (Some(640), Some(480)));
}

#[test]
fn poll_votes_count() {
    let o = parse(&json!({
        "type": "Question",
        "oneOf": [{"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 3}}, {"type": "Note", "name": "no"}],
        "votersCount": 3,
        "endTime": "2024-01-02T00:00:00Z",
        "closed": "2024-01-02T00:00:00Z"
    }));
    let AnyObject::Question(q) = &o else { panic!() };
    assert_eq!(q.voters_count, Some(3));
    assert_eq!(q.options().len(), 2);
    let yes = q.options()[0].as_object().unwrap().as_object().unwrap();
    let replies = yes
        .replies
        .as_ref()
        .unwrap()
        .first()
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(replies.as_collection().unwrap().total_items, Some(3));
    assert_eq!(q.closed, Some(json!("2024-01-02T00:00:00Z")));
}

#[test]
fn emoji_reactions() {
    let react = parse(&json!({
        "type": "EmojiReact", "actor": "https://p.example/u/a", "object": "https://m.example/n/1", "content": "🔥"
    }));
    assert_eq!(react.kind(), Some(Kind::EmojiReact));
    assert_eq!(react.as_activity().unwrap().content.as_deref(), Some("🔥"));
    let like = parse(&json!({
        "type": "Like", "actor": "https://k.example/u/a", "object": "https://m.example/n/1",
        "content": ":blobcat:", "_misskey_reaction": ":blobcat:"
    }));
    assert_eq!(
        like.as_activity().unwrap().misskey_reaction.as_deref(),
        Some(":blobcat:")
    );
}

#[test]
fn collections_and_pages() {
    let o = parse(&json!({
        "type": "OrderedCollectionPage",
        "partOf": "https://m.example/u/a/outbox",
        "next": "https://m.example/u/a/outbox?page=2",
        "orderedItems": [{"type": "Announce", "actor": "https://m.example/u/a", "object": "https://x.example/1"}, "https://m.example/a/2"],
        "startIndex": 0
    }));
    let c = o.as_collection().unwrap();
    assert_eq!(
        c.part_of.as_ref().unwrap().id().unwrap(),
        "https://m.example/u/a/outbox"
    );
    assert_eq!(c.all_items().len(), 2);
    assert_eq!(c.start_index, Some(0));
    assert_eq!(
        c.all_items()[0].as_object().unwrap().kind(),
        Some(Kind::Announce)
    );
}

#[test]
fn tombstone() {
    let o = parse(
        &json!({"type": "Tombstone", "id": "https://m.example/n/1", "formerType": "Note", "deleted": "2024-01-01T00:00:00Z"}),
    );
    let AnyObject::Tombstone(t) = &o else {
        panic!()
    };
    assert_eq!(t.former_type, Some(OneOrMany::One("Note".to_owned())));
    assert_eq!(
        t.deleted.as_ref().unwrap().unix_seconds(),
        Some(1_704_067_200)
    );
}
