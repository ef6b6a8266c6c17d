//! Remote inboxes for the delivery attacks: real axum servers on
//! 127.0.0.1:0 that record every request (method, path, headers, body)
//! and answer with a fixed reply, and a delivery pipeline (plan, workers,
//! signed POSTs through the default client) to point at them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::client::{FetchPolicy, HttpClient, ReqwestClient};
use archipel::delivery::{
    DeliveryEvent, DeliveryPlan, MemoryQueue, NewActivity, SignedDelivery, SignerMap, WorkerConfig,
    Workers,
};
use archipel::signatures::{PrivateKey, Signer};
use archipel::vocab::Iri;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use tokio::sync::broadcast;

/// The key id every hostile delivery test signs with.
pub const KEY_ID: &str = "https://sender.example/users/alice#main-key";

/// One request a [`Peer`] received.
#[derive(Clone, Debug)]
pub struct Captured {
    pub method: Method,
    pub path: String,
    pub body: Bytes,
}

/// What a [`Peer`] answers to every request: a status and, for a 3xx, a
/// `Location`.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
}

/// A loopback HTTP server recording everything it receives.
pub struct Peer {
    pub addr: SocketAddr,
    captured: Arc<Mutex<Vec<Captured>>>,
}

impl Peer {
    /// Starts a peer that answers every request with `answer`.
    pub async fn start(answer: Answer) -> Peer {
        let captured: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let log = Arc::clone(&captured);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, _headers: HeaderMap, body: Bytes| {
                let log = Arc::clone(&log);
                let answer = answer.clone();
                async move {
                    log.lock().unwrap().push(Captured {
                        method,
                        path: uri.path().to_owned(),
                        body,
                    });
                    let status = StatusCode::from_u16(answer.status).unwrap();
                    match answer.location {
                        Some(l) => (status, [(header::LOCATION, l)]).into_response(),
                        None => status.into_response(),
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Peer { addr, captured }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    /// Every request received so far.
    pub fn captured(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }
}

/// The default client with the loopback opt-ins and its redirect following
/// left on (the library default): delivery must refuse redirects itself.
pub fn loopback_client() -> ReqwestClient {
    ReqwestClient::new(
        FetchPolicy::default()
            .allow_http(true)
            .allow_address("127.0.0.1".parse().unwrap())
            .total_timeout(Duration::from_secs(5)),
    )
    .unwrap()
}

/// Runs `plan` through workers (memory queue, signed POSTs through
/// `client`) until every job is settled, bounded by 20 s; returns the
/// events seen and the workers' final report.
pub async fn deliver<C: HttpClient + 'static>(
    plan: &DeliveryPlan,
    client: C,
) -> (Vec<DeliveryEvent>, archipel::delivery::DeliveryReport) {
    let key = PrivateKey::from_pem(include_str!("../interop/keys/rsa-2048-pkcs8.pem")).unwrap();
    let signers: SignerMap = [Signer::new(KEY_ID, key)].into_iter().collect();
    let delivery = Arc::new(SignedDelivery::new(client, signers));
    let config = WorkerConfig::default().with_poll_interval(Duration::from_millis(10));
    let workers = Workers::start(Arc::new(MemoryQueue::new()), delivery, config);
    let mut events = workers.subscribe();
    let ids = workers
        .enqueue(NewActivity::from_plan(plan, Iri::new_unchecked(KEY_ID)))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut settled = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while settled < ids.len() {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(e)) => e,
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("lost {n} events"),
            Ok(Err(e)) => panic!("event stream ended: {e}"),
            Err(_) => panic!("jobs not settled within 20 s; events so far: {seen:?}"),
        };
        if matches!(
            event,
            DeliveryEvent::Delivered { .. } | DeliveryEvent::GaveUp { .. }
        ) {
            settled += 1;
        }
        seen.push(event);
    }
    let report = workers.shutdown().await.report;
    (seen, report)
}
