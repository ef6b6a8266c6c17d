//! With `--data-dir`, the `minimal_server` example keeps its keys, its state
//! and its pending deliveries (the SQLite delivery queue) across a restart.
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "sqlite"
))]

use crate::app;
use crate::minimal_server as support;

use std::path::Path;
use std::time::SystemTime;

use archipel::delivery::{DeliveryQueue, SqliteQueue, Timestamp};
use serde_json::{Value, json};
use support::*;

/// Starts `alice` with her state in `dir`, on a fresh loopback port.
async fn start_alice(dir: &Path) -> app::Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = app::Config {
        bind: listener.local_addr().unwrap(),
        base_url: Some(url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
        users: vec!["alice".to_owned()],
        locked: Vec::new(),
        token: Some(format!("token-{port}")),
        data_dir: Some(dir.to_path_buf()),
        allow_private_addresses: true,
        blocked_domains: Vec::new(),
        rfc9421_first: false,
    };
    app::start_on(listener, config).await.unwrap()
}

async fn public_key_pem(server: &app::Running, user: &str) -> String {
    let body = http()
        .get(server.app.actor_iri(user))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let actor: Value = serde_json::from_str(&body).unwrap();
    actor["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn queued_jobs(dir: &Path) -> usize {
    let queue = SqliteQueue::open(dir.join("delivery.sqlite3"))
        .await
        .unwrap();
    let now = Timestamp::from_system_time(SystemTime::now());
    queue.stats(now).await.unwrap().total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_followers_and_pending_deliveries_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!(
        "archipel-minimal-server-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let a = start_alice(&dir).await;
    let b = start("127.0.0.1", &["bob"], &[], &[]).await;
    assert!(dir.join("delivery.sqlite3").is_file());
    let key_before = public_key_pem(&a, "alice").await;
    let bob = b.app.actor_iri("bob");

    // bob follows alice; alice accepts.
    let handle = format!("acct:alice@127.0.0.1:{}", a.addr.port());
    let (status, _) = post_outbox(&b, "bob", json!({"type": "Follow", "object": handle})).await;
    assert_eq!(status, 201);
    eventually("alice has bob as follower", || async {
        followers(&a, "alice").await == vec![bob.clone()]
    })
    .await;

    // bob's server goes away; alice posts: the delivery fails and stays queued.
    b.task.abort();
    let _ = b.task.await;
    let (status, _) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "still there?"}),
    )
    .await;
    assert_eq!(status, 201);
    let mut pending = 0;
    for _ in 0..200 {
        pending = queued_jobs(&dir).await;
        if pending > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(pending, 1, "the failed delivery to bob is queued on disk");

    // alice's server restarts on the same data directory.
    a.task.abort();
    let _ = a.task.await;
    let a2 = start_alice(&dir).await;
    assert_eq!(public_key_pem(&a2, "alice").await, key_before);
    assert_eq!(followers(&a2, "alice").await, vec![bob]);
    assert_eq!(queued_jobs(&dir).await, 1, "the pending delivery survived");

    a2.task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
