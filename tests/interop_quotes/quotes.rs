//! FEP-044f quote posts between archipel and Fedify 2, both ways, by the
//! quoted post's policy: allowed automatically, pending then approved,
//! refused, and revoked after approval. Each side checks the other's
//! authorization as a receiver does (fetched from the quoted author's
//! origin, naming this quote, this post and that author) before the quote
//! counts; a quote of a post whose author forbids quoting stays a link.

use archipel::federation::quotes::{QuoteCheck, QuoteError, QuotePolicy, QuoteState};
use archipel::vocab::{Activity, AnyObject, Context, Iri, Object};
use serde_json::{Value, json};

use crate::node::{self, Node, eventually};
use crate::peer::{self, Peer};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The quote-post context, as a client posts it.
fn quote_context() -> Value {
    Context::activitystreams_with_quotes().to_value()
}

/// alice posts a public note quoting `quoted` and asks for the quote.
async fn alice_quotes(a: &Node, quoted: &str) -> Object {
    let alice = a.user("alice");
    let (post, _) = a
        .post(
            "alice",
            json!({"@context": quote_context(), "type": "Note",
                   "content": format!("look <span class=\"quote-inline\">RE: {quoted}</span>"),
                   "to": [PUBLIC], "cc": [alice.followers().as_str()], "quote": quoted}),
        )
        .await;
    let post = post.as_object().unwrap().clone();
    a.quotes.request(&alice, &post).await.unwrap();
    post
}

/// alice's quote post once approved: the authorization attached, stored
/// and sent to her followers (and the quoted author) in an `Update`.
async fn alice_attaches(a: &Node, post: &Object, quoted_author: &Iri) -> Object {
    let alice = a.user("alice");
    let mut post = post.clone();
    assert!(a.quotes.attach(&mut post));
    a.objects.put(AnyObject::from(post.clone()), alice.id());
    let update = Activity::update(
        a.fed.new_activity_id().unwrap(),
        alice.id().clone(),
        AnyObject::from(post.clone()),
    )
    .with_context(Context::activitystreams_with_quotes())
    .with_to(vec![Iri::parse(PUBLIC).unwrap()])
    .with_cc(vec![alice.followers().clone(), quoted_author.clone()]);
    a.fed.send(&alice, &update).await.unwrap();
    post
}

async fn state_is(a: &Node, quote: &Iri, what: &str, check: impl Fn(&QuoteState) -> bool) {
    eventually(what, || async {
        a.quotes.state_of(quote).as_ref().is_some_and(&check)
    })
    .await;
}

fn link_reason(check: QuoteCheck) -> QuoteError {
    match check {
        QuoteCheck::Link { reason, .. } => reason,
        other => panic!("expected a link, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archipel_quotes_fedify_posts_by_their_policy() {
    archipel_quotes_fedify(&[]).await;
}

/// As above, with Fedify's answers naming the QuoteRequest by IRI instead
/// of embedding it (as an application writing `object: requestId` does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archipel_quotes_fedify_posts_answered_by_request_iri() {
    archipel_quotes_fedify(&[("QUOTE_ANSWER", "iri")]).await;
}

async fn archipel_quotes_fedify(env: &[(&str, &str)]) {
    let Some(nodejs) = peer::installed() else {
        return;
    };
    let peer = Peer::start_with(&nodejs, env);
    let a = node::start(&["alice"]).await;
    let alice = a.user("alice");
    let bob = Iri::parse(peer.actor("bob")).unwrap();

    // bob follows alice: her quote posts reach him, and he checks them.
    peer.control("follow", json!({"target": alice.id().as_str()}))
        .await;
    peer.until("alice accepted bob", |s| {
        peer::has(&s["actors"]["bob"]["following"], alice.id().as_str())
    })
    .await;
    let mut posts = Vec::new();
    for policy in ["public", "manual", "nobody"] {
        let posted = peer
            .control("post", json!({"content": policy, "canQuote": policy}))
            .await;
        posts.push(posted["note"].as_str().unwrap().to_owned());
    }

    // Automatic: Fedify authorizes at once; archipel checks Fedify's
    // QuoteAuthorization before counting the quote approved.
    let auto = alice_quotes(&a, &posts[0]).await;
    let auto_id = auto.id.clone().unwrap();
    state_is(&a, &auto_id, "Fedify's automatic approval", |s| {
        matches!(s, QuoteState::Approved { .. })
    })
    .await;
    let auto = alice_attaches(&a, &auto, &bob).await;
    let authorization = auto.quote_authorization.clone().unwrap();
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{}/authorizations/", peer.base))
    );
    match a.quotes.verify(&auto).await {
        QuoteCheck::Quote(v) => {
            assert_eq!(v.author, bob);
            assert_eq!(v.authorization.as_ref(), Some(&authorization));
        }
        other => panic!("expected a quote, got {other:?}"),
    }
    // Fedify, as a receiver, believes archipel's quote post too.
    let s = peer
        .until("Fedify checked alice's quote post", |s| {
            Peer::received(s, auto_id.as_str())
                .is_some_and(|r| r["quoteAuthorization"] != Value::Null)
        })
        .await;
    let seen = Peer::received(&s, auto_id.as_str()).unwrap();
    assert_eq!(seen["quote"], posts[0].as_str(), "{seen:#}");
    assert_eq!(seen["verified"], true, "{seen:#}");

    // Manual: pending until bob approves.
    let manual = alice_quotes(&a, &posts[1]).await;
    let manual_id = manual.id.clone().unwrap();
    let request = format!("{manual_id}#quote_request");
    let s = peer
        .until("Fedify holds the request for approval", |s| {
            s["quoteRequests"]
                .as_array()
                .is_some_and(|r| r.iter().any(|q| q["id"] == request.as_str()))
        })
        .await;
    assert_eq!(
        a.quotes.state_of(&manual_id),
        Some(QuoteState::Pending),
        "{s:#}"
    );
    assert_eq!(
        link_reason(a.quotes.verify(&manual).await).to_string(),
        QuoteError::NoAuthorization {
            quote: manual_id.clone(),
            quoted: Iri::parse(posts[1].clone()).unwrap()
        }
        .to_string()
    );
    peer.control("approve", json!({"request": request})).await;
    state_is(&a, &manual_id, "bob's manual approval", |s| {
        matches!(s, QuoteState::Approved { .. })
    })
    .await;

    // Refused: the post is only bob's to quote.
    let refused = alice_quotes(&a, &posts[2]).await;
    let refused_id = refused.id.clone().unwrap();
    state_is(&a, &refused_id, "Fedify's refusal", |s| {
        *s == QuoteState::Refused
    })
    .await;
    let mut refused = refused;
    assert!(!a.quotes.attach(&mut refused));
    assert!(matches!(
        link_reason(a.quotes.verify(&refused).await),
        QuoteError::NoAuthorization { .. }
    ));
    // Fedify, as a receiver, shows it as a link too.
    let s = peer
        .until("Fedify received the refused quote post", |s| {
            Peer::received(s, refused_id.as_str()).is_some()
        })
        .await;
    let seen = Peer::received(&s, refused_id.as_str()).unwrap();
    assert_eq!(seen["verified"], false, "{seen:#}");
    assert_eq!(seen["reason"], "no quoteAuthorization", "{seen:#}");

    // Revoked: bob deletes the authorization; archipel's quote is a link.
    peer.control("revoke", json!({"authorization": authorization.as_str()}))
        .await;
    state_is(&a, &auto_id, "the revocation", |s| {
        *s == QuoteState::Revoked
    })
    .await;
    assert!(matches!(
        link_reason(a.quotes.verify(&auto).await),
        QuoteError::Fetch { .. }
    ));

    let s = peer.state().await;
    assert_eq!(s["errors"], json!([]), "{s:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_quotes_archipel_posts_by_their_policy() {
    let Some(nodejs) = peer::installed() else {
        return;
    };
    let peer = Peer::start(&nodejs);
    let a = node::start(&["alice"]).await;
    let alice = a.user("alice");
    let bob = Iri::parse(peer.actor("bob")).unwrap();

    // alice follows bob: his quote posts reach her, and she checks them.
    a.fed.follow(&alice, &bob).await.unwrap();
    eventually("bob accepted alice", || async {
        a.following("alice").await == vec![bob.to_string()]
    })
    .await;
    let mut posts = Vec::new();
    for policy in [
        QuotePolicy::public(),
        QuotePolicy::default().with_manual(archipel::federation::quotes::QuoteAudience::Public),
        QuotePolicy::default(),
    ] {
        let (post, _) = a
            .post(
                "alice",
                json!({"@context": quote_context(), "type": "Note", "content": "quote me?",
                       "to": [PUBLIC], "cc": [alice.followers().as_str()],
                       "interactionPolicy": policy.to_interaction_policy(&alice)}),
            )
            .await;
        posts.push(post.id().unwrap().to_string());
    }
    let quote = |i: usize| {
        let target = posts[i].clone();
        let peer = &peer;
        async move {
            let q = peer
                .control("quote", json!({"target": target, "content": "bob quotes"}))
                .await;
            (
                q["note"].as_str().unwrap().to_owned(),
                q["request"].as_str().unwrap().to_owned(),
            )
        }
    };
    let my_quote = |s: &Value, note: &str| -> Value {
        s["myQuotes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["note"] == note)
            .cloned()
            .unwrap()
    };

    // Automatic: archipel authorizes; Fedify checks archipel's
    // QuoteAuthorization before attaching it and sending the Update.
    let (auto, _) = quote(0).await;
    let s = peer
        .until("archipel's automatic approval", |s| {
            my_quote(s, &auto)["status"] != "pending"
        })
        .await;
    let mine = my_quote(&s, &auto);
    assert_eq!(
        mine["check"],
        json!({"verified": true, "reason": null}),
        "{s:#}"
    );
    assert_eq!(mine["status"], "accepted", "{s:#}");
    let authorization = mine["authorization"].as_str().unwrap().to_owned();
    assert!(
        authorization.starts_with(&format!("{}/quote_authorizations/", alice.id())),
        "{authorization}"
    );
    // alice receives bob's Update and shows a quote.
    eventually(
        "alice received bob's quote with its authorization",
        || async {
            a.received_latest(&auto)
                .is_some_and(|o| o.as_object().unwrap().quote_authorization.is_some())
        },
    )
    .await;
    let received = a
        .received_latest(&auto)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    match a.quotes.verify(&received).await {
        QuoteCheck::Quote(v) => assert_eq!(
            v.authorization.as_ref().map(Iri::as_str),
            Some(authorization.as_str())
        ),
        other => panic!("expected a quote, got {other:?}"),
    }

    // Manual: pending at alice's until she approves.
    let (manual, request) = quote(1).await;
    eventually("bob's request waits for alice", || async {
        a.quotes
            .pending(alice.id())
            .iter()
            .any(|p| p.request.id.as_str() == request)
    })
    .await;
    assert_eq!(my_quote(&peer.state().await, &manual)["status"], "pending");
    a.quotes
        .approve(&a.user("alice"), &Iri::parse(request).unwrap())
        .await
        .unwrap();
    let s = peer
        .until("alice's manual approval", |s| {
            my_quote(s, &manual)["status"] != "pending"
        })
        .await;
    assert_eq!(my_quote(&s, &manual)["status"], "accepted", "{s:#}");

    // Refused: only alice may quote it; bob's post stays a link here.
    let (refused, _) = quote(2).await;
    let s = peer
        .until("alice's refusal", |s| {
            my_quote(s, &refused)["status"] != "pending"
        })
        .await;
    assert_eq!(my_quote(&s, &refused)["status"], "rejected", "{s:#}");
    eventually("alice received bob's refused quote post", || async {
        a.received_latest(&refused).is_some()
    })
    .await;
    let received = a
        .received_latest(&refused)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    assert!(matches!(
        link_reason(a.quotes.verify(&received).await),
        QuoteError::NoAuthorization { .. }
    ));

    // Revoked: alice deletes the authorization; Fedify hears of it, and
    // the quote is a link again here.
    a.quotes
        .revoke(&a.user("alice"), &Iri::parse(authorization).unwrap())
        .await
        .unwrap();
    let s = peer
        .until("Fedify saw the revocation", |s| {
            my_quote(s, &auto)["status"] == "revoked"
        })
        .await;
    let received = a
        .received_latest(&auto)
        .unwrap()
        .as_object()
        .unwrap()
        .clone();
    assert!(matches!(
        link_reason(a.quotes.verify(&received).await),
        QuoteError::Fetch { .. }
    ));
    assert_eq!(s["errors"], json!([]), "{s:#}");
}
