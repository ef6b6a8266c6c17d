//! An inbox farm: real HTTP servers on 127.0.0.1 (one port per "host"),
//! each verifying the signature of every request with archipel's
//! `Verifier`, misbehaving on purpose, and recording what it saw (requests,
//! verified signatures, max concurrent requests in flight).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::signatures::{MemoryKeyResolver, PublicKey, Spec, Verifier, VerifyPolicy};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use url::Url;

/// How a farm host answers.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// 202 at once.
    Accept,
    /// 202 after a delay (keeps requests in flight).
    Slow(Duration),
    /// 500 for the first `n` requests, then 202.
    FailThenAccept(usize),
    /// 429 with `Retry-After: secs` for the first `times` requests, then 202.
    RetryAfter { times: usize, secs: u64 },
    /// 410 Gone.
    Gone,
    /// Never answers in time.
    Hang,
    /// Nothing listens: connections are refused.
    Refuse,
    /// 401 unless signed with this dialect.
    OnlyDialect(Spec),
}

/// What one host saw.
#[derive(Debug, Default)]
pub struct HostStats {
    pub requests: AtomicUsize,
    pub verified: AtomicUsize,
    pub bad_signatures: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// (activity id, path, dialect, when) of every request with a valid signature.
    pub log: Mutex<Vec<(String, String, Spec, Instant)>>,
    /// The body of every request, as it came off the wire (before any check).
    pub bodies: Mutex<Vec<bytes::Bytes>>,
    /// Paths answered with 2xx.
    pub accepted: Mutex<Vec<String>>,
    /// When each 429 was sent.
    pub throttled_at: Mutex<Vec<Instant>>,
}

/// One farm host.
pub struct FarmHost {
    pub base: Url,
    pub behavior: Behavior,
    pub stats: Arc<HostStats>,
}

impl FarmHost {
    /// `http://127.0.0.1:port/users/{i}/inbox`
    pub fn inbox(&self, i: usize) -> Url {
        self.base.join(&format!("/users/{i}/inbox")).unwrap()
    }

    /// The host's authority, as delivery keys hosts.
    pub fn authority(&self) -> String {
        archipel::client::authority(&self.base)
    }
}

struct Ctx {
    base: Url,
    behavior: Behavior,
    stats: Arc<HostStats>,
    verifier: Arc<Verifier<MemoryKeyResolver>>,
}

/// Starts one server per behaviour; signatures must come from `key` under `key_id`.
pub async fn start(behaviors: Vec<Behavior>, key_id: &str, key: PublicKey) -> Vec<FarmHost> {
    let mut keys = MemoryKeyResolver::new();
    keys.insert(key_id, key, "https://sender.example/users/alice");
    let verifier = Arc::new(Verifier::new(keys, VerifyPolicy::default()));
    let mut hosts = Vec::new();
    for behavior in behaviors {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = Url::parse(&format!("http://{addr}/")).unwrap();
        let stats = Arc::new(HostStats::default());
        if let Behavior::Refuse = behavior {
            drop(listener); // nothing listens on this port any more
        } else {
            let ctx = Arc::new(Ctx {
                base: base.clone(),
                behavior: behavior.clone(),
                stats: stats.clone(),
                verifier: verifier.clone(),
            });
            let app = axum::Router::new().fallback(handle).with_state(ctx);
            tokio::spawn(async move {
                axum::serve(listener, app).await.unwrap();
            });
        }
        hosts.push(FarmHost {
            base,
            behavior,
            stats,
        });
    }
    hosts
}

/// Decrements the in-flight count however the handler ends (including when
/// the client goes away and the server drops the handler).
struct InFlight(Arc<HostStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn reply(status: u16) -> Response {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap()
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: axum::extract::Request) -> Response {
    let stats = &ctx.stats;
    let now_in = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stats.max_in_flight.fetch_max(now_in, Ordering::SeqCst);
    let _guard = InFlight(stats.clone());
    let n = stats.requests.fetch_add(1, Ordering::SeqCst);

    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return reply(413);
    };
    stats.bodies.lock().unwrap().push(body.clone());
    let req = http::Request::from_parts(parts, body);
    let path = req.uri().path().to_owned();

    let spec = match ctx.verifier.verify_with_base(&req, &ctx.base).await {
        Ok(v) => {
            stats.verified.fetch_add(1, Ordering::SeqCst);
            v.spec
        }
        Err(e) => {
            eprintln!("farm {}: bad signature on {path}: {e}", ctx.base);
            stats.bad_signatures.fetch_add(1, Ordering::SeqCst);
            return reply(401);
        }
    };
    let activity_id = serde_json::from_slice::<serde_json::Value>(req.body())
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
        .unwrap_or_default();
    stats
        .log
        .lock()
        .unwrap()
        .push((activity_id, path.clone(), spec, Instant::now()));

    let status = match &ctx.behavior {
        Behavior::Accept => 202,
        Behavior::Slow(d) => {
            tokio::time::sleep(*d).await;
            202
        }
        Behavior::FailThenAccept(k) => {
            if n < *k {
                500
            } else {
                202
            }
        }
        Behavior::RetryAfter { times, secs } => {
            if n < *times {
                stats.throttled_at.lock().unwrap().push(Instant::now());
                return Response::builder()
                    .status(429)
                    .header("retry-after", secs.to_string())
                    .body(Body::empty())
                    .unwrap();
            }
            202
        }
        Behavior::Gone => 410,
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            202
        }
        Behavior::OnlyDialect(want) => {
            if spec == *want {
                202
            } else {
                401
            }
        }
        Behavior::Refuse => unreachable!("handled above"),
    };
    if (200..300).contains(&status) {
        stats.accepted.lock().unwrap().push(path);
    }
    reply(status)
}
