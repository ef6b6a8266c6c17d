use super::*;

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn relay(n: u32, kind: RelayKind) -> Relay {
    Relay {
        id: iri(&format!("https://relay{n}.example/inbox")),
        kind,
        inbox: iri(&format!("https://relay{n}.example/inbox")),
        actor: None,
        follow: iri(&format!("https://a.example/activities/{n}")),
        follower: iri("https://a.example/actor"),
        state: RelayState::Pending,
    }
}

#[tokio::test]
async fn the_memory_store_replaces_by_id_and_refuses_past_its_cap() {
    let store = MemoryRelays::new().with_cap(2);
    store.put(relay(1, RelayKind::Mastodon)).await.unwrap();
    let mut accepted = relay(1, RelayKind::Mastodon);
    accepted.state = RelayState::Accepted;
    store.put(accepted.clone()).await.unwrap();
    store.put(relay(2, RelayKind::LitePub)).await.unwrap();
    let full = store.put(relay(3, RelayKind::Mastodon)).await.unwrap_err();
    assert!(matches!(full, RelayError::Full { cap: 2 }), "{full:?}");
    assert_eq!(store.all().await.unwrap()[0], accepted);
    assert_eq!(store.remove(&accepted.id).await.unwrap(), Some(accepted));
    store.put(relay(3, RelayKind::Mastodon)).await.unwrap();
}

#[test]
fn the_follow_is_of_public_or_of_the_relay_actor() {
    let mastodon = relay(1, RelayKind::Mastodon).follow_activity();
    assert_eq!(
        mastodon.object_id().map(Iri::as_str),
        Some("https://www.w3.org/ns/activitystreams#Public")
    );
    assert_eq!(
        mastodon.actor_id().map(Iri::as_str),
        Some("https://a.example/actor")
    );
    let mut litepub = relay(2, RelayKind::LitePub);
    litepub.actor = Some(iri("https://relay2.example/actor"));
    let follow = litepub.follow_activity();
    assert_eq!(
        follow.object_id().map(Iri::as_str),
        Some("https://relay2.example/actor")
    );
    assert_eq!(follow.id.as_ref(), Some(&litepub.follow));
}

#[test]
fn a_relay_speaks_through_its_actor_or_before_it_is_known_its_origin() {
    let mut r = relay(1, RelayKind::Mastodon);
    assert!(r.is_sent_by(&iri("https://relay1.example/actor")));
    assert!(!r.is_sent_by(&iri("https://evil.example/actor")));
    r.actor = Some(iri("https://relay1.example/actor"));
    assert!(!r.is_sent_by(&iri("https://relay1.example/users/someone")));
    assert!(r.is_sent_by(&iri("https://relay1.example/actor")));
}

#[test]
fn only_public_posts_are_relayed() {
    use crate::federation::keys::ActorKeys;
    use crate::signatures::PrivateKey;
    use crate::vocab::{Audience, Object};
    let pem = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/rsa-2048-pkcs8.pem"
    ));
    let paths = super::super::Paths::new("https://a.example".parse().unwrap()).unwrap();
    let keys = ActorKeys {
        rsa: PrivateKey::from_pem(pem).unwrap(),
        ed25519: None,
    };
    let alice = LocalActor::person(&paths, "alice", keys).unwrap();
    let create = |audience: Audience| {
        let mut note = Object::new("Note").with_id(iri("https://a.example/objects/1"));
        audience.apply(&mut note);
        let mut create = Activity::new(
            Kind::Create,
            iri("https://a.example/activities/1"),
            alice.id().clone(),
        );
        create.to.clone_from(&note.to);
        create.cc.clone_from(&note.cc);
        create.object = Some(Reference::from(AnyObject::from(note)).into());
        create
    };
    let followers = alice.followers().clone();
    assert!(is_relayable(
        &create(Audience::public(followers.clone())),
        &alice
    ));
    assert!(!is_relayable(
        &create(Audience::unlisted(followers.clone())),
        &alice
    ));
    assert!(!is_relayable(
        &create(Audience::followers_only(followers)),
        &alice
    ));
    let like = Activity::new(
        Kind::Like,
        iri("https://a.example/activities/2"),
        alice.id().clone(),
    )
    .with_to(vec![iri("https://www.w3.org/ns/activitystreams#Public")]);
    assert!(!is_relayable(&like, &alice), "a Like is not relayed");
}

#[test]
fn a_spent_fetch_budget_asks_the_relay_to_retry_instead_of_refusing() {
    use crate::inbox::ForwardedError;
    let unverified = |source| RelayError::Unverified {
        activity: "https://a.example/activities/1".into(),
        relay: "https://relay1.example/actor".into(),
        source: Box::new(source),
    };
    let over = unverified(ForwardedError::OverBudget {
        host: "relay1.example".into(),
    });
    assert!(!over.is_refusal(), "{over:?}");
    assert!(over.is_transient());
    assert_eq!(over.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    let forged = unverified(ForwardedError::Unverified {
        id: "https://a.example/activities/1".into(),
        reasons: "re-fetch: content differs".into(),
    });
    assert!(forged.is_refusal());
    assert_eq!(forged.status(), http::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn accepted_relays_are_known_from_the_start_and_follow_the_store() {
    let store = MemoryRelays::new();
    let mut accepted = relay(1, RelayKind::Mastodon);
    accepted.state = RelayState::Accepted;
    accepted.actor = Some(iri("https://relay1.example/actor"));
    store.put(accepted.clone()).await.unwrap();
    // A second subscription on the same host, still pending.
    let mut pending = relay(2, RelayKind::LitePub);
    pending.id = iri("https://relay1.example/litepub");
    pending.actor = Some(iri("https://relay1.example/relay"));
    store.put(pending.clone()).await.unwrap();
    let fed = Federation::builder("https://a.example".parse().unwrap())
        .with_relay_store(std::sync::Arc::new(store))
        .build()
        .await
        .unwrap();
    let actors = &fed.inner.relay_actors;
    assert!(actors.contains("https://relay1.example/actor"));
    assert!(!actors.contains("https://relay1.example/relay"), "pending");
    assert!(!actors.contains("https://relay1.example/users/anyone"));
    // Ending the pending one leaves the accepted one a relay...
    fed.unsubscribe_relay(&pending.id).await.unwrap();
    assert!(actors.contains("https://relay1.example/actor"));
    // ...subscribing to it again makes it pending until it accepts...
    fed.subscribe_relay(&accepted.id, RelayKind::Mastodon)
        .await
        .unwrap();
    assert!(!actors.contains("https://relay1.example/actor"));
    // ...and an ended subscription is no relay.
    fed.unsubscribe_relay(&accepted.id).await.unwrap();
    assert!(!actors.contains("https://relay1.example/actor"));
}
