use std::sync::Arc;

use super::*;
use crate::federation::remote::testing::FakeServer;
use crate::vocab::{Audience as Addressed, Object};

const BOB: &str = "https://b.example/users/bob";
const CAROL: &str = "https://c.example/users/carol";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

/// A federation whose client answers for bob and carol, with both
/// following alice.
async fn world() -> (Federation, LocalActor) {
    let server = Arc::new(FakeServer::new());
    server.person(BOB);
    server.person(CAROL);
    let fed = Federation::builder("https://a.example".parse().unwrap())
        .with_client(server)
        .build()
        .await
        .unwrap();
    let alice = fed.actor("alice").await.unwrap();
    for follower in [BOB, CAROL] {
        fed.graph()
            .add_follower(alice.id(), &iri(follower))
            .await
            .unwrap();
    }
    (fed, alice)
}

/// A `Create` by `author` of a `kind` object addressed as `audience`, with its
/// own activity id (`n`).
fn create(author: &LocalActor, n: &str, kind: &str, audience: &Addressed) -> Activity {
    let mut object = Object::new(kind).with_content("a review");
    audience.apply(&mut object);
    let mut create = Activity::create(
        iri(&format!("https://a.example/activities/{n}")),
        author.id().clone(),
        AnyObject::from(object),
    );
    create.to = Some(audience.to.iter().cloned().map(Reference::from).collect());
    create.cc = Some(audience.cc.iter().cloned().map(Reference::from).collect());
    create
}

async fn jobs(fed: &Federation) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in 0..64 {
        if let Some(job) = fed.queue().get(JobId(id)).await.unwrap() {
            out.push((job.inbox.to_string(), job.activity_id.as_str().to_owned()));
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn each_part_of_a_split_audience_gets_its_own_rendering_and_nobody_else() {
    let (fed, alice) = world().await;
    let followers_only = Addressed::followers_only(alice.followers().clone());
    let rich = create(&alice, "rich", "Review", &followers_only);
    let plain = create(&alice, "plain", "Article", &followers_only);

    let audience = fed.audience(&alice, &rich).await.unwrap();
    let mut targets: Vec<_> = audience
        .recipients()
        .iter()
        .map(|r| r.inbox.to_string())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        vec![
            "https://b.example/users/bob/inbox",
            "https://c.example/users/carol/inbox"
        ]
    );
    let (to_b, to_rest) = audience.split(|r| r.inbox.host_str() == Some("b.example"));
    let sent_rich = fed.send_to(&alice, &rich, to_b).await.unwrap();
    let sent_plain = fed.send_to(&alice, &plain, to_rest).await.unwrap();
    assert_eq!((sent_rich.jobs.len(), sent_plain.jobs.len()), (1, 1));
    assert_eq!(sent_rich.activity, rich.id);
    assert_eq!(sent_plain.activity, plain.id);
    assert_eq!(
        jobs(&fed).await,
        vec![
            // Shared inboxes, as `send` uses them.
            (
                "https://b.example/inbox".to_owned(),
                "https://a.example/activities/rich".to_owned()
            ),
            (
                "https://c.example/inbox".to_owned(),
                "https://a.example/activities/plain".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn a_rendering_addressed_otherwise_is_refused_before_anything_is_queued() {
    let (fed, alice) = world().await;
    let followers_only = Addressed::followers_only(alice.followers().clone());
    let rich = create(&alice, "rich", "Review", &followers_only);
    // The same post, made public in its plain rendering.
    let public = Addressed::public(alice.followers().clone());
    let widened = create(&alice, "plain", "Article", &public);
    let audience = fed.audience(&alice, &rich).await.unwrap();
    let err = fed.send_to(&alice, &widened, audience).await.unwrap_err();
    assert!(
        matches!(&err, FederationError::AudienceMismatch { activity: Some(id) } if id == "https://a.example/activities/plain"),
        "{err:?}"
    );
    // Another addressee added to the plain rendering.
    let mut named = create(&alice, "plain2", "Article", &followers_only);
    named.cc = Some(vec![Reference::from(iri("https://d.example/users/dave"))].into());
    let audience = fed.audience(&alice, &rich).await.unwrap();
    let err = fed.send_to(&alice, &named, audience).await.unwrap_err();
    assert!(
        matches!(err, FederationError::AudienceMismatch { .. }),
        "{err:?}"
    );
    assert!(jobs(&fed).await.is_empty());
}

#[tokio::test]
async fn an_audience_is_only_sent_for_its_own_author() {
    let (fed, alice) = world().await;
    let bobby = fed.actor("bobby").await.unwrap();
    let to_alices_followers = Addressed::followers_only(alice.followers().clone());
    let note = create(&alice, "1", "Note", &to_alices_followers);
    let audience = fed.audience(&alice, &note).await.unwrap();
    // bobby's own activity, addressed like alice's, cannot borrow the
    // audience resolved from her followers.
    let his = create(&bobby, "2", "Note", &to_alices_followers);
    let err = fed.send_to(&bobby, &his, audience).await.unwrap_err();
    assert!(
        matches!(&err, FederationError::NotTheAuthor { author, .. } if author == bobby.id()),
        "{err:?}"
    );
    assert!(jobs(&fed).await.is_empty());
}

#[tokio::test]
async fn each_follow_answers_the_id_of_the_follow_it_sent() {
    let (fed, alice) = world().await;
    let bob = iri(BOB);
    let first = fed.follow(&alice, &bob).await.unwrap();
    let again = fed.follow(&alice, &bob).await.unwrap();
    let (Some(first), Some(again)) = (first.activity, again.activity) else {
        panic!("a follow without an id");
    };
    assert_ne!(first, again);
    for id in [&first, &again] {
        let known = fed.graph().sent_follow(id).await.unwrap().unwrap();
        assert_eq!(
            (known.follower, known.followee),
            (alice.id().clone(), bob.clone())
        );
    }
}

#[tokio::test]
async fn a_delivery_queue_of_its_own_without_a_fanout_queue_queues_followers_at_once() {
    let server = Arc::new(FakeServer::new());
    server.person(BOB);
    let queue = Arc::new(MemoryQueue::new());
    let fed = Federation::builder("https://a.example".parse().unwrap())
        .with_client(server)
        .with_queue(queue.clone())
        .build()
        .await
        .unwrap();
    let alice = fed.actor("alice").await.unwrap();
    fed.graph()
        .add_follower(alice.id(), &iri(BOB))
        .await
        .unwrap();
    let post = create(
        &alice,
        "1",
        "Note",
        &Addressed::followers_only(alice.followers().clone()),
    );
    let sent = fed.send(&alice, &post).await.unwrap();
    // No fan-out job in memory: bob's delivery is in the given queue.
    assert_eq!(sent.fanout, None);
    assert_eq!(sent.jobs.len(), 1);
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    assert_eq!(fed.fanout_queue().stats(now).await.unwrap().total, 0);
    assert_eq!(queue.stats(now).await.unwrap().total, 1);
}
