use super::*;
use crate::federation::Graph;
use crate::federation::collection::{CollectionError, Cursor};
use crate::vocab::{AnyObject, Reference};

fn iris(range: std::ops::Range<u32>) -> Vec<Iri> {
    range
        .map(|n| Iri::parse(format!("https://b.example/users/u{n}")).unwrap())
        .collect()
}

const ALICE: &str = "https://a.example/users/alice";

/// alice's followers `range` in a memory graph, and her followers
/// collection over it.
async fn followers_of_alice(range: std::ops::Range<u32>) -> (Arc<dyn Graph>, FollowsSource) {
    let graph: Arc<dyn Graph> = Arc::new(crate::federation::MemoryGraph::new());
    let alice = Iri::parse(ALICE).unwrap();
    for iri in iris(range) {
        graph.add_follower(&alice, &iri).await.unwrap();
    }
    let source = FollowsSource::new(graph.clone(), alice, Side::Followers);
    (graph, source)
}

async fn walk(source: &dyn CollectionSource, limit: usize) -> Vec<Iri> {
    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..1_000 {
        let page = source
            .page(cursor.as_ref(), limit, &Reader::Anonymous)
            .await
            .unwrap();
        seen.extend(page.items.iter().filter_map(|r| r.id().cloned()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
    panic!("a walk of more than 1,000 pages: a page repeats its cursor");
}

#[tokio::test]
async fn follow_list_pages_keep_their_place_when_followers_arrive() {
    let (graph, all) = followers_of_alice(0..45).await;
    assert_eq!(all.total(&Reader::Anonymous).await.unwrap(), 45);
    let walked = walk(&all, 20).await;
    assert_eq!(walked.len(), 45);
    let mut sorted = walked.clone();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    sorted.dedup();
    assert_eq!(sorted.len(), 45, "no item twice");

    // Read the first page, then ten followers arrive: the next page
    // goes on from the same place, so no earlier item comes back.
    let first = all.page(None, 20, &Reader::Anonymous).await.unwrap();
    let shown: Vec<Iri> = first.items.iter().filter_map(|r| r.id().cloned()).collect();
    let alice = Iri::parse(ALICE).unwrap();
    for iri in iris(45..55) {
        graph.add_follower(&alice, &iri).await.unwrap();
    }
    let rest = all
        .page(first.next.as_ref(), 100, &Reader::Anonymous)
        .await
        .unwrap();
    let rest: Vec<Iri> = rest.items.iter().filter_map(|r| r.id().cloned()).collect();
    assert!(rest.iter().all(|i| !shown.contains(i)), "an item repeated");
    let old_rest: Vec<&Iri> = walked.iter().skip(20).collect();
    assert!(old_rest.iter().all(|i| rest.contains(i)), "an item skipped");
}

#[tokio::test]
async fn our_own_failures_are_not_told_to_the_peer() {
    use super::super::dispatch::DispatchError;
    let handler = DispatchError::Handler {
        kind: "Create".into(),
        source: "postgres://app:hunter2@db/app: connection refused".into(),
    };
    let response = refusal(&handler);
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = ::axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"internal error");
}

/// A server on 127.0.0.1 with alice's public note 1 and direct note 2,
/// the owner hook (`Bearer t`) and pages installed.
#[cfg(feature = "client")]
async fn serve_alice() -> String {
    use crate::federation::store::{MemoryPosts, Posts};
    use crate::vocab::{Audience, Object};

    struct TestPages;
    #[async_trait::async_trait]
    impl Pages for TestPages {
        async fn actor(&self, actor: &LocalActor) -> Option<String> {
            Some(format!("<h1>{}</h1>", escape_html(actor.name())))
        }
        async fn object(&self, object: &AnyObject, _: &LocalActor) -> Option<String> {
            let object = object.as_object()?;
            let content = object.content.as_deref()?;
            // Shows the hidden addressees if a page were given them.
            let hidden = object.bto.iter().chain(object.bcc.iter()).count();
            let hidden = if hidden > 0 { " (bto/bcc)" } else { "" };
            Some(format!("<p>{}</p>{hidden}", escape_html(content)))
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fed = Federation::builder(base.parse().unwrap())
        .build()
        .await
        .unwrap();
    let alice = fed.actor("alice").await.unwrap();
    fed.register(alice.clone());
    let posts = Posts::new(Arc::new(MemoryPosts::new()), fed.graph().clone());
    for (n, direct) in [(1, false), (2, true)] {
        let mut note =
            Object::new("Note").with_id(Iri::parse(format!("{base}/objects/{n}")).unwrap());
        note.content = Some(format!("<b>note {n}</b>"));
        note.attributed_to = Some(alice.id().clone().into());
        if direct {
            note.to = Some(Iri::parse("https://d.example/users/dora").unwrap().into());
        } else {
            Audience::public(alice.followers().clone()).apply(&mut note);
            note.bcc = Some(Iri::parse("https://e.example/users/erin").unwrap().into());
        }
        posts
            .put(&alice, AnyObject::from(note), true)
            .await
            .unwrap();
    }
    let router = fed
        .routes(fed.dispatcher())
        .with_objects(Arc::new(posts.clone()))
        .with_outbox(Arc::new(posts))
        .with_owner_auth(|headers, _| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some("Bearer t")
        })
        .with_pages(Arc::new(TestPages))
        .into_router();
    tokio::spawn(async move { ::axum::serve(listener, router).await });
    base
}

#[cfg(feature = "client")]
async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client.get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        response.status().as_u16(),
        kind,
        response.text().await.unwrap(),
    )
}

#[cfg(feature = "client")]
#[tokio::test]
async fn the_owner_hook_makes_the_token_holder_the_owner_and_no_one_else() {
    let base = serve_alice().await;
    let outbox = format!("{base}/users/alice/outbox?page=true");
    let count = |body: &str| {
        let page: serde_json::Value = serde_json::from_str(body).unwrap();
        page["orderedItems"].as_array().map(Vec::len)
    };
    let (status, _, body) = get(&outbox, &[]).await;
    assert_eq!((status, count(&body)), (200, Some(1)));
    let (status, _, body) = get(&outbox, &[("authorization", "Bearer wrong")]).await;
    assert_eq!((status, count(&body)), (200, Some(1)));
    let (status, _, body) = get(&outbox, &[("authorization", "Bearer t")]).await;
    assert_eq!((status, count(&body)), (200, Some(2)));

    let direct = format!("{base}/objects/2");
    assert_eq!(get(&direct, &[]).await.0, 404);
    assert_eq!(
        get(&direct, &[("authorization", "Bearer wrong")]).await.0,
        404
    );
    let (status, kind, body) = get(&direct, &[("authorization", "Bearer t")]).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, crate::media_type::ACTIVITY_JSON)
    );
    assert!(body.contains("note 2"), "{body}");

    // A tampered cursor is the reader's fault: 400, whoever reads.
    for auth in ["Bearer t", "Bearer wrong"] {
        let url = format!("{base}/users/alice/outbox?cursor=before-abc");
        assert_eq!(get(&url, &[("authorization", auth)]).await.0, 400);
    }
}

#[cfg(feature = "client")]
#[tokio::test]
async fn browsers_get_pages_and_activitypub_clients_json() {
    let base = serve_alice().await;
    let html = [("accept", "text/html,application/xhtml+xml;q=0.9")];
    let (status, kind, body) = get(&format!("{base}/users/alice"), &html).await;
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (200, "text/html; charset=utf-8", "<h1>alice</h1>")
    );
    let (status, kind, _) = get(
        &format!("{base}/users/alice"),
        &[("accept", "application/activity+json")],
    )
    .await;
    assert_eq!(
        (status, kind.as_str()),
        (200, crate::media_type::ACTIVITY_JSON)
    );

    let (status, kind, body) = get(&format!("{base}/objects/1"), &html).await;
    assert_eq!(
        (status, kind.as_str(), body.as_str()),
        (
            200,
            "text/html; charset=utf-8",
            "<p>&lt;b&gt;note 1&lt;/b&gt;</p>"
        )
    );
    // A private post is a 404 in HTML too, but its owner sees the page.
    let (status, _, body) = get(&format!("{base}/objects/2"), &html).await;
    assert_eq!(status, 404, "{body}");
    let owner = [html[0], ("authorization", "Bearer t")];
    let (status, _, body) = get(&format!("{base}/objects/2"), &owner).await;
    assert_eq!(
        (status, body.as_str()),
        (200, "<p>&lt;b&gt;note 2&lt;/b&gt;</p>")
    );
    assert_eq!(get(&format!("{base}/objects/3"), &html).await.0, 404);
}

#[test]
fn a_bearer_token_matches_only_itself_and_never_shows() {
    let mut headers = HeaderMap::new();
    let token = BearerToken::new("abc");
    assert_eq!(format!("{token:?}"), "BearerToken(..)");
    assert!(!token.matches(&headers));
    for (value, ok) in [
        ("Bearer abc", true),
        ("Bearer  abc ", true),
        ("Bearer abd", false),
        ("Bearer ab", false),
        ("Bearer abcd", false),
        ("bearer abc", false),
        ("Basic abc", false),
    ] {
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        assert_eq!(token.matches(&headers), ok, "{value}");
    }
    headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
    assert!(!BearerToken::new("").matches(&headers));
}

#[tokio::test]
async fn a_cursor_it_never_minted_is_refused() {
    let (_, source) = followers_of_alice(0..3).await;
    for bad in [
        "after-xyz",
        "before-0000000000000000",
        "a_-_-",
        "h",
        "hYQ.AA",
    ] {
        let cursor = Cursor::new(bad).unwrap();
        assert!(matches!(
            source.page(Some(&cursor), 20, &Reader::Anonymous).await,
            Err(CollectionError::UnknownCursor { .. })
        ));
    }
}

#[cfg(feature = "client")]
#[tokio::test]
async fn an_owner_collection_is_served_to_its_owner_only() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fed = Federation::builder(base.parse().unwrap())
        .build()
        .await
        .unwrap();
    fed.register(fed.actor("alice").await.unwrap());
    let listed = |_: &LocalActor| -> Arc<dyn CollectionSource> {
        let source = crate::federation::collection::VecSource::new();
        for iri in iris(0..3) {
            source.push(Reference::Iri(iri)).unwrap();
        }
        Arc::new(source)
    };
    let router = fed
        .routes(fed.dispatcher())
        .with_owner_auth(|headers, _| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some("Bearer t")
        })
        .with_owner_collection("inbox", listed)
        .with_owner_collection("/followers/pending/", listed)
        // The library's own GET route: not taken over.
        .with_owner_collection("followers", listed)
        .into_router();
    tokio::spawn(async move { ::axum::serve(listener, router).await });

    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let fetch = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            let status = response.status().as_u16();
            let body: serde_json::Value =
                serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
            (status, challenge, body)
        }
    };
    for path in ["/users/alice/inbox", "/users/alice/followers/pending"] {
        for token in [None, Some("wrong")] {
            let (status, challenge, _) = fetch(path, token).await;
            assert_eq!(
                (status, challenge.as_deref()),
                (401, Some("Bearer")),
                "{path} {token:?}"
            );
        }
        let (status, _, body) = fetch(path, Some("t")).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["id"], format!("{base}{path}"));
        assert_eq!(body["totalItems"], 3);
    }
    assert_eq!(fetch("/users/nobody/inbox", Some("t")).await.0, 404);
    // The followers stay the library's: public, from the (empty) graph.
    let (status, _, body) = fetch("/users/alice/followers", None).await;
    assert_eq!((status, body["totalItems"].as_u64()), (200, Some(0)));
    // The inbox still takes POSTs (an unsigned one is refused, not 405).
    let post = client
        .post(format!("{base}/users/alice/inbox"))
        .header("content-type", crate::media_type::ACTIVITY_JSON)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 401);
}

#[cfg(feature = "client")]
#[tokio::test]
async fn only_the_owner_posts_to_the_outbox_and_nodeinfo_counts_the_listed_posts() {
    use crate::federation::store::{MemoryPosts, Posts};
    use crate::vocab::{Audience, Object};

    /// Answers `201` naming the actor and the body's length.
    struct Echo;
    #[async_trait::async_trait]
    impl ClientOutbox for Echo {
        async fn post(&self, actor: &LocalActor, body: Bytes) -> Response {
            let said = format!("{} {}", actor.name(), body.len());
            (StatusCode::CREATED, said).into_response()
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fed = Federation::builder(base.parse().unwrap())
        .build()
        .await
        .unwrap();
    let alice = fed.actor("alice").await.unwrap();
    let posts = Posts::new(Arc::new(MemoryPosts::new()), fed.graph().clone());
    let mut note = Object::new("Note").with_id(Iri::parse(format!("{base}/objects/1")).unwrap());
    note.attributed_to = Some(alice.id().clone().into());
    Audience::public(alice.followers().clone()).apply(&mut note);
    posts
        .put(&alice, AnyObject::from(note), true)
        .await
        .unwrap();
    let software = crate::nodeinfo::Software::new("test-server", "1.2.3").unwrap();
    let router = fed
        .routes(fed.dispatcher())
        .with_owner_auth(|headers, _| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some("Bearer t")
        })
        .with_client_outbox(Arc::new(Echo))
        .with_nodeinfo(software, 7, posts)
        .into_router();
    tokio::spawn(async move { ::axum::serve(listener, router).await });

    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let post = |name: &str, token: Option<&str>, size: usize| {
        let mut request = client
            .post(format!("{base}/users/{name}/outbox"))
            .body(vec![b'x'; size]);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            let status = response.status().as_u16();
            (status, challenge, response.text().await.unwrap())
        }
    };
    for token in [None, Some("wrong")] {
        let (status, challenge, _) = post("alice", token, 5).await;
        assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    }
    assert_eq!(post("nobody", Some("t"), 5).await.0, 404);
    let (status, _, said) = post("alice", Some("t"), 5).await;
    assert_eq!((status, said.as_str()), (201, "alice 5"));
    let (status, _, said) = post("alice", Some("t"), MAX_CLIENT_BODY).await;
    assert_eq!((status, said), (201, format!("alice {MAX_CLIENT_BODY}")));
    assert_eq!(post("alice", Some("t"), MAX_CLIENT_BODY + 1).await.0, 413);

    let (status, _, body) = get(&format!("{base}/nodeinfo/2.1"), &[]).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["software"]["name"], "test-server");
    assert_eq!(doc["software"]["version"], "1.2.3");
    assert_eq!(doc["usage"]["users"]["total"], 7);
    assert_eq!(doc["usage"]["localPosts"], 1);
    assert_eq!(doc["openRegistrations"], false);
    let (status, _, body) = get(&format!("{base}/.well-known/nodeinfo"), &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains(&format!("{base}/nodeinfo/2.1")), "{body}");
}

#[test]
fn a_listener_without_a_public_name_is_reached_over_loopback() {
    let base = |addr: &str| listener_base(addr.parse().unwrap()).unwrap().to_string();
    assert_eq!(base("0.0.0.0:8080"), "http://127.0.0.1:8080/");
    assert_eq!(base("[::]:8080"), "http://[::1]:8080/");
    assert_eq!(base("192.0.2.7:80"), "http://192.0.2.7/");
    assert_eq!(base("[2001:db8::1]:3000"), "http://[2001:db8::1]:3000/");
}

#[test]
fn a_refused_forwarded_copy_is_paid_for_by_its_forwarder_and_a_replay_is_not() {
    use crate::inbox::{ForwardedError, InboxError};
    let altered = InboxError::Forwarded(ForwardedError::ContentMismatch {
        id: "https://a.example/activities/1".to_owned(),
        from: "https://a.example/activities/1".to_owned(),
    });
    assert!(proves_origin(&altered));
    let replay = InboxError::Duplicate {
        id: "https://a.example/activities/1".to_owned(),
    };
    assert!(!proves_origin(&replay));
}
