//! Fedify 2's FEP-044f documents read by archipel's vocabulary, as they
//! arrive on the wire: a post's `interactionPolicy` (Fedify writes the
//! public collection as the compact `as:Public`), a quote post's `quote`,
//! and a `QuoteRequest` with its quote post embedded as `instrument`.

use archipel::vocab::{AnyObject, Iri, Kind};
use serde_json::json;

use crate::node::{self, eventually};
use crate::peer::{self, Peer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_quote_posts_and_quote_requests_read_in_our_vocabulary() {
    let Some(nodejs) = peer::installed() else {
        return;
    };
    let peer = Peer::start(&nodejs);
    let a = node::start(&["alice"]).await;
    let alice = a.user("alice");
    let bob = Iri::parse(peer.actor("bob")).unwrap();

    // alice follows bob, so bob's posts reach her.
    a.fed.follow(&alice, &bob).await.unwrap();
    eventually("bob accepted alice", || async {
        a.following("alice").await == vec![bob.to_string()]
    })
    .await;

    // Bob's posts, one per policy, as Fedify writes them.
    let mut notes = Vec::new();
    for policy in ["public", "manual", "nobody"] {
        let posted = peer
            .control("post", json!({"content": policy, "canQuote": policy}))
            .await;
        notes.push(posted["note"].as_str().unwrap().to_owned());
    }
    let unpoliced = peer.control("post", json!({"content": "none"})).await;
    let unpoliced = unpoliced["note"].as_str().unwrap().to_owned();
    eventually("alice received bob's four posts", || async {
        notes
            .iter()
            .chain([&unpoliced])
            .all(|n| a.received_latest(n).is_some())
    })
    .await;
    let rule = |id: &str| {
        let note = a.received_latest(id).unwrap();
        let object = note.as_object().unwrap();
        object
            .interaction_policy
            .as_ref()
            .and_then(|p| p.can_quote.as_ref())
            .map(|r| {
                let names = |l: &Option<archipel::vocab::OneOrMany<Iri>>| -> Vec<String> {
                    l.iter().flatten().map(|i| i.to_string()).collect()
                };
                (names(&r.automatic_approval), names(&r.manual_approval))
            })
    };
    // Fedify compacts the public collection to `as:Public`.
    assert_eq!(
        rule(&notes[0]),
        Some((vec!["as:Public".to_owned()], vec![]))
    );
    assert_eq!(
        rule(&notes[1]),
        Some((vec![], vec!["as:Public".to_owned()]))
    );
    assert_eq!(rule(&notes[2]), Some((vec![bob.to_string()], vec![])));
    assert_eq!(rule(&unpoliced), None);

    // alice posts; bob quotes it: a Create of his quote post to his
    // followers (alice) and a QuoteRequest to alice.
    let (post, _) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "quote me",
                   "to": ["https://www.w3.org/ns/activitystreams#Public"],
                   "cc": [alice.followers().as_str()]}),
        )
        .await;
    let post = post.id().unwrap().clone();
    let quoted = peer
        .control(
            "quote",
            json!({"target": post.as_str(), "content": "bob quotes alice"}),
        )
        .await;
    let quote = quoted["note"].as_str().unwrap().to_owned();
    let request = quoted["request"].as_str().unwrap().to_owned();
    eventually(
        "alice received bob's QuoteRequest and quote post",
        || async {
            !a.activities_of("QuoteRequest").is_empty() && a.received_latest(&quote).is_some()
        },
    )
    .await;

    // The quote post, before any authorization: a quote of alice's post.
    let received = a.received_latest(&quote).unwrap();
    let object = received.as_object().unwrap();
    assert_eq!(object.quote.as_ref(), Some(&post));
    assert_eq!(object.quoted_post(), Some(&post));
    assert_eq!(object.quote_authorization, None);

    // The QuoteRequest, typed.
    let raw = a.activities_of("QuoteRequest").remove(0);
    let parsed = AnyObject::from_slice(raw.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.kind(), Some(Kind::QuoteRequest));
    let activity = parsed.as_activity().unwrap();
    assert_eq!(
        activity.id.as_ref().map(Iri::as_str),
        Some(request.as_str())
    );
    assert_eq!(activity.actor_id(), Some(&bob));
    assert_eq!(activity.object_id(), Some(&post));
    let instrument = activity
        .instrument
        .as_ref()
        .and_then(|i| i.first())
        .and_then(|r| r.as_object())
        .expect("the quote post is embedded as instrument");
    let instrument = instrument.as_object().unwrap();
    assert_eq!(
        instrument.id.as_ref().map(Iri::as_str),
        Some(quote.as_str())
    );
    assert_eq!(instrument.quote.as_ref(), Some(&post));
    assert_eq!(instrument.attributed_to_id(), Some(&bob));
    // Unknown properties survive a round trip through our types.
    let again: serde_json::Value = serde_json::to_value(&parsed).unwrap();
    assert_eq!(again["instrument"]["quote"], post.as_str());

    let s = peer.state().await;
    assert_eq!(s["errors"], json!([]), "{s:#}");
}
