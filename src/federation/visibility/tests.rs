use super::*;
use crate::federation::graph::MemoryGraph;
use crate::federation::keys::ActorKeys;
use crate::federation::paths::Paths;
use crate::signatures::PrivateKey;
use crate::vocab::{Audience, OneOrMany, Reference};

const PEM: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/keys/rsa-2048-pkcs8.pem"
));

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn alice() -> LocalActor {
    let paths = Paths::new("https://a.example".parse().unwrap()).unwrap();
    let keys = ActorKeys {
        rsa: PrivateKey::from_pem(PEM).unwrap(),
        ed25519: None,
    };
    LocalActor::person(&paths, "alice", keys).unwrap()
}

const FOLLOWER: &str = "https://b.example/users/bob";
const FOLLOWERS_SERVER: &str = "https://b.example/actor";
const OTHER_SERVER: &str = "https://c.example/actor";
const MENTIONED: &str = "https://d.example/users/dora";

async fn guard(alice: &LocalActor) -> ReadGuard {
    let graph = Arc::new(MemoryGraph::new());
    graph
        .add_follower(alice.id(), &iri(FOLLOWER))
        .await
        .unwrap();
    ReadGuard::new(graph)
}

fn signed(s: &str) -> Reader {
    Reader::Signed { owner: iri(s) }
}

/// A note with `vis`, and `MENTIONED` in `cc` (as a mention would be).
fn note(alice: &LocalActor, vis: Visibility) -> Object {
    let f = alice.followers().clone();
    let aud = match vis {
        Visibility::Public => Audience::public(f),
        Visibility::Unlisted => Audience::unlisted(f),
        Visibility::FollowersOnly => Audience::followers_only(f),
        _ => Audience::direct(vec![]),
    };
    let mut o = Object::new("Note");
    aud.with_cc([iri(MENTIONED)]).apply(&mut o);
    o
}

#[tokio::test]
async fn visibility_by_reader_table() {
    use Access::{Allow, NotFound};
    let alice = alice();
    let guard = guard(&alice).await;
    let readers = [
        ("anonymous", Reader::Anonymous),
        ("follower", signed(FOLLOWER)),
        ("follower's server", signed(FOLLOWERS_SERVER)),
        ("other server", signed(OTHER_SERVER)),
        ("mentioned", signed(MENTIONED)),
        (
            "author's key",
            Reader::Signed {
                owner: alice.id().clone(),
            },
        ),
        ("owner", Reader::Owner),
    ];
    let table = [
        (
            Visibility::Public,
            [Allow, Allow, Allow, Allow, Allow, Allow, Allow],
        ),
        (
            Visibility::Unlisted,
            [Allow, Allow, Allow, Allow, Allow, Allow, Allow],
        ),
        (
            Visibility::FollowersOnly,
            [NotFound, Allow, Allow, NotFound, Allow, Allow, Allow],
        ),
        (
            Visibility::Direct,
            [NotFound, NotFound, NotFound, NotFound, Allow, Allow, Allow],
        ),
    ];
    for (vis, expected) in table {
        let o = note(&alice, vis);
        assert_eq!(read_visibility(&o, &alice), vis);
        for ((name, reader), want) in readers.iter().zip(expected) {
            let got = guard.check(&alice, &o, reader).await.unwrap();
            assert_eq!(got, want, "{vis:?} read by {name}");
        }
    }
}

#[tokio::test]
async fn public_spellings_and_missing_addressing() {
    let alice = alice();
    let guard = guard(&alice).await;
    for spelling in [
        "as:Public",
        "Public",
        "https://www.w3.org/ns/activitystreams#Public",
    ] {
        let mut o = Object::new("Note");
        o.to = Some(OneOrMany::One(Reference::Iri(Iri::new_unchecked(spelling))));
        assert_eq!(
            read_visibility(&o, &alice),
            Visibility::Public,
            "{spelling}"
        );
        let got = guard.check(&alice, &o, &Reader::Anonymous).await.unwrap();
        assert_eq!(got, Access::Allow, "{spelling}");
    }
    // No addressing at all: private by default, even to a follower.
    let bare = Object::new("Note");
    assert_eq!(read_visibility(&bare, &alice), Visibility::Direct);
    for reader in [
        Reader::Anonymous,
        signed(FOLLOWER),
        signed(FOLLOWERS_SERVER),
    ] {
        let got = guard.check(&alice, &bare, &reader).await.unwrap();
        assert_eq!(got, Access::NotFound, "{reader:?}");
    }
    assert_eq!(
        guard.check(&alice, &bare, &Reader::Owner).await.unwrap(),
        Access::Allow
    );
}

#[tokio::test]
async fn hidden_recipients_and_followers_in_bcc() {
    let alice = alice();
    let guard = guard(&alice).await;
    // A bcc'd reader may read a direct object; a near-miss IRI may not.
    let mut o = Object::new("Note");
    o.bcc = Some(OneOrMany::One(Reference::Iri(iri(MENTIONED))));
    assert_eq!(
        guard.check(&alice, &o, &signed(MENTIONED)).await.unwrap(),
        Access::Allow
    );
    let near = "https://d.example/users/dora/";
    assert_eq!(
        guard.check(&alice, &o, &signed(near)).await.unwrap(),
        Access::NotFound
    );
    // Followers named only in bto make it followers-only.
    let mut o = Object::new("Note");
    o.bto = Some(OneOrMany::One(Reference::Iri(alice.followers().clone())));
    assert_eq!(read_visibility(&o, &alice), Visibility::FollowersOnly);
    assert_eq!(
        guard.check(&alice, &o, &signed(FOLLOWER)).await.unwrap(),
        Access::Allow
    );
    // Another actor's followers collection is not the author's.
    let mut o = Object::new("Note");
    o.to = Some(OneOrMany::One(Reference::Iri(iri(
        "https://b.example/users/bob/followers",
    ))));
    assert_eq!(read_visibility(&o, &alice), Visibility::Direct);
    assert_eq!(
        guard.check(&alice, &o, &signed(FOLLOWER)).await.unwrap(),
        Access::NotFound
    );
}

#[tokio::test]
async fn filter_keeps_what_each_reader_may_see() {
    let alice = alice();
    let guard = guard(&alice).await;
    let items: Vec<AnyObject> = [
        Visibility::Public,
        Visibility::FollowersOnly,
        Visibility::Direct,
        Visibility::Unlisted,
    ]
    .into_iter()
    .map(|v| {
        let mut o = note(&alice, v);
        o.content = Some(format!("{v:?}"));
        AnyObject::from(o)
    })
    .collect();
    let shown = |v: Vec<AnyObject>| -> Vec<String> {
        v.iter()
            .filter_map(|i| i.as_object()?.content.clone())
            .collect()
    };
    let cases = [
        (Reader::Anonymous, vec!["Public", "Unlisted"]),
        (signed(OTHER_SERVER), vec!["Public", "Unlisted"]),
        (
            signed(FOLLOWERS_SERVER),
            vec!["Public", "FollowersOnly", "Unlisted"],
        ),
        (
            signed(MENTIONED),
            vec!["Public", "FollowersOnly", "Direct", "Unlisted"],
        ),
        (
            Reader::Owner,
            vec!["Public", "FollowersOnly", "Direct", "Unlisted"],
        ),
    ];
    for (reader, want) in cases {
        let got = guard.filter(&alice, items.clone(), &reader).await.unwrap();
        assert_eq!(shown(got), want, "{reader:?}");
    }
}

/// A graph that answers the two follower questions with `answer` (`None`:
/// its store is down) and counts them; every other method fails.
#[derive(Default)]
struct Fake {
    calls: std::sync::atomic::AtomicUsize,
    answer: Option<bool>,
}

impl Fake {
    fn ask(&self) -> Result<bool, GraphError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.answer.ok_or_else(|| GraphError::Store("down".into()))
    }
    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Graph for Fake {
    async fn followers(&self, _: &Iri) -> Result<Vec<Iri>, GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn is_follower(&self, _: &Iri, _: &Iri) -> Result<bool, GraphError> {
        self.ask()
    }
    async fn has_follower_on(&self, _: &Iri, _: &str) -> Result<bool, GraphError> {
        self.ask()
    }
    async fn add_follower(&self, _: &Iri, _: &Iri) -> Result<(), GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn remove_follower(&self, _: &Iri, _: &Iri) -> Result<bool, GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn record_sent_follow(&self, _: crate::federation::SentFollow) -> Result<(), GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn sent_follow(
        &self,
        _: &Iri,
    ) -> Result<Option<crate::federation::SentFollow>, GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn sent_follow_between(
        &self,
        _: &Iri,
        _: &Iri,
    ) -> Result<Option<crate::federation::SentFollow>, GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn forget_sent_follow(&self, _: &Iri) -> Result<bool, GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn add_following(&self, _: &Iri, _: &Iri) -> Result<(), GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn remove_following(&self, _: &Iri, _: &Iri) -> Result<bool, GraphError> {
        Err(GraphError::Store("down".into()))
    }
    async fn following(&self, _: &Iri) -> Result<Vec<Iri>, GraphError> {
        Err(GraphError::Store("down".into()))
    }
}

#[tokio::test]
async fn graph_failure_is_an_error_not_an_answer() {
    let alice = alice();
    let guard = ReadGuard::new(Arc::new(Fake::default()));
    let fo = note(&alice, Visibility::FollowersOnly);
    let err = guard
        .check(&alice, &fo, &signed(OTHER_SERVER))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        VisibilityError::Graph {
            reader: iri(OTHER_SERVER),
            source: GraphError::Store("down".into()),
        }
    );
    // Public objects and named readers need no graph.
    let public = note(&alice, Visibility::Public);
    assert_eq!(
        guard.check(&alice, &public, &signed(OTHER_SERVER)).await,
        Ok(Access::Allow)
    );
    assert_eq!(
        guard.check(&alice, &fo, &signed(MENTIONED)).await,
        Ok(Access::Allow)
    );
}

#[test]
fn reader_from_a_verified_signature() {
    let verified = Verified {
        key_id: iri("https://b.example/actor#main-key"),
        owner: iri(FOLLOWERS_SERVER),
        spec: crate::signatures::Spec::Cavage,
        algorithm: crate::signatures::Algorithm::RsaV1_5Sha256,
    };
    assert_eq!(Reader::from(&verified), signed(FOLLOWERS_SERVER));
    assert_eq!(Reader::from(Some(&verified)), signed(FOLLOWERS_SERVER));
    assert_eq!(Reader::from(None), Reader::Anonymous);
}

#[tokio::test]
async fn a_listing_asks_the_graph_once_and_only_when_needed() {
    let alice = alice();
    // Not a follower itself, but its server has one: two questions.
    let fake = Arc::new(Fake {
        answer: Some(false),
        ..Fake::default()
    });
    let items = |vis| -> Vec<AnyObject> {
        (0..100)
            .map(|_| AnyObject::from(note(&alice, vis)))
            .collect()
    };
    let guard = ReadGuard::new(fake.clone());
    let shown = guard
        .filter(
            &alice,
            items(Visibility::FollowersOnly),
            &signed(OTHER_SERVER),
        )
        .await
        .unwrap();
    assert_eq!((shown.len(), fake.calls()), (0, 2));

    let yes = Arc::new(Fake {
        answer: Some(true),
        ..Fake::default()
    });
    let guard = ReadGuard::new(yes.clone());
    let shown = guard
        .filter(&alice, items(Visibility::FollowersOnly), &signed(FOLLOWER))
        .await
        .unwrap();
    assert_eq!((shown.len(), yes.calls()), (100, 1));
    // Public items and anonymous readers never reach the graph.
    let shown = guard
        .filter(&alice, items(Visibility::Public), &signed(FOLLOWER))
        .await
        .unwrap();
    let anon = guard
        .filter(&alice, items(Visibility::FollowersOnly), &Reader::Anonymous)
        .await
        .unwrap();
    assert_eq!((shown.len(), anon.len(), yes.calls()), (100, 0, 1));
}
