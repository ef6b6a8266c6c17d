//! The followers and following routes page straight from the graph: the
//! collection's `totalItems` is the graph's count, each page is one range
//! read of at most a page of rows (the whole list is never read), a walk
//! over `next` sees every follower once, long actor IRIs included, and a
//! cursor the server never minted is a `400`, never a panic or a `500`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use archipel::federation::graph::{Graph, GraphError, MemoryGraph, SentFollow};
use archipel::federation::{Federation, LocalActor};
use archipel::vocab::Iri;
use serde_json::Value;

/// A memory graph that counts reads of whole lists and the largest page
/// asked for.
#[derive(Default)]
struct Counting {
    inner: MemoryGraph,
    whole_lists: AtomicUsize,
    largest_page: AtomicUsize,
}

#[async_trait::async_trait]
impl Graph for Counting {
    async fn followers(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        self.whole_lists.fetch_add(1, Ordering::SeqCst);
        self.inner.followers(local).await
    }
    async fn is_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        self.inner.is_follower(local, remote).await
    }
    async fn has_follower_on(&self, local: &Iri, authority: &str) -> Result<bool, GraphError> {
        self.inner.has_follower_on(local, authority).await
    }
    async fn add_follower(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        self.inner.add_follower(local, remote).await
    }
    async fn remove_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        self.inner.remove_follower(local, remote).await
    }
    async fn record_sent_follow(&self, follow: SentFollow) -> Result<(), GraphError> {
        self.inner.record_sent_follow(follow).await
    }
    async fn sent_follow(&self, id: &Iri) -> Result<Option<SentFollow>, GraphError> {
        self.inner.sent_follow(id).await
    }
    async fn sent_follow_between(
        &self,
        follower: &Iri,
        followee: &Iri,
    ) -> Result<Option<SentFollow>, GraphError> {
        self.inner.sent_follow_between(follower, followee).await
    }
    async fn forget_sent_follow(&self, id: &Iri) -> Result<bool, GraphError> {
        self.inner.forget_sent_follow(id).await
    }
    async fn add_following(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        self.inner.add_following(local, remote).await
    }
    async fn remove_following(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        self.inner.remove_following(local, remote).await
    }
    async fn following(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        self.whole_lists.fetch_add(1, Ordering::SeqCst);
        self.inner.following(local).await
    }
    async fn followers_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        self.largest_page.fetch_max(limit, Ordering::SeqCst);
        self.inner.followers_page(local, after, limit).await
    }
    async fn following_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        self.largest_page.fetch_max(limit, Ordering::SeqCst);
        self.inner.following_page(local, after, limit).await
    }
    async fn follower_count(&self, local: &Iri) -> Result<u64, GraphError> {
        self.inner.follower_count(local).await
    }
    async fn following_count(&self, local: &Iri) -> Result<u64, GraphError> {
        self.inner.following_count(local).await
    }
}

struct Server {
    fed: Federation,
    graph: Arc<Counting>,
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn alice(&self) -> LocalActor {
        self.fed.local("alice").unwrap()
    }
}

/// A server with alice, on a counting memory graph.
async fn serve() -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let graph = Arc::new(Counting::default());
    let fed = Federation::builder(base.parse().unwrap())
        .with_graph(graph.clone())
        .build()
        .await
        .unwrap();
    fed.actor("alice").await.unwrap();
    let router = fed.router(fed.dispatcher());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Server {
        fed,
        graph,
        base,
        task,
    }
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("accept", "application/activity+json")
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Follows `first` and every `next` (at most 200 pages): the items seen,
/// in order, and the pages' sizes.
async fn walk(first: &str, collection: &str) -> (Vec<String>, Vec<usize>) {
    let (mut items, mut sizes) = (Vec::new(), Vec::new());
    let mut url = first.to_owned();
    for _ in 0..200 {
        let (status, page) = get(&url).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(page["type"], "OrderedCollectionPage");
        assert_eq!(page["id"], url.as_str());
        assert_eq!(page["partOf"], collection);
        assert!(page.get("prev").is_none() && page.get("last").is_none());
        let shown = page["orderedItems"].as_array().expect("an items array");
        sizes.push(shown.len());
        items.extend(shown.iter().map(|i| i.as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => {
                let cursor = next.split_once("?cursor=").expect("a cursor").1;
                assert!(
                    (1..=128).contains(&cursor.len())
                        && cursor
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)),
                    "{cursor}"
                );
                url = next.to_owned();
            }
            None => return (items, sizes),
        }
    }
    panic!("more than 200 pages from {first}");
}

/// `n` followers on `hosts` servers, a few with IRIs longer than a cursor
/// can carry whole.
fn people(n: usize, hosts: usize) -> Vec<Iri> {
    (0..n)
        .map(|i| {
            let host = format!("h{}.example", i % hosts);
            if i % 7 == 0 {
                let long = "x".repeat(90 + i % 40);
                Iri::parse(format!("https://{host}/users/{long}{i}")).unwrap()
            } else {
                Iri::parse(format!("https://{host}/users/u{i}")).unwrap()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_are_paged_from_the_graph_and_each_seen_once() {
    let server = serve().await;
    let alice = server.alice();
    let followers = people(250, 13);
    for f in &followers {
        server
            .fed
            .graph()
            .add_follower(alice.id(), f)
            .await
            .unwrap();
    }
    let collection = alice.followers().as_str();
    let (status, doc) = get(collection).await;
    assert_eq!(status, 200);
    assert_eq!(doc["type"], "OrderedCollection");
    assert_eq!(doc["totalItems"], 250);
    assert_eq!(doc["first"], format!("{collection}?page=true"));
    assert!(doc.get("orderedItems").is_none(), "no items inline");

    let (items, sizes) = walk(doc["first"].as_str().unwrap(), collection).await;
    assert_eq!(sizes.len(), 13, "{sizes:?}");
    assert!(sizes.iter().all(|n| *n <= 20), "{sizes:?}");
    let mut expected: Vec<String> = followers.iter().map(|f| f.as_str().to_owned()).collect();
    let mut seen = items.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "every follower exactly once");
    // By server, then IRI: a server's followers come together.
    let hosts: Vec<&str> = items.iter().map(|i| i.split('/').nth(2).unwrap()).collect();
    let mut runs = hosts.clone();
    runs.dedup();
    assert_eq!(runs.len(), 13, "one run per server");

    // No request read a whole list; no read asked for more than 100 rows
    // (a page and the row that says whether another follows, or a step of
    // the search for where a long IRI's page ended).
    assert_eq!(server.graph.whole_lists.load(Ordering::SeqCst), 0);
    let largest = server.graph.largest_page.load(Ordering::SeqCst);
    assert!((21..=100).contains(&largest), "{largest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_is_paged_alike_and_keeps_its_place_when_one_is_removed() {
    let server = serve().await;
    let alice = server.alice();
    let followed = people(45, 4);
    for f in &followed {
        server
            .fed
            .graph()
            .add_following(alice.id(), f)
            .await
            .unwrap();
    }
    let collection = alice.following().as_str();
    let (_, doc) = get(collection).await;
    assert_eq!(doc["totalItems"], 45);
    let (_, first) = get(&format!("{collection}?page=true")).await;
    let shown: Vec<String> = first["orderedItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown.len(), 20);
    // The last one shown is unfollowed: the next page still starts after
    // it, with nothing repeated or skipped.
    let last = Iri::parse(shown.last().unwrap().as_str()).unwrap();
    assert!(
        server
            .fed
            .graph()
            .remove_following(alice.id(), &last)
            .await
            .unwrap()
    );
    let (rest, _) = walk(first["next"].as_str().unwrap(), collection).await;
    assert_eq!(rest.len(), 25);
    assert!(rest.iter().all(|i| !shown.contains(i)), "a repeat");
    assert_eq!(get(collection).await.1["totalItems"], 44);
    assert_eq!(server.graph.whole_lists.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_long_iris_sharing_their_start_is_paged_through() {
    let server = serve().await;
    let alice = server.alice();
    // Thirty followers of one server whose IRIs share their first 100
    // bytes, then one on a server sorted after it.
    let stem = format!("https://long.example/users/{}", "y".repeat(80));
    let mut followers: Vec<Iri> = (0..30)
        .map(|i| Iri::parse(format!("{stem}{i:03}")).unwrap())
        .collect();
    followers.push(Iri::parse("https://z.example/users/zed").unwrap());
    for f in &followers {
        server
            .fed
            .graph()
            .add_follower(alice.id(), f)
            .await
            .unwrap();
    }
    let collection = alice.followers().as_str();
    let (items, sizes) = walk(&format!("{collection}?page=true"), collection).await;
    assert_eq!(sizes, [20, 11]);
    let mut seen = items.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 31, "each once");
    assert_eq!(items.last().unwrap(), "https://z.example/users/zed");

    // The last one of the first page unfollows between two requests: its
    // cursor finds it gone, so the run is shown again from its start (a
    // repeat, never a skip) and the walk still ends.
    let (_, first) = get(&format!("{collection}?page=true")).await;
    let last = first["orderedItems"][19].as_str().unwrap().to_owned();
    assert_eq!(last, format!("{stem}019"));
    let gone = Iri::parse(last.as_str()).unwrap();
    assert!(
        server
            .fed
            .graph()
            .remove_follower(alice.id(), &gone)
            .await
            .unwrap()
    );
    let (rest, _) = walk(first["next"].as_str().unwrap(), collection).await;
    assert_eq!(rest.first().unwrap(), &format!("{stem}000"));
    let unshown: Vec<String> = (20..30)
        .map(|i| format!("{stem}{i:03}"))
        .chain(["https://z.example/users/zed".to_owned()])
        .collect();
    assert!(unshown.iter().all(|i| rest.contains(i)), "a skip: {rest:?}");
    assert!(!rest.contains(&last));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_the_server_never_minted_is_400() {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let server = serve().await;
    let alice = server.alice();
    for f in people(30, 3) {
        server
            .fed
            .graph()
            .add_follower(alice.id(), &f)
            .await
            .unwrap();
    }
    let collection = alice.followers().as_str();
    let too_long = "a".repeat(129);
    let not_utf8 = format!("a{}", b64(&[0xff, 0xfe, 0xfd]));
    let short_digest = format!("h{}.{}", b64(b"https://h1.example/users/"), b64(b"xy"));
    let no_digest = format!("h{}", b64(b"https://h1.example/"));
    let overlong_prefix = format!("h{}.{}", b64(&[b'p'; 81]), b64(&[0; 9]));
    for cursor in [
        "",
        "%20",
        "a%2Fb",
        too_long.as_str(),
        "a",
        "x123",
        "after-0000000000000000",
        not_utf8.as_str(),
        short_digest.as_str(),
        no_digest.as_str(),
        overlong_prefix.as_str(),
        "h.AAAAAAAAAAAA",
    ] {
        let url = format!("{}/users/alice/followers?cursor={cursor}", server.base);
        let response = reqwest::Client::new()
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "cursor {cursor:?}");
    }
    // A well-formed position that was never a follower is a position all
    // the same: the followers after it.
    let after = format!("a{}", b64(b"https://h1.example/"));
    let (status, page) = get(&format!("{collection}?cursor={after}")).await;
    assert_eq!(status, 200);
    let first = page["orderedItems"][0].as_str().unwrap();
    assert!(first.starts_with("https://h1.example/"), "{first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_longer_than_the_search_bound_is_cut_short_never_looped() {
    let server = serve().await;
    let alice = server.alice();
    // One server minting 1,100 long IRIs sharing their first 100 bytes:
    // past the 1,000 rows a request may search, the walk goes on after
    // the run instead of coming back to it.
    let stem = format!("https://long.example/users/{}", "y".repeat(80));
    for i in 0..1_100 {
        let f = Iri::parse(format!("{stem}{i:04}")).unwrap();
        server
            .fed
            .graph()
            .add_follower(alice.id(), &f)
            .await
            .unwrap();
    }
    let zed = Iri::parse("https://z.example/users/zed").unwrap();
    server
        .fed
        .graph()
        .add_follower(alice.id(), &zed)
        .await
        .unwrap();
    let collection = alice.followers().as_str();
    let (items, _) = walk(&format!("{collection}?page=true"), collection).await;
    let mut seen = items.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), items.len(), "no item twice");
    assert!(items.len() > 1_000, "{}", items.len());
    assert_eq!(items.last().unwrap(), zed.as_str());
}
