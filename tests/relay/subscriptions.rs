//! Two servers subscribed to one loopback relay, of each style.

use std::time::Duration;

use archipel::federation::outbox::ObjectSigning;
use archipel::federation::relay::RelayKind;
use archipel::inbox::Authenticity;
use archipel::vocab::Iri;
use serde_json::json;

use crate::node::{Node, Seen, eventually, post_signed, start};
use crate::relay_server::{self, PUBLIC, Relay, Style};

/// A relay of `style` with A (alice) and B (bob) subscribed, A signing
/// its public activities as `signing` says.
async fn network(style: Style, signing: ObjectSigning) -> (Relay, Node, Node) {
    let relay = relay_server::start(style).await;
    let (a, b) = tokio::join!(
        start(&["alice"], signing),
        start(&["bob"], ObjectSigning::all())
    );
    let (id, kind) = match style {
        Style::PubRelay => (relay.inbox(), RelayKind::Mastodon),
        Style::LitePub => (relay.actor(), RelayKind::LitePub),
    };
    tokio::join!(a.subscribe(&id, kind), b.subscribe(&id, kind));
    (relay, a, b)
}

/// An LD signature only, so that a copy is believed on it (with a proof
/// too, it is believed on its LD signature all the same: see
/// `a_doubly_signed_post_is_believed_on_its_ld_signature`).
fn ld_only() -> ObjectSigning {
    ObjectSigning::default().with_ld_signature(true)
}

fn public_note(content: &str) -> serde_json::Value {
    json!({"type": "Note", "content": content, "to": [PUBLIC]})
}

/// Waits until B accepted `id`, and returns what it recorded.
async fn seen_on(node: &Node, id: &Iri) -> Seen {
    eventually(&format!("{id} accepted"), || {
        node.seen().iter().any(|s| &s.id == id)
    })
    .await;
    node.seen().into_iter().find(|s| &s.id == id).unwrap()
}

/// Waits until the relay passed `id` on, and returns the answer's status.
async fn relayed_status(relay: &Relay, id: &Iri) -> u16 {
    eventually(&format!("the relay passes {id} on"), || {
        relay.sent().iter().any(|s| s.activity == id.as_str())
    })
    .await;
    let sent = relay.sent();
    sent.iter()
        .find(|s| s.activity == id.as_str())
        .unwrap()
        .status
}

#[tokio::test]
async fn a_pub_relay_carries_public_posts_only_and_altered_copies_are_refused() {
    let (relay, a, b) = network(Style::PubRelay, ld_only()).await;
    let (alice, instance_a) = (a.user("alice"), a.fed.instance_actor().id().clone());
    assert_eq!(relay.subscribers().len(), 2);
    let relay_actor = Iri::parse(relay.actor()).unwrap();

    // A public post reaches bob's server through the relay, believed as
    // alice's on her LD signature (the relay's own HTTP signature vouches
    // for nothing).
    let (id, sent) = a.post("alice", public_note("hello, relay")).await;
    assert_eq!(sent.jobs.len(), 1, "one delivery: to the relay");
    assert_eq!(relayed_status(&relay, &id).await, 202);
    assert_eq!(
        seen_on(&b, &id).await,
        Seen {
            id: id.clone(),
            actor: alice.id().clone(),
            content: Some("hello, relay".into()),
            authenticity: Authenticity::LdSignature {
                creator: alice.key_id().clone()
            },
            forwarded_by: Some(relay_actor),
        }
    );

    // A followers-only post never goes to the relay: a later public one
    // arrives, the followers-only one never did.
    let followers = alice.followers().as_str().to_owned();
    let (private, sent) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "psst", "to": [followers]}),
        )
        .await;
    assert!(sent.jobs.is_empty(), "{sent:?}");
    let (fence, _) = a.post("alice", public_note("after the private one")).await;
    seen_on(&b, &fence).await;
    assert!(!relay.received().contains(&private.as_str().to_owned()));

    // A copy the relay altered is refused by bob's server.
    relay.tamper(true);
    let (altered, _) = a.post("alice", public_note("the original")).await;
    assert_eq!(relayed_status(&relay, &altered).await, 401);
    assert!(!b.seen().iter().any(|s| s.id == altered));
    relay.tamper(false);

    // Unsubscribed: the relay forgets A, and A sends it nothing more.
    let gone = a
        .fed
        .unsubscribe_relay(&Iri::parse(relay.inbox()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.follower, instance_a);
    eventually("the relay processes the Undo", || {
        !relay
            .subscribers()
            .contains(&instance_a.as_str().to_owned())
    })
    .await;
    let (_, sent) = a.post("alice", public_note("nobody relays this")).await;
    assert!(sent.jobs.is_empty(), "{sent:?}");
    assert!(a.fed.relays().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_litepub_relay_announce_is_dispatched_as_the_authors_activity() {
    let (relay, a, b) = network(Style::LitePub, ld_only()).await;
    let alice = a.user("alice");
    let relay_actor = Iri::parse(relay.actor()).unwrap();
    // The relay follows both instance actors back; each accepts.
    eventually("both servers accept the relay's follow-back", || {
        relay.followed_back().len() == 2
    })
    .await;

    let (id, _) = a.post("alice", public_note("announced")).await;
    assert_eq!(
        seen_on(&b, &id).await,
        Seen {
            id: id.clone(),
            actor: alice.id().clone(),
            content: Some("announced".into()),
            authenticity: Authenticity::LdSignature {
                creator: alice.key_id().clone()
            },
            forwarded_by: Some(relay_actor),
        }
    );
    assert_eq!(relayed_status(&relay, &id).await, 202);

    // An Announce of an altered activity is refused, 403, and reaches no
    // handler.
    relay.tamper(true);
    let (altered, _) = a.post("alice", public_note("the original")).await;
    assert_eq!(relayed_status(&relay, &altered).await, 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!b.seen().iter().any(|s| s.id == altered));
}

#[tokio::test]
async fn a_relayed_post_is_believed_on_a_proof_or_on_its_origins_copy() {
    // Only an integrity proof: believed on it.
    let proof_only = ObjectSigning::default().with_integrity_proof(true);
    let (relay, a, b) = network(Style::LitePub, proof_only).await;
    let alice = a.user("alice");
    let (id, _) = a.post("alice", public_note("proven")).await;
    assert_eq!(
        seen_on(&b, &id).await.authenticity,
        Authenticity::IntegrityProof {
            verification_method: alice.ed25519_key_id().unwrap().clone()
        }
    );
    drop((relay, a, b));

    // No signature at all: believed on the copy alice's server serves.
    let (relay, a, b) = network(Style::PubRelay, ObjectSigning::default()).await;
    let (id, _) = a.post("alice", public_note("served")).await;
    let seen = seen_on(&b, &id).await;
    assert!(
        matches!(seen.authenticity, Authenticity::Refetched { .. }),
        "{seen:?}"
    );
    assert_eq!(seen.content.as_deref(), Some("served"));
    drop(relay);
}

#[tokio::test]
async fn only_the_relay_can_accept_the_relay_follow() {
    let (a, c) = tokio::join!(
        start(&["alice"], ObjectSigning::all()),
        start(&["mallory"], ObjectSigning::all())
    );
    // A relay that never answers (nothing listens on the discard port).
    let inbox = Iri::parse("http://127.0.0.1:9/inbox").unwrap();
    let relay = a
        .fed
        .subscribe_relay(&inbox, RelayKind::Mastodon)
        .await
        .unwrap();
    let mallory = c.user("mallory");
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#accept", mallory.id()), "type": "Accept",
        "actor": mallory.id(), "object": relay.follow_activity(),
    });
    let shared_inbox = format!(
        "{}/inbox",
        a.fed.paths().base().as_str().trim_end_matches('/')
    );
    assert_eq!(post_signed(&shared_inbox, &mallory, &accept).await, 403);
    let relays = a.fed.relays().await.unwrap();
    assert_eq!(
        relays[0].state,
        archipel::federation::relay::RelayState::Pending
    );
    assert_eq!(relays[0].actor, None);
}

#[tokio::test]
async fn an_activity_delivered_directly_and_announced_by_the_relay_is_handled_once() {
    let (relay, a, b) = network(Style::LitePub, ObjectSigning::all()).await;
    let (alice, bob) = (a.user("alice"), b.user("bob"));
    b.fed.follow(&bob, alice.id()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !a
        .fed
        .graph()
        .is_follower(alice.id(), bob.id())
        .await
        .unwrap()
    {
        assert!(std::time::Instant::now() < deadline, "bob never followed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let delivered = || async { a.fed.delivery_report().await.unwrap().delivered };
    let before = delivered().await;
    let followers = alice.followers().as_str().to_owned();
    let (id, _) = a
        .post(
            "alice",
            json!({"type": "Note", "content": "twice", "to": [PUBLIC], "cc": [followers]}),
        )
        .await;
    // Both copies arrived: bob's server answered the relay's too.
    assert_eq!(relayed_status(&relay, &id).await, 202);
    seen_on(&b, &id).await;
    // And the direct one: A delivered to the relay and to bob's server.
    while delivered().await < before + 2 {
        assert!(
            std::time::Instant::now() < deadline + Duration::from_secs(20),
            "A never delivered both"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let copies = b.seen().iter().filter(|s| s.id == id).count();
    assert_eq!(copies, 1, "{:?}", b.seen());
}

/// Signed both ways (proof first, then the LD signature over the document
/// with its proof): the LD signature establishes it (`check_coverage`
/// passes the top-level proof, a term of the Data Integrity context the
/// outbox names, and sets it aside anyway); and the proof verifies too,
/// with the signature added after it set aside (`proof::verify`).
#[tokio::test]
async fn a_doubly_signed_post_is_believed_on_its_ld_signature() {
    let (relay, a, b) = network(Style::PubRelay, ObjectSigning::all()).await;
    let alice = a.user("alice");
    let (id, stored) = post_doc(&a, public_note("signed twice")).await;
    assert_eq!(relayed_status(&relay, &id).await, 202);
    let seen = seen_on(&b, &id).await;
    assert_eq!(
        seen.authenticity,
        Authenticity::LdSignature {
            creator: alice.key_id().clone()
        }
    );
    assert!(stored.get("proof").is_some() && stored.get("signature").is_some());
    let proven = archipel::proof::verify_with_key(
        &stored,
        &alice.keys().ed25519.as_ref().unwrap().public_key(),
    )
    .unwrap();
    assert_eq!(
        &proven[0].verification_method,
        alice.ed25519_key_id().unwrap()
    );
}

/// A LitePub relay's Announce of an activity whose signed content an
/// inline context moved aside (`{"content": null, "c2": "as:content"}`)
/// beside a forged `content`: the LD signature still verifies over the
/// RDF graph, but it does not cover what the JSON says, so it establishes
/// nothing, and the Announce is refused.
#[tokio::test]
async fn an_announce_with_a_redefined_content_term_is_refused() {
    let (relay, a, b) = network(Style::LitePub, ld_only()).await;
    let alice = a.user("alice");
    relay.redefine(true);
    let (id, mut forged) = post_doc(&a, public_note("the original")).await;
    assert_eq!(relayed_status(&relay, &id).await, 403);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!b.seen().iter().any(|s| s.id == id), "{:?}", b.seen());

    // The same forgery once the origin is gone (no copy to compare with):
    // the LD signature alone must not vouch for it.
    crate::relay_server::redefine(&mut forged);
    let genuine = archipel::ldsig::verify_with_key(&forged, &alice.keys().rsa.public_key());
    assert!(
        genuine.is_ok(),
        "the forgery keeps the RDF graph: {genuine:?}"
    );
    drop(a);
    let relay_actor = Iri::parse(relay.actor()).unwrap();
    let verdict = b.fed.verify_forwarded(&forged, Some(&relay_actor)).await;
    assert!(
        matches!(
            verdict,
            Err(archipel::inbox::ForwardedError::Unverified { .. })
        ),
        "{verdict:?}"
    );
}

/// alice posts `note` on `node`: the activity's id, and the activity as
/// stored, served and delivered.
async fn post_doc(node: &Node, note: serde_json::Value) -> (Iri, serde_json::Value) {
    let alice = node.user("alice");
    let body = serde_json::to_vec(&note).unwrap();
    let (posted, _) = node.posts.post(&node.fed, &alice, &body).await.unwrap();
    let activity = posted.activity();
    (
        activity.id.clone().unwrap(),
        serde_json::to_value(activity).unwrap(),
    )
}
