//! Private posts of the `minimal_server` example go only to their
//! audience and are served to no one else; with `--authorized-fetch` on
//! both sides, unsigned reads are refused while follows and deliveries
//! still work (every GET the servers make is signed).
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::app::Running;
use crate::minimal_server as support;

use serde_json::{Value, json};
use support::*;

/// `GET url` without a signature, as ActivityPub JSON: the status and body.
async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = http()
        .get(url)
        .header("accept", "application/activity+json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The ids of the activities in a user's outbox page, as `token` (or anonymous) sees it.
async fn outbox_ids(server: &Running, user: &str, token: Option<&str>) -> Vec<String> {
    let url = format!("{}/outbox?page=true", server.app.actor_iri(user));
    let (status, page) = get(&url, token).await;
    assert_eq!(status, 200, "{page}");
    page["orderedItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `user` on `from` posts `body`; waits until `reader` on `to` has the
/// Create in their inbox; the Create's and its note's ids.
async fn post_until_read(
    from: &Running,
    user: &str,
    to: &Running,
    reader: &str,
    body: Value,
) -> (String, String) {
    let (status, create_id) = post_outbox(from, user, body).await;
    assert_eq!(status, 201, "{create_id}");
    let note_of = |inbox: Vec<Value>| {
        inbox
            .iter()
            .find(|x| x["id"] == create_id.as_str())
            .and_then(|c| c["object"]["id"].as_str().map(str::to_owned))
    };
    eventually("the reader received the post", || async {
        note_of(read_inbox(to, reader).await).is_some()
    })
    .await;
    let note_id = note_of(read_inbox(to, reader).await).unwrap();
    (create_id, note_id)
}

async fn follow(from: &Running, user: &str, to: &Running, whom: &str) {
    let handle = format!("acct:{whom}@127.0.0.1:{}", to.addr.port());
    let (status, body) = post_outbox(from, user, json!({"type": "Follow", "object": handle})).await;
    assert_eq!(status, 201, "{body}");
    let me = from.app.actor_iri(user);
    eventually("the follow is accepted", || async {
        followers(to, whom).await.contains(&me)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_note_reaches_only_its_addressee_and_is_served_to_no_one_else() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob", "carol"], &[], &[]).await;
    let bob = b.app.actor_iri("bob");
    // Both follow alice: a followers fan-out would reach carol too.
    follow(&b, "bob", &a, "alice").await;
    follow(&b, "carol", &a, "alice").await;

    let (create_id, note_id) = post_until_read(
        &a,
        "alice",
        &b,
        "bob",
        json!({"type": "Note", "content": "for bob only", "to": [bob]}),
    )
    .await;
    assert_eq!(note_content(&b, &note_id), Some(json!("for bob only")));
    // The one delivery to b's shared inbox is filed for bob alone.
    assert!(
        read_inbox(&b, "carol")
            .await
            .iter()
            .all(|x| x["id"] != create_id.as_str()),
        "carol got the direct note"
    );

    // Never served to anyone else: the note and the Create are 404 to an
    // anonymous reader, and missing from the anonymous outbox listing.
    assert_eq!(get(&note_id, None).await.0, 404);
    assert_eq!(get(&create_id, None).await.0, 404);
    assert!(!outbox_ids(&a, "alice", None).await.contains(&create_id));
    // The token holder (the author) sees it listed.
    let token = a.app.token.clone();
    assert!(
        outbox_ids(&a, "alice", Some(&token))
            .await
            .contains(&create_id)
    );

    // A public note is listed and served to everyone.
    let (status, public_id) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "hello <all>"}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(outbox_ids(&a, "alice", None).await.contains(&public_id));
    assert_eq!(get(&public_id, None).await.0, 200);

    // A browser gets a page for the public note, escaped, and a 404 for the direct one.
    let page = |url: String| async move {
        let response = http()
            .get(url)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (_, public) = get(&public_id, None).await;
    let public_note = public["object"]["id"].as_str().unwrap().to_owned();
    let (status, html) = page(public_note).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<article>hello &lt;all&gt;</article>"),
        "{html}"
    );
    assert_eq!(page(note_id.clone()).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorized_fetch_on_both_sides_refuses_unsigned_reads_and_still_federates() {
    let a = start_full("127.0.0.1", &["alice"], &[], &[], false, true).await;
    let b = start_full("127.0.0.1", &["bob"], &[], &[], false, true).await;

    // WebFinger, the actor fetch, the Follow and its Accept all work.
    follow(&b, "bob", &a, "alice").await;
    eventually("bob follows alice", || async {
        following(&b, "bob").await == vec![a.app.actor_iri("alice")]
    })
    .await;

    let (create_id, note_id) = post_until_read(
        &a,
        "alice",
        &b,
        "bob",
        json!({"type": "Note", "content": "signed readers only"}),
    )
    .await;
    // An unsigned GET of the public note (and of the listing) is refused.
    assert_eq!(get(&note_id, None).await.0, 401);
    assert_eq!(get(&create_id, None).await.0, 401);
    let outbox = format!("{}/outbox?page=true", a.app.actor_iri("alice"));
    assert_eq!(get(&outbox, None).await.0, 401);
    // A GET signed by b's instance actor gets it.
    let url = url::Url::parse(&note_id).unwrap();
    let fetched = b.app.fed.fetcher().fetch_value(&url).await.unwrap();
    assert_eq!(fetched["content"], "signed readers only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_only_note_reaches_followers_and_is_served_only_to_them() {
    use archipel::fetch::{FetchError, Fetcher};

    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob"], &[], &[]).await;
    let c = start("localhost", &["dave"], &[], &[]).await;
    follow(&b, "bob", &a, "alice").await;
    let followers = format!("{}/followers", a.app.actor_iri("alice"));
    let (create_id, note_id) = post_until_read(
        &a,
        "alice",
        &b,
        "bob",
        json!({"type": "Note", "content": "followers only", "to": [followers]}),
    )
    .await;
    let url = url::Url::parse(&note_id).unwrap();

    // Anonymous: 404, and not listed.
    assert_eq!(get(&note_id, None).await.0, 404);
    assert!(!outbox_ids(&a, "alice", None).await.contains(&create_id));
    // Signed by the follower: served.
    let as_bob = Fetcher::new(b.app.fed.client().clone())
        .signed(b.app.fed.local("bob").unwrap().signer().clone());
    let served = as_bob.fetch_value(&url).await.unwrap();
    assert_eq!(served["content"], "followers only");
    // Signed by someone who does not follow alice: 404, as if it did not exist.
    let as_dave = Fetcher::new(c.app.fed.client().clone())
        .signed(c.app.fed.local("dave").unwrap().signer().clone());
    let refused = as_dave.fetch_value(&url).await.unwrap_err();
    assert!(
        matches!(refused, FetchError::NotFound { .. }),
        "{refused:?}"
    );

    // An Update without addressing keeps the note followers-only.
    let (status, update_id) = post_outbox(
        &a,
        "alice",
        json!({"type": "Update", "object": {"id": note_id, "content": "still followers only"}}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(get(&note_id, None).await.0, 404);
    assert_eq!(get(&update_id, None).await.0, 404);
    let served = as_bob.fetch_value(&url).await.unwrap();
    assert_eq!(served["content"], "still followers only");

    // A Create addressed only on its object is not made public either.
    let (status, create_id) = post_outbox(
        &a,
        "alice",
        json!({"type": "Create", "object": {"type": "Note", "content": "inner", "to": [followers]}}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(get(&create_id, None).await.0, 404);
    assert!(!outbox_ids(&a, "alice", None).await.contains(&create_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_pages_follow_their_cursor_to_the_oldest_post() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let mut posted = Vec::new();
    for n in 0..45 {
        let (status, id) = post_outbox(
            &a,
            "alice",
            json!({"type": "Note", "content": format!("n{n}")}),
        )
        .await;
        assert_eq!(status, 201, "{id}");
        posted.push(id);
    }
    posted.reverse();
    // Pages of 20 (the library's default), newest first, each page's `next` reaching the older ones.
    let mut url = format!("{}/outbox?page=true", a.app.actor_iri("alice"));
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, page) = get(&url, None).await;
        assert_eq!(status, 200, "{page}");
        let items = page["orderedItems"].as_array().unwrap();
        assert!(items.len() <= 20, "{page}");
        seen.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        pages += 1;
        assert!(pages <= 3, "more pages than posts ({} items)", seen.len());
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, posted);
    assert_eq!(pages, 3);
}
