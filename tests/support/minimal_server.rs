// Shared by the tests that run the `minimal_server` example in-process: the
// example's own modules are compiled into the test crate (see the `#[path]`
// module declarations in each test file), so the tests exercise exactly the
// code `cargo run --example minimal_server` runs.

use std::time::Duration;

use archipel::delivery::{DeliveryReport, Timestamp};
use archipel::signatures::Signer;
use archipel::vocab::{Activity, Iri, Kind};
use serde_json::Value;

use crate::app::{self, Config, Running};

/// Starts a server on 127.0.0.1 with an OS-chosen port, public at
/// `http://{host}:{port}` (host `127.0.0.1` or `localhost`).
pub async fn start(host: &str, users: &[&str], locked: &[&str], blocked: &[&str]) -> Running {
    start_with(host, users, locked, blocked, false).await
}

/// [`start`], choosing the first signature dialect for deliveries.
pub async fn start_with(
    host: &str,
    users: &[&str],
    locked: &[&str],
    blocked: &[&str],
    rfc9421_first: bool,
) -> Running {
    start_full(host, users, locked, blocked, rfc9421_first, false).await
}

/// [`start_with`], choosing `--authorized-fetch` too.
pub async fn start_full(
    host: &str,
    users: &[&str],
    locked: &[&str],
    blocked: &[&str],
    rfc9421_first: bool,
    authorized_fetch: bool,
) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config {
        bind: listener.local_addr().unwrap(),
        base_url: Some(url::Url::parse(&format!("http://{host}:{port}")).unwrap()),
        users: users.iter().map(|s| s.to_string()).collect(),
        locked: locked.iter().map(|s| s.to_string()).collect(),
        token: Some(format!("token-{port}")),
        data_dir: None,
        allow_private_addresses: true,
        blocked_domains: blocked.iter().map(|s| s.to_string()).collect(),
        rfc9421_first,
        authorized_fetch,
        ..Config::default()
    };
    app::start_on(listener, config).await.unwrap()
}

/// The test's own HTTP client (not the server's guarded one).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `POST /users/{user}/outbox` with the server's bearer token; returns the status and body.
pub async fn post_outbox(server: &Running, user: &str, body: Value) -> (u16, String) {
    let response = http()
        .post(format!("{}/users/{user}/outbox", server.app.base()))
        .bearer_auth(&server.app.token)
        .header("content-type", "application/activity+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// `GET /users/{user}/inbox?page=true` with the token: the received activities, newest first.
pub async fn read_inbox(server: &Running, user: &str) -> Vec<Value> {
    let response = http()
        .get(format!(
            "{}/users/{user}/inbox?page=true",
            server.app.base()
        ))
        .bearer_auth(&server.app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    page["orderedItems"].as_array().cloned().unwrap_or_default()
}

/// Polls `check` every 50 ms for up to 10 s; panics with `what` if it never holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

/// Waits (at most 10 s) until `server` has handled every activity its
/// inbox accepted: the inbox answers once an activity is stored, and the
/// inbound workers run its handler after.
pub async fn inbound_settled(server: &Running) {
    let inbound = server
        .app
        .fed
        .inbound()
        .expect("minimal_server queues its inbox");
    eventually("the inbound queue to drain", || async {
        inbound.stats().await.unwrap().depth == 0
    })
    .await;
}

/// A user's followers on `server`.
pub async fn followers(server: &Running, user: &str) -> Vec<String> {
    let me = iri(&server.app.actor_iri(user));
    let list = server.app.store.graph.followers(&me).await.unwrap();
    list.iter().map(|i| i.as_str().to_owned()).collect()
}

/// Whom a user follows (accepted) on `server`.
pub async fn following(server: &Running, user: &str) -> Vec<String> {
    let me = iri(&server.app.actor_iri(user));
    let list = server.app.store.graph.following(&me).await.unwrap();
    list.iter().map(|i| i.as_str().to_owned()).collect()
}

/// The signer of a local user.
pub fn signer(server: &Running, user: &str) -> Signer {
    (**server.app.fed.local(user).unwrap().signer()).clone()
}

/// A received note's `content`, if the note is kept.
pub fn note_content(server: &Running, id: &str) -> Option<Value> {
    let (_, note) = server.app.store.received(id)?;
    Some(serde_json::to_value(note).unwrap()["content"].clone())
}

/// The delivery report of `server`'s workers.
pub async fn report(server: &Running) -> DeliveryReport {
    server.app.fed.delivery_report().await.unwrap()
}

/// Deliveries still queued on `server`, fan-out jobs not yet expanded
/// included (each will queue deliveries of its own).
pub async fn backlog(server: &Running) -> u64 {
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let fed = &server.app.fed;
    let deliveries = fed.queue().stats(now).await.unwrap().total;
    let fanouts = fed.fanout_queue().stats(now).await.unwrap().total;
    (deliveries + fanouts) as u64
}

/// Who reacted to `object` with `kind` (`Like`, `Announce`), oldest first.
pub fn reactions_of(server: &Running, kind: &str, object: &str) -> Vec<String> {
    let kind = Kind::from_name(kind).unwrap();
    let object = Iri::parse(object).unwrap();
    let who = server.app.store.reactions.of(kind, &object).unwrap();
    who.iter().map(|i| i.as_str().to_owned()).collect()
}

/// How many verification records the server keeps.
pub fn verification_count(server: &Running) -> usize {
    server.app.store.rows("verifications")
}

/// The Follows awaiting the approval of the local user `local`, oldest first.
pub fn pending_follows(server: &Running, local: &Iri) -> Vec<Activity> {
    server.app.store.requests.pending(local).unwrap()
}
