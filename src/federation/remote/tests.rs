use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::testing::FakeServer;
use super::*;
use crate::clock::ManualClock;
use crate::fetch::FetchError;
use crate::vocab::Kind;

const BOB: &str = "https://b.example/users/bob";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

struct Setup {
    server: Arc<FakeServer>,
    clock: Arc<ManualClock>,
    store: Arc<MemoryActorStore>,
    remote: RemoteActors,
}

fn setup_with(store: MemoryActorStore) -> Setup {
    let server = Arc::new(FakeServer::new());
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let store = Arc::new(store);
    let remote = RemoteActors::new(Fetcher::new(server.clone()), store.clone())
        .with_ttl(Duration::from_secs(3600))
        .with_stale_grace(Duration::from_secs(600))
        .clock(clock.clone());
    Setup {
        server,
        clock,
        store,
        remote,
    }
}

fn setup() -> Setup {
    setup_with(MemoryActorStore::new())
}

#[tokio::test]
async fn cache_hit_does_not_refetch() {
    let s = setup();
    s.server.person(BOB);
    let first = s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(first.id().as_str(), BOB);
    assert_eq!(first.kind(), Kind::Person);
    assert_eq!(first.inbox().as_str(), "https://b.example/users/bob/inbox");
    assert_eq!(
        first.shared_inbox().map(Iri::as_str),
        Some("https://b.example/inbox")
    );
    assert_eq!(
        first.followers().map(Iri::as_str),
        Some("https://b.example/users/bob/followers")
    );
    assert_eq!(first.preferred_username(), Some("bob"));
    assert_eq!(first.keys().len(), 1);
    assert_eq!(
        first.keys()[0].id.as_str(),
        "https://b.example/users/bob#main-key"
    );
    assert!(matches!(first.keys()[0].material, KeyMaterial::Pem(_)));
    assert!(!first.manually_approves_followers());
    assert_eq!(first.fetched_at(), s.clock.now());
    // Again, and through the key id: one request in all.
    let second = s.remote.get(&iri(BOB)).await.unwrap();
    let by_key = s
        .remote
        .get(&iri(&format!("{BOB}#main-key")))
        .await
        .unwrap();
    assert_eq!(second, first);
    assert_eq!(by_key, first);
    assert_eq!(s.server.hits(BOB), 1);
    let r = first.recipient().unwrap();
    assert_eq!(r.inbox.as_str(), "https://b.example/users/bob/inbox");
    assert_eq!(r.shared_inbox.unwrap().as_str(), "https://b.example/inbox");
}

#[tokio::test]
async fn ttl_expiry_refetches() {
    let s = setup();
    s.server.person(BOB);
    s.remote.get(&iri(BOB)).await.unwrap();
    s.clock.advance(Duration::from_secs(3599));
    s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(s.server.hits(BOB), 1, "still fresh");
    s.clock.advance(Duration::from_secs(1));
    let again = s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(s.server.hits(BOB), 2, "expired, refetched");
    assert_eq!(again.fetched_at(), s.clock.now());
}

#[tokio::test]
async fn stale_entry_is_served_within_the_grace_only() {
    let s = setup();
    s.server.person(BOB);
    s.remote.get(&iri(BOB)).await.unwrap();
    s.server.serve_raw(BOB, 599, String::new()); // connection refused
    s.clock.advance(Duration::from_secs(3600 + 599));
    let stale = s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(stale.inbox().as_str(), "https://b.example/users/bob/inbox");
    s.clock.advance(Duration::from_secs(1));
    let err = s.remote.get(&iri(BOB)).await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Fetch(FetchError::Client(_))),
        "{err:?}"
    );
    assert_eq!(s.server.hits(BOB), 3);
}

#[tokio::test]
async fn gone_actor_is_dropped_and_not_served_stale() {
    let s = setup();
    s.server.person(BOB);
    s.remote.get(&iri(BOB)).await.unwrap();
    s.server.serve_raw(BOB, 410, String::new());
    s.clock.advance(Duration::from_secs(3600));
    let err = s.remote.get(&iri(BOB)).await.unwrap_err();
    assert!(
        matches!(err, RemoteError::Fetch(FetchError::Gone { .. })),
        "{err:?}"
    );
    assert!(s.store.is_empty());
}

#[tokio::test]
async fn cap_evicts_the_oldest_entry() {
    let s = setup_with(MemoryActorStore::new().with_max_entries(2));
    let ids = [
        "https://b.example/users/a",
        "https://b.example/users/b",
        "https://b.example/users/c",
    ];
    for id in ids {
        s.server.person(id);
        s.remote.get(&iri(id)).await.unwrap();
    }
    assert_eq!(s.store.len(), 2);
    assert!(s.store.get(&iri(ids[0])).await.unwrap().is_none());
    s.remote.get(&iri(ids[2])).await.unwrap();
    assert_eq!(s.server.hits(ids[2]), 1, "the newest stayed");
    s.remote.get(&iri(ids[0])).await.unwrap();
    assert_eq!(s.server.hits(ids[0]), 2, "the oldest was evicted");
}

#[tokio::test]
async fn byte_cap_evicts_too() {
    let a = "https://b.example/users/a";
    let b = "https://b.example/users/b";
    let size = {
        let s = setup();
        s.server.person(a);
        s.remote.get(&iri(a)).await.unwrap();
        s.store
            .get(&iri(a))
            .await
            .unwrap()
            .unwrap()
            .document()
            .len()
    };
    // Room for one document and a half: the second evicts the first.
    let s = setup_with(MemoryActorStore::new().with_max_total_bytes(size * 3 / 2));
    for id in [a, b] {
        s.server.person(id);
        s.remote.get(&iri(id)).await.unwrap();
    }
    assert_eq!(s.store.len(), 1);
    assert!(s.store.get(&iri(b)).await.unwrap().is_some());
}

async fn hostile(doc: serde_json::Value) -> RemoteError {
    let s = setup();
    s.server.serve(BOB, &doc);
    let err = s.remote.get(&iri(BOB)).await.unwrap_err();
    assert!(s.store.is_empty(), "nothing stored for {doc}");
    err
}

#[tokio::test]
async fn hostile_documents_are_typed_errors() {
    let base = |extra: serde_json::Value| {
        let mut d = json!({"id": BOB, "type": "Person", "inbox": format!("{BOB}/inbox")});
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    };
    let err = hostile(base(json!({"inbox": "javascript:alert(1)"}))).await;
    assert!(
        matches!(&err, RemoteError::Invalid { field: "inbox", value, .. } if value == "javascript:alert(1)"),
        "{err:?}"
    );
    let err = hostile(base(
        json!({"endpoints": {"sharedInbox": "file:///etc/passwd"}}),
    ))
    .await;
    assert!(
        matches!(
            &err,
            RemoteError::Invalid {
                field: "endpoints.sharedInbox",
                ..
            }
        ),
        "{err:?}"
    );
    let err = hostile(base(json!({"sharedInbox": "gopher://b.example/"}))).await;
    assert!(
        matches!(
            &err,
            RemoteError::Invalid {
                field: "endpoints.sharedInbox",
                ..
            }
        ),
        "{err:?}"
    );
    let err = hostile(json!({"id": BOB, "type": "Person"})).await;
    assert!(
        matches!(&err, RemoteError::Invalid { field: "inbox", value, .. } if value.is_empty()),
        "{err:?}"
    );
    let err = hostile(json!({"type": "Person", "inbox": format!("{BOB}/inbox")})).await;
    assert!(
        matches!(&err, RemoteError::Fetch(FetchError::MissingId { .. })),
        "{err:?}"
    );
    let err = hostile(base(json!({"id": "https://evil.example/users/bob"}))).await;
    assert!(
        matches!(&err, RemoteError::Fetch(FetchError::OriginMismatch { .. })),
        "{err:?}"
    );
    let err = hostile(base(json!({"summary": "x".repeat(70 * 1024)}))).await;
    assert!(
        matches!(&err, RemoteError::TooLarge { size, limit: 65_536, .. } if *size > 70 * 1024),
        "{err:?}"
    );
    let err = hostile(json!({"id": BOB, "type": "Note", "content": "hi"})).await;
    assert!(
        matches!(&err, RemoteError::NotAnActor { found, .. } if found == "Note"),
        "{err:?}"
    );
    let err = hostile(json!({"id": BOB, "type": "OrderedCollection", "totalItems": 3})).await;
    assert!(
        matches!(&err, RemoteError::NotAnActor { found, .. } if found == "OrderedCollection"),
        "{err:?}"
    );
}

#[tokio::test]
async fn non_http_ids_are_refused_before_any_request() {
    let s = setup();
    for bad in [
        "javascript:alert(1)",
        "acct:bob@b.example",
        "urn:uuid:1",
        "ftp://b.example/users/bob",
        "wss://b.example/users/bob",
    ] {
        let err = s.remote.get(&Iri::new_unchecked(bad)).await.unwrap_err();
        assert!(
            matches!(err, RemoteError::Invalid { field: "id", .. }),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(s.server.total(), 0);
}

#[tokio::test]
async fn concurrent_gets_share_one_fetch() {
    let s = setup();
    s.server.person(BOB);
    s.server.delay(Duration::from_millis(50));
    let id = iri(BOB);
    let (a, b, c) = tokio::join!(s.remote.get(&id), s.remote.get(&id), s.remote.get(&id));
    assert_eq!(a.unwrap().inbox(), b.unwrap().inbox());
    assert_eq!(c.unwrap().id().as_str(), BOB);
    assert_eq!(s.server.hits(BOB), 1);
    assert_eq!(s.remote.flights.len(), 0);
}

#[tokio::test]
async fn a_cancelled_fetch_releases_its_followers() {
    let s = setup();
    s.server.person(BOB);
    s.server.delay(Duration::from_millis(200));
    let id = iri(BOB);
    let leader = tokio::time::timeout(Duration::from_millis(20), s.remote.get(&id));
    let (cancelled, follower) = tokio::join!(leader, async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tokio::time::timeout(Duration::from_secs(5), s.remote.get(&id)).await
    });
    assert!(cancelled.is_err(), "the leader timed out");
    let err = follower.expect("released, not hung").unwrap_err();
    assert!(matches!(err, RemoteError::Unavailable { .. }), "{err:?}");
    assert_eq!(s.remote.flights.len(), 0);
}

#[tokio::test]
async fn invalidate_forgets_and_refresh_refetches() {
    let s = setup();
    s.server.person(BOB);
    let first = s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(s.remote.get(&iri(BOB)).await.unwrap(), first);
    assert_eq!(s.server.hits(BOB), 1, "the second get is a cache hit");
    assert!(s.remote.invalidate(&iri(BOB)).await.unwrap());
    assert!(
        !s.remote.invalidate(&iri(BOB)).await.unwrap(),
        "already gone"
    );
    s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(s.server.hits(BOB), 2);
    s.remote.refresh(&iri(BOB)).await.unwrap();
    assert_eq!(
        s.server.hits(BOB),
        3,
        "refresh fetches whatever the cache holds"
    );
}

#[tokio::test]
async fn fetch_cache_shares_the_store() {
    let s = setup();
    s.server.person(BOB);
    s.remote.get(&iri(BOB)).await.unwrap();
    let cache = s.remote.fetch_cache();
    let fetcher = Fetcher::new(s.server.clone()).cache(cache.clone());
    let key_url = Url::parse(&format!("{BOB}#main-key")).unwrap();
    let mut doc_url = key_url.clone();
    doc_url.set_fragment(None);
    let doc = fetcher.fetch_authoritative(&doc_url).await.unwrap();
    assert_eq!(doc["id"], BOB);
    assert_eq!(cache.get(&key_url).await.unwrap()["id"], BOB);
    assert_eq!(s.server.hits(BOB), 1, "served from the shared store");

    // A document not at its own id, or not an actor, is not kept.
    let carol = "https://b.example/users/carol";
    let stray = json!({"id": carol, "type": "Person", "inbox": format!("{carol}/inbox")});
    cache
        .put(&Url::parse("https://b.example/uploads/x").unwrap(), &stray)
        .await;
    let note = json!({"id": "https://b.example/notes/1", "type": "Note"});
    cache
        .put(&Url::parse("https://b.example/notes/1").unwrap(), &note)
        .await;
    assert_eq!(s.store.len(), 1);
    // An actor fetched by another fetcher lands in the store.
    s.server.person(carol);
    fetcher
        .fetch_authoritative(&Url::parse(carol).unwrap())
        .await
        .unwrap();
    s.remote.get(&iri(carol)).await.unwrap();
    assert_eq!(s.server.hits(carol), 1);
    // Stale documents are not served to the fetcher.
    s.clock.advance(Duration::from_secs(3600));
    assert!(cache.get(&doc_url).await.is_none());
}

#[cfg(feature = "ed25519")]
#[tokio::test]
async fn key_resolution_reads_the_shared_store() {
    use crate::signatures::{KeyResolver, PrivateKey};
    let s = setup();
    let pem = PrivateKey::generate_ed25519()
        .unwrap()
        .public_key()
        .to_spki_pem();
    let doc = json!({"id": BOB, "type": "Person", "inbox": format!("{BOB}/inbox"),
        "publicKey": {"id": format!("{BOB}#main-key"), "owner": BOB, "publicKeyPem": pem}});
    s.server.serve(BOB, &doc);
    s.remote.get(&iri(BOB)).await.unwrap();
    let resolver = crate::inbox::ActorKeyResolver::from_fetcher(
        Fetcher::new(s.server.clone()).cache(s.remote.fetch_cache()),
    );
    let key = resolver
        .resolve(&format!("{BOB}#main-key"), false)
        .await
        .unwrap();
    assert_eq!(key.owner, BOB);
    assert_eq!(s.server.hits(BOB), 1, "no second fetch for the key");
}

#[cfg(feature = "ed25519")]
#[tokio::test]
async fn a_rotated_key_is_refetched_past_the_shared_store() {
    use crate::signatures::{KeyResolver, PrivateKey};
    let s = setup();
    let person = |pem: String| {
        json!({"id": BOB, "type": "Person", "inbox": format!("{BOB}/inbox"),
            "publicKey": {"id": format!("{BOB}#main-key"), "owner": BOB, "publicKeyPem": pem}})
    };
    let old = PrivateKey::generate_ed25519().unwrap().public_key();
    let new = PrivateKey::generate_ed25519().unwrap().public_key();
    s.server.serve(BOB, &person(old.to_spki_pem()));
    s.remote.get(&iri(BOB)).await.unwrap();
    s.server.serve(BOB, &person(new.to_spki_pem()));
    let resolver = || {
        crate::inbox::ActorKeyResolver::from_fetcher(
            Fetcher::new(s.server.clone()).cache(s.remote.fetch_cache()),
        )
    };
    let kid = format!("{BOB}#main-key");
    let cached = resolver().resolve(&kid, false).await.unwrap();
    assert_eq!(cached.key, old, "the shared store answers first");
    // After a failed verification the verifier asks again with `refresh`:
    // the store must not hand back the rotated-out key.
    let refreshed = resolver().resolve(&kid, true).await.unwrap();
    assert_eq!(refreshed.key, new);
    assert_eq!(s.server.hits(BOB), 2);
    // The refetched document replaced the stored one.
    let actor = s.remote.get(&iri(BOB)).await.unwrap();
    assert_eq!(
        actor.keys()[0].material,
        KeyMaterial::Pem(new.to_spki_pem())
    );
    assert_eq!(s.server.hits(BOB), 2);
}

#[tokio::test]
async fn recipients_many_reads_the_cache_at_once_and_fetches_only_what_it_lacks() {
    let s = setup();
    let carol = "https://c.example/users/carol";
    let dave = "https://d.example/users/dave";
    let gone = "https://e.example/users/gone";
    for id in [BOB, carol, dave] {
        s.server.person(id);
    }
    // Bob cached long ago (stale), Carol just now (fresh), Dave never.
    s.remote.get(&iri(BOB)).await.unwrap();
    s.clock.advance(Duration::from_secs(3600));
    s.remote.get(&iri(carol)).await.unwrap();
    let ids: Vec<Iri> = [
        carol,
        BOB,
        "ftp://f.example/users/x",
        dave,
        gone,
        &format!("{carol}#main-key"),
    ]
    .iter()
    .map(|s| iri(s))
    .collect();
    let got = s.remote.recipients_many(&ids, 2).await;
    assert_eq!(got.len(), ids.len());
    let answered: Vec<Option<&str>> = got
        .iter()
        .map(|r| r.as_ref().ok().map(|a| a.id.as_str()))
        .collect();
    assert_eq!(
        answered,
        [Some(carol), Some(BOB), None, Some(dave), None, Some(carol)]
    );
    assert!(
        matches!(got[2], Err(RemoteError::Invalid { .. })),
        "{:?}",
        got[2]
    );
    assert!(got[4].is_err());
    // Carol came from the cache (twice, one fetch in all, the first get);
    // Bob was stale and Dave missing: fetched once each.
    assert_eq!(s.server.hits(carol), 1);
    assert_eq!(s.server.hits(BOB), 2);
    assert_eq!(s.server.hits(dave), 1);
    assert_eq!(got[1].as_ref().unwrap().fetched_at, s.clock.now());
    // Each answer is what `get` gives now, as a recipient.
    for (id, many) in ids.iter().zip(&got) {
        let one = s.remote.get(id).await;
        assert_eq!(
            many.as_ref().ok(),
            one.as_ref().ok().map(CachedRecipient::of).as_ref(),
            "{id}"
        );
        assert_eq!(
            many.as_ref().ok().and_then(CachedRecipient::recipient),
            one.as_ref().ok().and_then(RemoteActor::recipient),
            "{id}"
        );
        assert_eq!(many.is_err(), one.is_err(), "{id}");
    }
}

/// A store whose batch answers are shifted by one: each names the next
/// actor (a broken third-party store).
struct Shifted(MemoryActorStore);

#[async_trait::async_trait]
impl ActorStore for Shifted {
    async fn get(&self, id: &Iri) -> Result<Option<StoredActor>, RemoteError> {
        self.0.get(id).await
    }
    async fn put(&self, entry: StoredActor) -> Result<(), RemoteError> {
        self.0.put(entry).await
    }
    async fn remove(&self, id: &Iri) -> Result<bool, RemoteError> {
        self.0.remove(id).await
    }
    async fn recipients_many(
        &self,
        ids: &[Iri],
    ) -> Result<Vec<Option<CachedRecipient>>, RemoteError> {
        let mut answers = self.0.recipients_many(ids).await?;
        answers.rotate_left(1);
        Ok(answers)
    }
}

#[tokio::test]
async fn a_store_answering_for_other_actors_is_not_believed() {
    let server = Arc::new(FakeServer::new());
    let carol = "https://c.example/users/carol";
    for id in [BOB, carol] {
        server.person(id);
    }
    let remote = RemoteActors::new(
        Fetcher::new(server.clone()),
        Arc::new(Shifted(MemoryActorStore::new())),
    );
    remote.get(&iri(BOB)).await.unwrap();
    remote.get(&iri(carol)).await.unwrap();
    let got = remote.recipients_many(&[iri(BOB), iri(carol)], 4).await;
    let inboxes: Vec<&str> = got
        .iter()
        .map(|r| r.as_ref().unwrap().inbox.as_str())
        .collect();
    assert_eq!(
        inboxes,
        [
            "https://b.example/users/bob/inbox",
            "https://c.example/users/carol/inbox"
        ]
    );
}
