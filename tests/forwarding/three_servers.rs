//! A replies to B's post; B forwards the reply to its followers on C;
//! C believes it through A's LD signature, through A's integrity proof, or
//! by fetching it again from A, and refuses what B (or anyone) altered.

use std::time::{Duration, Instant};

use archipel::federation::forwarding::{Forwarded, NotForwarded};
use archipel::federation::{Federation, LocalActor};
use archipel::inbox::Authenticity;
use archipel::proof::ProofOptions;
use archipel::vocab::{Activity, Iri};
use serde_json::{Value, json};

use crate::node::{Node, Seen, eventually, post_signed, start};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
const AS: &str = "https://www.w3.org/ns/activitystreams";
const SECURITY: &str = "https://w3id.org/security/v1";

/// A (alice, and dora who follows bob), B (bob and bea, known as `localhost`) and
/// C (carol, who follows bob), and bob's public post, served by B.
struct Network {
    a: Node,
    b: Node,
    c: Node,
    bob_post: Iri,
}

async fn network() -> Network {
    let (a, b, c) = tokio::join!(
        start("127.0.0.1", &["alice", "dora"]),
        start("localhost", &["bob", "bea"]),
        start("127.0.0.1", &["carol"]),
    );
    let (bob, carol, dora) = (b.user("bob"), c.user("carol"), a.user("dora"));
    c.fed.follow(&carol, bob.id()).await.unwrap();
    a.fed.follow(&dora, bob.id()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    for follower in [&carol, &dora] {
        while !b
            .fed
            .graph()
            .is_follower(bob.id(), follower.id())
            .await
            .unwrap()
        {
            assert!(
                Instant::now() < deadline,
                "{} never followed bob",
                follower.id()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let bob_post = b.fed.paths().object("bob-post").unwrap();
    b.serve(
        &json!({"@context": AS, "id": bob_post, "type": "Note", "attributedTo": bob.id(),
                "content": "what are you reading?", "to": [PUBLIC], "cc": [bob.followers()]}),
        &bob,
    );
    Network { a, b, c, bob_post }
}

/// Alice's reply `n` to bob's post, addressed to bob and his followers:
/// the `Create` and its `Note`.
fn reply(net: &Network, n: &str, content: &str) -> (Value, Value) {
    let (alice, bob) = (net.a.user("alice"), net.b.user("bob"));
    let paths = net.a.fed.paths();
    let note = json!({
        "id": paths.object(&format!("reply-{n}")).unwrap(), "type": "Note",
        "attributedTo": alice.id(), "inReplyTo": net.bob_post, "content": content,
        "to": [PUBLIC], "cc": [bob.id(), bob.followers()],
    });
    let create = json!({
        "@context": [AS, SECURITY], "id": paths.activity(&format!("reply-{n}")).unwrap(),
        "type": "Create", "actor": alice.id(), "to": [PUBLIC],
        "cc": [bob.id(), bob.followers()], "object": note,
    });
    (create, note)
}

fn ld_signed(alice: &LocalActor, document: &Value) -> Value {
    archipel::ldsig::sign(
        document,
        &alice.keys().rsa,
        alice.key_id(),
        "2026-01-01T00:00:00Z",
    )
    .unwrap()
}

fn proof_signed(alice: &LocalActor, document: &Value) -> Value {
    let method = alice.ed25519_key_id().unwrap().clone();
    let key = alice.keys().ed25519.clone().unwrap();
    archipel::proof::sign(document, &key, &ProofOptions::new(method)).unwrap()
}

/// Alice sends `create` (as given, signature or proof included) through A.
async fn send(fed: &Federation, alice: &LocalActor, create: &Value) {
    let activity: Activity = serde_json::from_value(create.clone()).unwrap();
    fed.send(alice, &activity).await.unwrap();
}

fn id_of(document: &Value) -> Iri {
    Iri::parse(document["id"].as_str().unwrap()).unwrap()
}

/// Waits until C accepted `id`, and returns what it recorded.
async fn seen_on_c(net: &Network, id: &Iri) -> Seen {
    eventually(&format!("C accepts {id}"), || {
        net.c.seen().iter().any(|s| &s.id == id)
    })
    .await;
    net.c.seen().into_iter().find(|s| &s.id == id).unwrap()
}

#[tokio::test]
async fn c_accepts_a_forwarded_reply_through_ld_signature_proof_or_refetch() {
    let net = network().await;
    let (alice, bob, carol) = (net.a.user("alice"), net.b.user("bob"), net.c.user("carol"));
    let forwarded_by = Some(bob.id().clone());

    // (a) Mastodon's way: an LD signature by alice; A serves nothing.
    let (create, _) = reply(&net, "ld", "an LD-signed reply");
    send(&net.a.fed, &alice, &ld_signed(&alice, &create)).await;
    let id = id_of(&create);
    assert_eq!(
        seen_on_c(&net, &id).await,
        Seen {
            id: id.clone(),
            authenticity: Authenticity::LdSignature {
                creator: alice.key_id().clone()
            },
            forwarded_by: forwarded_by.clone(),
        }
    );
    // B got it from alice herself, and forwarded it to carol's server
    // only: dora's is alice's, the activity's own origin.
    let on_b = net.b.seen();
    assert_eq!(on_b[0].authenticity, Authenticity::HttpSignature);
    assert_eq!(on_b[0].forwarded_by, None);
    match &net.b.forwarded.lock().unwrap()[0] {
        Forwarded::Sent { inboxes, .. } => {
            assert_eq!(
                inboxes,
                &[url::Url::parse(carol.shared_inbox().as_str()).unwrap()]
            )
        }
        other => panic!("B did not forward: {other:?}"),
    }

    // (b) An integrity proof by alice's Ed25519 key; A serves nothing.
    let (create, _) = reply(&net, "proof", "a reply with a proof");
    send(&net.a.fed, &alice, &proof_signed(&alice, &create)).await;
    let id = id_of(&create);
    assert_eq!(
        seen_on_c(&net, &id).await.authenticity,
        Authenticity::IntegrityProof {
            verification_method: alice.ed25519_key_id().unwrap().clone()
        }
    );

    // (c) Unsigned, but A serves the activity at its id.
    let (create, _) = reply(&net, "served", "a reply A serves");
    net.a.serve(&create, &alice);
    send(&net.a.fed, &alice, &create).await;
    let id = id_of(&create);
    let seen = seen_on_c(&net, &id).await;
    assert_eq!(
        seen.authenticity,
        Authenticity::Refetched { from: id.clone() }
    );
    assert_eq!(seen.forwarded_by, forwarded_by);

    // (c') Unsigned, and A serves only the note it creates.
    let (create, note) = reply(&net, "object", "a reply whose note only A serves");
    net.a.serve(&note, &alice);
    send(&net.a.fed, &alice, &create).await;
    assert_eq!(
        seen_on_c(&net, &id_of(&create)).await.authenticity,
        Authenticity::Refetched { from: id_of(&note) }
    );

    // The same forwarded activity again is a duplicate: answered 202,
    // handed over once.
    let (create, _) = reply(&net, "ld", "an LD-signed reply");
    let (status, _) = post_signed(carol.shared_inbox(), &bob, &ld_signed(&alice, &create)).await;
    assert_eq!(status, 202);
    let id = id_of(&create);
    assert_eq!(net.c.seen().iter().filter(|s| s.id == id).count(), 1);
}

#[tokio::test]
async fn c_refuses_a_forwarded_reply_whose_content_was_altered() {
    let net = network().await;
    let (alice, bob, carol) = (net.a.user("alice"), net.b.user("bob"), net.c.user("carol"));
    let inbox = carol.shared_inbox();

    // Signed by alice and served by A, then altered on the way.
    let (create, note) = reply(&net, "altered", "I liked it");
    net.a.serve(&create, &alice);
    net.a.serve(&note, &alice);
    let mut altered = ld_signed(&alice, &create);
    altered["object"]["content"] = "I hated it".into();
    let (status, reason) = post_signed(inbox, &bob, &altered).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("differs from the copy at"), "{reason}");

    // Signed, but by bob, for alice: a key off alice's origin is set
    // aside before it is fetched.
    let (create, _) = reply(&net, "bobs", "words put in alice's mouth");
    let (status, reason) = post_signed(inbox, &bob, &ld_signed(&bob, &create)).await;
    assert_eq!(status, 401, "{reason}");
    assert!(
        reason.contains(&format!(
            "its creator {:?} is not on the actor's origin",
            bob.key_id().as_str()
        )),
        "{reason}"
    );

    // Signed by alice, with a member added that the signature does not
    // cover (JSON-LD drops an undefined term): not believed on it.
    let (create, _) = reply(&net, "uncovered", "signed words");
    let mut padded = ld_signed(&alice, &create);
    padded["object"]["unsignedClaim"] = "added on the way".into();
    let (status, reason) = post_signed(inbox, &bob, &padded).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("LD signature: "), "{reason}");

    // Not signed, the activity not served, its note altered.
    let (create, note) = reply(&net, "altered-note", "five stars");
    net.a.serve(&note, &alice);
    let mut altered = create.clone();
    altered["object"]["content"] = "one star".into();
    let (status, reason) = post_signed(inbox, &bob, &altered).await;
    assert_eq!(status, 401, "{reason}");
    assert!(
        reason.contains(&format!(
            "differs from the copy at {:?}",
            note["id"].as_str().unwrap()
        )),
        "{reason}"
    );

    // Its addressing widened: the note alone cannot vouch for it.
    let (create, note) = reply(&net, "widened", "between us");
    net.a.serve(&note, &alice);
    let mut widened = create.clone();
    widened["cc"] = json!([bob.id(), bob.followers(), "http://127.0.0.1:9/users/eve"]);
    let (status, reason) = post_signed(inbox, &bob, &widened).await;
    assert_eq!(status, 401, "{reason}");
    assert!(
        reason.contains("\"cc\" differs from its object's"),
        "{reason}"
    );

    // A proof by alice over other content does not verify either.
    let (create, _) = reply(&net, "proof-altered", "signed");
    let mut altered = proof_signed(&alice, &create);
    altered["object"]["content"] = "resigned".into();
    let (status, reason) = post_signed(inbox, &bob, &altered).await;
    assert_eq!(status, 401, "{reason}");

    assert!(net.c.seen().is_empty(), "{:?}", net.c.seen());
}

#[tokio::test]
async fn c_refuses_blocked_forwarders_and_deletes_it_cannot_confirm() {
    let net = network().await;
    let (alice, bob, carol) = (net.a.user("alice"), net.b.user("bob"), net.c.user("carol"));
    let inbox = carol.shared_inbox();
    let paths = net.a.fed.paths();

    // Alice deleting bob's post: not hers to delete, whoever forwards it.
    let foreign = json!({"@context": AS, "id": paths.activity("delete-1").unwrap(),
        "type": "Delete", "actor": alice.id(), "object": net.bob_post, "to": [PUBLIC]});
    let (status, reason) = post_signed(inbox, &bob, &ld_signed(&alice, &foreign)).await;
    assert_eq!(status, 403, "{reason}");
    assert!(reason.contains("not on the actor's origin"), "{reason}");

    // A forwarded Delete of alice's note, which A still serves.
    let (_, note) = reply(&net, "kept", "still here");
    net.a.serve(&note, &alice);
    let delete = json!({"@context": AS, "id": paths.activity("delete-2").unwrap(),
        "type": "Delete", "actor": alice.id(), "object": note["id"], "to": [PUBLIC]});
    let (status, reason) = post_signed(inbox, &bob, &delete).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("still exists at its origin"), "{reason}");

    // ...nor of one A answers 404 for: A hides followers-only posts the
    // same way, so a 404 does not say the note is gone.
    let hidden = json!({"@context": AS, "id": paths.activity("delete-3").unwrap(),
        "type": "Delete", "actor": alice.id(), "object": paths.object("hidden").unwrap(),
        "to": [PUBLIC]});
    let (status, reason) = post_signed(inbox, &bob, &hidden).await;
    assert_eq!(status, 401, "{reason}");
    assert!(reason.contains("answers 404"), "{reason}");

    // A forwarder whose domain C blocks is refused, though alice signed
    // (by the inbox's admission, before any verification).
    net.c.policy.block("localhost").unwrap();
    let (create, _) = reply(&net, "blocked", "through a blocked server");
    let (status, reason) = post_signed(inbox, &bob, &ld_signed(&alice, &create)).await;
    assert_eq!(status, 403, "{reason}");
    assert!(
        reason.contains("\"localhost:") && reason.contains("is blocked"),
        "{reason}"
    );
    assert!(net.c.seen().is_empty(), "{:?}", net.c.seen());
}

/// alice sends `create` from A; B's handler (its `before`-th call)
/// declines to forward it for `reason`.
async fn not_forwarded(
    net: &Network,
    alice: &LocalActor,
    create: &Value,
    before: usize,
    reason: NotForwarded,
) {
    send(&net.a.fed, alice, create).await;
    assert_eq!(
        next_forward(net, before).await,
        Forwarded::NotForwarded { reason }
    );
}

/// The last thing B's forwarding did, once it did something more.
async fn next_forward(net: &Network, before: usize) -> Forwarded {
    eventually("B handles the reply", || {
        net.b.forwarded.lock().unwrap().len() > before
    })
    .await;
    net.b.forwarded.lock().unwrap()[before].clone()
}

#[tokio::test]
async fn b_forwards_only_what_addresses_its_followers_and_concerns_its_objects() {
    let net = network().await;
    let (alice, bob, carol) = (net.a.user("alice"), net.b.user("bob"), net.c.user("carol"));

    // A reply to bob's post addressed to bob alone: no collection of B's.
    let (mut create, _) = reply(&net, "direct", "just to you");
    create["to"] = json!([bob.id()]);
    create["cc"] = json!([]);
    create["object"]["to"] = json!([bob.id()]);
    create["object"]["cc"] = json!([]);
    not_forwarded(&net, &alice, &create, 0, NotForwarded::NoLocalCollection).await;

    // To bob's followers, but about nothing of B's: mentioning bob does
    // not make it his thread.
    let (mut create, _) = reply(&net, "unrelated", "hello bob's followers");
    create["object"]
        .as_object_mut()
        .unwrap()
        .remove("inReplyTo");
    create["object"]["tag"] = json!([{"type": "Mention", "href": bob.id()}]);
    not_forwarded(&net, &alice, &create, 1, NotForwarded::NotAboutUs).await;

    // A reply to bob's post cc'ing bea's followers: bea does not own the
    // post, so B does not pass it on to them under bea's key.
    let bea = net.b.user("bea");
    let (mut create, _) = reply(&net, "to-bea", "bea's followers, look");
    create["cc"] = json!([bob.id(), bea.followers()]);
    create["object"]["cc"] = create["cc"].clone();
    not_forwarded(&net, &alice, &create, 2, NotForwarded::NotTheOwners).await;

    // A reply to an object of B's whose owner B's store does not know:
    // no owner vouches for passing it on.
    let (mut create, _) = reply(&net, "unowned", "about something of B's");
    create["object"]["inReplyTo"] = json!(net.b.fed.paths().object("unowned").unwrap());
    not_forwarded(&net, &alice, &create, 3, NotForwarded::NotTheOwners).await;

    // A reply to alice's own reply (served by A) to bob's post: B finds
    // its post one inReplyTo away, and forwards it.
    let (_, first_note) = reply(&net, "first", "first");
    net.a.serve(&first_note, &alice);
    let (mut second, _) = reply(&net, "second", "second");
    second["object"]["inReplyTo"] = first_note["id"].clone();
    net.a.serve(&second, &alice);
    send(&net.a.fed, &alice, &second).await;
    match next_forward(&net, 4).await {
        Forwarded::Sent { inboxes, .. } => assert_eq!(
            inboxes,
            [url::Url::parse(carol.shared_inbox().as_str()).unwrap()]
        ),
        other => panic!("B did not forward the nested reply: {other:?}"),
    }
    assert_eq!(
        seen_on_c(&net, &id_of(&second)).await.authenticity,
        Authenticity::Refetched {
            from: id_of(&second)
        }
    );
    // The handler called again (a retry after a later step failed) does
    // not send it twice.
    assert_eq!(
        net.b.retried.lock().unwrap()[4],
        Forwarded::NotForwarded {
            reason: NotForwarded::AlreadyForwarded
        }
    );

    // A reply to a followers-only post of bob's, cc'ing his followers:
    // passing it on would tell others about the private post.
    let private = net.b.fed.paths().object("bob-private").unwrap();
    net.b.serve(
        &json!({"@context": AS, "id": private, "type": "Note", "attributedTo": bob.id(),
                "content": "followers only", "to": [bob.followers()]}),
        &bob,
    );
    let (mut create, _) = reply(&net, "to-private", "about your private post");
    create["object"]["inReplyTo"] = json!(private);
    not_forwarded(&net, &alice, &create, 5, NotForwarded::Private).await;

    // The activity's own inReplyTo naming bob's post, around a note about
    // something else: receivers read the note's, so it is not his thread.
    let (mut create, _) = reply(&net, "outer", "nothing to do with bob");
    create["object"]
        .as_object_mut()
        .unwrap()
        .remove("inReplyTo");
    create["inReplyTo"] = json!(net.bob_post);
    not_forwarded(&net, &alice, &create, 6, NotForwarded::NotAboutUs).await;
}
