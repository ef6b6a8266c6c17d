//! With `--data-dir`, the `minimal_server` example keeps its keys, its
//! followers and its pending deliveries (the SQLite delivery queue) across
//! a crash: the servers run in child processes (this test binary re-run in
//! a child role), a delivery fails because the follower is down, the sender
//! is killed with SIGKILL while that delivery is pending, and a new process
//! on the same data directory and port delivers it once the follower is back.
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "sqlite"
))]

use crate::app;
use crate::minimal_server as support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use archipel::delivery::{DeliveryQueue, QueueStats, SqliteQueue, Timestamp};
use serde_json::{Value, json};
use support::http;

const TEST: &str = concat!(
    module_path!(),
    "::keys_followers_and_pending_deliveries_survive_a_kill_and_restart"
);
/// Set in a child process: the user it serves.
const CHILD_USER: &str = "ARCHIPEL_SERVER_CHILD_USER";
const CHILD_PORT: &str = "ARCHIPEL_SERVER_CHILD_PORT";
const CHILD_DATA_DIR: &str = "ARCHIPEL_SERVER_CHILD_DATA_DIR";

/// The child role: one `minimal_server` serving one user on 127.0.0.1:PORT
/// (0: any), its state in the data directory if one is given. Prints
/// `listening PORT` once it accepts connections, then serves until killed
/// (or for 5 minutes, should the parent die without killing it).
async fn serve_child(user: String) {
    let port: u16 = std::env::var(CHILD_PORT).unwrap().parse().unwrap();
    let data_dir = std::env::var_os(CHILD_DATA_DIR).map(PathBuf::from);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = app::Config {
        bind: listener.local_addr().unwrap(),
        base_url: Some(url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
        users: vec![user],
        token: Some(token(port)),
        data_dir,
        allow_private_addresses: true,
        ..app::Config::default()
    };
    let _running = app::start_on(listener, config).await.unwrap();
    println!("listening {port}");
    tokio::time::sleep(Duration::from_secs(300)).await;
}

fn token(port: u16) -> String {
    format!("token-{port}")
}

/// A server in a child process; killed with SIGKILL when dropped, so a
/// failing test leaves no process behind.
struct Server {
    child: Child,
    port: u16,
    user: &'static str,
}

impl Server {
    /// Starts `user` on `port` (0: any free port) and waits (bounded) until
    /// it listens.
    fn start(user: &'static str, port: u16, data_dir: Option<&Path>) -> Server {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([TEST.split_once("::").unwrap().1, "--exact", "--nocapture"])
            .args(["--test-threads=1", "--quiet"])
            .env(CHILD_USER, user)
            .env(CHILD_PORT, port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(dir) = data_dir {
            cmd.env(CHILD_DATA_DIR, dir);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(port) = line.strip_prefix("listening ") {
                    let _ = tx.send(port.parse::<u16>().unwrap());
                }
            }
        });
        let mut server = Server {
            child,
            port: 0,
            user,
        };
        server.port = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{user}'s server did not start: {e}"));
        server
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn actor(&self) -> String {
        format!("{}/users/{}", self.base(), self.user)
    }

    /// SIGKILL: no shutdown, no flush, no lease released.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn post_outbox(&self, body: Value) -> u16 {
        http()
            .post(format!("{}/outbox", self.actor()))
            .bearer_auth(token(self.port))
            .header("content-type", "application/activity+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// `GET path` (with the token); the JSON body.
    async fn get(&self, path: &str) -> Value {
        let response = http()
            .get(format!("{}{path}", self.actor()))
            .bearer_auth(token(self.port))
            .header("accept", "application/activity+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    async fn public_key_pem(&self) -> String {
        let actor = self.get("").await;
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn followers(&self) -> Vec<Value> {
        let page = self.get("/followers?page=true").await;
        page["orderedItems"].as_array().cloned().unwrap_or_default()
    }

    async fn inbox(&self) -> Vec<Value> {
        let page = self.get("/inbox?page=true").await;
        page["orderedItems"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn queue_stats(dir: &Path) -> QueueStats {
    let queue = SqliteQueue::open(dir.join("delivery.sqlite3"))
        .await
        .unwrap();
    queue
        .stats(Timestamp::from_system_time(SystemTime::now()))
        .await
        .unwrap()
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_followers_and_pending_deliveries_survive_a_kill_and_restart() {
    if let Ok(user) = std::env::var(CHILD_USER) {
        return serve_child(user).await;
    }
    let dir = std::env::temp_dir().join(format!(
        "archipel-minimal-server-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    // bob keeps his state too, so that he still follows alice after his
    // own restart (his server files activities from followed actors only).
    let (alice_dir, bob_dir) = (dir.join("alice"), dir.join("bob"));
    let alice = Server::start("alice", 0, Some(&alice_dir));
    let bob = Server::start("bob", 0, Some(&bob_dir));
    assert!(alice_dir.join("delivery.sqlite3").is_file());
    let key_before = alice.public_key_pem().await;
    let (alice_port, bob_port, bob_iri) = (alice.port, bob.port, bob.actor());

    // bob follows alice; alice accepts.
    let handle = format!("acct:alice@127.0.0.1:{alice_port}");
    let status = bob
        .post_outbox(json!({"type": "Follow", "object": handle}))
        .await;
    assert_eq!(status, 201);
    within(
        Duration::from_secs(20),
        "alice has bob as follower",
        || async { alice.followers().await == vec![json!(bob_iri)] },
    )
    .await;

    within(Duration::from_secs(20), "bob follows alice", || async {
        let page = bob.get("/following?page=true").await;
        page["orderedItems"] == json!([alice.actor()])
    })
    .await;

    // bob's server dies; alice posts: the delivery to bob fails, and the
    // job waits on disk for its retry (neither due nor leased).
    bob.kill();
    let status = alice
        .post_outbox(json!({"type": "Note", "content": "still there?"}))
        .await;
    assert_eq!(status, 201);
    within(
        Duration::from_secs(20),
        "the failed delivery is queued for a retry",
        || async {
            let s = queue_stats(&alice_dir).await;
            s.total == 1 && s.due == 0 && s.leased == 0
        },
    )
    .await;

    // alice's process dies with that delivery pending, and starts again on
    // the same data directory and address.
    alice.kill();
    assert_eq!(
        queue_stats(&alice_dir).await.total,
        1,
        "pending delivery on disk"
    );
    let alice = Server::start("alice", alice_port, Some(&alice_dir));
    assert_eq!(alice.public_key_pem().await, key_before, "same key");
    assert_eq!(
        alice.followers().await,
        vec![json!(bob_iri)],
        "same followers"
    );
    assert_eq!(
        queue_stats(&alice_dir).await.total,
        1,
        "the pending delivery survived"
    );

    // bob comes back: the restarted alice delivers the note at its retry
    // time (the default policy's first retry: 30 s ± 25 %).
    let bob = Server::start("bob", bob_port, Some(&bob_dir));
    within(
        Duration::from_secs(90),
        "the pending delivery completes",
        || async { queue_stats(&alice_dir).await.total == 0 },
    )
    .await;
    let inbox = bob.inbox().await;
    assert!(
        inbox
            .iter()
            .any(|a| a["object"]["content"] == "still there?"),
        "bob's inbox: {inbox:?}"
    );

    drop((alice, bob));
    let _ = std::fs::remove_dir_all(&dir);
}
