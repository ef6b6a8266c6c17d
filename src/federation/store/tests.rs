use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
#[cfg(feature = "sqlite")]
use super::{CappedStore, InboxLog};
use crate::federation::MemoryGraph;
use crate::federation::dispatch::OwnerLookup;
use crate::federation::keys::ActorKeys;
use crate::federation::outbox::Outbox;
use crate::federation::paths::Paths;
use crate::signatures::PrivateKey;
use crate::vocab::Audience;

const PEM: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/keys/rsa-2048-pkcs8.pem"
));

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn paths() -> Paths {
    Paths::new("https://a.example".parse().unwrap()).unwrap()
}

fn actor(name: &str) -> LocalActor {
    let keys = ActorKeys {
        rsa: PrivateKey::from_pem(PEM).unwrap(),
        ed25519: None,
    };
    LocalActor::person(&paths(), name, keys).unwrap()
}

const BOB: &str = "https://b.example/users/bob";
const BOBS_SERVER: &str = "https://b.example/actor";
const STRANGER: &str = "https://c.example/actor";
const DORA: &str = "https://d.example/users/dora";

/// A note of `author` numbered `n`, addressed as `how` says.
fn note(author: &LocalActor, n: usize, how: &str) -> AnyObject {
    let mut o = Object::new("Note").with_id(iri(&format!("https://a.example/objects/{n}")));
    o.attributed_to = Some(author.id().clone().into());
    o.content = Some(format!("{how} {n}"));
    let followers = author.followers().clone();
    match how {
        "public" => Audience::public(followers).apply(&mut o),
        "unlisted" => Audience::unlisted(followers).apply(&mut o),
        "followers" => Audience::followers_only(followers).apply(&mut o),
        _ => o.to = Some(iri(DORA).into()),
    }
    AnyObject::from(o)
}

fn ids(page: &Page) -> Vec<String> {
    page.items
        .iter()
        .filter_map(|r| r.id())
        .map(|i| {
            i.as_str()
                .trim_start_matches("https://a.example/objects/")
                .to_owned()
        })
        .collect()
}

/// The stores under test: the same answers from each.
fn stores() -> Vec<(&'static str, Arc<dyn PostStore>)> {
    let mut all: Vec<(&'static str, Arc<dyn PostStore>)> =
        vec![("memory", Arc::new(MemoryPosts::new()))];
    #[cfg(feature = "sqlite")]
    all.push(("sqlite", Arc::new(SqlitePosts::open_in_memory().unwrap())));
    all
}

/// alice's posts 0..8 cycle through the four visibilities (0 public, 1
/// unlisted, 2 followers, 3 direct, 4 public, ...); bob follows alice.
async fn posts_of_alice(store: Arc<dyn PostStore>) -> (Posts, LocalActor) {
    let alice = actor("alice");
    let graph = Arc::new(MemoryGraph::new());
    graph.add_follower(alice.id(), &iri(BOB)).await.unwrap();
    let posts = Posts::new(store, graph);
    for n in 0..8 {
        let how = ["public", "unlisted", "followers", "direct"][n % 4];
        posts.put(&alice, note(&alice, n, how), true).await.unwrap();
    }
    (posts, alice)
}

#[tokio::test]
async fn each_reader_sees_exactly_what_the_guard_allows() {
    for (name, store) in stores() {
        let (posts, alice) = posts_of_alice(store).await;
        let cases = [
            (
                Reader::Owner,
                vec!["7", "6", "5", "4", "3", "2", "1", "0"],
                8,
            ),
            (Reader::Anonymous, vec!["5", "4", "1", "0"], 4),
            (
                Reader::Signed {
                    owner: iri(STRANGER),
                },
                vec!["5", "4", "1", "0"],
                4,
            ),
            (
                Reader::Signed {
                    owner: iri(BOBS_SERVER),
                },
                vec!["6", "5", "4", "2", "1", "0"],
                6,
            ),
            // dora is named in the direct posts: she sees them on pages,
            // though the count leaves direct posts out.
            (
                Reader::Signed { owner: iri(DORA) },
                vec!["7", "5", "4", "3", "1", "0"],
                4,
            ),
        ];
        for (reader, expected, total) in cases {
            let page = posts.outbox_page(&alice, None, 20, &reader).await.unwrap();
            assert_eq!(ids(&page), expected, "{name} {reader:?}");
            assert_eq!(page.next, None, "{name} {reader:?}");
            assert_eq!(
                posts.outbox_total(&alice, &reader).await.unwrap(),
                total,
                "{name} {reader:?}"
            );
        }
    }
}

#[tokio::test]
async fn pages_follow_the_keyset_and_a_cursor_never_widens_what_a_reader_sees() {
    for (name, store) in stores() {
        let (posts, alice) = posts_of_alice(store).await;
        // The owner's pages of three, to the oldest post.
        let first = posts
            .outbox_page(&alice, None, 3, &Reader::Owner)
            .await
            .unwrap();
        assert_eq!(ids(&first), ["7", "6", "5"], "{name}");
        let next = first.next.clone().unwrap();
        assert_eq!(next.as_str(), "before-6", "{name}");
        let second = posts
            .outbox_page(&alice, Some(&next), 3, &Reader::Owner)
            .await
            .unwrap();
        assert_eq!(ids(&second), ["4", "3", "2"], "{name}");
        let third = posts
            .outbox_page(&alice, second.next.as_ref(), 3, &Reader::Owner)
            .await
            .unwrap();
        assert_eq!(ids(&third), ["1", "0"], "{name}");
        assert_eq!(third.next, None, "{name}");
        // The owner's cursor in an anonymous reader's hands: still only
        // the public posts.
        let anonymous = posts
            .outbox_page(&alice, Some(&next), 20, &Reader::Anonymous)
            .await
            .unwrap();
        assert_eq!(ids(&anonymous), ["4", "1", "0"], "{name}");
        // Another author's outbox at any cursor shows none of alice's posts.
        let carol = actor("carol");
        let theirs = posts
            .outbox_page(&carol, Some(&next), 20, &Reader::Owner)
            .await
            .unwrap();
        assert!(theirs.items.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_cursor_it_never_minted_is_a_bad_request_not_a_panic() {
    let (posts, alice) = posts_of_alice(Arc::new(MemoryPosts::new())).await;
    for bad in [
        "before-",
        "before-abc",
        "before--1",
        "before-99999999999999999999999",
        "after-1",
        "1",
    ] {
        let cursor = Cursor::new(bad).unwrap();
        for reader in [
            Reader::Owner,
            Reader::Anonymous,
            Reader::Signed { owner: iri(BOB) },
        ] {
            let got = posts.outbox_page(&alice, Some(&cursor), 20, &reader).await;
            match got {
                Err(CollectionError::UnknownCursor { cursor }) => assert_eq!(cursor, bad),
                other => panic!("{bad} {reader:?}: {other:?}"),
            }
        }
    }
    // A minted-looking cursor past the start gives an empty page.
    let zero = Cursor::new("before-0").unwrap();
    let page = posts
        .outbox_page(&alice, Some(&zero), 20, &Reader::Owner)
        .await
        .unwrap();
    assert_eq!(page, Page::new(Vec::new()));
}

/// A store that counts the rows its listings return.
struct Counting {
    inner: MemoryPosts,
    rows: AtomicUsize,
}

#[async_trait::async_trait]
impl PostStore for Counting {
    async fn put(&self, post: NewPost) -> Result<u64, StoreError> {
        self.inner.put(post).await
    }
    async fn get(&self, id: &Iri) -> Result<Option<StoredPost>, StoreError> {
        self.inner.get(id).await
    }
    async fn owner(&self, id: &Iri) -> Result<Option<Iri>, StoreError> {
        self.inner.owner(id).await
    }
    async fn delete(&self, id: &Iri) -> Result<usize, StoreError> {
        self.inner.delete(id).await
    }
    async fn list(&self, author: &Iri, query: ListQuery) -> Result<Vec<StoredPost>, StoreError> {
        let rows = self.inner.list(author, query).await?;
        self.rows.fetch_add(rows.len(), Ordering::SeqCst);
        Ok(rows)
    }
    async fn count(&self, author: Option<&Iri>) -> Result<Counts, StoreError> {
        self.inner.count(author).await
    }
}

#[tokio::test]
async fn a_signed_page_reads_a_bounded_number_of_hidden_rows() {
    let store = Arc::new(Counting {
        inner: MemoryPosts::new(),
        rows: AtomicUsize::new(0),
    });
    let alice = actor("alice");
    let posts = Posts::new(store.clone(), Arc::new(MemoryGraph::new()));
    // One public post, then 1,200 direct ones a stranger may not see.
    posts
        .put(&alice, note(&alice, 0, "public"), true)
        .await
        .unwrap();
    for n in 1..=1_200 {
        posts
            .put(&alice, note(&alice, n, "direct"), true)
            .await
            .unwrap();
    }
    let stranger = Reader::Signed {
        owner: iri(STRANGER),
    };
    let first = posts
        .outbox_page(&alice, None, 20, &stranger)
        .await
        .unwrap();
    assert!(first.items.is_empty());
    assert_eq!(store.rows.load(Ordering::SeqCst), 20 + MAX_OUTBOX_SCAN);
    // The page ends early, after the last row read, and the walk goes on
    // to the public post.
    let next = first.next.clone().unwrap();
    assert_eq!(
        next.as_str(),
        format!("before-{}", 1_201 - 20 - MAX_OUTBOX_SCAN + 1)
    );
    let mut cursor = Some(next);
    let mut shown = Vec::new();
    for _ in 0..5 {
        let page = posts
            .outbox_page(&alice, cursor.as_ref(), 20, &stranger)
            .await
            .unwrap();
        shown.extend(ids(&page));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(shown, ["0"]);
    assert_eq!(cursor, None);
    // An anonymous page reads only what it shows (the store filters).
    store.rows.store(0, Ordering::SeqCst);
    let page = posts
        .outbox_page(&alice, None, 20, &Reader::Anonymous)
        .await
        .unwrap();
    assert_eq!(ids(&page), ["0"]);
    assert_eq!(store.rows.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn record_keeps_the_served_forms_and_a_delete_leaves_tombstones() {
    for (name, store) in stores() {
        let alice = actor("alice");
        let posts = Posts::new(store.clone(), Arc::new(MemoryGraph::new()));
        let outbox = Outbox::new(paths());
        let created = outbox
            .prepare(
                &alice,
                br#"{"type": "Note", "content": "v1", "to": "https://www.w3.org/ns/activitystreams#Public",
                     "bcc": "https://c.example/users/carol"}"#,
            )
            .unwrap()
            .finish(None)
            .unwrap();
        posts.record(&alice, &created).await.unwrap();
        let create_id = created.activity().id.clone().unwrap();
        let note_id = created.object().and_then(|o| o.id()).cloned().unwrap();
        let stored = posts.get(&note_id).await.unwrap().unwrap();
        assert_eq!(&stored.author, alice.id());
        let text = serde_json::to_string(&stored.object).unwrap();
        assert!(!text.contains("carol"), "{name}: {text}");
        assert_eq!(
            posts.count().await.unwrap(),
            1,
            "{name}: only the activity is listed"
        );

        // An Update replaces the stored object; it inherits its addressing.
        let body = format!(
            r#"{{"type": "Update", "object": {{"id": "{note_id}", "type": "Note", "content": "v2"}}}}"#
        );
        let draft = outbox.prepare(&alice, body.as_bytes()).unwrap();
        let updated = draft.finish(Some(&stored.object)).unwrap();
        posts.record(&alice, &updated).await.unwrap();
        let stored = posts.get(&note_id).await.unwrap().unwrap();
        assert_eq!(
            stored.object.as_object().and_then(|o| o.content.as_deref()),
            Some("v2"),
            "{name}"
        );
        assert_eq!(
            store.get(&note_id).await.unwrap().unwrap().visibility,
            Visibility::Public
        );
        assert_eq!(posts.count().await.unwrap(), 2, "{name}");

        // A Delete tombstones the note and the activities that carried it.
        let body = format!(r#"{{"type": "Delete", "object": "{note_id}"}}"#);
        let deleted = outbox
            .prepare(&alice, body.as_bytes())
            .unwrap()
            .finish(Some(&stored.object))
            .unwrap();
        posts.record(&alice, &deleted).await.unwrap();
        assert_eq!(
            posts.get(&note_id).await.unwrap().map(|s| s.author),
            None,
            "{name}"
        );
        assert_eq!(
            posts.get(&create_id).await.unwrap().map(|s| s.author),
            None,
            "{name}"
        );
        assert_eq!(
            posts.owner(&note_id).await.unwrap().as_ref(),
            Some(alice.id()),
            "{name}"
        );
        let page = posts
            .outbox_page(&alice, None, 20, &Reader::Owner)
            .await
            .unwrap();
        let listed: Vec<&str> = page
            .items
            .iter()
            .filter_map(|r| r.as_object())
            .filter_map(|o| o.type_name())
            .collect();
        assert_eq!(listed, ["Delete"], "{name}: the Update carried it too");
        // The id is not reused.
        let again = store
            .put(NewPost::new(&alice, note(&alice, 9, "public"), true))
            .await;
        // Create, note, Update, Delete came first.
        assert_eq!(again, Ok(5), "{name}");
        let reuse = AnyObject::from(Object::new("Note").with_id(note_id.clone()));
        assert_eq!(
            store.put(NewPost::new(&alice, reuse, false)).await,
            Err(StoreError::Deleted {
                id: note_id.clone()
            }),
            "{name}"
        );
        let no_id = AnyObject::from(Object::new("Note"));
        assert_eq!(
            store.put(NewPost::new(&alice, no_id, false)).await,
            Err(StoreError::NoId {
                kind: "Note".into()
            }),
            "{name}"
        );
    }
}

/// The IRIs of an addressing property.
fn addressed(refs: &Option<crate::vocab::Refs>) -> Vec<String> {
    refs.iter()
        .flat_map(|r| r.iter())
        .filter_map(|r| r.id())
        .map(|i| i.as_str().to_owned())
        .collect()
}

/// A federation on `https://a.example` that reaches no network.
async fn federation() -> crate::federation::Federation {
    crate::federation::testing::offline(|b| b).await.0
}

#[tokio::test]
async fn an_update_is_completed_from_the_stored_post_and_a_delete_goes_where_it_went() {
    let fed = federation().await;
    let alice = fed.actor("alice").await.unwrap();
    let posts = Posts::new(Arc::new(MemoryPosts::new()), fed.graph().clone());
    let body = br#"{"type": "Note", "content": "v1", "summary": "cw",
                    "to": "https://a.example/users/alice/followers"}"#;
    let (posted, _) = posts.post(&fed, &alice, body).await.unwrap();
    let note = posted.object().and_then(|o| o.id()).cloned().unwrap();

    // The client names only what changes.
    let body = format!(
        r#"{{"type": "Update", "object": {{"id": "{note}", "type": "Note", "content": "v2"}}}}"#
    );
    let mut update = AnyObject::from_slice(body.as_bytes()).unwrap();
    posts.complete(&alice, &mut update).await.unwrap();
    let object = update
        .as_activity()
        .and_then(|a| a.embedded_object())
        .unwrap();
    let object = object.as_object().unwrap();
    assert_eq!(
        (object.content.as_deref(), object.summary.as_deref()),
        (Some("v2"), Some("cw"))
    );
    let followers = [alice.followers().as_str()];
    assert_eq!(addressed(&object.to), followers);
    let body = serde_json::to_vec(&update).unwrap();
    let (posted, _) = posts.post(&fed, &alice, &body).await.unwrap();
    assert_eq!(posted.visibility(), Visibility::FollowersOnly);
    let stored = posts.get(&note).await.unwrap().unwrap().object;
    let stored = stored.as_object().unwrap();
    assert_eq!(
        (stored.content.as_deref(), stored.summary.as_deref()),
        (Some("v2"), Some("cw"))
    );

    // A Delete without addressing goes to the note's audience.
    let body = format!(r#"{{"type": "Delete", "object": "{note}"}}"#);
    let mut delete = AnyObject::from_slice(body.as_bytes()).unwrap();
    posts.complete(&alice, &mut delete).await.unwrap();
    let to = delete.as_object().map(|o| addressed(&o.to));
    assert_eq!(to, Some(followers.map(str::to_owned).to_vec()));

    // Someone else's post is not completed, and not theirs to change.
    let bob = fed.actor("bob").await.unwrap();
    let body = format!(
        r#"{{"type": "Update", "object": {{"id": "{note}", "type": "Note", "content": "mine"}}}}"#
    );
    let mut foreign = AnyObject::from_slice(body.as_bytes()).unwrap();
    let before = foreign.clone();
    posts.complete(&bob, &mut foreign).await.unwrap();
    assert_eq!(foreign, before);
    let refused = posts.post(&fed, &bob, body.as_bytes()).await;
    assert!(
        matches!(
            refused,
            Err(crate::federation::FederationError::Outbox(
                crate::federation::outbox::OutboxError::NotOwner { .. }
            ))
        ),
        "{refused:?}"
    );
    let stored = posts.get(&note).await.unwrap().unwrap().object;
    assert_eq!(stored.as_object().unwrap().content.as_deref(), Some("v2"));
}

#[tokio::test]
async fn the_owner_lookup_answers_the_stored_author() {
    let (posts, alice) = posts_of_alice(Arc::new(MemoryPosts::new())).await;
    let lookup: &dyn OwnerLookup = &posts;
    let owner = lookup
        .owner(&iri("https://a.example/objects/3"))
        .await
        .unwrap();
    assert_eq!(owner.as_ref(), Some(alice.id()));
    let none = lookup
        .owner(&iri("https://a.example/objects/99"))
        .await
        .unwrap();
    assert_eq!(none, None);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_posts_survive_reopening_in_a_private_file() {
    let dir = std::env::temp_dir().join(format!("archipel-posts-{}", std::process::id()));
    let path = dir.join("posts.sqlite3");
    let alice = actor("alice");
    {
        let store = SqlitePosts::open(&path).unwrap();
        store
            .put(NewPost::new(&alice, note(&alice, 1, "followers"), true))
            .await
            .unwrap();
    }
    let store = SqlitePosts::open(&path).unwrap();
    let got = store
        .get(&iri("https://a.example/objects/1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.seq, got.visibility), (1, Visibility::FollowersOnly));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "sqlite")]
mod capped {
    use super::super::{Cap, CappedStore};

    fn keys(entries: Vec<super::super::Entry>) -> Vec<String> {
        entries.into_iter().map(|e| e.key).collect()
    }

    #[test]
    fn each_scope_keeps_its_newest_rows_and_rewrites_keep_their_place() {
        let db = CappedStore::open_in_memory().unwrap();
        let inbox = db.table("inbox", Cap::per_scope(3));
        for n in 0..10 {
            inbox.put("alice", &format!("a{n}"), None, "x").unwrap();
        }
        inbox.put("bob", "b0", None, "x").unwrap();
        assert_eq!(
            keys(inbox.newest("alice", None, 100).unwrap()),
            ["a9", "a8", "a7"]
        );
        assert_eq!(keys(inbox.oldest("bob", 100).unwrap()), ["b0"]);
        assert_eq!(inbox.len().unwrap(), 4);
        // Rewriting a kept key changes its value, not its place or the count.
        inbox.put("alice", "a7", None, "new").unwrap();
        let oldest = inbox.oldest("alice", 1).unwrap();
        assert_eq!(
            (oldest[0].key.as_str(), oldest[0].value.as_str()),
            ("a7", "new")
        );
        assert_eq!(inbox.len().unwrap(), 4);
        // Paging by seq.
        let first = inbox.newest("alice", None, 2).unwrap();
        let rest = inbox.newest("alice", Some(first[1].seq), 10).unwrap();
        assert_eq!(keys(rest), ["a7"]);
        assert!(inbox.remove("alice", "a8").unwrap());
        assert!(!inbox.remove("alice", "a8").unwrap());
        assert_eq!(inbox.len().unwrap(), 3);
        // Another table of the same database does not mix in.
        let other = db.table("other", Cap::total(1));
        assert_eq!(other.len().unwrap(), 0);
        assert_eq!(other.get("alice", "a9").unwrap(), None);
    }

    #[test]
    fn a_peer_choosing_scopes_cannot_grow_the_table_past_its_total() {
        let db = CappedStore::open_in_memory().unwrap();
        let reactions = db.table("reactions", Cap::total(5).with_per_scope(2));
        let owner = super::iri("https://b.example/users/mallory");
        for scope in 0..10 {
            for actor in 0..4 {
                reactions
                    .put(
                        &format!("Like {scope}"),
                        &format!("u{actor}"),
                        Some(&owner),
                        "",
                    )
                    .unwrap();
            }
        }
        assert_eq!(reactions.len().unwrap(), 5);
        // The newest survive: two of each of the last scopes.
        assert_eq!(keys(reactions.oldest("Like 9", 10).unwrap()), ["u2", "u3"]);
        assert_eq!(keys(reactions.oldest("Like 8", 10).unwrap()), ["u2", "u3"]);
        assert_eq!(keys(reactions.oldest("Like 7", 10).unwrap()), ["u3"]);
        assert!(reactions.oldest("Like 0", 10).unwrap().is_empty());
        let kept = reactions.get("Like 9", "u3").unwrap().unwrap();
        assert_eq!(kept.owner, Some(owner));
        // A scope that looks like the whole-table counter is just a scope.
        reactions.put("*", "x", None, "").unwrap();
        assert_eq!(reactions.len().unwrap(), 5);
        assert!(reactions.oldest("Like 7", 10).unwrap().is_empty());
        assert_eq!(keys(reactions.oldest("Like 8", 10).unwrap()), ["u2", "u3"]);
        assert_eq!(keys(reactions.oldest("*", 10).unwrap()), ["x"]);
    }

    #[test]
    fn counts_and_caps_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("archipel-capped-{}", std::process::id()));
        let path = dir.join("capped.sqlite3");
        {
            let db = CappedStore::open(&path).unwrap();
            let log = db.table("log", Cap::total(3));
            for n in 0..5 {
                log.put("", &n.to_string(), None, "v").unwrap();
            }
        }
        let db = CappedStore::open(&path).unwrap();
        let log = db.table("log", Cap::total(3));
        assert_eq!(log.len().unwrap(), 3);
        log.put("", "5", None, "v").unwrap();
        assert_eq!(keys(log.oldest("", 10).unwrap()), ["3", "4", "5"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_scope_is_listed_to_its_owner_only_in_keyset_pages() {
        use crate::federation::collection::{CollectionError, Cursor};
        use crate::federation::visibility::Reader;

        let db = CappedStore::open_in_memory().unwrap();
        let inbox = db.table("inbox", Cap::per_scope(10));
        for n in 0..5 {
            let note = format!(r#"{{"id": "https://b.example/notes/{n}", "type": "Note"}}"#);
            inbox.put("alice", &n.to_string(), None, &note).unwrap();
        }
        inbox
            .put(
                "bob",
                "x",
                None,
                r#"{"id": "https://b.example/notes/x", "type": "Note"}"#,
            )
            .unwrap();
        let source = inbox.owner_collection("alice");
        assert_eq!(source.total(&Reader::Owner).await.unwrap(), 5);
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        for _ in 0..5 {
            let page = source
                .page(cursor.as_ref(), 2, &Reader::Owner)
                .await
                .unwrap();
            seen.extend(
                page.items
                    .iter()
                    .filter_map(|r| r.id())
                    .map(|i| i.as_str().to_owned()),
            );
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        let expected: Vec<String> = (0..5)
            .rev()
            .map(|n| format!("https://b.example/notes/{n}"))
            .collect();
        assert_eq!(seen, expected);
        for reader in [
            Reader::Anonymous,
            Reader::Signed {
                owner: super::iri("https://b.example/users/bob"),
            },
        ] {
            assert_eq!(source.total(&reader).await.unwrap(), 0);
            assert!(
                source
                    .page(None, 20, &reader)
                    .await
                    .unwrap()
                    .items
                    .is_empty()
            );
        }
        let bad = Cursor::new("before-x").unwrap();
        assert!(matches!(
            source.page(Some(&bad), 20, &Reader::Owner).await,
            Err(CollectionError::UnknownCursor { .. })
        ));
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn the_inbox_log_files_a_direct_message_for_its_addressee_only_and_notes_its_key() {
    use crate::inbox::Incoming;
    use crate::signatures::{Algorithm, Spec, Verified};

    let fed = federation().await;
    for name in ["alice", "carol"] {
        let actor = fed.actor(name).await.unwrap();
        fed.register(actor);
    }
    let (alice, carol) = (fed.local("alice").unwrap(), fed.local("carol").unwrap());
    // alice follows bob, but bob's message is for carol alone.
    fed.graph()
        .add_following(alice.id(), &iri(BOB))
        .await
        .unwrap();
    let log = InboxLog::new(&CappedStore::open_in_memory().unwrap(), 10, 10);
    let dispatcher = fed.dispatcher().on_like({
        let (fed, log) = (fed.clone(), log.clone());
        move |cx, like| {
            let (fed, log) = (fed.clone(), log.clone());
            async move {
                let users = [fed.local("alice").unwrap(), fed.local("carol").unwrap()];
                log.record(&fed, &cx, &like, &users).await?;
                Ok(())
            }
        }
    });
    let body = serde_json::json!({"id": "https://b.example/likes/1", "type": "Like", "actor": BOB,
        "object": "https://a.example/objects/1", "to": [carol.id().as_str()]})
    .to_string();
    let incoming = Incoming {
        id: iri("https://b.example/likes/1"),
        kind: "Like".into(),
        actor: iri(BOB),
        verified: Verified {
            key_id: iri(&format!("{BOB}#main-key")),
            owner: iri(BOB),
            spec: Spec::Cavage,
            algorithm: Algorithm::RsaV1_5Sha256,
        },
        authenticity: crate::inbox::Authenticity::HttpSignature,
        forwarded_by: None,
        activity: AnyObject::from_slice(body.as_bytes()).unwrap(),
        body: bytes::Bytes::from(body),
    };
    dispatcher.dispatch(incoming).await.unwrap();
    let filed = |who: &LocalActor| {
        let list = log.newest(who.id(), 10).unwrap();
        list.iter().filter_map(|a| a.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(filed(&carol), [iri("https://b.example/likes/1")]);
    assert_eq!(filed(&alice), Vec::<Iri>::new());
    assert_eq!(
        log.verification("https://b.example/likes/1")
            .unwrap()
            .as_deref(),
        Some("cavage rsa-v1_5-sha256 https://b.example/users/bob#main-key")
    );
    assert_eq!(log.inbox_table().len().unwrap(), 1);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn received_objects_and_reactions_stay_within_their_caps_and_owners_chain() {
    use super::{Owners, Reactions, Received};
    use crate::federation::dispatch::OwnerLookup;

    let db = CappedStore::open_in_memory().unwrap();
    let received = Received::new(&db, 2);
    let bob = iri(BOB);
    let note = |n: u32, content: &str| {
        let id = iri(&format!("https://b.example/notes/{n}"));
        AnyObject::from(Object::new("Note").with_id(id).with_content(content))
    };
    for n in 0..5 {
        received.put(&bob, &note(n, "v1")).unwrap();
    }
    assert_eq!(received.table().len().unwrap(), 2);
    assert_eq!(
        received.get(&iri("https://b.example/notes/2")).unwrap(),
        None
    );
    // An Update replaces only what is kept.
    assert!(received.replace(&bob, &note(4, "v2")).unwrap());
    assert!(!received.replace(&bob, &note(9, "v2")).unwrap());
    let (owner, kept) = received
        .get(&iri("https://b.example/notes/4"))
        .unwrap()
        .unwrap();
    assert_eq!(owner, bob);
    assert_eq!(
        kept.as_object().and_then(|o| o.content.as_deref()),
        Some("v2")
    );
    assert_eq!(received.table().len().unwrap(), 2);

    // The received owner first, then alice's posts.
    let (posts, alice) = posts_of_alice(Arc::new(MemoryPosts::new())).await;
    let owners = Owners(vec![Arc::new(received.clone()), Arc::new(posts)]);
    let owner_of = |s: &str| {
        let id = iri(s);
        let owners = &owners;
        async move { owners.owner(&id).await }
    };
    assert_eq!(
        owner_of("https://b.example/notes/4").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        owner_of("https://a.example/objects/1")
            .await
            .unwrap()
            .as_ref(),
        Some(alice.id())
    );
    assert_eq!(owner_of("https://b.example/notes/9").await.unwrap(), None);
    assert!(received.remove(&iri("https://b.example/notes/4")).unwrap());
    assert_eq!(owner_of("https://b.example/notes/4").await.unwrap(), None);

    let reactions = Reactions::new(&db, 3);
    let post = iri("https://a.example/objects/1");
    for _ in 0..2 {
        reactions.add(Kind::Like, &post, &bob).unwrap();
    }
    reactions.add(Kind::Announce, &post, &bob).unwrap();
    assert_eq!(
        reactions.of(Kind::Like, &post).unwrap(),
        std::slice::from_ref(&bob)
    );
    assert!(reactions.remove(Kind::Announce, &post, &bob).unwrap());
    assert!(reactions.of(Kind::Announce, &post).unwrap().is_empty());
    for n in 0..10 {
        let other = iri(&format!("https://a.example/objects/x{n}"));
        reactions.add(Kind::Like, &other, &bob).unwrap();
    }
    assert_eq!(reactions.table().len().unwrap(), 3);
    assert!(reactions.of(Kind::Like, &post).unwrap().is_empty());
}
