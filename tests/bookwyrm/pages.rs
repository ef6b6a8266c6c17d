//! The pages for people, rendered by a real browser: two `bookwyrm_like`
//! instances follow each other, review the same book (one review hostile,
//! one followers-only on each side), and headless Chromium (Debian's
//! `chromium`, installed by `tests/setup.sh`) loads the profile, the book
//! and a review from the first instance. The assertions are on the DOM
//! Chromium rendered (`--dump-dom`, after scripts would have run), and a
//! screenshot of each page is kept under `target/bookwyrm-pages/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bookwyrm_like::server::{self, Draft};
use crate::minimal_server::eventually;
use crate::node::{follows, reader, start};
use crate::support::skip_or_fail;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM Chromium rendered for `url`, and a screenshot of it at
/// `screenshot`, from one run bounded to 60 s, with a fresh profile.
async fn render(url: &str, screenshot: &Path) -> String {
    let dom = chromium(
        url,
        &[
            "--dump-dom".to_owned(),
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1200,900".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
    )
    .await;
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
    dom
}

async fn chromium(url: &str, extra: &[String]) -> String {
    let profile = scratch_dir("chromium-profile");
    let mut child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read stdout on a thread (a full pipe would block the browser) and
    // wait without blocking the runtime the servers run on.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {url}: {status}");
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("chromium did not finish with {url} within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dom = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    dom
}

/// A fresh, empty directory under the system's temporary directory.
pub fn scratch_dir(what: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "archipel-bookwyrm-{what}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn draft(book: &str, name: &str, content: &str, visibility: &str) -> Draft {
    Draft {
        kind: "Review".into(),
        book: book.to_owned(),
        name: Some(name.to_owned()),
        content: Some(content.to_owned()),
        rating: Some(4.0),
        visibility: Some(visibility.to_owned()),
        ..Default::default()
    }
}

const HOSTILE: &str = "<p>Nice enough.</p><script>document.title='pwned'</script>\
    <img src=x onerror=\"document.title='pwned'\"><p onmouseover=\"alert(1)\">Hover <b>me</b></p>\
    <a href=\"javascript:document.title='pwned'\">a link</a>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_in_chromium_with_remote_reviews_sanitized_and_private_ones_hidden() {
    if !Path::new(CHROMIUM).exists() {
        skip_or_fail(
            "Chromium (Debian's chromium package)",
            "/usr/bin/chromium is missing; run tests/setup.sh",
        );
        return;
    }
    let a = start("mouse").await;
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
        .add_book("The Left Hand of Darkness", "Ursula K. Le Guin")
        .await
        .unwrap()
        .to_string();
    a.app.shelve(&mouse, &book, "read", true).await.unwrap();
    a.app
        .shelve(&mouse, &book, "favourites", true)
        .await
        .unwrap();
    let post = |s: &server::Running, who, d| {
        let app = s.app.clone();
        async move { app.post_status(&who, d).await.unwrap().to_string() }
    };
    let public = post(
        &a,
        mouse.clone(),
        draft(
            &book,
            "Winter, remembered",
            "<p>Cold and warm.</p>",
            "public",
        ),
    )
    .await;
    let private = post(
        &a,
        mouse.clone(),
        draft(
            &book,
            "For my followers",
            "<p>Only friends.</p>",
            "followers",
        ),
    )
    .await;
    post(
        &b,
        rat.clone(),
        draft(
            &book,
            "From across the bay",
            "<p>Seen from Anarres.</p>",
            "public",
        ),
    )
    .await;
    post(
        &b,
        rat.clone(),
        draft(
            &book,
            "Hostile <script>document.title='pwned'</script>",
            HOSTILE,
            "unlisted",
        ),
    )
    .await;
    post(
        &b,
        rat.clone(),
        draft(
            &book,
            "Rat's secret",
            "<p>Followers of rat only.</p>",
            "followers",
        ),
    )
    .await;
    eventually("A keeps rat's three reviews", || async {
        a.app.store.received_about(&book, 10).len() == 3
    })
    .await;

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join("bookwyrm-pages");
    std::fs::create_dir_all(&dir).unwrap();

    // The profile: shelves with the book, the public review only.
    let profile = render(mouse.id().as_str(), &dir.join("profile.png")).await;
    assert!(profile.contains("<title>mouse</title>"), "{profile}");
    for shown in [
        "favourites",
        "read",
        "The Left Hand of Darkness",
        "by Ursula K. Le Guin",
        "Winter, remembered",
    ] {
        assert!(
            profile.contains(shown),
            "profile lacks {shown:?}: {profile}"
        );
    }
    assert!(!profile.contains("For my followers"), "{profile}");

    // The book: the local review and rat's, received from B; the hostile
    // one as text only; no followers-only review from either side.
    let page = render(&book, &dir.join("book.png")).await;
    assert!(
        page.contains("<title>The Left Hand of Darkness</title>"),
        "a script ran: {page}"
    );
    for shown in [
        "Winter, remembered",
        "Cold and warm.",
        "From across the bay",
        "Seen from Anarres.",
        "Nice enough.",
        "Hover <b>me</b>",
        "a link",
    ] {
        assert!(page.contains(shown), "book page lacks {shown:?}: {page}");
    }
    // The hostile review's title is shown as text, not as an element.
    assert!(page.contains("Hostile &lt;script&gt;"), "{page}");
    for absent in [
        "<script",
        "<img",
        "onerror",
        "onmouseover",
        "javascript:",
        "pwned</",
        "For my followers",
        "Only friends",
        "Rat's secret",
        "Followers of rat only",
    ] {
        assert!(!page.contains(absent), "book page shows {absent:?}: {page}");
    }

    // The review page shows its text; the followers-only one is a 404.
    let review = render(&public, &dir.join("review.png")).await;
    assert!(
        review.contains("<h1>Winter, remembered</h1>") && review.contains("Cold and warm."),
        "{review}"
    );
    let hidden = render(&private, &dir.join("followers-only.png")).await;
    assert!(
        hidden.contains("not found") && !hidden.contains("Only friends"),
        "{hidden}"
    );
}
