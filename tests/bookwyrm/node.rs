//! Starting `bookwyrm_like` instances on loopback for the tests.

use std::path::PathBuf;

use archipel::federation::LocalActor;
use archipel::inbox::admission::AdmissionConfig;

use crate::bookwyrm_like::server;
use crate::bookwyrm_like::store::{Caps, Received};

/// Starts an instance with these readers on 127.0.0.1 (port chosen by the
/// OS, or `port` to come back at the same address after a restart), its
/// state under `data_dir` or in memory.
pub async fn start_at(users: &[&str], data_dir: Option<PathBuf>, port: u16) -> server::Running {
    start_configured(
        users,
        data_dir,
        port,
        Caps::default(),
        AdmissionConfig::default(),
    )
    .await
}

/// As [`start_at`], with these caps on the tables peers grow. Its tests
/// flood it from one peer to check the caps, so the inbox's rate limits
/// (the soak test's subject) are off.
pub async fn start_with_caps(
    users: &[&str],
    data_dir: Option<PathBuf>,
    port: u16,
    caps: Caps,
) -> server::Running {
    start_configured(users, data_dir, port, caps, AdmissionConfig::disabled()).await
}

async fn start_configured(
    users: &[&str],
    data_dir: Option<PathBuf>,
    port: u16,
    caps: Caps,
    admission: AdmissionConfig,
) -> server::Running {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let config = server::Config {
        bind: listener.local_addr().unwrap(),
        base_url: None,
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        token: "t".to_owned(),
        data_dir,
        allow_private_addresses: true,
        caps,
        admission,
    };
    server::start_on(listener, config).await.unwrap()
}

/// Starts an instance with one reader, in memory.
pub async fn start(user: &str) -> server::Running {
    start_at(&[user], None, 0).await
}

/// The instance's first reader.
pub fn reader(s: &server::Running) -> LocalActor {
    s.app.reader(None).unwrap()
}

/// The received activity of `kind` whose object has `type` `object_type`.
pub fn received(s: &server::Running, kind: &str, object_type: &str) -> Option<Received> {
    s.app
        .store
        .received(10_000)
        .into_iter()
        .find(|r| r.activity["type"] == kind && r.activity["object"]["type"] == object_type)
}

/// Whether `who` follows `whom` (the Follow was accepted).
pub async fn follows(s: &server::Running, who: &LocalActor, whom: &str) -> bool {
    s.app
        .fed
        .graph()
        .following(who.id())
        .await
        .unwrap()
        .iter()
        .any(|f| f.as_str() == whom)
}
