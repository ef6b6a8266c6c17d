//! The hostile origin's second trick: requests whose `keyId` names a new
//! origin each time (`http://127.0.0.1:{port}`, ports nobody listens on),
//! sent from the same address as the flood. Each fresh origin has a full
//! bucket, so only the per-address bucket can stop them; the ones it lets
//! through fail verification (their key cannot be fetched). The test sees
//! the per-address bucket work only if the server knows the connection's
//! address.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::flood::FLOOD_ADDRESS;

/// What the spoofing connections saw.
#[derive(Debug, Default)]
pub struct Spoofed {
    /// Requests sent.
    pub sent: u64,
    /// `429` answers.
    pub refused: u64,
    /// `2xx` answers: must stay zero, no signature verifies.
    pub accepted: u64,
    /// Any other answer (`401`, or `503` when the key fetch fails):
    /// admitted, then refused by verification.
    pub rejected: u64,
}

/// Sends spoofed-origin activities to `inbox` for `duration` from
/// `connections` concurrent tasks.
pub async fn run(inbox: &str, connections: usize, duration: Duration) -> Spoofed {
    let client = reqwest::Client::builder()
        .local_address(FLOOD_ADDRESS)
        .build()
        .unwrap();
    let counters: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let next_port = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, counters, next_port) =
                (client.clone(), counters.clone(), next_port.clone());
            let inbox = inbox.to_owned();
            tokio::spawn(async move {
                while Instant::now() < until {
                    // Ports 1..=1000: privileged, closed, and each a new origin.
                    let port = 1 + next_port.fetch_add(1, Ordering::Relaxed) % 1000;
                    let actor = format!("http://127.0.0.1:{port}/users/spoof");
                    let body = serde_json::json!({
                        "@context": "https://www.w3.org/ns/activitystreams",
                        "id": format!("{actor}/likes/{}", next_port.load(Ordering::Relaxed)),
                        "type": "Like",
                        "actor": actor,
                        "object": format!("{actor}/notes/1"),
                    });
                    let signature = format!(
                        r#"keyId="{actor}#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA""#
                    );
                    let response = client
                        .post(&inbox)
                        .header("content-type", "application/activity+json")
                        .header("date", httpdate::fmt_http_date(std::time::SystemTime::now()))
                        .header("signature", signature)
                        .body(body.to_string())
                        .send()
                        .await;
                    let slot = match response.map(|r| r.status().as_u16()) {
                        Ok(429) => 1,
                        Ok(200..=299) => 2,
                        _ => 3,
                    };
                    counters[0].fetch_add(1, Ordering::Relaxed);
                    counters[slot].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let read = |i: usize| counters[i].load(Ordering::Relaxed);
    Spoofed {
        sent: read(0),
        refused: read(1),
        accepted: read(2),
        rejected: read(3),
    }
}
