//! A hostile peer sends the `minimal_server` example thousands of distinct,
//! correctly signed activities (Creates of new notes, Likes of distinct
//! made-up local objects), all addressed to one user: every table it can grow stays
//! within its cap, in SQLite under a data directory. Set
//! `ARCHIPEL_HOSTILE_ACTIVITIES` to send more (the figure is
//! 10,000); the peak RSS of the test process and the database size are
//! printed.
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "sqlite"
))]

use crate::app::{self, Config};
use crate::minimal_server as support;
use crate::store::Caps;

use bytes::Bytes;
use serde_json::json;
use std::time::{Instant, SystemTime};
use support::*;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peer_cannot_grow_any_table_past_its_cap() {
    let n: usize = std::env::var("ARCHIPEL_HOSTILE_ACTIVITIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dir = std::env::temp_dir().join(format!(
        "archipel-hostile-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let caps = Caps::default()
        .with_inbox_per_user(100)
        .with_received(100)
        .with_reactions(100)
        .with_pending_per_user(10)
        .with_followers_per_user(100)
        .with_verifications(100);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config {
        bind: listener.local_addr().unwrap(),
        base_url: Some(url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
        users: vec!["alice".into()],
        token: Some("t".into()),
        data_dir: Some(dir.clone()),
        allow_private_addresses: true,
        caps,
        // The tables are the subject here, not the rate limits (the soak
        // test's): this peer sends as fast as it can from one origin.
        admission: archipel::inbox::admission::AdmissionConfig::disabled(),
        ..Config::default()
    };
    let a = app::start_on(listener, config).await.unwrap();
    let m = start("127.0.0.1", &["mallory"], &[], &[]).await;
    let alice = a.app.actor_iri("alice");
    let mallory = m.app.actor_iri("mallory");
    let key = signer(&m, "mallory");
    let inbox = format!("{alice}/inbox");
    let client = http();
    let started = Instant::now();
    for i in 0..n {
        let activity = if i % 2 == 0 {
            json!({"@context": "https://www.w3.org/ns/activitystreams",
                   "id": format!("{mallory}/creates/{i}"), "type": "Create",
                   "actor": mallory, "to": [alice],
                   "object": {"id": format!("{mallory}/notes/{i}"), "type": "Note",
                              "attributedTo": mallory, "to": [alice], "content": "x".repeat(500)}})
        } else {
            json!({"@context": "https://www.w3.org/ns/activitystreams",
                   "id": format!("{mallory}/likes/{i}"), "type": "Like", "actor": mallory,
                   "to": [alice], "object": format!("{}/objects/{i}", a.app.base())})
        };
        let body = Bytes::from(activity.to_string());
        let mut request = http::Request::post(&inbox)
            .header("content-type", "application/activity+json")
            .body(body.clone())
            .unwrap();
        key.sign(&mut request).unwrap();
        let mut post = client.post(&inbox).body(body);
        for (name, value) in request.headers() {
            post = post.header(name.as_str(), value.to_str().unwrap());
        }
        assert_eq!(
            post.send().await.unwrap().status().as_u16(),
            202,
            "activity {i}"
        );
    }
    let elapsed = started.elapsed();
    // Accepted is stored, not yet processed: wait for the inbound queue.
    inbound_settled(&a).await;

    let store = &a.app.store;
    assert_eq!(store.rows("inbox"), 100);
    assert_eq!(store.rows("received"), 100);
    // Likes of local IRIs naming no post are not counted at all (the
    // reactions cap itself is checked in the store's unit test).
    assert_eq!(store.rows("reactions"), 0);
    assert_eq!(store.rows("verifications"), 100);
    // The newest survive.
    let last = format!("{mallory}/notes/{}", (n - 1) & !1);
    assert_eq!(note_content(&a, &last), Some(json!("x".repeat(500))));
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "hostile peer: {n} activities in {elapsed:?} ({:.0}/s); data directory {bytes} bytes; peak RSS of the test process {} KiB",
        n as f64 / elapsed.as_secs_f64(),
        peak_rss_kib()
    );
    drop((a, m));
    let _ = std::fs::remove_dir_all(&dir);
}
