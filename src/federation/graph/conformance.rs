//! The same assertions against every [`Graph`] the crate ships, so the
//! durable graph answers exactly as the in-memory one does.

use super::*;

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn sent(n: u32, follower: &Iri, followee: &Iri) -> SentFollow {
    SentFollow {
        id: iri(&format!("https://a.example/follows/{n}")),
        follower: follower.clone(),
        followee: followee.clone(),
    }
}

/// Every method's answer on an empty graph with caps of at least 10.
pub(super) async fn conforms(g: &dyn Graph) {
    let alice = iri("https://a.example/users/alice");
    let dora = iri("https://a.example/users/dora");
    let bob = iri("https://b.example:8443/users/bob");
    let carl = iri("https://B.example/users/carl");
    let zed = iri("https://z.example/users/zed");

    // Followers: per local actor, listed in IRI order, idempotent adds.
    assert_eq!(g.followers(&alice).await.unwrap(), Vec::<Iri>::new());
    g.add_follower(&alice, &zed).await.unwrap();
    g.add_follower(&alice, &bob).await.unwrap();
    g.add_follower(&alice, &bob).await.unwrap();
    g.add_follower(&dora, &carl).await.unwrap();
    assert_eq!(
        g.followers(&alice).await.unwrap(),
        vec![bob.clone(), zed.clone()]
    );
    assert_eq!(g.followers(&dora).await.unwrap(), vec![carl.clone()]);
    assert!(g.is_follower(&alice, &bob).await.unwrap());
    assert!(!g.is_follower(&alice, &carl).await.unwrap());
    assert!(!g.is_follower(&dora, &bob).await.unwrap());

    // By server: host:port must match, the host without case.
    assert!(g.has_follower_on(&alice, "b.example:8443").await.unwrap());
    assert!(g.has_follower_on(&alice, "B.EXAMPLE:8443").await.unwrap());
    assert!(!g.has_follower_on(&alice, "b.example").await.unwrap());
    assert!(g.has_follower_on(&dora, "b.example").await.unwrap());
    assert!(!g.has_follower_on(&alice, "a.example").await.unwrap());
    // A second follower on bob's server keeps it known when one leaves.
    let bea = iri("https://b.example:8443/users/bea");
    g.add_follower(&alice, &bea).await.unwrap();
    assert!(g.remove_follower(&alice, &bea).await.unwrap());
    assert!(g.has_follower_on(&alice, "b.example:8443").await.unwrap());

    assert!(g.remove_follower(&alice, &bob).await.unwrap());
    assert!(!g.remove_follower(&alice, &bob).await.unwrap());
    assert!(!g.remove_follower(&dora, &zed).await.unwrap());
    assert_eq!(g.followers(&alice).await.unwrap(), vec![zed.clone()]);
    assert!(!g.has_follower_on(&alice, "b.example:8443").await.unwrap());

    // Following.
    assert_eq!(g.following(&alice).await.unwrap(), Vec::<Iri>::new());
    g.add_following(&alice, &zed).await.unwrap();
    g.add_following(&alice, &bob).await.unwrap();
    g.add_following(&alice, &zed).await.unwrap();
    assert_eq!(
        g.following(&alice).await.unwrap(),
        vec![bob.clone(), zed.clone()]
    );
    assert_eq!(g.following(&dora).await.unwrap(), Vec::<Iri>::new());
    assert!(g.remove_following(&alice, &zed).await.unwrap());
    assert!(!g.remove_following(&alice, &zed).await.unwrap());
    assert_eq!(g.following(&alice).await.unwrap(), vec![bob.clone()]);
    // Following is not followers.
    assert!(!g.is_follower(&alice, &bob).await.unwrap());

    // Sent Follows: by id, by pair (the greatest id of the pair), forgotten.
    let f1 = sent(1, &alice, &bob);
    let f2 = sent(2, &alice, &bob);
    let f3 = sent(3, &dora, &bob);
    for f in [&f1, &f2, &f3] {
        g.record_sent_follow(f.clone()).await.unwrap();
    }
    assert_eq!(g.sent_follow(&f1.id).await.unwrap(), Some(f1.clone()));
    assert_eq!(
        g.sent_follow(&iri("https://a.example/follows/9"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        g.sent_follow_between(&alice, &bob).await.unwrap(),
        Some(f2.clone())
    );
    assert_eq!(
        g.sent_follow_between(&dora, &bob).await.unwrap(),
        Some(f3.clone())
    );
    assert_eq!(g.sent_follow_between(&bob, &alice).await.unwrap(), None);
    assert!(g.forget_sent_follow(&f2.id).await.unwrap());
    assert!(!g.forget_sent_follow(&f2.id).await.unwrap());
    assert_eq!(
        g.sent_follow_between(&alice, &bob).await.unwrap(),
        Some(f1.clone())
    );
    // Recording an id again replaces its pair.
    let moved = sent(1, &alice, &zed);
    g.record_sent_follow(moved.clone()).await.unwrap();
    assert_eq!(g.sent_follow(&f1.id).await.unwrap(), Some(moved));
    assert_eq!(g.sent_follow_between(&alice, &bob).await.unwrap(), None);
}

/// Caps of 2: followers refused past the cap (an existing one may follow
/// again), and the oldest pending sent Follow forgotten first, even after
/// a newer one was recorded again.
pub(super) async fn caps_hold(g: &dyn Graph) {
    let alice = iri("https://a.example/users/alice");
    for n in 0..2 {
        g.add_follower(&alice, &iri(&format!("https://b.example/u/{n}")))
            .await
            .unwrap();
    }
    assert_eq!(
        g.add_follower(&alice, &iri("https://b.example/u/9")).await,
        Err(GraphError::Full {
            what: "followers",
            cap: 2
        })
    );
    g.add_follower(&alice, &iri("https://b.example/u/0"))
        .await
        .unwrap();
    assert_eq!(g.followers(&alice).await.unwrap().len(), 2);
    for n in 0..2 {
        g.add_following(&alice, &iri(&format!("https://b.example/u/{n}")))
            .await
            .unwrap();
    }
    assert_eq!(
        g.add_following(&alice, &iri("https://b.example/u/9")).await,
        Err(GraphError::Full {
            what: "following",
            cap: 2
        })
    );

    let bob = iri("https://b.example/u/0");
    for n in [5, 1] {
        g.record_sent_follow(sent(n, &alice, &bob)).await.unwrap();
    }
    // 5 is the oldest; recording it again keeps its place.
    g.record_sent_follow(sent(5, &alice, &bob)).await.unwrap();
    g.record_sent_follow(sent(3, &alice, &bob)).await.unwrap();
    let id = |n: u32| iri(&format!("https://a.example/follows/{n}"));
    assert_eq!(g.sent_follow(&id(5)).await.unwrap(), None);
    assert_eq!(
        g.sent_follow(&id(1)).await.unwrap(),
        Some(sent(1, &alice, &bob))
    );
    assert_eq!(
        g.sent_follow(&id(3)).await.unwrap(),
        Some(sent(3, &alice, &bob))
    );
}

/// Paged reads: followers in (lower-case authority, IRI) order, so one
/// server's followers are contiguous; a page resumes after its last item,
/// even one removed since; the following side and the counts agree.
pub(super) async fn pages_in_host_order(g: &dyn Graph) {
    let alice = iri("https://a.example/users/alice");
    let names = [
        "https://c.example/users/ann",
        "https://B.example/users/zoe",
        "https://b.example/users/amy",
        "https://b.example:8443/users/al",
        "https://a2.example/users/x",
        "https://c.example/users/bea",
    ];
    for n in names {
        g.add_follower(&alice, &iri(n)).await.unwrap();
        g.add_following(&alice, &iri(n)).await.unwrap();
    }
    let expected: Vec<Iri> = [
        "https://a2.example/users/x",
        // Same authority: by the IRI as written, upper case first.
        "https://B.example/users/zoe",
        "https://b.example/users/amy",
        "https://b.example:8443/users/al",
        "https://c.example/users/ann",
        "https://c.example/users/bea",
    ]
    .into_iter()
    .map(iri)
    .collect();
    assert_eq!(g.follower_count(&alice).await.unwrap(), 6);
    assert_eq!(g.following_count(&alice).await.unwrap(), 6);
    assert_eq!(g.followers_page(&alice, None, 100).await.unwrap(), expected);
    // Pages of two, each after the last of the one before.
    let mut walked = Vec::new();
    let mut after: Option<Iri> = None;
    // Bounded: a page that does not move past its cursor must fail here,
    // not loop.
    for _ in 0..=expected.len() {
        let page = g.followers_page(&alice, after.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().cloned();
        walked.extend(page);
    }
    assert_eq!(walked, expected);
    // The cursor's follower left: the next page starts after where it was.
    g.remove_follower(&alice, &expected[2]).await.unwrap();
    assert_eq!(
        g.followers_page(&alice, Some(&expected[2]), 2)
            .await
            .unwrap(),
        expected[3..5].to_vec()
    );
    assert_eq!(g.follower_count(&alice).await.unwrap(), 5);
    assert_eq!(
        g.following_page(&alice, Some(&expected[0]), 3)
            .await
            .unwrap(),
        expected[1..4].to_vec()
    );
    let nobody = iri("https://a.example/users/nobody");
    assert_eq!(
        g.followers_page(&nobody, None, 10).await.unwrap(),
        Vec::<Iri>::new()
    );
    assert_eq!(g.follower_count(&nobody).await.unwrap(), 0);
}

/// Per-server reads (followers synchronization): one server's followers
/// in IRI order, the authority without case, after a cursor; and which
/// local actors follow a remote one (skipped when `reverse` is false, for
/// a graph that cannot answer it).
pub(super) async fn per_host_reads(g: &dyn Graph, reverse: bool) {
    let alice = iri("https://a.example/users/alice");
    let dora = iri("https://a.example/users/dora");
    let on_b = [
        "https://b.example/users/zoe",
        "https://B.example/users/amy",
        "https://b.example/users/bob",
    ];
    for n in on_b.into_iter().chain([
        "https://b.example:8443/users/al",
        "https://c.example/users/b",
    ]) {
        g.add_follower(&alice, &iri(n)).await.unwrap();
    }
    g.add_follower(&dora, &iri("https://b.example/users/dan"))
        .await
        .unwrap();
    let b: Vec<Iri> = [
        "https://B.example/users/amy",
        "https://b.example/users/bob",
        "https://b.example/users/zoe",
    ]
    .into_iter()
    .map(iri)
    .collect();
    assert_eq!(
        g.followers_on_host(&alice, "B.example", None, 10)
            .await
            .unwrap(),
        b
    );
    assert_eq!(
        g.followers_on_host(&alice, "b.example", Some(&b[0]), 1)
            .await
            .unwrap(),
        b[1..2].to_vec()
    );
    assert_eq!(
        g.followers_on_host(&alice, "b.example", Some(&b[2]), 10)
            .await
            .unwrap(),
        Vec::<Iri>::new()
    );
    assert_eq!(
        g.followers_on_host(&alice, "b.example:8443", None, 10)
            .await
            .unwrap(),
        vec![iri("https://b.example:8443/users/al")]
    );
    assert_eq!(
        g.followers_on_host(&alice, "d.example", None, 10)
            .await
            .unwrap(),
        Vec::<Iri>::new()
    );
    if !reverse {
        return;
    }
    let zed = iri("https://z.example/users/zed");
    assert_eq!(
        g.local_followers_of(&zed, 10).await.unwrap(),
        Vec::<Iri>::new()
    );
    g.add_following(&dora, &zed).await.unwrap();
    g.add_following(&alice, &zed).await.unwrap();
    g.add_following(&alice, &iri("https://z.example/users/other"))
        .await
        .unwrap();
    assert_eq!(
        g.local_followers_of(&zed, 10).await.unwrap(),
        vec![alice.clone(), dora.clone()]
    );
    assert_eq!(
        g.local_followers_of(&zed, 1).await.unwrap(),
        vec![alice.clone()]
    );
    g.remove_following(&alice, &zed).await.unwrap();
    assert_eq!(g.local_followers_of(&zed, 10).await.unwrap(), vec![dora]);
}

/// A graph with only the required methods, to check the trait's default
/// paged reads answer as the indexed ones do.
struct Unindexed(MemoryGraph);

#[async_trait::async_trait]
impl Graph for Unindexed {
    async fn followers(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        self.0.followers(local).await
    }
    async fn is_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        self.0.is_follower(local, remote).await
    }
    async fn has_follower_on(&self, local: &Iri, authority: &str) -> Result<bool, GraphError> {
        self.0.has_follower_on(local, authority).await
    }
    async fn add_follower(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        self.0.add_follower(local, remote).await
    }
    async fn remove_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        self.0.remove_follower(local, remote).await
    }
    async fn record_sent_follow(&self, follow: SentFollow) -> Result<(), GraphError> {
        self.0.record_sent_follow(follow).await
    }
    async fn sent_follow(&self, id: &Iri) -> Result<Option<SentFollow>, GraphError> {
        self.0.sent_follow(id).await
    }
    async fn sent_follow_between(
        &self,
        follower: &Iri,
        followee: &Iri,
    ) -> Result<Option<SentFollow>, GraphError> {
        self.0.sent_follow_between(follower, followee).await
    }
    async fn forget_sent_follow(&self, id: &Iri) -> Result<bool, GraphError> {
        self.0.forget_sent_follow(id).await
    }
    async fn add_following(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        self.0.add_following(local, remote).await
    }
    async fn remove_following(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        self.0.remove_following(local, remote).await
    }
    async fn following(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        self.0.following(local).await
    }
}

#[tokio::test]
async fn memory_graph_pages_in_host_order() {
    pages_in_host_order(&MemoryGraph::with_cap(10)).await;
}

#[tokio::test]
async fn default_paged_reads_page_in_host_order() {
    pages_in_host_order(&Unindexed(MemoryGraph::with_cap(10))).await;
}

#[tokio::test]
async fn memory_graph_per_host_reads() {
    per_host_reads(&MemoryGraph::with_cap(20), true).await;
}

#[tokio::test]
async fn default_per_host_reads() {
    let g = Unindexed(MemoryGraph::with_cap(20));
    per_host_reads(&g, false).await;
    let zed = iri("https://z.example/users/zed");
    assert!(matches!(
        g.local_followers_of(&zed, 1).await,
        Err(GraphError::Store(_))
    ));
}

#[tokio::test]
async fn memory_graph_conforms() {
    conforms(&MemoryGraph::with_cap(10)).await;
}

#[tokio::test]
async fn memory_graph_caps_hold() {
    caps_hold(&MemoryGraph::with_cap(2)).await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    use crate::federation::testing::TempFile;

    fn temp(tag: &str) -> TempFile {
        TempFile::new(&format!("sqlite-graph-{tag}"), "graph.sqlite3")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_graph_conforms() {
        conforms(&SqliteGraph::open_in_memory().unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_graph_per_host_reads() {
        per_host_reads(&SqliteGraph::open_in_memory().unwrap(), true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_graph_pages_in_host_order() {
        pages_in_host_order(&SqliteGraph::open_in_memory().unwrap()).await;
    }

    /// A file written before paged reads (NULL authority) opens, and its
    /// old row is paged like a new one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_page_reads_rows_written_before_paging() {
        let file = temp("pre-paging");
        let alice = iri("https://a.example/users/alice");
        {
            let g = SqliteGraph::open(&file.0).unwrap();
            g.add_follower(&alice, &iri("https://b.example/users/bob"))
                .await
                .unwrap();
            g.conn
                .lock()
                .unwrap()
                .execute_batch(
                    "DROP INDEX archipel_followers_page;
                     DROP TABLE archipel_graph_counts;
                     INSERT INTO archipel_followers (local, remote, authority)
                     VALUES ('https://a.example/users/alice', 'urn:x:a', NULL),
                            ('https://a.example/users/alice', 'urn:x:b', NULL);",
                )
                .unwrap();
        }
        let g = SqliteGraph::open(&file.0).unwrap();
        // Counted once from the rows, then kept.
        assert_eq!(g.follower_count(&alice).await.unwrap(), 3);
        assert_eq!(
            g.followers_page(&alice, None, 10).await.unwrap(),
            vec![
                iri("urn:x:a"),
                iri("urn:x:b"),
                iri("https://b.example/users/bob")
            ]
        );
        // After an old row, the next old row is still there.
        assert_eq!(
            g.followers_page(&alice, Some(&iri("urn:x:a")), 10)
                .await
                .unwrap(),
            vec![iri("urn:x:b"), iri("https://b.example/users/bob")]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_graph_caps_hold() {
        let g = SqliteGraph::open_in_memory()
            .unwrap()
            .with_max_followers(2)
            .with_max_following(2)
            .with_max_sent_follows(2);
        caps_hold(&g).await;
    }

    /// The kept count follows removals: a place freed is taken again, and
    /// the cap still holds after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_cap_counts_removals() {
        let g = SqliteGraph::open_in_memory().unwrap().with_max_followers(2);
        let alice = iri("https://a.example/users/alice");
        let f = |n: u32| iri(&format!("https://b.example/u/{n}"));
        g.add_follower(&alice, &f(1)).await.unwrap();
        g.add_follower(&alice, &f(2)).await.unwrap();
        assert!(g.remove_follower(&alice, &f(1)).await.unwrap());
        assert!(!g.remove_follower(&alice, &f(1)).await.unwrap());
        g.add_follower(&alice, &f(3)).await.unwrap();
        assert_eq!(
            g.add_follower(&alice, &f(4)).await,
            Err(GraphError::Full {
                what: "followers",
                cap: 2
            })
        );
        assert_eq!(g.follower_count(&alice).await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_follower_cap_is_per_local_actor() {
        let g = SqliteGraph::open_in_memory().unwrap().with_max_followers(1);
        let bob = iri("https://b.example/users/bob");
        for local in ["alice", "dora"] {
            let local = iri(&format!("https://a.example/users/{local}"));
            g.add_follower(&local, &bob).await.unwrap();
        }
        assert_eq!(
            g.add_follower(
                &iri("https://a.example/users/alice"),
                &iri("https://c.example/users/carl")
            )
            .await,
            Err(GraphError::Full {
                what: "followers",
                cap: 1
            })
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_graph_survives_a_reopen() {
        let file = temp("reopen");
        let alice = iri("https://a.example/users/alice");
        let bob = iri("https://b.example/users/bob");
        let f = sent(1, &alice, &bob);
        {
            let g = SqliteGraph::open(&file.0).unwrap();
            assert_eq!(g.path(), Some(file.0.as_path()));
            g.add_follower(&alice, &bob).await.unwrap();
            g.add_following(&alice, &bob).await.unwrap();
            g.record_sent_follow(f.clone()).await.unwrap();
        }
        let g = SqliteGraph::open(&file.0).unwrap();
        assert_eq!(g.followers(&alice).await.unwrap(), vec![bob.clone()]);
        assert_eq!(g.following(&alice).await.unwrap(), vec![bob.clone()]);
        assert_eq!(g.sent_follow(&f.id).await.unwrap(), Some(f));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file.0).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o600);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_row_is_reported_with_its_value() {
        let g = SqliteGraph::open_in_memory().unwrap();
        let alice = iri("https://a.example/users/alice");
        g.add_follower(&alice, &iri("https://b.example/users/bob"))
            .await
            .unwrap();
        g.conn
            .lock()
            .unwrap()
            .execute("UPDATE archipel_followers SET remote = 'not an iri'", [])
            .unwrap();
        match g.followers(&alice).await {
            Err(GraphError::Store(m)) => assert!(m.contains("\"not an iri\""), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
