//! Support code shared by every integration-test crate (`tests/<area>.rs`,
//! each declaring `mod support;`):
//!
//! - [`TestServer`]: a tiny real HTTP/1.1 server that binds 127.0.0.1:0,
//!   serves canned routes, redirects, slow responses and endless streamed
//!   bodies, and records every request it receives;
//! - [`skip_or_fail`]: the one place that decides whether a missing peer
//!   skips a test or fails it (`ARCHIPEL_REQUIRE_PEERS=1`, set by `.ci/run`);
//! - [`farm`]: the inbox farm of the delivery fault-injection test;
//! - [`queue`]: the delivery-queue conformance suite, PostgreSQL plumbing
//!   and the worker child processes of the crash tests;
//! - [`inbox_fuzz_input`]: the inbox fuzz harness, shared with `fuzz/`;
//! - [`fedify_peer`]: the Fedify peer process and its control endpoints;
//! - [`fedify_script`]: one request to a script calling Fedify's functions;
//! - [`loopback`]: the start of every loopback server built on the
//!   application layer (a `Federation` with users and delivery workers, a
//!   dispatcher accepting follows, posted objects served).
//!
//! `minimal_server.rs` (helpers around the `minimal_server` example) is not
//! declared here: it needs the example's modules at the crate root, so only
//! the crates that compile them (`examples`, `interop`) declare it.
#![allow(dead_code)]

#[cfg(all(feature = "delivery", feature = "client"))]
pub mod farm;
pub mod fedify_peer;
pub mod fedify_script;
pub mod inbox_fuzz_input;
#[cfg(all(feature = "axum", feature = "client", feature = "delivery"))]
pub mod loopback;
#[macro_use]
pub mod queue;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers on a route.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response.
    Static {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// `status` with a `Location` header.
    Redirect { status: u16, location: String },
    /// Wait, then answer with the inner reply.
    Slow { delay: Duration, then: Box<Reply> },
    /// A chunked body of `total` bytes of `x`, sent `chunk` bytes at a time.
    Stream { total: usize, chunk: usize },
}

impl Reply {
    /// 200 with a content type and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Static {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }
    /// 200 `application/json`.
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::ok("application/json", body)
    }
    /// A bare status with a short text body.
    pub fn status(status: u16) -> Reply {
        Reply::Static {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"status".to_vec(),
        }
    }
    /// A redirect.
    pub fn redirect(status: u16, location: impl Into<String>) -> Reply {
        Reply::Redirect {
            status,
            location: location.into(),
        }
    }
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Lower-cased header names.
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

type Routes = Arc<Mutex<HashMap<String, Reply>>>;

/// A running test server.
pub struct TestServer {
    pub addr: SocketAddr,
    routes: Routes,
    requests: Arc<Mutex<Vec<Recorded>>>,
    streamed: Arc<AtomicUsize>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and starts serving (no routes yet: 404 everywhere).
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Routes = Arc::default();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let streamed: Arc<AtomicUsize> = Arc::default();
        let (r, q, st) = (routes.clone(), requests.clone(), streamed.clone());
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (r, q, st) = (r.clone(), q.clone(), st.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, r, q, st).await;
                });
            }
        });
        TestServer {
            addr,
            routes,
            requests,
            streamed,
        }
    }

    /// Body bytes written so far by `Reply::Stream` routes.
    pub fn streamed_bytes(&self) -> usize {
        self.streamed.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Full URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    /// Adds a route. `target` is a path, or a path with query for an exact
    /// match. `{base}` in static bodies and redirect locations is replaced by
    /// [`base`](Self::base).
    pub fn route(&self, target: &str, reply: Reply) -> &Self {
        let reply = self.expand(reply);
        self.routes.lock().unwrap().insert(target.to_owned(), reply);
        self
    }

    fn expand(&self, reply: Reply) -> Reply {
        let base = self.base();
        match reply {
            Reply::Static {
                status,
                headers,
                body,
            } => Reply::Static {
                status,
                headers,
                body: String::from_utf8(body.clone())
                    .map(|s| s.replace("{base}", &base).into_bytes())
                    .unwrap_or(body),
            },
            Reply::Redirect { status, location } => Reply::Redirect {
                status,
                location: location.replace("{base}", &base),
            },
            Reply::Slow { delay, then } => Reply::Slow {
                delay,
                then: Box::new(self.expand(*then)),
            },
            other => other,
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut sock: TcpStream,
    routes: Routes,
    requests: Arc<Mutex<Vec<Recorded>>>,
    streamed: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    requests.lock().unwrap().push(Recorded {
        method,
        target: target.clone(),
        headers,
    });
    let path = target.split('?').next().unwrap_or("").to_owned();
    let reply = {
        let r = routes.lock().unwrap();
        r.get(&target).or_else(|| r.get(&path)).cloned()
    };
    let reply = reply.unwrap_or_else(|| Reply::status(404));
    write_reply(&mut sock, reply, &streamed).await
}

async fn write_reply(
    sock: &mut TcpStream,
    mut reply: Reply,
    streamed: &AtomicUsize,
) -> std::io::Result<()> {
    while let Reply::Slow { delay, then } = reply {
        tokio::time::sleep(delay).await;
        reply = *then;
    }
    match reply {
        Reply::Static {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(&body).await?;
        }
        Reply::Redirect { status, location } => {
            let out = format!(
                "HTTP/1.1 {status} X\r\nConnection: close\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            );
            sock.write_all(out.as_bytes()).await?;
        }
        Reply::Stream { total, chunk } => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/activity+json\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
            .await?;
            let data = vec![b'x'; chunk];
            let mut sent = 0;
            while sent < total {
                sock.write_all(format!("{chunk:x}\r\n").as_bytes()).await?;
                sock.write_all(&data).await?;
                sock.write_all(b"\r\n").await?;
                sent += chunk;
                streamed.fetch_add(chunk, Ordering::SeqCst);
            }
            sock.write_all(b"0\r\n\r\n").await?;
        }
        Reply::Slow { .. } => unreachable!(),
    }
    sock.flush().await?;
    sock.shutdown().await
}

/// A `FetchPolicy` for tests: http allowed, only 127.0.0.1 reachable.
pub fn local_policy() -> archipel::client::FetchPolicy {
    archipel::client::FetchPolicy::default()
        .allow_http(true)
        .allow_address("127.0.0.1".parse().unwrap())
}

/// The switch that turns every skipped test into a failure: `.ci/run` sets
/// `ARCHIPEL_REQUIRE_PEERS=1`, since CI installs every peer (`tests/setup.sh`)
/// and has the shared corpus beside the clone.
pub const REQUIRE_PEERS: &str = "ARCHIPEL_REQUIRE_PEERS";

/// Whether `ARCHIPEL_REQUIRE_PEERS=1` is set.
pub fn peers_required() -> bool {
    std::env::var(REQUIRE_PEERS).as_deref() == Ok("1")
}

/// Called where a test cannot run because `what` (a peer, PostgreSQL,
/// python3, the corpus) is missing, for `reason`. Under
/// `ARCHIPEL_REQUIRE_PEERS=1` it panics with the reason, so CI fails;
/// otherwise it writes a notice straight to stderr, past the harness's
/// output capture (`eprintln!` is captured), and the caller returns.
pub fn skip_or_fail(what: &str, reason: &str) {
    if peers_required() {
        panic!("{what} is required ({REQUIRE_PEERS}=1) but unavailable: {reason}");
    }
    shout(&format!("SKIPPED: {what} is unavailable: {reason}"));
}

/// Writes a line straight to stderr, past the test harness's output
/// capture, so skip notices and measured figures show in CI logs.
pub fn shout(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
