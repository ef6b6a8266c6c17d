//! An in-process [`HttpClient`] serving canned documents, counting requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::{ClientError, HttpClient};

/// Serves documents by URL; anything else is a 404.
#[derive(Default)]
pub(crate) struct FakeServer {
    docs: Mutex<HashMap<String, (u16, String)>>,
    hits: Mutex<HashMap<String, usize>>,
    delay: Mutex<Option<Duration>>,
}

impl FakeServer {
    pub(crate) fn new() -> FakeServer {
        FakeServer::default()
    }

    /// Serves `body` at `url` with status 200.
    pub(crate) fn serve(&self, url: &str, body: &Value) {
        self.serve_raw(url, 200, body.to_string());
    }

    pub(crate) fn serve_raw(&self, url: &str, status: u16, body: String) {
        self.docs
            .lock()
            .unwrap()
            .insert(url.to_owned(), (status, body));
    }

    /// Serves a `Person` at `id` (inbox `{id}/inbox`, shared inbox
    /// `{origin}/inbox`) and returns its document.
    pub(crate) fn person(&self, id: &str) -> Value {
        let url = url::Url::parse(id).unwrap();
        let origin = url.origin().ascii_serialization();
        let doc = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Person",
            "inbox": format!("{id}/inbox"),
            "followers": format!("{id}/followers"),
            "preferredUsername": url.path().rsplit('/').next().unwrap(),
            "endpoints": {"sharedInbox": format!("{origin}/inbox")},
            "publicKey": {"id": format!("{id}#main-key"), "owner": id,
                          "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nMFk=\n-----END PUBLIC KEY-----\n"},
        });
        self.serve(id, &doc);
        doc
    }

    /// Every response is delayed by `d` (to overlap concurrent calls).
    pub(crate) fn delay(&self, d: Duration) {
        *self.delay.lock().unwrap() = Some(d);
    }

    /// Requests made for `url`.
    pub(crate) fn hits(&self, url: &str) -> usize {
        self.hits.lock().unwrap().get(url).copied().unwrap_or(0)
    }

    /// Requests made in all.
    pub(crate) fn total(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

#[async_trait::async_trait]
impl HttpClient for FakeServer {
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let url = req.uri().to_string();
        *self.hits.lock().unwrap().entry(url.clone()).or_default() += 1;
        let delay = *self.delay.lock().unwrap();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let found = self.docs.lock().unwrap().get(&url).cloned();
        let (status, body) = found.unwrap_or((404, String::new()));
        if status == 599 {
            return Err(ClientError::Connect {
                host: url,
                reason: "connection refused".into(),
            });
        }
        Ok(http::Response::builder()
            .status(status)
            .header("content-type", "application/activity+json")
            .body(Bytes::from(body))
            .unwrap())
    }
}
