//! Account migration documents as Mastodon writes them (from its
//! published ActivityPub documentation and its `Move` serializer): the
//! `Move` activity, and the actors it names, the old one with `movedTo`
//! and the new one with `alsoKnownAs`. Each round-trips exactly, unknown
//! properties kept.

use archipel::vocab::{AnyObject, Kind, OneOrMany};
use serde_json::{Value, json};

fn parse(v: &Value) -> AnyObject {
    let o = AnyObject::from_slice(&serde_json::to_vec(v).unwrap()).unwrap();
    assert_eq!(&serde_json::to_value(&o).unwrap(), v, "round-trip");
    o
}

/// The terms of Mastodon's actor context that migration uses.
fn mastodon_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": {"@id": "toot:featured", "@type": "@id"},
            "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
            "movedTo": {"@id": "as:movedTo", "@type": "@id"},
            "memorial": "toot:memorial",
            "discoverable": "toot:discoverable"
        }
    ])
}

#[test]
fn mastodon_move_names_the_account_as_actor_and_object() {
    // As Mastodon's MoveSerializer writes it: the id under the account,
    // no addressing (it is delivered to the followers' inboxes).
    let doc = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://old.example/users/alice#moves/7",
        "type": "Move",
        "target": "https://new.example/users/alice",
        "actor": "https://old.example/users/alice",
        "object": "https://old.example/users/alice"
    });
    let any = parse(&doc);
    assert_eq!(any.kind(), Some(Kind::Move));
    let activity = any.as_activity().unwrap();
    assert_eq!(
        activity.actor_id().unwrap().as_str(),
        "https://old.example/users/alice"
    );
    assert_eq!(activity.object_id(), activity.actor_id());
    let target = activity.target.as_ref().unwrap().first().unwrap().id();
    assert_eq!(target.unwrap().as_str(), "https://new.example/users/alice");
}

#[test]
fn mastodon_moved_account_keeps_moved_to_and_its_other_terms() {
    let doc = json!({
        "@context": mastodon_context(),
        "id": "https://old.example/users/alice",
        "type": "Person",
        "preferredUsername": "alice",
        "inbox": "https://old.example/users/alice/inbox",
        "outbox": "https://old.example/users/alice/outbox",
        "followers": "https://old.example/users/alice/followers",
        "featured": "https://old.example/users/alice/collections/featured",
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "memorial": false,
        "movedTo": "https://new.example/users/alice",
        "alsoKnownAs": ["https://older.example/users/alice"],
        "publicKey": {
            "id": "https://old.example/users/alice#main-key",
            "owner": "https://old.example/users/alice",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
        }
    });
    let any = parse(&doc);
    let AnyObject::Actor(actor) = any else {
        panic!("not an actor: {any:?}")
    };
    assert_eq!(
        actor.moved_to.as_ref().unwrap().as_str(),
        "https://new.example/users/alice"
    );
    let aliases: Vec<&str> = actor
        .also_known_as
        .as_ref()
        .unwrap()
        .iter()
        .map(|i| i.as_str())
        .collect();
    assert_eq!(aliases, ["https://older.example/users/alice"]);
    // An unmodelled Mastodon term is kept.
    assert_eq!(actor.base.extra["memorial"], false);
}

#[test]
fn a_single_alias_written_as_a_string_stays_a_string() {
    // Some servers write one alias as a plain string.
    let doc = json!({
        "@context": mastodon_context(),
        "id": "https://new.example/users/alice",
        "type": "Person",
        "inbox": "https://new.example/users/alice/inbox",
        "alsoKnownAs": "https://old.example/users/alice"
    });
    let AnyObject::Actor(actor) = parse(&doc) else {
        panic!("not an actor")
    };
    assert!(matches!(
        actor.also_known_as.as_ref().unwrap(),
        OneOrMany::One(alias) if alias.as_str() == "https://old.example/users/alice"
    ));
    assert!(actor.moved_to.is_none());
}
