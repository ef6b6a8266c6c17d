//! Two instances of the `bookwyrm_like` example and one of the
//! `minimal_server` example on loopback: a reader's shelf and review reach
//! the other book server as rich objects (`Add{ShelfItem}`, `Review`) and
//! the Mastodon-style server as a plain `Article`, both signed by the
//! reader's key and verified on arrival.
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "sqlite"
))]

use crate::minimal_server as support;
use crate::{books, server};

use archipel::vocab::AnyObject;
use books::BookObject;
use serde_json::json;
use support::{eventually, following, post_outbox, read_inbox};

async fn start_books(user: &str) -> server::Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = server::Config {
        bind: listener.local_addr().unwrap(),
        base_url: None,
        user: user.to_owned(),
        token: "t".to_owned(),
        allow_private_addresses: true,
    };
    server::start_on(listener, config).await.unwrap()
}

/// The received activity of `kind` whose object has `type` `object_type`.
async fn received(s: &server::Running, kind: &str, object_type: &str) -> Option<server::Received> {
    let data = s.app.data.lock().await;
    data.received
        .iter()
        .find(|r| r.activity["type"] == kind && r.activity["object"]["type"] == object_type)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_arrives_rich_at_a_book_server_and_plain_at_a_microblog() {
    let a = start_books("mouse").await;
    let b = start_books("rat").await;
    let m = support::start("127.0.0.1", &["alice"], &[], &[]).await;
    let mouse = a.app.actor_iri();

    // rat (book server B) and alice (minimal server M) follow mouse.
    b.app.follow(&mouse).await.unwrap();
    let (status, _) = post_outbox(&m, "alice", json!({"type": "Follow", "object": mouse})).await;
    assert_eq!(status, 201);
    eventually("both follows are accepted", || async {
        b.app.data.lock().await.following == vec![mouse.clone()]
            && following(&m, "alice").await == vec![mouse.clone()]
    })
    .await;
    {
        // A told the two apart by their NodeInfo `software.name`.
        let data = a.app.data.lock().await;
        let mut kinds: Vec<(String, bool)> = data
            .followers
            .iter()
            .map(|f| (f.actor.clone(), f.rich))
            .collect();
        kinds.sort();
        let mut expected = vec![(b.app.actor_iri(), true), (m.app.actor_iri("alice"), false)];
        expected.sort();
        assert_eq!(kinds, expected);
    }

    // mouse catalogs a book, shelves it, reviews it.
    let book = a
        .app
        .add_book("The Left Hand of Darkness", "Ursula K. Le Guin")
        .await;
    a.app.shelve(&book, "to-read", true).await.unwrap();
    a.app.shelve(&book, "read", true).await.unwrap();
    let review_id = a
        .app
        .post_status(server::Draft {
            kind: "Review".into(),
            book: book.clone(),
            name: Some("Winter, remembered".into()),
            content: Some("<p>Cold and warm.</p>".into()),
            rating: Some(4.5),
            ..Default::default()
        })
        .await
        .unwrap();

    // B: the shelf as Add{ShelfItem}, the review as a typed Review.
    eventually("B receives the Add and the Create", || async {
        received(&b, "Add", "ShelfItem").await.is_some()
            && received(&b, "Create", "Review").await.is_some()
    })
    .await;
    let add = received(&b, "Add", "ShelfItem").await.unwrap();
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

    let create = received(&b, "Create", "Review").await.unwrap();
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
    // B fetched the Edition (a custom type) from A to learn its title.
    eventually("B knows the book's title", || async {
        b.app
            .data
            .lock()
            .await
            .remote_books
            .get(&book)
            .map(String::as_str)
            == Some("The Left Hand of Darkness")
    })
    .await;

    // B keeps a copy of mouse's shelves from Add/Remove{ShelfItem}.
    let shelf = |name: &str| format!("{mouse}/shelf/{name}");
    eventually("B sees both shelves", || async {
        let data = b.app.data.lock().await;
        data.remote_shelves.get(&shelf("to-read")) == Some(&vec![book.clone()])
            && data.remote_shelves.get(&shelf("read")) == Some(&vec![book.clone()])
    })
    .await;
    a.app.shelve(&book, "to-read", false).await.unwrap();
    eventually("B sees the book leave to-read", || async {
        let data = b.app.data.lock().await;
        data.remote_shelves.get(&shelf("to-read")) == Some(&vec![])
            && data.remote_shelves.get(&shelf("read")) == Some(&vec![book.clone()])
    })
    .await;
    let remove = received(&b, "Remove", "ShelfItem").await.unwrap();
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
        .post_status(server::Draft {
            kind: "Quotation".into(),
            book: book.clone(),
            content: Some("<p>Light is the left hand.</p>".into()),
            quote: Some("<p>Light is the left hand of darkness.</p>".into()),
            position: Some(233),
            ..Default::default()
        })
        .await
        .unwrap();
    eventually("B receives the quotation", || async {
        received(&b, "Create", "Quotation").await.is_some()
    })
    .await;
    let create = received(&b, "Create", "Quotation").await.unwrap();
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
