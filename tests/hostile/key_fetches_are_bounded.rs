//! Key fetches are bounded before any request: a key id that failed is not
//! fetched again within the negative-cache TTL; past the per-host budget
//! no more fetches go to that host (`503`, try later); a key id on a
//! blocked domain is never fetched (`403`), even when the actor's domain
//! is fine;
//! forged signatures naming a real, just-fetched key do not each refetch it.

use std::time::Duration;

use archipel::inbox::InboxError;
use archipel::policy::DomainPolicy;
use archipel::signatures::{KeyRefusal, SignatureError, Spec};

use crate::key_fixture::*;

fn refusal(e: &InboxError) -> &KeyRefusal {
    match e {
        InboxError::Signature(SignatureError::KeyResolution { reason, .. }) => reason,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_key_id_is_not_fetched_again() {
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let key_id = victim.url("/missing#main-key");
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);
    for n in 1..=3 {
        let status = post_signed(
            &inbox,
            &inbox,
            like(&bob, n),
            &key_id,
            &evil_key(),
            Spec::Cavage,
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        hits(&victim, "/missing"),
        1,
        "fetched once, then remembered"
    );
    assert!(ours.seen.accepted.lock().unwrap().is_empty());
    let refused = ours.seen.refused.lock().unwrap();
    // A 404 is typed as a gone key (what the gone-actor path reads), and
    // remembered as such: the repeats say so again without a fetch.
    for refused in refused.iter() {
        assert!(
            matches!(refusal(refused), KeyRefusal::Gone { status: 404, url } if url.ends_with("/missing")),
            "{refused:?}"
        );
    }
    assert_eq!(refused.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_fetches_past_the_host_budget_are_not_made() {
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let ours = ours(None, |r| r.with_fetch_budget(2, Duration::from_secs(3600))).await;
    let inbox = format!("{}/inbox", ours.url);
    let mut statuses = Vec::new();
    for n in 1..=4 {
        let key_id = victim.url(&format!("/keys/{n}"));
        statuses.push(
            post_signed(
                &inbox,
                &inbox,
                like(&bob, n),
                &key_id,
                &evil_key(),
                Spec::Cavage,
            )
            .await,
        );
    }
    assert_eq!(statuses, [401, 401, 503, 503]);
    let fetched: Vec<String> = victim.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        fetched,
        ["/keys/1", "/keys/2"],
        "no request past the budget"
    );
    assert!(ours.seen.accepted.lock().unwrap().is_empty());
    let refused = ours.seen.refused.lock().unwrap();
    let host = "127.0.0.1".to_owned();
    assert_eq!(
        refusal(&refused[2]),
        &KeyRefusal::OverBudget { host: host.clone() }
    );
    assert_eq!(refusal(&refused[3]), &KeyRefusal::OverBudget { host });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_on_a_blocked_domain_is_never_fetched() {
    let victim = victim(&[]).await;
    let evil = TestServer::start().await;
    let bob = victim.url("/users/bob");
    // The same loopback server, named by a host the policy blocks.
    let key_id = format!(
        "http://localhost:{}/k#main-key",
        evil.authority().rsplit(':').next().unwrap()
    );
    let policy = DomainPolicy::new();
    policy.block("localhost").unwrap();
    let ours = ours(None, |r| r.with_domain_policy(policy)).await;
    let inbox = format!("{}/inbox", ours.url);
    let status = post_signed(
        &inbox,
        &inbox,
        like(&bob, 1),
        &key_id,
        &evil_key(),
        Spec::Cavage,
    )
    .await;
    assert_eq!(status, 403);
    assert!(evil.requests().is_empty(), "no request to the blocked host");
    assert!(ours.seen.accepted.lock().unwrap().is_empty());
    let refused = ours.seen.refused.lock().unwrap();
    assert_eq!(
        refusal(&refused[0]),
        &KeyRefusal::Blocked {
            host: "localhost".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_signatures_with_a_real_key_id_do_not_refetch_it() {
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let key_id = format!("{bob}#main-key");
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);
    // Bob's real key id, the attacker's signature: each fails, and the
    // first one's fetch is the only one.
    for n in 1..=3 {
        let status = post_signed(
            &inbox,
            &inbox,
            like(&bob, n),
            &key_id,
            &evil_key(),
            Spec::Cavage,
        )
        .await;
        assert_eq!(status, 401);
    }
    assert_eq!(hits(&victim, "/users/bob"), 1);
    assert!(ours.seen.accepted.lock().unwrap().is_empty());
    for e in ours.seen.refused.lock().unwrap().iter() {
        assert!(
            matches!(e, InboxError::Signature(SignatureError::BadSignature { key_id: k }) if k == &key_id),
            "{e:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_naming_one_unknown_key_costs_one_fetch() {
    let victim = victim(&[]).await;
    let bob = victim.url("/users/bob");
    let key_id = format!("{bob}#main-key");
    // The actor document takes a while: every request of the burst
    // arrives while the first fetch of Bob's key is still running.
    let document = actor(
        &bob,
        vec![serde_json::json!({
            "id": key_id, "owner": bob,
            "publicKeyPem": bob_key().public_key().to_spki_pem()
        })],
    );
    victim.route(
        "/users/bob",
        Reply::Slow {
            delay: Duration::from_millis(400),
            then: Box::new(Reply::ok("application/activity+json", document)),
        },
    );
    let ours = ours(None, |r| r).await;
    let inbox = format!("{}/inbox", ours.url);
    let burst = (1..=12).map(|n| {
        let (inbox, key_id) = (inbox.clone(), key_id.clone());
        let like = like(&bob, n);
        tokio::spawn(async move {
            post_signed(&inbox, &inbox, like, &key_id, &bob_key(), Spec::Cavage).await
        })
    });
    let mut statuses = Vec::new();
    for request in burst.collect::<Vec<_>>() {
        statuses.push(request.await.unwrap());
    }
    assert_eq!(statuses, [202; 12], "every request of the burst verified");
    assert_eq!(
        hits(&victim, "/users/bob"),
        1,
        "the burst shared one fetch of the key"
    );
    assert_eq!(ours.seen.accepted.lock().unwrap().len(), 12);
}
