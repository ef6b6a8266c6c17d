//! The `minimal_server` example with `--data-dir` is stopped in the middle
//! of a fan-out and started again on the same directory: every follower
//! still receives the post, the same activity, and the only duplicates are
//! the deliveries that were in flight and cut at the stop.
//!
//! alice has 300 followers, 10 on each of 30 loopback hosts (axum servers
//! on 127.0.0.2 to 127.0.0.31 that publish the followers' actors with
//! their keys and record every inbox POST). They follow her with real
//! signed Follows, so her server fetched, verified and stored them as any
//! remote follower. Every inbox
//! answers slowly, and two hosts hold their requests until told to let go,
//! longer than the shutdown grace, so the stop cuts them.
#![cfg(all(
    feature = "axum",
    feature = "client",
    feature = "delivery",
    feature = "sqlite"
))]

use crate::app::{self, Config, Running};
use crate::minimal_server as support;
use crate::support::shout;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use archipel::signatures::{PrivateKey, Signer};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use support::{backlog, followers, http, inbound_settled, post_outbox, report};

const HOSTS: usize = 30;
const PER_HOST: usize = 10;
/// Hosts (the first ones) that hold their requests while `hold` is set.
const HOLDING_HOSTS: usize = 2;
/// How long each inbox takes to answer once the fan-out starts.
const SLOW: Duration = Duration::from_millis(300);
/// The longest a held request waits (past the 10 s shutdown grace).
const HOLD_LIMIT: Duration = Duration::from_secs(25);

/// The followers' key, one for all, parsed once (generating or parsing
/// RSA keys is slow in debug builds), and its public half as PEM.
fn key() -> &'static (PrivateKey, String) {
    static KEY: std::sync::OnceLock<(PrivateKey, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let key = PrivateKey::from_pem(include_str!("../interop/keys/rsa-2048-pkcs8.pem")).unwrap();
        let public = key.public_key().to_spki_pem();
        (key, public)
    })
}

/// How the follower hosts answer, switched by the test.
#[derive(Default)]
struct Control {
    /// Milliseconds each inbox POST takes.
    delay_ms: AtomicU64,
    /// Whether the holding hosts hold their requests.
    hold: AtomicBool,
}

/// One inbox POST, recorded when it arrives (before the answer).
#[derive(Debug, Clone)]
struct Arrival {
    inbox: String,
    activity: String,
    signature: String,
}

/// What one host saw.
#[derive(Default)]
struct Seen {
    arrivals: Mutex<Vec<Arrival>>,
    /// Inboxes answered with 202, by activity id.
    answered: Mutex<Vec<(String, String)>>,
    /// Requests inside the handler now.
    in_flight: std::sync::atomic::AtomicUsize,
}

struct Host {
    base: String,
    holds: bool,
    control: Arc<Control>,
    seen: Arc<Seen>,
}

impl Host {
    fn actor(&self, i: usize) -> String {
        format!("{}/users/f{i}", self.base)
    }
}

/// Host `n` listens on its own loopback address, 127.0.0.(n + 2): the
/// receiving server budgets key fetches per host name (60 a minute), port
/// aside, so 300 followers on one address could not all follow at once.
async fn start_host(n: usize, control: Arc<Control>, holds: bool) -> Arc<Host> {
    let ip = format!("127.0.0.{}", n + 2);
    let listener = tokio::net::TcpListener::bind((ip.as_str(), 0))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {ip} (Linux routes 127.0.0.0/8 to lo): {e}"));
    let host = Arc::new(Host {
        base: format!("http://{}", listener.local_addr().unwrap()),
        holds,
        control,
        seen: Arc::default(),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(host.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    host
}

fn answer(status: u16, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/activity+json")
        .body(Body::from(body))
        .unwrap()
}

/// `GET /users/f{i}`: the actor with its key; `POST /users/f{i}/inbox`:
/// recorded, then answered 202 after the delay (or the hold).
async fn handle(State(host): State<Arc<Host>>, req: axum::extract::Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/users/") else {
        return answer(404, String::new());
    };
    if req.method() == http::Method::GET && !rest.contains('/') {
        let id = format!("{}{path}", host.base);
        let actor = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id, "type": "Person", "preferredUsername": rest,
            "inbox": format!("{id}/inbox"), "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "publicKey": {"id": format!("{id}#main-key"), "owner": id,
                          "publicKeyPem": key().1}
        });
        return answer(200, actor.to_string());
    }
    if req.method() != http::Method::POST || !rest.ends_with("/inbox") {
        return answer(404, String::new());
    }
    let signature = req
        .headers()
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let activity = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let seen = &host.seen;
    seen.in_flight.fetch_add(1, Ordering::SeqCst);
    seen.arrivals.lock().unwrap().push(Arrival {
        inbox: format!("{}{path}", host.base),
        activity: activity.clone(),
        signature,
    });
    let started = Instant::now();
    while host.holds && host.control.hold.load(Ordering::SeqCst) && started.elapsed() < HOLD_LIMIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let delay = host.control.delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    seen.answered.lock().unwrap().push((path, activity));
    seen.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer(202, String::new())
}

/// alice's server on `listener`, its state in `dir`.
async fn start_alice(listener: tokio::net::TcpListener, dir: &Path) -> Running {
    let addr = listener.local_addr().unwrap();
    let config = Config {
        bind: addr,
        base_url: Some(url::Url::parse(&format!("http://{addr}")).unwrap()),
        users: vec!["alice".into()],
        token: Some("alice-token".into()),
        data_dir: Some(dir.to_path_buf()),
        allow_private_addresses: true,
        ..Config::default()
    };
    app::start_on(listener, config).await.unwrap()
}

/// A signed Follow of `alice` by `follower`, POSTed to her inbox: the
/// status and the body.
async fn follow(client: &reqwest::Client, follower: &str, alice: &str) -> (u16, String) {
    let inbox = format!("{alice}/inbox");
    let body = Bytes::from(
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{follower}/follows/1"), "type": "Follow",
            "actor": follower, "object": alice
        })
        .to_string(),
    );
    let mut request = http::Request::post(&inbox)
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .unwrap();
    Signer::new(format!("{follower}#main-key"), key().0.clone())
        .sign(&mut request)
        .unwrap();
    let mut post = client.post(&inbox).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    let response = post.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Every arrival of `activity` on all hosts.
fn arrivals(hosts: &[Arc<Host>], activity: &str) -> Vec<Arrival> {
    hosts
        .iter()
        .flat_map(|h| h.seen.arrivals.lock().unwrap().clone())
        .filter(|a| a.activity == activity)
        .collect()
}

/// How many POSTs all hosts received, whatever they carried.
fn every_arrival(hosts: &[Arc<Host>]) -> usize {
    hosts
        .iter()
        .map(|h| h.seen.arrivals.lock().unwrap().len())
        .sum()
}

/// Answers (202) to `activity` on all hosts.
fn answered(hosts: &[Arc<Host>], activity: &str) -> usize {
    hosts
        .iter()
        .map(|h| {
            let answered = h.seen.answered.lock().unwrap();
            answered.iter().filter(|(_, a)| a == activity).count()
        })
        .sum()
}

/// Requests the holding hosts hold now.
fn held(hosts: &[Arc<Host>]) -> usize {
    hosts
        .iter()
        .filter(|h| h.holds)
        .map(|h| h.seen.in_flight.load(Ordering::SeqCst))
        .sum()
}

/// Removes the data directory however the test ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `check` every 5 ms until it holds; panics with `what` after `limit`.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_data_dir_mid_fanout_loses_no_delivery_and_repeats_only_the_cut_ones() {
    let began = Instant::now();
    let dir = std::env::temp_dir().join(format!(
        "archipel-restart-fanout-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _cleanup = RemoveOnDrop(dir.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let a = start_alice(listener, &dir).await;
    let alice = a.app.actor_iri("alice");

    let control = Arc::new(Control::default());
    let mut hosts = Vec::new();
    for h in 0..HOSTS {
        hosts.push(start_host(h, control.clone(), h < HOLDING_HOSTS).await);
    }
    let everyone: Vec<String> = hosts
        .iter()
        .flat_map(|h| (0..PER_HOST).map(|i| h.actor(i)))
        .collect();

    // 300 signed Follows, 10 at a time; alice (not locked) accepts each.
    let client = http();
    for chunk in everyone.chunks(10) {
        let mut sends = tokio::task::JoinSet::new();
        for follower in chunk {
            let (client, follower, alice) = (client.clone(), follower.clone(), alice.clone());
            sends.spawn(async move { (follow(&client, &follower, &alice).await, follower) });
        }
        while let Some(sent) = sends.join_next().await {
            let ((status, body), follower) = sent.unwrap();
            assert_eq!(status, 202, "{follower}'s Follow: {body}");
        }
    }
    let followed = began.elapsed();
    inbound_settled(&a).await;
    let mut stored = followers(&a, "alice").await;
    stored.sort();
    let mut expected = everyone.clone();
    expected.sort();
    assert!(
        stored == expected,
        "{} of the {} followers stored",
        stored.len(),
        expected.len()
    );
    within(
        Duration::from_secs(20),
        "the 300 Accepts are delivered",
        || async { report(&a).await.delivered == everyone.len() && backlog(&a).await == 0 },
    )
    .await;
    let set_up = began.elapsed();
    let arrived_in_set_up = every_arrival(&hosts);
    assert_eq!(arrived_in_set_up, everyone.len(), "one Accept each");

    // The inboxes slow down, two hosts hold; alice posts to her followers.
    control
        .delay_ms
        .store(SLOW.as_millis() as u64, Ordering::SeqCst);
    control.hold.store(true, Ordering::SeqCst);
    let (status, create) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "mid-fan-out"}),
    )
    .await;
    assert_eq!(status, 201, "{create}");
    // Stop once some inboxes answered and both holding hosts hold as many
    // requests as the per-host limit lets in (4 each).
    within(
        Duration::from_secs(20),
        "the fan-out is under way",
        || async { answered(&hosts, &create) > 0 && held(&hosts) == 4 * HOLDING_HOSTS },
    )
    .await;
    let answered_at_stop = answered(&hosts, &create);
    let arrived_at_stop = arrivals(&hosts, &create).len();
    let in_flight_at_stop = arrived_at_stop - answered_at_stop;
    let held_at_stop = held(&hosts);
    // Nothing is answered on a holding host while it holds: every arrival
    // there is a held request.
    let held_inboxes: BTreeSet<String> = hosts
        .iter()
        .filter(|h| h.holds)
        .flat_map(|h| h.seen.arrivals.lock().unwrap().clone())
        .filter(|a| a.activity == create)
        .map(|a| a.inbox)
        .collect();
    assert_eq!(held_inboxes.len(), held_at_stop);
    let backlog_at_stop = backlog(&a).await;
    assert!(
        backlog_at_stop > 0 && answered_at_stop < everyone.len(),
        "the fan-out was over before the stop"
    );

    // Stop: the workers let the slow attempts finish, cut the held ones
    // after the grace and release them to the queue on disk; the server
    // stops listening.
    let stopping = Instant::now();
    let stopped = a.app.fed.stop_delivery().await.unwrap();
    let grace = stopping.elapsed();
    let Running { task, app, .. } = a;
    task.abort();
    let _ = task.await;
    drop(app);
    let delivered_before_stop = arrivals(&hosts, &create).len();
    assert_eq!(
        stopped.unsettled.len(),
        held_at_stop,
        "released at the stop: {:?}",
        stopped.unsettled
    );
    control.hold.store(false, Ordering::SeqCst);

    // Started again on the same directory and address.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let restarting = Instant::now();
    let a = start_alice(listener, &dir).await;
    within(
        Duration::from_secs(20),
        "every follower received the post",
        || async {
            let got: BTreeSet<String> = arrivals(&hosts, &create)
                .into_iter()
                .map(|x| x.inbox)
                .collect();
            got.len() == everyone.len() && backlog(&a).await == 0
        },
    )
    .await;
    let finished = restarting.elapsed();

    // Every arrival is the one activity (no other was sent, no new id was
    // minted on the restart), signed by alice; count per inbox.
    let all = arrivals(&hosts, &create);
    assert_eq!(
        every_arrival(&hosts) - arrived_in_set_up,
        all.len(),
        "something besides the post arrived after the set-up"
    );
    let key_id = format!("keyId=\"{alice}#main-key\"");
    let mut per_inbox: BTreeMap<String, usize> = BTreeMap::new();
    for arrival in &all {
        assert!(arrival.signature.contains(&key_id), "{arrival:?}");
        *per_inbox.entry(arrival.inbox.clone()).or_default() += 1;
    }
    let delivered_after_restart = all.len() - delivered_before_stop;
    let duplicates: usize = per_inbox.values().map(|n| n - 1).sum();
    shout(&format!(
        "restart mid-fan-out: {} followers on {HOSTS} hosts; at the stop {answered_at_stop} answered, \
         {in_flight_at_stop} in flight ({held_at_stop} held), {backlog_at_stop} unsettled in the queue; \
         delivered before the stop {delivered_before_stop}, after the restart {delivered_after_restart}, \
         duplicates {duplicates}; follows {followed:?}, set-up {set_up:?}, stop {grace:?}, after the restart {finished:?}, \
         whole test {:?}",
        everyone.len(),
        began.elapsed()
    ));
    assert_eq!(per_inbox.len(), everyone.len(), "inboxes reached");
    assert!(delivered_before_stop > 0 && delivered_after_restart > 0);
    // The only inboxes reached twice are those whose request was cut.
    let twice: BTreeSet<String> = per_inbox
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(inbox, _)| inbox.clone())
        .collect();
    let uncut: Vec<&String> = twice.difference(&held_inboxes).collect();
    assert!(
        twice == held_inboxes,
        "{} inboxes reached more than once, {} of them not cut at the stop (first: {:?})",
        twice.len(),
        uncut.len(),
        uncut.first()
    );
    assert_eq!(
        duplicates, held_at_stop,
        "duplicates beyond the requests cut at the stop"
    );
    assert_eq!(
        delivered_before_stop + delivered_after_restart,
        everyone.len() + duplicates
    );
    // The restarted server delivered exactly the rest, and nothing is left.
    let after = report(&a).await;
    assert_eq!(after.delivered, delivered_after_restart, "{after:?}");
    assert_eq!(backlog(&a).await, 0);
}
