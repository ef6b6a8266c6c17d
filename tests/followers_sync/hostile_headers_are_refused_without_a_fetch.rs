//! Hostile `Collection-Synchronization` headers: refused with the reason
//! before anything is fetched. Over HTTP, a header on alice's verified
//! POST whose `url` points at another origin makes B fetch nothing there,
//! although B's digest differs; directly, each fault's typed error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use archipel::federation::followers_sync::{
    FollowersDigest, FollowersSyncError, HEADER_NAME, MAX_HEADER_LEN, SyncCheck, SyncHeader,
};
use archipel::vocab::Iri;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::fed_node::{self, eventually};

/// A listener that counts the connections made to it (any fetch would be
/// one) and answers none.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (base, hits)
}

fn headers(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(HEADER_NAME, HeaderValue::from_str(value).unwrap());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_url_on_a_verified_post_fetches_nothing() {
    let a = fed_node::start(&["alice"], false).await;
    let b = fed_node::start(&["bob"], false).await;
    let (alice, bob) = (a.user("alice"), b.user("bob"));
    b.fed.follow(&bob, alice.id()).await.unwrap();
    eventually("bob follows alice", || {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(b.fed.graph().following(bob.id()))
                .unwrap()
                .contains(alice.id())
        })
    })
    .await;
    let (elsewhere, hits) = counting_listener().await;

    // The digest of nobody: B (bob follows alice) would fetch, if it
    // believed the url.
    let value = SyncHeader {
        collection_id: alice.followers().clone(),
        url: Iri::parse(format!("{elsewhere}/users/alice/followers_synchronization")).unwrap(),
        digest: FollowersDigest::default(),
    }
    .to_header_value();
    let activity = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/activities/sync-probe", a.base),
        "type": "Create",
        "actor": alice.id().as_str(),
        "to": [alice.followers().as_str()],
        "object": {
            "id": format!("{}/objects/sync-probe", a.base),
            "type": "Note",
            "attributedTo": alice.id().as_str(),
            "content": "probe",
            "to": [alice.followers().as_str()],
        },
    });
    let inbox = format!("{}/inbox", b.base);
    let mut request = http::Request::post(&inbox)
        .header("content-type", "application/activity+json")
        .header(HEADER_NAME, value)
        .body(Bytes::from(activity.to_string()))
        .unwrap();
    alice.signer().sign(&mut request).unwrap();
    let (parts, body) = request.into_parts();
    let mut post = reqwest::Client::new().post(&inbox).body(body.to_vec());
    for (name, value) in &parts.headers {
        post = post.header(name.as_str(), value.as_bytes());
    }
    let answer = post.send().await.unwrap();
    // The activity itself is fine: only the header is refused.
    assert_eq!(answer.status().as_u16(), 202);
    eventually("B handled the probe", || {
        b.received_id(&format!("{}/objects/sync-probe", a.base))
            .len()
            == 1
    })
    .await;
    // A reconciliation runs off the request path: give one the time to
    // reach the network, bounded.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "B fetched the foreign url");
    assert_eq!(
        b.fed.graph().following(bob.id()).await.unwrap(),
        vec![alice.id().clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hostile_header_is_refused_with_its_reason() {
    let b = fed_node::start(&["bob"], false).await;
    let a_base = "http://127.0.0.1:9";
    let alice = Iri::parse(format!("{a_base}/users/alice")).unwrap();
    let good = |url: &str, collection: &str| {
        format!(
            "collectionId=\"{collection}\", digest=\"{}\", url=\"{url}\"",
            "0".repeat(64)
        )
    };
    let followers = format!("{a_base}/users/alice/followers");
    let partial = format!("{a_base}/users/alice/followers_synchronization");
    let check = |value: &str| b.fed.check_followers_sync(&alice, &headers(value));

    assert_eq!(
        b.fed.check_followers_sync(&alice, &HeaderMap::new()),
        Ok(SyncCheck::NoHeader)
    );
    let huge = good(
        &format!("{partial}?{}", "a".repeat(MAX_HEADER_LEN)),
        &followers,
    );
    assert!(matches!(
        check(&huge),
        Err(FollowersSyncError::HeaderTooLong {
            max: MAX_HEADER_LEN,
            ..
        })
    ));
    assert!(matches!(
        check("collectionId=\"unterminated"),
        Err(FollowersSyncError::HeaderSyntax {
            reason: "unterminated quoted value",
            ..
        })
    ));
    assert!(matches!(
        check(&good(&partial, &followers).replace(&"0".repeat(64), "zz")),
        Err(FollowersSyncError::BadDigest { .. })
    ));
    // Another origin: other host, other port, other scheme.
    for url in [
        "http://elsewhere.example/users/alice/followers_synchronization",
        "http://127.0.0.1:10/users/alice/followers_synchronization",
        "https://127.0.0.1:9/users/alice/followers_synchronization",
    ] {
        assert_eq!(
            check(&good(url, &followers)),
            Err(FollowersSyncError::CrossOrigin {
                name: "url",
                value: Iri::parse(url).unwrap(),
                sender: alice.clone(),
            })
        );
    }
    assert!(matches!(
        check(&good(
            &partial,
            "http://elsewhere.example/users/alice/followers"
        )),
        Err(FollowersSyncError::CrossOrigin {
            name: "collectionId",
            ..
        })
    ));
    // Sound: started (it fails later, off the request path, since no
    // server answers at port 9).
    assert_eq!(check(&good(&partial, &followers)), Ok(SyncCheck::Started));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_that_is_not_the_senders_followers_is_refused_before_fetching() {
    let a = fed_node::start(&["alice"], false).await;
    let b = fed_node::start(&["bob"], false).await;
    let alice = a.user("alice");
    // Same origin, but alice's following, not her followers.
    let header = SyncHeader {
        collection_id: alice.following().clone(),
        url: Iri::parse(format!("{}/users/alice/followers_synchronization", a.base)).unwrap(),
        digest: FollowersDigest::default(),
    };
    assert_eq!(
        b.fed.synchronize_followers(alice.id(), &header).await,
        Err(FollowersSyncError::NotOwnersCollection {
            collection: alice.following().clone(),
            sender: alice.id().clone(),
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_collection_paged_further_undoes_no_follow() {
    use crate::support::{Reply, TestServer};
    let b = fed_node::start(&["bob", "carol"], false).await;
    let (bob, carol) = (b.user("bob"), b.user("carol"));
    // mal's server pages its partial collection: carol on the first page,
    // bob on the next, which a reader of one page never sees.
    let mal_server = TestServer::start().await;
    let mal = Iri::parse(mal_server.url("/users/mal")).unwrap();
    let partial = format!("{mal}/followers_synchronization");
    mal_server.route(
        "/users/mal",
        Reply::ok(
            "application/activity+json",
            serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": mal, "type": "Person", "inbox": format!("{mal}/inbox"),
                "followers": format!("{mal}/followers")
            })
            .to_string(),
        ),
    );
    mal_server.route(
        "/users/mal/followers_synchronization",
        Reply::ok(
            "application/activity+json",
            serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": partial, "type": "OrderedCollection",
                "first": {
                    "type": "OrderedCollectionPage", "partOf": partial,
                    "orderedItems": [carol.id()],
                    "next": format!("{partial}?page=2")
                }
            })
            .to_string(),
        ),
    );
    for me in [&bob, &carol] {
        b.fed.graph().add_following(me.id(), &mal).await.unwrap();
    }
    let header = SyncHeader {
        collection_id: Iri::parse(format!("{mal}/followers")).unwrap(),
        url: Iri::parse(&partial).unwrap(),
        digest: FollowersDigest::default(),
    };
    let outcome = b.fed.synchronize_followers(&mal, &header).await;
    assert!(
        matches!(&outcome, Err(FollowersSyncError::Fetch { reason, .. }) if reason.contains("more than one page")),
        "{outcome:?}"
    );
    assert!(
        b.fed
            .graph()
            .following(bob.id())
            .await
            .unwrap()
            .contains(&mal),
        "bob's follow, on the page not read, is kept"
    );
}
