//! Two instances of the `bookwyrm_like` example and one of the
//! `minimal_server` example on loopback: a reader's shelf and review reach
//! the other book server as rich objects (`Add{ShelfItem}`, `Review`) and
//! the Mastodon-style server as a plain `Article`, both signed by the
//! reader's key and verified on arrival.

use crate::bookwyrm_like::{books, server};
use crate::minimal_server as support;
use crate::node::{follows, reader, received, start as start_books};

use archipel::client::authority;
use archipel::vocab::AnyObject;
use books::BookObject;
use serde_json::json;
use support::{eventually, following, post_outbox, read_inbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_arrives_rich_at_a_book_server_and_plain_at_a_microblog() {
    let a = start_books("mouse").await;
    let b = start_books("rat").await;
    let m = support::start("127.0.0.1", &["alice"], &[], &[]).await;
    let (mouse_actor, rat) = (reader(&a), reader(&b));
    let mouse = mouse_actor.id().as_str().to_owned();

    // rat (book server B) and alice (minimal server M) follow mouse.
    b.app.follow(&rat, &mouse).await.unwrap();
    let (status, _) = post_outbox(&m, "alice", json!({"type": "Follow", "object": mouse})).await;
    assert_eq!(status, 201);
    eventually("both follows are accepted", || async {
        follows(&b, &rat, &mouse).await && following(&m, "alice").await == vec![mouse.clone()]
    })
    .await;
    // Both are mouse's followers in the library's graph, and A told their
    // servers apart by their NodeInfo `software.name`.
    let mut followers: Vec<String> = a
        .app
        .fed
        .graph()
        .followers(mouse_actor.id())
        .await
        .unwrap()
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    followers.sort();
    let mut expected = vec![rat.id().as_str().to_owned(), m.app.actor_iri("alice")];
    expected.sort();
    assert_eq!(followers, expected);
    let host = |url: &str| authority(&url::Url::parse(url).unwrap());
    assert_eq!(a.app.store.peer(&host(rat.id().as_str())), Some(true));
    assert_eq!(
        a.app.store.peer(&host(&m.app.actor_iri("alice"))),
        Some(false)
    );

    // mouse catalogs a book, shelves it, reviews it.
    let book = a
        .app
        .add_book("The Left Hand of Darkness", "Ursula K. Le Guin")
        .await
        .unwrap()
        .to_string();
    a.app
        .shelve(&mouse_actor, &book, "to-read", true)
        .await
        .unwrap();
    a.app
        .shelve(&mouse_actor, &book, "read", true)
        .await
        .unwrap();
    let review_id = a
        .app
        .post_status(
            &mouse_actor,
            server::Draft {
                kind: "Review".into(),
                book: book.clone(),
                name: Some("Winter, remembered".into()),
                content: Some("<p>Cold and warm.</p>".into()),
                rating: Some(4.5),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .to_string();

    // B: the shelf as Add{ShelfItem}, the review as a typed Review.
    eventually("B receives the Add and the Create", || async {
        received(&b, "Add", "ShelfItem").is_some() && received(&b, "Create", "Review").is_some()
    })
    .await;
    let add = received(&b, "Add", "ShelfItem").unwrap();
    assert_eq!(add.key_id, format!("{mouse}#main-key"));
    // (The two Adds may arrive in either order.)
    let target = add.activity["target"].as_str().unwrap();
    assert!(
        [
            format!("{mouse}/shelf/to-read"),
            format!("{mouse}/shelf/read")
        ]
        .contains(&target.to_owned()),
        "target {target}"
    );
    let item = AnyObject::from_slice(add.activity["object"].to_string().as_bytes()).unwrap();
    let BookObject::ShelfItem(item) = BookObject::from_any(item) else {
        panic!("not a ShelfItem: {}", add.activity)
    };
    assert_eq!(item.ext.book.as_ref().unwrap().as_str(), book);

    let create = received(&b, "Create", "Review").unwrap();
    assert_eq!(create.key_id, format!("{mouse}#main-key"));
    assert_eq!(create.activity["@context"], books::context().to_value());
    let object = AnyObject::from_slice(create.activity["object"].to_string().as_bytes()).unwrap();
    let BookObject::Review(review) = BookObject::from_any(object) else {
        panic!("not a Review: {}", create.activity)
    };
    assert_eq!(review.id.as_ref().unwrap().as_str(), review_id);
    assert_eq!(review.name.as_deref(), Some("Winter, remembered"));
    assert_eq!(review.content.as_deref(), Some("<p>Cold and warm.</p>"));
    assert_eq!(review.ext.rating, Some(4.5));
    assert_eq!(review.ext.in_reply_to_book.as_ref().unwrap().as_str(), book);
    // The review is served at its id, with the book context.
    let served = support::http().get(&review_id).send().await.unwrap();
    let served: serde_json::Value = serde_json::from_str(&served.text().await.unwrap()).unwrap();
    assert_eq!(served["@context"], books::context().to_value());
    assert_eq!(served["type"], "Review");
    assert_eq!(served["rating"], 4.5);
    // NodeInfo names the book software and counts mouse's one status
    // (the shelf activities are not posts).
    let nodeinfo = a.app.fed.paths().base().join("nodeinfo/2.1").unwrap();
    let nodeinfo = support::http().get(nodeinfo).send().await.unwrap();
    let nodeinfo: serde_json::Value =
        serde_json::from_str(&nodeinfo.text().await.unwrap()).unwrap();
    assert_eq!(nodeinfo["software"]["name"], server::SOFTWARE);
    assert_eq!(nodeinfo["usage"]["localPosts"], 1);
    assert_eq!(nodeinfo["usage"]["users"]["total"], 1);
    // Content negotiation: the reader, the book and the review answer JSON
    // to ActivityPub clients and HTML to browsers, at the same IRI.
    let ld = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
    for url in [&mouse, &book, &review_id] {
        for (accept, expected) in [
            ("application/activity+json", "application/activity+json"),
            (ld, "application/activity+json"),
            (
                "text/html,application/xhtml+xml,*/*;q=0.8",
                "text/html; charset=utf-8",
            ),
        ] {
            let response = support::http()
                .get(url.as_str())
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{url} as {accept}");
            let got = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(got, expected, "{url} as {accept}");
            assert_eq!(
                response.headers()["vary"]
                    .to_str()
                    .unwrap()
                    .split(',')
                    .next(),
                Some("Accept")
            );
        }
    }
    // B fetched the Edition (a custom type) from A to learn its title.
    eventually("B knows the book's title", || async {
        b.app.store.title(&book).as_deref() == Some("The Left Hand of Darkness")
    })
    .await;

    // B keeps a copy of mouse's shelves from Add/Remove{ShelfItem}.
    let shelf = |name: &str| format!("{mouse}/shelf/{name}");
    eventually("B sees both shelves", || async {
        let store = &b.app.store;
        store.remote_shelf(&shelf("to-read")) == [book.clone()]
            && store.remote_shelf(&shelf("read")) == [book.clone()]
    })
    .await;
    a.app
        .shelve(&mouse_actor, &book, "to-read", false)
        .await
        .unwrap();
    eventually("B sees the book leave to-read", || async {
        let store = &b.app.store;
        store.remote_shelf(&shelf("to-read")).is_empty()
            && store.remote_shelf(&shelf("read")) == [book.clone()]
    })
    .await;
    let remove = received(&b, "Remove", "ShelfItem").unwrap();
    assert_eq!(remove.key_id, format!("{mouse}#main-key"));

    // M: the same review as a plain Article, verified with mouse's key;
    // no Add (M would not understand it).
    let create_id = create.activity["id"].as_str().unwrap().to_owned();
    eventually("alice receives the review", || async {
        read_inbox(&m, "alice")
            .await
            .iter()
            .any(|act| act["id"] == create_id.as_str())
    })
    .await;
    let inbox = read_inbox(&m, "alice").await;
    assert!(
        inbox
            .iter()
            .all(|act| act["type"] != "Add" && act["type"] != "Remove"),
        "{inbox:?}"
    );
    let plain = inbox
        .iter()
        .find(|act| act["id"] == create_id.as_str())
        .unwrap();
    let article = &plain["object"];
    assert_eq!(article["type"], "Article");
    assert_eq!(article["id"], review_id.as_str());
    assert_eq!(article["name"], "Winter, remembered");
    assert_eq!(
        article["content"],
        format!(
            "<p>Review of <i><a href=\"{book}\">The Left Hand of Darkness</a></i>: ★★★★☆ (4.5/5)</p><p>Cold and warm.</p>"
        )
    );
    assert_eq!(plain["@context"], "https://www.w3.org/ns/activitystreams");
    assert_eq!(article.get("rating"), None);
    assert_eq!(article.get("inReplyToBook"), None);
    {
        let (_, review) = m.app.store.received(review_id.as_str()).unwrap();
        assert!(review.as_object().unwrap().has_type("Article"));
        let verification = m.app.store.verification(create_id.as_str()).unwrap();
        assert!(
            verification.ends_with(&format!("{mouse}#main-key")),
            "verification record: {verification}"
        );
    }

    // A quotation: a typed Quotation at B, a Note quoting the text at M.
    let quote_id = a
        .app
        .post_status(
            &mouse_actor,
            server::Draft {
                kind: "Quotation".into(),
                book: book.clone(),
                content: Some("<p>Light is the left hand.</p>".into()),
                quote: Some("<p>Light is the left hand of darkness.</p>".into()),
                position: Some(233),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .to_string();
    eventually("B receives the quotation", || async {
        received(&b, "Create", "Quotation").is_some()
    })
    .await;
    let create = received(&b, "Create", "Quotation").unwrap();
    let object = AnyObject::from_slice(create.activity["object"].to_string().as_bytes()).unwrap();
    let BookObject::Quotation(quotation) = BookObject::from_any(object) else {
        panic!("not a Quotation: {}", create.activity)
    };
    assert_eq!(quotation.id.as_ref().unwrap().as_str(), quote_id);
    assert_eq!(
        quotation.ext.quote.as_deref(),
        Some("<p>Light is the left hand of darkness.</p>")
    );
    assert_eq!(quotation.ext.position, Some(233));
    eventually("alice receives the quotation as a Note", || async {
        m.app
            .store
            .received(&quote_id)
            .is_some_and(|(_, n)| n.as_object().is_some_and(|o| o.has_type("Note")))
    })
    .await;
    assert_eq!(
        crate::minimal_server::note_content(&m, &quote_id).unwrap(),
        format!(
            "<blockquote><p>Light is the left hand of darkness.</p></blockquote><p>— <i><a href=\"{book}\">The Left Hand of Darkness</a></i> (p. 233)</p><p>Light is the left hand.</p>"
        )
    );
}

/// Waits until `s` has nothing left to deliver, so a test can then assert
/// that something did *not* arrive.
async fn drained(s: &server::Running) {
    eventually("the delivery and fan-out queues drain", || async {
        let now = archipel::delivery::Timestamp::from_system_time(std::time::SystemTime::now());
        // A fan-out job not yet expanded has deliveries still to queue.
        s.app.fed.queue().stats(now).await.unwrap().total == 0
            && s.app.fed.fanout_queue().stats(now).await.unwrap().total == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_and_followers_only_reviews_reach_only_their_audience() {
    let a = start_books("mouse").await;
    let b = start_books("rat").await;
    let c = start_books("owl").await;
    let (mouse, rat, owl) = (reader(&a), reader(&b), reader(&c));
    // rat follows mouse; owl does not.
    b.app.follow(&rat, mouse.id().as_str()).await.unwrap();
    eventually("rat follows mouse", || async {
        follows(&b, &rat, mouse.id().as_str()).await
    })
    .await;
    let book = a
        .app
        .add_book("Lavinia", "Ursula K. Le Guin")
        .await
        .unwrap();
    let book = book.as_str().to_owned();
    let review = |name: &str, visibility: &str, to: Vec<String>| server::Draft {
        kind: "Review".into(),
        book: book.clone(),
        name: Some(name.to_owned()),
        content: Some(format!("<p>{name}</p>")),
        visibility: Some(visibility.to_owned()),
        to,
        ..Default::default()
    };
    let direct = a
        .app
        .post_status(
            &mouse,
            review("For owl", "direct", vec![owl.id().to_string()]),
        )
        .await
        .unwrap();
    let private = a
        .app
        .post_status(&mouse, review("For followers", "followers", vec![]))
        .await
        .unwrap();
    let has = |s: &server::Running, id: &archipel::vocab::Iri| {
        s.app
            .store
            .received_about(&book, 10)
            .iter()
            .any(|r| r.id() == Some(id))
    };
    eventually(
        "owl gets the direct review, rat the followers-only one",
        || async { has(&c, &direct) && has(&b, &private) },
    )
    .await;
    drained(&a).await;
    assert!(
        !has(&b, &direct),
        "rat received the review addressed to owl"
    );
    assert!(!has(&c, &private), "owl received a followers-only review");
    // The direct review reached owl as the rich type, with its addressing.
    let kept = c.app.store.received_about(&book, 10);
    let BookObject::Review(r) = BookObject::from_any(kept[0].clone()) else {
        panic!("not a Review: {kept:?}")
    };
    let to: Vec<&str> =
        r.to.iter()
            .flat_map(|t| t.iter())
            .filter_map(|t| t.id())
            .map(|i| i.as_str())
            .collect();
    assert_eq!(to, [owl.id().as_str()]);
    assert_eq!(r.cc, None);

    // Neither is served to an anonymous reader, nor shown on the book's page.
    for id in [&direct, &private] {
        let status = support::http()
            .get(id.as_str())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{id}");
    }
    let page = support::http()
        .get(&book)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<h1>Lavinia</h1>"), "{page}");
    assert!(
        !page.contains("For owl") && !page.contains("For followers"),
        "{page}"
    );
    // The outbox lists them to the token holder only.
    let total = |token: Option<&'static str>| {
        let url = format!("{}/outbox", mouse.id());
        async move {
            let mut request = support::http()
                .get(url)
                .header("accept", "application/activity+json");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let body = request.send().await.unwrap().text().await.unwrap();
            let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
            doc["totalItems"].as_u64()
        }
    };
    assert_eq!(total(None).await, Some(0));
    assert_eq!(total(Some("t")).await, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_peer_sends_stays_within_the_caps() {
    let caps = crate::bookwyrm_like::store::Caps {
        received: 3,
        inbox: 4,
        remote_shelf_items: 2,
        ..Default::default()
    };
    let a = crate::node::start_with_caps(&["mouse"], None, 0, caps).await;
    let b = start_books("rat").await;
    let (mouse, rat) = (reader(&a), reader(&b));
    a.app.follow(&mouse, rat.id().as_str()).await.unwrap();
    eventually("mouse follows rat", || async {
        follows(&a, &mouse, rat.id().as_str()).await
    })
    .await;
    let book = a.app.add_book("Tehanu", "Ursula K. Le Guin").await.unwrap();
    let book = book.as_str().to_owned();
    let mut last = Vec::new();
    for n in 0..10 {
        let draft = server::Draft {
            kind: "Comment".into(),
            book: book.clone(),
            content: Some(format!("<p>Thought {n}</p>")),
            ..Default::default()
        };
        last.push(b.app.post_status(&rat, draft).await.unwrap());
        let shelf = format!("shelf-{n}");
        b.app.shelve(&rat, &book, &shelf, true).await.unwrap();
    }
    // The newest comment arrives last of all: wait for it, then count.
    let newest = last.last().unwrap().clone();
    eventually("A receives rat's last comment", || async {
        a.app
            .store
            .received_about(&book, 10)
            .iter()
            .any(|s| s.id() == Some(&newest))
    })
    .await;
    drained(&b).await;
    let kept: Vec<_> = a
        .app
        .store
        .received_about(&book, 100)
        .iter()
        .filter_map(|s| s.id().cloned())
        .collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert_eq!(a.app.store.count("received"), 3);
    assert_eq!(a.app.store.count("about"), 3);
    assert_eq!(a.app.store.count("inbox"), 4);
    assert_eq!(a.app.store.count("remote_shelves"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_statuses_keeps_the_database_within_its_caps() {
    const SENT: usize = 1_000;
    let caps = crate::bookwyrm_like::store::Caps {
        received: 100,
        inbox: 100,
        ..Default::default()
    };
    let dir = crate::pages_in_chromium::scratch_dir("flood");
    let a = crate::node::start_with_caps(&["mouse"], Some(dir.clone()), 0, caps).await;
    let b = start_books("rat").await;
    let (mouse, rat) = (reader(&a), reader(&b));
    a.app.follow(&mouse, rat.id().as_str()).await.unwrap();
    eventually("mouse follows rat", || async {
        follows(&a, &mouse, rat.id().as_str()).await
    })
    .await;
    let book = a
        .app
        .add_book("Four Ways to Forgiveness", "Ursula K. Le Guin")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for n in 0..SENT {
        let draft = server::Draft {
            kind: "Comment".into(),
            book: book.to_string(),
            content: Some(format!("<p>{}</p>", "words ".repeat(100 + n % 7))),
            ..Default::default()
        };
        b.app.post_status(&rat, draft).await.unwrap();
    }
    drained(&b).await;
    let elapsed = started.elapsed();
    // The library's capped tables prune in batches of 1/64 of the cap:
    // a full table of cap 100 holds 99 or 100 rows, never more.
    for table in ["received", "about", "inbox"] {
        let rows = a.app.store.count(table);
        assert!((99..=100).contains(&rows), "{table}: {rows} rows");
    }
    let size = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
    let (db, wal) = (size("received.sqlite3"), size("received.sqlite3-wal"));
    crate::support::shout(&format!(
        "bookwyrm_like flood: {SENT} statuses in {elapsed:?}; received.sqlite3 {db} bytes, WAL {wal} bytes"
    ));
    // 1,000 statuses of about 1 KiB each, twice over (kept, logged): the
    // file holds the 100 + 100 rows the caps allow, and pages freed by the
    // pruning are reused. The WAL is bounded by SQLite's checkpoint.
    assert!(db < 1024 * 1024, "received.sqlite3 is {db} bytes");
    let _ = std::fs::remove_dir_all(&dir);
}
