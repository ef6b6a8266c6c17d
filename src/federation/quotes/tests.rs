//! Unit tests of the quote decisions and the quoter's bookkeeping.

use super::*;
use crate::federation::Federation;

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

async fn fed() -> (Federation, LocalActor) {
    let fed = Federation::builder("https://a.example".parse().unwrap())
        .build()
        .await
        .unwrap();
    let alice = fed.actor("alice").await.unwrap();
    (fed, alice)
}

#[tokio::test]
async fn decisions_follow_the_policy_most_permissive_first() {
    let (fed, alice) = fed().await;
    let quotes = Quotes::new(&fed);
    let bob = iri("https://b.example/users/bob");
    let carol = iri("https://c.example/users/carol");
    fed.graph().add_follower(alice.id(), &bob).await.unwrap();
    fed.graph().add_following(alice.id(), &carol).await.unwrap();

    let target = |policy| QuoteTarget::new(alice.id().clone(), policy);
    let none = target(QuotePolicy::default());
    assert_eq!(
        quotes.decide(&none, &bob).await.unwrap(),
        QuoteDecision::Refused
    );
    assert_eq!(
        quotes.decide(&none, alice.id()).await.unwrap(),
        QuoteDecision::Automatic
    );

    let followers = target(
        QuotePolicy::default()
            .with_automatic(QuoteAudience::Followers)
            .with_manual(QuoteAudience::Public),
    );
    assert_eq!(
        quotes.decide(&followers, &bob).await.unwrap(),
        QuoteDecision::Automatic
    );
    assert_eq!(
        quotes.decide(&followers, &carol).await.unwrap(),
        QuoteDecision::Manual
    );

    let following = target(QuotePolicy::default().with_automatic(QuoteAudience::Following));
    assert_eq!(
        quotes.decide(&following, &carol).await.unwrap(),
        QuoteDecision::Automatic
    );
    assert_eq!(
        quotes.decide(&following, &bob).await.unwrap(),
        QuoteDecision::Refused
    );

    let one = target(QuotePolicy::default().with_manual(QuoteAudience::Actor(carol.clone())));
    assert_eq!(
        quotes.decide(&one, &carol).await.unwrap(),
        QuoteDecision::Manual
    );
    assert_eq!(
        quotes.decide(&one, &bob).await.unwrap(),
        QuoteDecision::Refused
    );
}

#[tokio::test]
async fn interaction_policy_round_trips_through_quote_policy() {
    let (_fed, alice) = fed().await;
    let policy = QuotePolicy::default()
        .with_automatic(QuoteAudience::Followers)
        .with_manual(QuoteAudience::Public);
    let published = policy.to_interaction_policy(&alice);
    let rule = published.can_quote.as_ref().unwrap();
    let auto: Vec<&str> = rule
        .automatic_approval
        .iter()
        .flatten()
        .map(Iri::as_str)
        .collect();
    assert_eq!(auto, [alice.followers().as_str()]);
    assert_eq!(
        QuotePolicy::from_interaction_policy(Some(&published), &alice),
        policy
    );

    // Nobody: published as the author alone (as Mastodon does), read back
    // as nobody.
    let nobody = QuotePolicy::default().to_interaction_policy(&alice);
    let rule = nobody.can_quote.as_ref().unwrap();
    let auto: Vec<&str> = rule
        .automatic_approval
        .iter()
        .flatten()
        .map(Iri::as_str)
        .collect();
    assert_eq!(auto, [alice.id().as_str()]);
    assert_eq!(
        QuotePolicy::from_interaction_policy(Some(&nobody), &alice),
        QuotePolicy::default()
    );
    assert_eq!(
        QuotePolicy::from_interaction_policy(None, &alice),
        QuotePolicy::default()
    );
}

#[tokio::test]
async fn without_targets_no_post_can_be_quoted() {
    let (fed, _alice) = fed().await;
    let quotes = Quotes::new(&fed);
    let request = QuoteRequest {
        activity: Activity::default(),
        id: iri("https://b.example/notes/1#quote_request"),
        quoter: iri("https://b.example/users/bob"),
        quoted: iri("https://a.example/objects/1"),
        quote: iri("https://b.example/notes/1"),
    };
    let refused = quotes.handle_request(request).await.unwrap_err();
    assert!(
        matches!(&refused, QuoteError::UnknownPost { post } if post == "https://a.example/objects/1"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn replies_are_believed_only_from_the_quoted_author() {
    let (fed, _alice) = fed().await;
    let quotes = Quotes::new(&fed);
    let request = iri("https://a.example/objects/q#quote_request");
    let reply = |accepted| QuoteReply {
        activity: Activity::default(),
        accepted,
        request: request.clone(),
        authorization: None,
    };
    let unknown = quotes
        .handle_reply(&iri("https://b.example/users/bob"), &reply(false))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, QuoteError::UnknownRequest { .. }),
        "{unknown:?}"
    );

    quotes.state().sent.insert(
        request.clone(),
        SentQuote::new(
            request.clone(),
            iri("https://a.example/objects/q"),
            iri("https://b.example/notes/1"),
            iri("https://b.example/users/bob"),
            QuoteState::Pending,
        ),
    );
    let mallory = iri("https://b.example/users/mallory");
    let forged = quotes
        .handle_reply(&mallory, &reply(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&forged, QuoteError::NotTheQuotedAuthor { actor, .. } if actor == &mallory),
        "{forged:?}"
    );
    assert_eq!(
        quotes.state_of(&iri("https://a.example/objects/q")),
        Some(QuoteState::Pending)
    );
    // An Accept without an authorization is not an approval.
    let empty = quotes
        .handle_reply(&iri("https://b.example/users/bob"), &reply(true))
        .await
        .unwrap_err();
    assert!(
        matches!(empty, QuoteError::NoAuthorization { .. }),
        "{empty:?}"
    );
    let refused = quotes
        .handle_reply(&iri("https://b.example/users/bob"), &reply(false))
        .await
        .unwrap();
    assert_eq!(
        refused,
        QuoteOutcome::Refused {
            quote: iri("https://a.example/objects/q")
        }
    );
    assert_eq!(
        quotes.state_of(&iri("https://a.example/objects/q")),
        Some(QuoteState::Refused)
    );
    // A Delete by anyone of anything is no revocation of a refused quote.
    assert_eq!(
        quotes
            .handle_revocation(&iri("https://b.example/users/bob"), &request)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn pending_requests_are_bounded() {
    let (fed, alice) = fed().await;
    let quotes = Quotes::with_config(&fed, QuotesConfig::default().with_max_pending(2));
    for n in 0..5 {
        quotes.state().pending.insert(
            PendingQuote {
                request: QuoteRequest {
                    activity: Activity::default(),
                    id: iri(&format!("https://b.example/r/{n}")),
                    quoter: iri("https://b.example/users/bob"),
                    quoted: iri("https://a.example/objects/1"),
                    quote: iri(&format!("https://b.example/notes/{n}")),
                },
                author: alice.id().clone(),
            },
            false,
        );
    }
    assert_eq!(quotes.pending(alice.id()).len(), 2);
    let gone = quotes
        .approve(&alice, &iri("https://b.example/r/0"))
        .await
        .unwrap_err();
    assert!(matches!(gone, QuoteError::NotPending { .. }), "{gone:?}");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn requests_survive_a_restart_with_a_store() {
    let dir = crate::federation::testing::TempDir::new("quotes-restart");
    let path = dir.0.join("quotes.sqlite3");
    let (fed, alice) = fed().await;
    let store = || Arc::new(SqliteQuoteRequests::open(&path).unwrap());
    let quotes = Quotes::new(&fed)
        .with_targets(Arc::new(Alice(alice.id().clone())))
        .with_requests(store())
        .await
        .unwrap();
    let request = QuoteRequest {
        activity: Activity::default(),
        id: iri("https://b.example/notes/1#quote_request"),
        quoter: iri("https://b.example/users/bob"),
        quoted: iri("https://a.example/objects/1"),
        quote: iri("https://b.example/notes/1"),
    };
    assert_eq!(
        quotes.handle_request(request.clone()).await.unwrap(),
        QuoteDecision::Manual
    );
    let sent = SentQuote::new(
        iri("https://a.example/objects/q#quote_request"),
        iri("https://a.example/objects/q"),
        iri("https://b.example/notes/2"),
        iri("https://b.example/users/bob"),
        QuoteState::Pending,
    );
    quotes.keep_sent(sent).await.unwrap();
    drop(quotes);

    let again = Quotes::new(&fed).with_requests(store()).await.unwrap();
    // Kept by its ids (what `compact` writes), not the activity received.
    let mut kept = request.clone();
    kept.activity = kept.compact();
    assert_eq!(
        again.pending(alice.id()),
        vec![PendingQuote::new(kept, alice.id().clone())]
    );
    assert_eq!(
        again.state_of(&iri("https://a.example/objects/q")),
        Some(QuoteState::Pending)
    );
    // A late Reject is matched (not UnknownRequest), and its outcome kept.
    let reply = QuoteReply {
        activity: Activity::default(),
        accepted: false,
        request: iri("https://a.example/objects/q#quote_request"),
        authorization: None,
    };
    assert_eq!(
        again
            .handle_reply(&iri("https://b.example/users/bob"), &reply)
            .await
            .unwrap(),
        QuoteOutcome::Refused {
            quote: iri("https://a.example/objects/q")
        }
    );
    let third = Quotes::new(&fed).with_requests(store()).await.unwrap();
    assert_eq!(
        third.state_of(&iri("https://a.example/objects/q")),
        Some(QuoteState::Refused)
    );
}

// Every post of a.example is alice's, quoted after her approval.
#[cfg(feature = "sqlite")]
struct Alice(Iri);

#[cfg(feature = "sqlite")]
#[async_trait::async_trait]
impl QuoteTargets for Alice {
    async fn target(
        &self,
        _post: &Iri,
    ) -> Result<Option<QuoteTarget>, crate::federation::dispatch::BoxError> {
        Ok(Some(QuoteTarget::new(
            self.0.clone(),
            QuotePolicy::default().with_manual(QuoteAudience::Public),
        )))
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_pending_request_keeps_its_ids_not_the_senders_body() {
    let (fed, alice) = fed().await;
    let quotes = Quotes::new(&fed).with_targets(Arc::new(Alice(alice.id().clone())));
    // The sender embeds a 100 KB quote post in its request.
    let activity: Activity = serde_json::from_value(serde_json::json!({
        "id": "https://b.example/notes/1#quote_request", "type": "QuoteRequest",
        "actor": "https://b.example/users/bob", "object": "https://a.example/objects/1",
        "instrument": {"id": "https://b.example/notes/1", "type": "Note",
            "attributedTo": "https://b.example/users/bob", "content": "x".repeat(100_000)}
    }))
    .unwrap();
    let request = QuoteRequest {
        activity,
        id: iri("https://b.example/notes/1#quote_request"),
        quoter: iri("https://b.example/users/bob"),
        quoted: iri("https://a.example/objects/1"),
        quote: iri("https://b.example/notes/1"),
    };
    assert_eq!(
        quotes.handle_request(request).await.unwrap(),
        QuoteDecision::Manual
    );
    let pending = quotes.pending(alice.id());
    let kept = serde_json::to_string(&pending[0].request.activity).unwrap();
    assert!(kept.len() < 1_000, "{} bytes kept", kept.len());
    assert!(
        kept.contains(r#""instrument":"https://b.example/notes/1""#),
        "{kept}"
    );
}

/// Every post of a.example is alice's, under one policy.
struct Policy(Iri, QuotePolicy);

#[async_trait::async_trait]
impl QuoteTargets for Policy {
    async fn target(
        &self,
        _post: &Iri,
    ) -> Result<Option<QuoteTarget>, crate::federation::dispatch::BoxError> {
        Ok(Some(QuoteTarget::new(self.0.clone(), self.1.clone())))
    }
}

fn request_from(quoter: &str, n: u32) -> QuoteRequest {
    let origin = quoter.rsplit_once("/users/").map_or(quoter, |(o, _)| o);
    QuoteRequest {
        activity: Activity::default(),
        id: iri(&format!("{origin}/notes/{n}#quote_request")),
        quoter: iri(quoter),
        quoted: iri("https://a.example/objects/1"),
        quote: iri(&format!("{origin}/notes/{n}")),
    }
}

/// `quotes`' decision on the `n`-th quote request from `actor`.
async fn decide(quotes: &Quotes, actor: &str, n: u32) -> QuoteDecision {
    quotes.handle_request(request_from(actor, n)).await.unwrap()
}

#[tokio::test]
async fn one_origin_cannot_fill_the_pending_requests() {
    let (fed, alice) = fed().await;
    let policy = QuotePolicy::default().with_manual(QuoteAudience::Public);
    let quotes = Quotes::with_config(&fed, QuotesConfig::default().with_max_pending_per_host(2))
        .with_targets(Arc::new(Policy(alice.id().clone(), policy)));
    let bob = "https://b.example/users/bob";
    for n in 0..2 {
        assert_eq!(decide(&quotes, bob, n).await, QuoteDecision::Manual);
    }
    // A third from b.example is refused (a Reject is sent)...
    assert_eq!(decide(&quotes, bob, 2).await, QuoteDecision::Refused);
    // ...a repeat of one kept is not a new one...
    assert_eq!(decide(&quotes, bob, 1).await, QuoteDecision::Manual);
    // ...and other servers' requests are still kept.
    assert_eq!(
        decide(&quotes, "https://c.example/users/carol", 0).await,
        QuoteDecision::Manual
    );
    assert_eq!(quotes.pending(alice.id()).len(), 3);
}

#[tokio::test]
async fn one_origin_cannot_fill_the_authorizations() {
    let (fed, alice) = fed().await;
    let policy = QuotePolicy::default().with_automatic(QuoteAudience::Public);
    let quotes = Quotes::new(&fed)
        .with_targets(Arc::new(Policy(alice.id().clone(), policy)))
        .with_store(Arc::new(MemoryAuthorizations::new(100).with_host_cap(2)));
    let bob = "https://b.example/users/bob";
    for n in 0..2 {
        assert_eq!(decide(&quotes, bob, n).await, QuoteDecision::Automatic);
    }
    assert_eq!(decide(&quotes, bob, 2).await, QuoteDecision::Refused);
    assert_eq!(
        decide(&quotes, "https://c.example/users/carol", 0).await,
        QuoteDecision::Automatic
    );
}
