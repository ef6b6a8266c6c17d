//! What a fan-out pays per follower to learn where to deliver: reading 256
//! cached actors from `SqliteActorStore` as whole entries (`get_many`,
//! each Mastodon-sized document decoded and validated) vs as recipients
//! (`recipients_many`, the inbox columns only), side by side in one run.
//!
//! `cargo bench --bench actor_store --features sqlite`

use std::time::{Duration, SystemTime};

use archipel::federation::remote::{ActorStore, SqliteActorStore, StoredActor};
use archipel::vocab::Iri;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const FOLLOWERS: usize = 256;
const PUBLIC_KEY: &str = include_str!("../tests/interop/keys/rsa-2048-spki.pem");

/// A Mastodon-shaped actor document (about 3 KB): keys, endpoints, profile
/// fields, icon and header, as a real follower's cached document is.
fn mastodon_actor(n: usize) -> String {
    let id = format!("https://h{}.example/users/u{n}", n % 50);
    serde_json::json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
             "toot": "http://joinmastodon.org/ns#",
             "featured": {"@id": "toot:featured", "@type": "@id"},
             "discoverable": "toot:discoverable",
             "PropertyValue": "schema:PropertyValue",
             "schema": "http://schema.org#", "value": "schema:value"}
        ],
        "id": id,
        "type": "Person",
        "following": format!("{id}/following"),
        "followers": format!("{id}/followers"),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "featured": format!("{id}/collections/featured"),
        "preferredUsername": format!("u{n}"),
        "name": format!("Follower number {n}"),
        "summary": "<p>Reads books, writes about them, posts photos of cats and of \
                    the sea. Opinions are my own and change often.</p>",
        "url": format!("https://h{}.example/@u{n}", n % 50),
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "published": "2022-11-06T00:00:00Z",
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": PUBLIC_KEY},
        "tag": [],
        "attachment": [
            {"type": "PropertyValue", "name": "Website",
             "value": "<a href=\"https://example.org\" rel=\"me nofollow noopener\">example.org</a>"},
            {"type": "PropertyValue", "name": "Pronouns", "value": "they/them"}
        ],
        "endpoints": {"sharedInbox": format!("https://h{}.example/inbox", n % 50)},
        "icon": {"type": "Image", "mediaType": "image/png",
                 "url": format!("https://files.h{}.example/avatars/{n}.png", n % 50)},
        "image": {"type": "Image", "mediaType": "image/jpeg",
                  "url": format!("https://files.h{}.example/headers/{n}.jpg", n % 50)}
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let store = SqliteActorStore::open_in_memory().unwrap();
    let mut ids = Vec::new();
    let mut bytes = 0;
    for n in 0..FOLLOWERS {
        let doc = mastodon_actor(n);
        bytes += doc.len();
        let entry = StoredActor::decode(&doc, SystemTime::now()).unwrap();
        ids.push(Iri::parse(entry.id().as_str()).unwrap());
        rt.block_on(store.put(entry)).unwrap();
    }
    eprintln!(
        "actor_store bench: {FOLLOWERS} actors, {} bytes of document each on average",
        bytes / FOLLOWERS
    );
    let mut group = c.benchmark_group("actor_store_followers");
    group.throughput(Throughput::Elements(FOLLOWERS as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("get_many (decode each document)", |b| {
        b.iter(|| {
            let got = rt.block_on(store.get_many(&ids)).unwrap();
            assert!(got.iter().all(Option::is_some));
            got
        })
    });
    group.bench_function("recipients_many (inbox columns)", |b| {
        b.iter(|| {
            let got = rt.block_on(store.recipients_many(&ids)).unwrap();
            assert!(got.iter().all(Option::is_some));
            got
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
