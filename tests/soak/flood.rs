//! The hostile origin's flood: validly signed `Create`s from the hostile
//! server's own actors, signed before the clock starts, sent from another
//! loopback address (127.0.0.2) over several connections at full speed.
//! A refused activity is sent again at once (the flood ignores
//! `Retry-After`) until it is accepted or the flood ends, so every id the
//! target accepted is known.

use std::collections::{HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::node::Node;

/// The address the flood connects from: not the honest peers' 127.0.0.1.
pub const FLOOD_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// One pre-signed delivery.
struct Signed {
    id: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// What the flood saw.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests sent.
    pub sent: u64,
    /// `429` answers.
    pub refused: u64,
    /// `429` answers without a `Retry-After` of at least one second.
    pub refused_without_retry_after: u64,
    /// Other answers than `202` and `429`, as (status, body).
    pub unexpected: Vec<(u16, String)>,
    /// Ids answered `202`.
    pub accepted: HashSet<String>,
}

/// Signs `count` `Create`s of notes by `hostile`'s users (round robin) to
/// `inbox`.
fn presign(hostile: &Node, users: &[&str], inbox: &str, count: usize) -> VecDeque<Signed> {
    (0..count)
        .map(|i| {
            let actor = hostile.user(users[i % users.len()]);
            let id = format!("{}/activities/flood-{i}", hostile.base);
            let body = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": id,
                "type": "Create",
                "actor": actor.id().as_str(),
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {
                    "id": format!("{}/objects/flood-{i}", hostile.base),
                    "type": "Note",
                    "attributedTo": actor.id().as_str(),
                    "content": format!("flood {i}"),
                    "to": ["https://www.w3.org/ns/activitystreams#Public"],
                },
            });
            let body = Bytes::from(body.to_string());
            let mut request = http::Request::post(inbox)
                .header("content-type", "application/activity+json")
                .body(body.clone())
                .unwrap();
            actor.signer().sign(&mut request).unwrap();
            let headers = request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                .collect();
            Signed { id, headers, body }
        })
        .collect()
}

/// Floods `inbox` for `duration` from `connections` concurrent tasks with
/// `count` pre-signed activities of `hostile`'s `users`.
pub async fn run(
    hostile: &Node,
    users: &[&str],
    inbox: &str,
    count: usize,
    connections: usize,
    duration: Duration,
) -> Tally {
    let pending = Arc::new(Mutex::new(presign(hostile, users, inbox, count)));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let client = reqwest::Client::builder()
        .local_address(FLOOD_ADDRESS)
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (pending, tally, client) = (pending.clone(), tally.clone(), client.clone());
            let inbox = inbox.to_owned();
            tokio::spawn(async move {
                while Instant::now() < until {
                    let Some(next) = pending.lock().unwrap().pop_front() else {
                        return;
                    };
                    let mut post = client.post(&inbox).body(next.body.clone());
                    for (name, value) in &next.headers {
                        post = post.header(name.as_str(), value.as_str());
                    }
                    let response = match post.send().await {
                        Ok(r) => r,
                        Err(e) => {
                            let mut t = tally.lock().unwrap();
                            t.sent += 1;
                            t.unexpected.push((0, e.to_string()));
                            pending.lock().unwrap().push_back(next);
                            continue;
                        }
                    };
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let text = response.text().await.unwrap_or_default();
                    let mut t = tally.lock().unwrap();
                    t.sent += 1;
                    match status {
                        202 => {
                            t.accepted.insert(next.id);
                        }
                        429 => {
                            t.refused += 1;
                            if retry_after.is_none_or(|s| s < 1) {
                                t.refused_without_retry_after += 1;
                            }
                            pending.lock().unwrap().push_back(next);
                        }
                        other => t.unexpected.push((other, text)),
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(tally).unwrap().into_inner().unwrap()
}
