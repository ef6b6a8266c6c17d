//! The load generator: `connections` keep-alive HTTP/1.1 connections, each
//! writing one pre-built request at a time and reading its answer, as
//! `wrk` does. The requests are serialized to bytes before the clock
//! starts, so the sender spends next to no CPU on the cores it shares with
//! the server: what is measured is the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Res;
use crate::peers::Signed;

/// The bytes of one `POST` to `path` on `authority`: request line, the
/// signed headers, `Content-Length`, and the body.
pub fn request_bytes(path: &str, signed: &Signed) -> Vec<u8> {
    let mut out = Vec::with_capacity(signed.body.len() + 1024);
    out.extend_from_slice(format!("POST {path} HTTP/1.1\r\n").as_bytes());
    for (name, value) in &signed.headers {
        if name == http::header::CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", signed.body.len()).as_bytes());
    out.extend_from_slice(&signed.body);
    out
}

/// What the server answered.
#[derive(Default)]
pub struct Outcome {
    /// Latency of each accepted (2xx) request.
    pub latencies: Vec<Duration>,
    /// When the last answer came, since the first request.
    pub elapsed: Duration,
    /// Requests answered otherwise: index, status, the start of the body.
    pub refused: Vec<(usize, u16, String)>,
}

impl Outcome {
    /// The `q` quantile (0..=1) of the accepted requests' latency.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(at).copied().unwrap_or_default()
    }

    /// Accepted requests per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends every request of `requests` to `addr` over `connections`
/// connections (one task each, on the current runtime).
pub async fn send(
    addr: std::net::SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
) -> Res<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (next, requests) = (next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut buffer = Vec::with_capacity(4096);
            let mut part = Outcome::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    break;
                };
                let sent = Instant::now();
                stream.write_all(request).await?;
                let (status, body) = read_response(&mut stream, &mut buffer).await?;
                if (200..300).contains(&status) {
                    part.latencies.push(sent.elapsed());
                } else {
                    part.refused.push((i, status, body));
                }
            }
            Res::Ok(part)
        }));
    }
    let mut outcome = Outcome::default();
    for task in tasks {
        let part = task.await??;
        outcome.latencies.extend(part.latencies);
        outcome.refused.extend(part.refused);
    }
    outcome.elapsed = start.elapsed();
    outcome.refused.sort_unstable_by_key(|r| r.0);
    Ok(outcome)
}

/// Reads one HTTP/1.1 response (headers, then a `Content-Length` body) and
/// returns its status and the start of its body. `buffer` carries bytes
/// read past the response to the next call (there are none without
/// pipelining, but the parser does not assume it).
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Res<(u16, String)> {
    let head_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at + 4;
        }
        read_more(stream, buffer).await?;
    };
    let head = std::str::from_utf8(&buffer[..head_end])?.to_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .ok_or("no status line")?
        .parse()?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .ok_or("answer without Content-Length")?;
    while buffer.len() < head_end + length {
        read_more(stream, buffer).await?;
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length])
        .chars()
        .take(200)
        .collect();
    buffer.drain(..head_end + length);
    Ok((status, body))
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Res<()> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err("connection closed by the server".into());
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
