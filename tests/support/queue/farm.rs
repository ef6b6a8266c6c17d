//! A loopback inbox farm: several real HTTP servers on 127.0.0.1 (one per
//! "host"), recording every POST, and the child-process worker that
//! delivers to them over real TCP connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::delivery::{Delivery, DeliveryError, SendRequest};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One POST the farm received.
#[derive(Debug, Clone)]
pub struct Received {
    pub inbox: String,
    pub job: u64,
    pub worker: String,
    pub activity: String,
    pub body_len: usize,
}

#[derive(Default)]
struct FarmState {
    received: Vec<Received>,
    /// Jobs being received right now, with how many copies at once.
    in_flight: HashMap<u64, usize>,
    /// Jobs seen twice at the same time (two workers sending one job at once).
    overlaps: Vec<u64>,
}

struct InFlight {
    state: Arc<Mutex<FarmState>>,
    job: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = st.in_flight.get_mut(&self.job) {
            *n -= 1;
        }
    }
}

/// Inbox servers on 127.0.0.1, each answering 202 after `delay`.
#[derive(Clone)]
pub struct Farm {
    pub hosts: Vec<String>,
    state: Arc<Mutex<FarmState>>,
}

impl Farm {
    pub async fn start(n_hosts: usize, delay: Duration) -> Farm {
        let state = Arc::new(Mutex::new(FarmState::default()));
        let mut hosts = Vec::new();
        for _ in 0..n_hosts {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            hosts.push(format!("127.0.0.1:{}", addr.port()));
            let state = state.clone();
            let app = axum::Router::new().fallback(
                move |headers: axum::http::HeaderMap, uri: axum::http::Uri, body: Bytes| {
                    let state = state.clone();
                    async move {
                        let header = |n: &str| {
                            headers
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned()
                        };
                        let job: u64 = header("x-job").parse().unwrap_or(0);
                        {
                            let mut st = state.lock().unwrap();
                            let n = st.in_flight.entry(job).or_insert(0);
                            *n += 1;
                            if *n > 1 {
                                st.overlaps.push(job);
                            }
                            // Recorded on arrival, as a real inbox stores it
                            // before it answers.
                            st.received.push(Received {
                                inbox: format!("http://{}{}", addr, uri.path()),
                                job,
                                worker: header("x-worker"),
                                activity: header("x-activity"),
                                body_len: body.len(),
                            });
                        }
                        // Leaves `in_flight` also when the sender vanishes
                        // mid-request and the handler is dropped.
                        let _done = InFlight {
                            state: state.clone(),
                            job,
                        };
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        axum::http::StatusCode::ACCEPTED
                    }
                },
            );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        }
        Farm { hosts, state }
    }

    /// `n` inbox URLs spread over the farm's hosts.
    pub fn inboxes(&self, n: usize, tag: &str) -> Vec<url::Url> {
        (0..n)
            .map(|i| {
                let host = &self.hosts[i % self.hosts.len()];
                url::Url::parse(&format!("http://{host}/users/{tag}{i}/inbox")).unwrap()
            })
            .collect()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().received.len()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn overlaps(&self) -> Vec<u64> {
        self.state.lock().unwrap().overlaps.clone()
    }

    /// Waits until at least `n` POSTs arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) {
        let start = Instant::now();
        while self.count() < n {
            assert!(
                start.elapsed() < timeout,
                "farm got {} of {n} POSTs in time",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Per-inbox delivery counts.
pub fn per_inbox(received: &[Received]) -> HashMap<String, Vec<u64>> {
    let mut m: HashMap<String, Vec<u64>> = HashMap::new();
    for r in received {
        m.entry(r.inbox.clone()).or_default().push(r.job);
    }
    m
}

type Conn = BufReader<TcpStream>;

/// A minimal HTTP/1.1 keep-alive POST client as a [`Delivery`]: what a
/// worker process uses to reach the farm.
pub struct HttpPost {
    pub worker: String,
    idle: Mutex<HashMap<String, Vec<Conn>>>,
}

impl HttpPost {
    pub fn new(worker: &str) -> Self {
        HttpPost {
            worker: worker.into(),
            idle: Mutex::new(HashMap::new()),
        }
    }

    async fn post(
        &self,
        conn: &mut Conn,
        r: &SendRequest<'_>,
        authority: &str,
    ) -> std::io::Result<u16> {
        let body = r.body.bytes();
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/activity+json\r\n\
             Digest: {}\r\nContent-Length: {}\r\nX-Job: {}\r\nX-Worker: {}\r\nX-Activity: {}\r\n\r\n",
            r.inbox.path(),
            r.body.digest_header(),
            body.len(),
            r.job.0,
            self.worker,
            r.activity_id,
        );
        let stream = conn.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut line = String::new();
        conn.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut len = 0usize;
        loop {
            line.clear();
            if conn.read_line(&mut line).await? == 0 {
                return Err(std::io::Error::other("eof in headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut rest = vec![0u8; len];
        conn.read_exact(&mut rest).await?;
        Ok(status)
    }
}

#[async_trait::async_trait]
impl Delivery for HttpPost {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        let authority = format!(
            "{}:{}",
            r.inbox.host_str().unwrap_or(""),
            r.inbox.port().unwrap_or(80)
        );
        let pooled = self
            .idle
            .lock()
            .unwrap()
            .get_mut(&authority)
            .and_then(Vec::pop);
        let mut conn = match pooled {
            Some(c) => c,
            None => BufReader::new(TcpStream::connect(&authority).await.map_err(|e| {
                DeliveryError::Connect {
                    inbox: r.inbox.to_string(),
                    reason: e.to_string(),
                }
            })?),
        };
        let status =
            self.post(&mut conn, &r, &authority)
                .await
                .map_err(|e| DeliveryError::Transport {
                    inbox: r.inbox.to_string(),
                    reason: e.to_string(),
                })?;
        self.idle
            .lock()
            .unwrap()
            .entry(authority)
            .or_default()
            .push(conn);
        Ok(http::Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap())
    }
}
