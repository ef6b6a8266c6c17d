//! A `--locked` account of the `minimal_server` example, between two real
//! instances on loopback: a Follow waits in the owner's pending list (read
//! with the token only), earns nothing until approved (no follower, no
//! followers-only post, no signed read), is approved or rejected through
//! the C2S outbox, and a resent Follow stays one pending request.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::app::Running;
use crate::minimal_server as support;

use archipel::fetch::{FetchError, Fetcher};
use archipel::vocab::Iri;
use bytes::Bytes;
use serde_json::{Value, json};
use support::*;

/// `GET /users/{user}/followers/pending?page=true` with `token` (or
/// none): the status and the JSON body (`Null` when it is not JSON).
async fn get_pending(server: &Running, user: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = http().get(format!(
        "{}/followers/pending?page=true",
        server.app.actor_iri(user)
    ));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The pending Follows of `user`, as the token holder reads them.
async fn pending(server: &Running, user: &str) -> Vec<Value> {
    let (status, page) = get_pending(server, user, Some(&server.app.token)).await;
    assert_eq!(status, 200, "{page}");
    page["orderedItems"].as_array().cloned().unwrap_or_default()
}

/// The ids of [`pending`].
async fn pending_ids(server: &Running, user: &str) -> Vec<String> {
    pending(server, user)
        .await
        .iter()
        .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The ids of what `user` received.
async fn inbox_ids(server: &Running, user: &str) -> Vec<String> {
    read_inbox(server, user)
        .await
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The id of the sent Follow from `follower` to `followee` the follower's
/// server still remembers (pending: neither accepted nor rejected yet).
async fn sent_follow(server: &Running, follower: &str, followee: &str) -> Option<String> {
    let graph = server.app.fed.graph();
    let sent = graph
        .sent_follow_between(
            &Iri::parse(follower).unwrap(),
            &Iri::parse(followee).unwrap(),
        )
        .await
        .unwrap();
    sent.map(|s| s.id.as_str().to_owned())
}

/// The object a post of `user` wraps, found in the owner's outbox listing.
async fn object_of(server: &Running, user: &str, activity_id: &str) -> String {
    let response = http()
        .get(format!("{}/outbox?page=true", server.app.actor_iri(user)))
        .bearer_auth(&server.app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let items = page["orderedItems"].as_array().unwrap();
    let activity = items.iter().find(|a| a["id"] == activity_id).unwrap();
    activity["object"]["id"].as_str().unwrap().to_owned()
}

/// A fetcher signing as `user` of `server`.
fn signed_as(server: &Running, user: &str) -> Fetcher {
    Fetcher::new(server.app.fed.client().clone())
        .signed(server.app.fed.local(user).unwrap().signer().clone())
}

/// `body`, signed by `user` of `from`, POSTed to `inbox`: the status.
async fn post_signed(from: &Running, user: &str, inbox: &str, body: &Value) -> u16 {
    let body = Bytes::from(body.to_string());
    let mut request = http::Request::post(inbox)
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .unwrap();
    signer(from, user).sign(&mut request).unwrap();
    let mut post = http().post(inbox).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    post.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_account_holds_follows_until_approved_and_rejected_ones_never_follow() {
    let a = start("127.0.0.1", &["alice"], &["alice"], &[]).await;
    let b = start("127.0.0.1", &["bob", "carol"], &[], &[]).await;
    let alice = a.app.actor_iri("alice");
    let bob = b.app.actor_iri("bob");
    let carol = b.app.actor_iri("carol");
    let alice_followers = format!("{alice}/followers");
    let handle = format!("acct:alice@127.0.0.1:{}", a.addr.port());
    let none: Vec<String> = Vec::new();

    // bob follows the locked alice: the Follow waits in her pending list.
    let (status, first_follow) =
        post_outbox(&b, "bob", json!({"type": "Follow", "object": handle})).await;
    assert_eq!(status, 201, "{first_follow}");
    eventually("bob's Follow is pending at alice's server", || async {
        pending_ids(&a, "alice").await == vec![first_follow.clone()]
    })
    .await;
    // The Follow got its 202 once stored; once alice's inbound queue is
    // settled her inbox handler has run to the end (it enqueues what it
    // sends before it returns): nothing was queued or sent back, so no
    // Accept is on its way.
    eventually("bob's Follow was delivered", || async {
        report(&b).await.delivered == 1
    })
    .await;
    inbound_settled(&a).await;
    assert_eq!(backlog(&a).await, 0, "alice's server queued something");
    let sent = report(&a).await;
    assert_eq!(
        sent.jobs.len(),
        0,
        "alice's server sent something: {sent:?}"
    );
    assert_eq!(followers(&a, "alice").await, none);
    assert_eq!(following(&b, "bob").await, none);
    assert_eq!(
        sent_follow(&b, &bob, &alice).await.as_deref(),
        Some(first_follow.as_str()),
        "bob's server forgot the Follow it sent"
    );
    let item = &pending(&a, "alice").await[0];
    assert_eq!(item["type"], "Follow");
    assert_eq!(item["actor"], bob.as_str());
    assert_eq!(item["object"], alice.as_str());

    // Only the token holder reads the list: anonymous and wrong tokens
    // (another server's included) get 401, an unknown user 404.
    let (status, body) = get_pending(&a, "alice", None).await;
    assert_eq!(status, 401, "anonymous: {body}");
    let (status, body) = get_pending(&a, "alice", Some("not-the-token")).await;
    assert_eq!(status, 401, "wrong token: {body}");
    let (status, body) = get_pending(&a, "alice", Some(&b.app.token)).await;
    assert_eq!(status, 401, "another server's token: {body}");
    let (status, body) = get_pending(&a, "nobody", Some(&a.app.token)).await;
    assert_eq!(status, 404, "unknown user: {body}");

    // A resent Follow stays one request: bob follows again twice (each a
    // new Follow, replacing the pending one), then the newest arrives three
    // more times (same id, signed by bob), as from a peer retrying.
    let mut newest = first_follow.clone();
    for n in 0..2 {
        let (status, body) =
            post_outbox(&b, "bob", json!({"type": "Follow", "object": handle})).await;
        assert_eq!(status, 201, "{body}");
        eventually("the new Follow was delivered", || async {
            report(&b).await.delivered == 2 + n
        })
        .await;
        let ids = pending_ids(&a, "alice").await;
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_ne!(ids[0], newest, "the newest Follow replaces the pending one");
        newest = ids[0].clone();
    }
    let replay = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": newest, "type": "Follow", "actor": bob, "object": alice, "to": [alice]
    });
    for n in 0..3 {
        let status = post_signed(&b, "bob", &format!("{alice}/inbox"), &replay).await;
        assert_eq!(status, 202, "replay {n}");
    }
    assert_eq!(pending_ids(&a, "alice").await, vec![newest.clone()]);
    assert_eq!(followers(&a, "alice").await, none);

    // A followers-only post made now does not reach bob (no job at all)
    // and is not served to his signed fetch.
    let (status, early) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "before approval", "to": [alice_followers]}),
    )
    .await;
    assert_eq!(status, 201, "{early}");
    // Its fan-out job finds no follower: the queues empty without a job.
    eventually(
        "the fan-out is expanded and nothing is left queued",
        || async { backlog(&a).await == 0 },
    )
    .await;
    let sent = report(&a).await;
    assert_eq!(sent.jobs.len(), 0, "{sent:?}");
    let early_note = object_of(&a, "alice", &early).await;
    let as_bob = signed_as(&b, "bob");
    for id in [&early_note, &early] {
        let refused = as_bob
            .fetch_value(&url::Url::parse(id).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, FetchError::NotFound { .. }),
            "{id}: {refused:?}"
        );
    }
    assert!(!inbox_ids(&b, "bob").await.contains(&early));

    // alice approves bob (by actor IRI): the answer names the Follow
    // approved, bob becomes her follower, and the Accept reaches bob's
    // server, which then records whom bob follows.
    let (status, approved) =
        post_outbox(&a, "alice", json!({"type": "Accept", "object": bob})).await;
    assert_eq!((status, approved.as_str()), (201, newest.as_str()));
    assert_eq!(followers(&a, "alice").await, vec![bob.clone()]);
    assert_eq!(pending_ids(&a, "alice").await, none);
    eventually("bob's server records that bob follows alice", || async {
        following(&b, "bob").await == vec![alice.clone()]
    })
    .await;
    // The Follow approved is settled at bob's server (the two bob sent
    // before it are still remembered there: the graph keeps every Follow
    // sent, not one per pair).
    let graph = b.app.fed.graph();
    let settled = graph.sent_follow(&Iri::parse(&newest).unwrap()).await;
    assert_eq!(
        settled.unwrap(),
        None,
        "the approved Follow is still pending"
    );
    // Approving twice finds nothing left to approve.
    let (status, body) = post_outbox(&a, "alice", json!({"type": "Accept", "object": bob})).await;
    assert_eq!(status, 404, "{body}");

    // The next followers-only post reaches bob, and he may read it.
    let (status, late) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "after approval", "to": [alice_followers]}),
    )
    .await;
    assert_eq!(status, 201, "{late}");
    eventually("bob received the followers-only note", || async {
        inbox_ids(&b, "bob").await.contains(&late)
    })
    .await;
    let inbox = read_inbox(&b, "bob").await;
    let create = inbox.iter().find(|x| x["id"] == late.as_str()).unwrap();
    assert_eq!(create["actor"], alice.as_str());
    assert_eq!(create["object"]["content"], "after approval");
    let late_note = object_of(&a, "alice", &late).await;
    let served = as_bob
        .fetch_value(&url::Url::parse(&late_note).unwrap())
        .await
        .unwrap();
    assert_eq!(served["content"], "after approval");
    // Nothing is back-filled: the Accept and this Create are all that
    // alice's server ever sent.
    eventually("the Accept and the Create were delivered", || async {
        report(&a).await.delivered == 2
    })
    .await;
    let sent = report(&a).await;
    assert_eq!(sent.jobs.len(), 2, "{sent:?}");
    assert!(!inbox_ids(&b, "bob").await.contains(&early));

    // carol asks too, and alice rejects her: carol never follows.
    let (status, carol_follow) =
        post_outbox(&b, "carol", json!({"type": "Follow", "object": handle})).await;
    assert_eq!(status, 201, "{carol_follow}");
    eventually("carol's Follow is pending", || async {
        pending_ids(&a, "alice").await == vec![carol_follow.clone()]
    })
    .await;
    assert_eq!(followers(&a, "alice").await, vec![bob.clone()]);
    assert_eq!(
        sent_follow(&b, &carol, &alice).await.as_deref(),
        Some(carol_follow.as_str())
    );
    let (status, rejected) =
        post_outbox(&a, "alice", json!({"type": "Reject", "object": carol})).await;
    assert_eq!((status, rejected.as_str()), (201, carol_follow.as_str()));
    assert_eq!(pending_ids(&a, "alice").await, none);
    eventually("carol's server forgets her pending Follow", || async {
        sent_follow(&b, &carol, &alice).await.is_none()
    })
    .await;
    assert_eq!(followers(&a, "alice").await, vec![bob.clone()]);
    assert_eq!(following(&b, "carol").await, none);
    let carol_inbox = read_inbox(&b, "carol").await;
    assert_eq!(carol_inbox.len(), 1, "{carol_inbox:?}");
    assert_eq!(carol_inbox[0]["type"], "Reject");
    assert_eq!(carol_inbox[0]["object"]["id"], carol_follow.as_str());

    // A followers-only post after the rejection reaches bob, not carol.
    let (status, last) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "bob only", "to": [alice_followers]}),
    )
    .await;
    assert_eq!(status, 201, "{last}");
    eventually("bob received the last note", || async {
        inbox_ids(&b, "bob").await.contains(&last)
    })
    .await;
    assert!(!inbox_ids(&b, "carol").await.contains(&last));
    // (A signed read by carol is served: her server has a follower of
    // alice, and the library's rule trusts a server with one to filter for
    // its own users, since servers fetch with their instance actor.)
}
