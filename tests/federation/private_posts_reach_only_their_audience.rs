//! Three servers on `archipel::federation`: alice on A; bob on B follows
//! her; carol on C does not. What alice posts goes to its audience only,
//! is served to its audience only (`404` to anyone else, so its existence
//! is not revealed), and a `bcc` recipient is never named in what is
//! stored, served or delivered.

use archipel::fetch::FetchError;
use serde_json::json;

use crate::fed_node::{self, Node, drained, eventually};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

async fn three() -> (Node, Node, Node) {
    let a = fed_node::start(&["alice"], false).await;
    let b = fed_node::start(&["bob"], false).await;
    let c = fed_node::start(&["carol"], false).await;
    let alice = a.user("alice");
    let bob = b.user("bob");
    b.fed.follow(&bob, alice.id()).await.unwrap();
    eventually("bob follows alice", || {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(b.fed.graph().following(bob.id()))
        })
        .unwrap()
        .contains(alice.id())
    })
    .await;
    (a, b, c)
}

async fn anonymous_status(url: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn not_found(result: Result<archipel::vocab::AnyObject, FetchError>) -> bool {
    match result {
        Err(FetchError::NotFound { .. }) => true,
        other => {
            eprintln!("expected a 404, got {other:?}");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_note_reaches_only_its_addressee_and_is_404_to_anyone_else() {
    let (a, b, c) = three().await;
    let carol = c.user("carol");
    let (posted, sent) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "just for carol", "to": [carol.id().as_str()]}),
        )
        .await;
    assert_eq!(sent.jobs.len(), 1, "one inbox: carol's server, {sent:?}");
    let note = posted.object().unwrap().id().unwrap().as_str().to_owned();
    eventually("carol's server received the note", || {
        c.received_id(&note).len() == 1
    })
    .await;
    drained(&a).await;
    let to_carol = c.arrivals_with(&note);
    assert_eq!(to_carol.len(), 1);
    assert_eq!(to_carol[0].path, "/inbox", "delivered to the shared inbox");
    assert!(
        b.arrivals_with(&note).is_empty(),
        "a follower's server got a direct note"
    );

    // Served to carol (signed with her key) only.
    let iri = note.parse().unwrap();
    assert_eq!(anonymous_status(&note).await, 404);
    assert!(not_found(b.fed.fetcher().fetch_any(&iri).await));
    assert!(
        not_found(c.fed.fetcher().fetch_any(&iri).await),
        "C's instance actor is not carol"
    );
    let by_carol = c.fetcher_signed_by(&carol).fetch_any(&iri).await.unwrap();
    assert_eq!(by_carol.id().unwrap().as_str(), note);
    // The Create activity is guarded the same way.
    let create = posted.activity().id.as_ref().unwrap().as_str().to_owned();
    assert_eq!(anonymous_status(&create).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followers_only_note_reaches_followers_only_and_is_404_anonymously() {
    let (a, b, c) = three().await;
    let alice = a.user("alice");
    let (posted, sent) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "followers only", "to": [alice.followers().as_str()]}),
        )
        .await;
    assert!(sent.fanout.is_some() && sent.jobs.is_empty(), "{sent:?}");
    let note = posted.object().unwrap().id().unwrap().as_str().to_owned();
    eventually("bob's server received the note", || {
        b.received_id(&note).len() == 1
    })
    .await;
    drained(&a).await;
    assert!(c.arrivals_with(&note).is_empty(), "a non-follower got it");

    let iri = note.parse().unwrap();
    assert_eq!(anonymous_status(&note).await, 404);
    assert!(not_found(c.fed.fetcher().fetch_any(&iri).await));
    // B's instance actor may: B has a follower of alice.
    let by_b = b.fed.fetcher().fetch_any(&iri).await.unwrap();
    assert_eq!(by_b.id().unwrap().as_str(), note);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bcc_is_never_stored_served_or_delivered_except_to_its_named_recipient() {
    let (a, b, c) = three().await;
    let alice = a.user("alice");
    let carol = c.user("carol");
    let (posted, sent) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "public, carol hidden",
                   "to": [PUBLIC], "cc": [alice.followers().as_str()],
                   "bcc": [carol.id().as_str()]}),
        )
        .await;
    // One fan-out job, carol (resolved now) and the followers in it.
    assert!(sent.fanout.is_some() && sent.jobs.is_empty(), "{sent:?}");
    assert!(sent.unresolved.is_empty(), "{sent:?}");
    let note = posted.object().unwrap().id().unwrap().as_str().to_owned();
    // An arrival is recorded once its response is made, after the handler
    // kept the note: wait for both.
    eventually("both received it", || {
        [&b, &c]
            .iter()
            .all(|n| n.received_id(&note).len() == 1 && n.arrivals_with(&note).len() == 1)
    })
    .await;

    // Stored: the outbox's served form, as the node keeps it.
    let stored = serde_json::to_string(&posted.activity()).unwrap();
    assert!(
        !stored.contains(r#""bcc""#) && !stored.contains(carol.id().as_str()),
        "{stored}"
    );
    let object = serde_json::to_string(posted.object().unwrap()).unwrap();
    assert!(
        !object.contains(r#""bcc""#) && !object.contains(carol.id().as_str()),
        "{object}"
    );

    // Delivered: the body each server received names no bcc.
    for node in [&b, &c] {
        let arrivals = node.arrivals_with(&note);
        assert_eq!(arrivals.len(), 1);
        let body = &arrivals[0].body;
        assert!(
            !body.contains(r#""bcc""#) && !body.contains(carol.id().as_str()),
            "{body}"
        );
    }

    // Served: anonymous readers see the public note, without the bcc.
    let served = reqwest::Client::new()
        .get(&note)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(served.contains("public, carol hidden"), "{served}");
    assert!(
        !served.contains("bcc\"") && !served.contains(carol.id().as_str()),
        "{served}"
    );
}
