//! The hostile origin's second trick: requests whose `keyId` names a new
//! origin each time (`http://127.0.0.1:{port}`, ports nobody listens on),
//! sent from the same address as the flood. Each fresh origin has a full
//! bucket, so only the per-address bucket can stop them; the ones it lets
//! through fail verification (their key cannot be fetched). The test sees
//! the per-address bucket work only if the server knows the connection's
//! address.

use std::net::{IpAddr, Ipv4Addr};
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

/// The impostor's address: not the flood's, so that its own address
/// bucket is fresh and only the named origin's budget is at stake.
pub const IMPOSTOR_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Sends spoofed-origin activities to `inbox` for `duration` from
/// `connections` concurrent tasks.
pub async fn run(inbox: &str, connections: usize, duration: Duration) -> Spoofed {
    send(inbox, connections, duration, FLOOD_ADDRESS, |n| {
        // Ports 1..=1000: privileged, closed, and each a new origin.
        format!("http://127.0.0.1:{}/users/spoof", 1 + n % 1000)
    })
    .await
}

/// Sends activities naming `actor` (an honest peer's actor, whose origin's
/// budget the impostor tries to spend) with signatures that cannot
/// verify, from [`IMPOSTOR_ADDRESS`], as fast as the server answers.
pub async fn impersonate(
    inbox: &str,
    actor: &str,
    connections: usize,
    duration: Duration,
) -> Spoofed {
    let actor = actor.to_owned();
    send(inbox, connections, duration, IMPOSTOR_ADDRESS, move |_| {
        actor.clone()
    })
    .await
}

/// Sends, from `from`, activities by `actor_of(n)` for request `n`, each
/// with a signature that does not verify.
async fn send(
    inbox: &str,
    connections: usize,
    duration: Duration,
    from: IpAddr,
    actor_of: impl Fn(u64) -> String + Send + Sync + 'static,
) -> Spoofed {
    let actor_of = Arc::new(actor_of);
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let counters: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let next_port = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, counters, next_port, actor_of) = (
                client.clone(),
                counters.clone(),
                next_port.clone(),
                actor_of.clone(),
            );
            let inbox = inbox.to_owned();
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = next_port.fetch_add(1, Ordering::Relaxed);
                    let actor = actor_of(n);
                    let body = serde_json::json!({
                        "@context": "https://www.w3.org/ns/activitystreams",
                        "id": format!("{actor}/likes/spoofed-{n}"),
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
