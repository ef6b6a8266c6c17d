//! `--data-dir`: a `bookwyrm_like` instance stopped and started again on
//! the same address keeps its reader's key, followers, catalog, shelves,
//! statuses and what it received, and federates on with the same key.

use crate::bookwyrm_like::server::Draft;
use crate::minimal_server::eventually;
use crate::node::{follows, reader, received, start, start_at};
use crate::pages_in_chromium::scratch_dir;

fn review(book: &str, name: &str, visibility: &str) -> Draft {
    Draft {
        kind: "Review".into(),
        book: book.to_owned(),
        name: Some(name.to_owned()),
        content: Some(format!("<p>{name}</p>")),
        rating: Some(3.5),
        visibility: Some(visibility.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_survives_a_restart() {
    let dir = scratch_dir("data-dir");
    let a = start_at(&["mouse"], Some(dir.clone()), 0).await;
    let port = a.addr.port();
    let b = start("rat").await;
    let (mouse, rat) = (reader(&a), reader(&b));
    b.app.follow(&rat, mouse.id().as_str()).await.unwrap();
    a.app.follow(&mouse, rat.id().as_str()).await.unwrap();
    eventually("the two readers follow each other", || async {
        follows(&a, &mouse, rat.id().as_str()).await && follows(&b, &rat, mouse.id().as_str()).await
    })
    .await;
    let book = a
        .app
        .add_book("Always Coming Home", "Ursula K. Le Guin")
        .await
        .unwrap();
    let book = book.as_str().to_owned();
    a.app.shelve(&mouse, &book, "reading", true).await.unwrap();
    let before = a
        .app
        .post_status(&mouse, review(&book, "Before", "public"))
        .await
        .unwrap();
    let hidden = a
        .app
        .post_status(&mouse, review(&book, "Hidden", "followers"))
        .await
        .unwrap();
    b.app
        .post_status(&rat, review(&book, "From rat", "public"))
        .await
        .unwrap();
    eventually("A keeps rat's review", || async {
        a.app.store.received_about(&book, 10).len() == 1
    })
    .await;
    let key = mouse.keys().rsa.public_key().to_spki_pem();

    // Stop A, start it again on the same address from the same directory.
    a.task.abort();
    let _ = a.task.await;
    a.app.fed.stop_delivery().await;
    drop(a.app);
    let a = start_at(&["mouse"], Some(dir.clone()), port).await;
    let mouse = reader(&a);
    assert_eq!(mouse.keys().rsa.public_key().to_spki_pem(), key);
    let followers = a.app.fed.graph().followers(mouse.id()).await.unwrap();
    assert_eq!(followers, [rat.id().clone()]);
    assert!(follows(&a, &mouse, rat.id().as_str()).await);
    assert_eq!(
        a.app.store.title(&book).as_deref(),
        Some("Always Coming Home")
    );
    assert_eq!(
        a.app.store.shelves(mouse.id()),
        [("reading".to_owned(), vec![book.clone()])]
    );
    assert_eq!(a.app.store.received_about(&book, 10).len(), 1);
    assert!(received(&a, "Create", "Review").is_some());
    // Statuses are served at the same IRIs, the private one still only to
    // its audience.
    let get = |url: String| async move {
        crate::minimal_server::http()
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get(before.to_string()).await, 200);
    assert_eq!(get(hidden.to_string()).await, 404);

    // A review after the restart reaches rat, signed with the same key.
    let after = a
        .app
        .post_status(&mouse, review(&book, "After", "public"))
        .await
        .unwrap();
    eventually(
        "rat receives the review written after the restart",
        || async {
            b.app
                .store
                .received_about(&book, 10)
                .iter()
                .any(|s| s.id() == Some(&after))
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
