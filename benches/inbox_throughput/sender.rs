//! The load generator: a fixed number of concurrent connections POST the
//! pre-signed activities, in order, to one inbox, and note when each is
//! accepted, as `wrk` would with a list of requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Res;
use crate::peers::Signed;

/// What the server answered.
pub struct Outcome {
    /// When each accepted (2xx) activity was answered, since the first
    /// request, sorted.
    pub accepted: Vec<Duration>,
    /// Activities answered otherwise: index, status, the start of the body.
    pub refused: Vec<(usize, u16, String)>,
}

/// POSTs every request in `signed` to `inbox` over `connections`
/// concurrent connections (one task each, on the current runtime); times
/// count from `start`.
pub async fn send(
    inbox: &str,
    signed: Arc<Vec<Signed>>,
    connections: usize,
    start: Instant,
) -> Res<Outcome> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (client, next, signed) = (client.clone(), next.clone(), signed.clone());
        let inbox = inbox.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            let mut refused = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = signed.get(i) else { break };
                let response = client
                    .post(&inbox)
                    .headers(request.headers.clone())
                    .body(request.body.clone())
                    .send()
                    .await;
                match response {
                    Ok(response) => {
                        let status = response.status();
                        // Read the body, so that the connection is reused.
                        let body = response.bytes().await.unwrap_or_default();
                        if status.is_success() {
                            accepted.push(start.elapsed());
                        } else {
                            let text = String::from_utf8_lossy(&body);
                            refused.push((i, status.as_u16(), text.chars().take(200).collect()));
                        }
                    }
                    Err(e) => refused.push((i, 0, e.to_string())),
                }
            }
            (accepted, refused)
        }));
    }
    let mut outcome = Outcome {
        accepted: Vec::with_capacity(signed.len()),
        refused: Vec::new(),
    };
    for task in tasks {
        let (accepted, refused) = task.await?;
        outcome.accepted.extend(accepted);
        outcome.refused.extend(refused);
    }
    outcome.accepted.sort_unstable();
    outcome.refused.sort_unstable_by_key(|r| r.0);
    Ok(outcome)
}

/// Rates computed from the acceptance times.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// Activities accepted.
    pub accepted: usize,
    /// Wall-clock time from the first request to the last acceptance.
    pub elapsed: Duration,
    /// Accepted per second over the whole run.
    pub overall: f64,
    /// Accepted per second over the first `window` (from the first request).
    pub first: f64,
    /// Accepted per second over the last `window`.
    pub last: f64,
    /// When the first window ended (it starts at the first request).
    pub first_end: Duration,
    /// When the last window started and ended.
    pub last_span: (Duration, Duration),
}

impl Rates {
    /// `last / first`: below 1, the server slowed down as its state grew.
    pub fn ratio(&self) -> f64 {
        self.last / self.first
    }
}

/// The rates of `accepted` (sorted), the first and last `window` of them.
pub fn rates(accepted: &[Duration], window: usize) -> Res<Rates> {
    let n = accepted.len();
    if window == 0 || n < 2 * window {
        return Err(format!("{n} acceptances: too few for two windows of {window}").into());
    }
    let elapsed = accepted.last().copied().unwrap_or_default();
    let time = |i: usize| accepted.get(i).copied().unwrap_or_default();
    // The last window spans from the acceptance before it to its last one.
    let last_span = (time(n - 1 - window), time(n - 1));
    Ok(Rates {
        accepted: n,
        elapsed,
        overall: n as f64 / elapsed.as_secs_f64(),
        first: window as f64 / time(window - 1).as_secs_f64(),
        last: window as f64 / (last_span.1 - last_span.0).as_secs_f64(),
        first_end: time(window - 1),
        last_span,
    })
}
