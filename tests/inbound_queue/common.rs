//! Signed activities from many peers, an inbox that verifies them against
//! an in-memory key table, and a dispatcher whose `Like` handler records
//! (and, on demand, fails) each call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::dispatch::Dispatcher;
use archipel::federation::{MemoryGraph, Paths};
use archipel::inbox::queue::InboundQueue;
use archipel::inbox::{Inbox, Incoming};
use archipel::signatures::{MemoryKeyResolver, PrivateKey, Signer, Verifier, VerifyPolicy};
use bytes::Bytes;

/// This server's public base.
pub const BASE: &str = "https://books.example";

/// A remote actor with its signing key.
pub struct Peer {
    pub actor: String,
    pub signer: Signer,
}

/// `n` peers on `hosts` origins, and an inbox that knows their keys.
pub fn inbox_with_peers(n: usize, hosts: usize) -> (Inbox, Vec<Peer>) {
    let mut keys = MemoryKeyResolver::new();
    let mut peers = Vec::new();
    for i in 0..n {
        let actor = format!("https://p{}.example/users/u{i}", i % hosts.max(1));
        let key_id = format!("{actor}#main-key");
        let key = PrivateKey::generate_ed25519().unwrap();
        keys.insert(key_id.clone(), key.public_key(), actor.clone());
        peers.push(Peer {
            actor,
            signer: Signer::new(key_id, key),
        });
    }
    let verifier = Verifier::new(keys, VerifyPolicy::default());
    let inbox = Inbox::new(Arc::new(verifier)).with_public_base(BASE.parse().unwrap());
    (inbox, peers)
}

/// A signed POST of `body` to the shared inbox.
pub fn signed(peer: &Peer, body: String) -> http::Request<Bytes> {
    let mut request = http::Request::post(format!("{BASE}/inbox"))
        .header("content-type", "application/activity+json")
        .header("host", "books.example")
        .body(Bytes::from(body))
        .unwrap();
    peer.signer.sign(&mut request).unwrap();
    request
}

/// The `n`-th `Like` of `peer`.
pub fn like(peer: &Peer, n: usize) -> (String, http::Request<Bytes>) {
    let id = format!("{}/likes/{n}", peer.actor);
    let body = format!(
        r#"{{"@context":"https://www.w3.org/ns/activitystreams","type":"Like","id":"{id}","actor":"{}","object":"{BASE}/objects/{n}"}}"#,
        peer.actor
    );
    (id, signed(peer, body))
}

/// Verifies `request` and stores it: what the inbox route does.
pub async fn accept(inbox: &Inbox, inbound: &InboundQueue, request: &http::Request<Bytes>) {
    let incoming: Incoming = inbox.receive(request).await.unwrap();
    inbound.enqueue(&incoming).await.unwrap();
}

/// What the recording handler saw.
#[derive(Default)]
pub struct Calls {
    /// Every call, by activity id, in order, with the worker's tag.
    pub seen: Mutex<Vec<(String, String)>>,
    /// Calls that returned `Ok`, by activity id.
    pub done: Mutex<HashMap<String, usize>>,
    /// The first this-many calls fail.
    pub fail_first: AtomicUsize,
    calls: AtomicUsize,
}

impl Calls {
    pub fn new(fail_first: usize) -> Arc<Calls> {
        let calls = Calls::default();
        calls.fail_first.store(fail_first, Ordering::SeqCst);
        Arc::new(calls)
    }

    pub fn done_count(&self) -> usize {
        self.done.lock().unwrap().len()
    }

    pub fn done_of(&self, id: &str) -> usize {
        self.done.lock().unwrap().get(id).copied().unwrap_or(0)
    }
}

/// A dispatcher whose `Like` handler records each call under `tag`, waits
/// `work`, and fails the first [`Calls::fail_first`] calls.
pub fn dispatcher(calls: Arc<Calls>, tag: &str, work: Duration) -> Dispatcher {
    let paths = Paths::new(BASE.parse().unwrap()).unwrap();
    let tag = tag.to_owned();
    Dispatcher::new(paths, Arc::new(MemoryGraph::new())).on_like(move |_cx, like| {
        let calls = calls.clone();
        let tag = tag.clone();
        async move {
            let id = like
                .id
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .unwrap_or_default();
            calls.seen.lock().unwrap().push((id.clone(), tag));
            let n = calls.calls.fetch_add(1, Ordering::SeqCst);
            if !work.is_zero() {
                tokio::time::sleep(work).await;
            }
            if n < calls.fail_first.load(Ordering::SeqCst) {
                return Err(format!("store unavailable (call {n})").into());
            }
            *calls.done.lock().unwrap().entry(id).or_default() += 1;
            Ok(())
        }
    })
}

/// Waits until `cond` holds, at most `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the async `cond` holds, at most `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many activities `inbound`'s workers gave up so far.
pub async fn failed(inbound: &InboundQueue) -> u64 {
    inbound.stats().await.unwrap().failed
}

/// A federating server on 127.0.0.1 (port chosen by the OS) built by
/// `build` from a builder with a loopback client, serving `fed.router`.
pub struct Server {
    pub fed: archipel::federation::Federation,
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(
    build: impl FnOnce(
        archipel::federation::FederationBuilder,
    ) -> archipel::federation::FederationBuilder,
    dispatcher: impl FnOnce(&archipel::federation::Federation) -> Dispatcher,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = archipel::client::ReqwestClient::new(crate::support::local_policy()).unwrap();
    let builder = archipel::federation::Federation::builder(base.parse().unwrap())
        .with_client(Arc::new(client));
    let fed = build(builder).build().await.unwrap();
    let router = fed.router(dispatcher(&fed));
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    Server { fed, base, task }
}

/// POSTs `body` to `{base}/inbox`, signed by `signer`: the status and the
/// answer's body.
pub async fn post(base: &str, signer: &Signer, body: String) -> (u16, String) {
    let url = format!("{base}/inbox");
    let authority = base.trim_start_matches("http://").to_owned();
    let mut request = http::Request::post(&url)
        .header("content-type", "application/activity+json")
        .header("host", authority)
        .body(Bytes::from(body))
        .unwrap();
    signer.sign(&mut request).unwrap();
    let (parts, body) = request.into_parts();
    let client = reqwest::Client::new();
    let mut out = client.post(&url).body(body.to_vec());
    for (name, value) in &parts.headers {
        out = out.header(name.as_str(), value.as_bytes());
    }
    let response = tokio::time::timeout(Duration::from_secs(20), out.send())
        .await
        .expect("the inbox answers within 20 s")
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}
