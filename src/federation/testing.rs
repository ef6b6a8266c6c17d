//! Test scaffolding shared by the federation modules' unit tests.

use std::path::PathBuf;

/// A fresh directory under the system temp dir (not created), removed
/// with everything in it on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// `archipel-{tag}-{random id}` under the system temp dir.
    pub(crate) fn new(tag: &str) -> TempDir {
        let id = super::Paths::new_id().unwrap();
        TempDir(std::env::temp_dir().join(format!("archipel-{tag}-{id}")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file `name` in a fresh [`TempDir`]; the directory goes on drop.
pub(crate) struct TempFile(
    pub(crate) PathBuf,
    // Held only so that its drop removes the directory.
    #[allow(dead_code)] TempDir,
);

impl TempFile {
    pub(crate) fn new(tag: &str, name: &str) -> TempFile {
        let dir = TempDir::new(tag);
        TempFile(dir.0.join(name), dir)
    }
}

/// An HTTP client with no network behind it: every request fails to
/// connect, and is counted.
#[derive(Debug, Default)]
pub(crate) struct NoNetwork(pub(crate) std::sync::atomic::AtomicUsize);

impl NoNetwork {
    /// How many requests were made.
    pub(crate) fn requests(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl crate::client::HttpClient for NoNetwork {
    async fn execute(
        &self,
        _: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, crate::client::ClientError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(crate::client::ClientError::Connect {
            host: "any".into(),
            reason: "no network in this test".into(),
        })
    }
}

/// A federation on `https://a.example` that reaches no network, with
/// `configure` applied to its builder; and its client, which counts what
/// it was asked.
pub(crate) async fn offline(
    configure: impl FnOnce(super::FederationBuilder) -> super::FederationBuilder,
) -> (super::Federation, std::sync::Arc<NoNetwork>) {
    let client = std::sync::Arc::new(NoNetwork::default());
    let builder = super::Federation::builder("https://a.example".parse().unwrap())
        .with_client(client.clone());
    (configure(builder).build().await.unwrap(), client)
}
