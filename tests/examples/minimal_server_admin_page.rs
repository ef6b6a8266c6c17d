//! The `minimal_server` operator page, rendered by a real browser during a
//! fan-out to a farm of misbehaving hosts.
//!
//! alice has followers on six loopback hosts (one address each, so the
//! server's per-host budgets apply per host): one answers 202 slowly, one
//! 500, one 410, one 429 with `Retry-After: 120`, one never answers an
//! inbox POST, and one stops listening once its followers followed
//! (connections refused). They follow her with real signed Follows; she
//! posts; while the fan-out runs, headless Chromium (Debian's `chromium`,
//! installed by `tests/setup.sh`) signs in through the page's form and
//! renders `/admin`. The assertions are on the DOM Chromium rendered
//! (`--dump-dom`); a screenshot is kept under `target/admin-page/`.
//!
//! Also checked over plain HTTP: `/admin` and `/metrics` refuse a request
//! without the token, and the form refuses a wrong one; `/metrics` answers
//! the token holder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::delivery::HostState;
use archipel::signatures::{PrivateKey, Signer};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use serde_json::json;

use crate::minimal_server::{http, post_outbox, start};
use crate::support::skip_or_fail;

const CHROMIUM: &str = "/usr/bin/chromium";
const PER_HOST: usize = 2;

/// How a farm host answers inbox POSTs (actors are always served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Slow,
    Broken,
    Gone,
    Busy,
    Hang,
    /// Stops listening after the follows.
    Refuse,
}

struct Host {
    base: String,
    answer: Answer,
}

impl Host {
    fn actor(&self, i: usize) -> String {
        format!("{}/users/f{i}", self.base)
    }

    fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

/// The followers' key, one for all, and its public half as PEM.
fn key() -> &'static (PrivateKey, String) {
    static KEY: std::sync::OnceLock<(PrivateKey, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let key = PrivateKey::from_pem(include_str!("../interop/keys/rsa-2048-pkcs8.pem")).unwrap();
        let public = key.public_key().to_spki_pem();
        (key, public)
    })
}

fn answer(status: u16, headers: &[(&str, &str)], body: String) -> Response {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/activity+json");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Body::from(body)).unwrap()
}

async fn handle(State(host): State<Arc<Host>>, req: axum::extract::Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/users/") else {
        return answer(404, &[], String::new());
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
        return answer(200, &[], actor.to_string());
    }
    match host.answer {
        Answer::Slow => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            answer(202, &[], String::new())
        }
        Answer::Broken => answer(500, &[], String::new()),
        Answer::Gone => answer(410, &[], String::new()),
        Answer::Busy => answer(429, &[("retry-after", "120")], String::new()),
        // Longer than the test runs; the server's client gives up first.
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            answer(202, &[], String::new())
        }
        Answer::Refuse => answer(202, &[], String::new()),
    }
}

/// Host `n` on its own loopback address, 127.0.0.(60 + n); the server
/// task's handle, to stop the refusing host.
async fn start_host(n: usize, answer: Answer) -> (Arc<Host>, tokio::task::JoinHandle<()>) {
    let ip = format!("127.0.0.{}", 60 + n);
    let listener = tokio::net::TcpListener::bind((ip.as_str(), 0))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {ip} (Linux routes 127.0.0.0/8 to lo): {e}"));
    let host = Arc::new(Host {
        base: format!("http://{}", listener.local_addr().unwrap()),
        answer,
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(host.clone());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (host, task)
}

/// A signed Follow of `alice` by `follower`: the status.
async fn follow(client: &reqwest::Client, follower: &str, alice: &str) -> u16 {
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
    post.send().await.unwrap().status().as_u16()
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `limit`.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Everything but ASCII letters and digits percent-encoded, for a `data:` URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The DOM of `/admin` after signing in through its form with `token`, as
/// Chromium rendered it, and a screenshot at `screenshot`; one run bounded
/// to 60 s, with a fresh profile.
async fn render_admin(base: &str, token: &str, screenshot: &Path) -> String {
    // A page that posts the token to the sign-in form at once: the browser
    // follows the redirect to /admin with the cookie it was given.
    let login = format!(
        "<form method=\"post\" action=\"{base}/admin/login\">\
         <input name=\"token\" value=\"{token}\"></form>\
         <script>document.forms[0].submit()</script>"
    );
    let url = format!("data:text/html,{}", percent_encode(&login));
    let profile = scratch_dir("admin-chromium-profile");
    let mut child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            // Lets the sign-in's navigation and redirect finish before the
            // DOM is dumped.
            "--virtual-time-budget=5000",
            "--dump-dom",
            "--window-size=1200,1400",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read stdout on a thread (a full pipe would block the browser) and
    // wait without blocking the runtime the servers run on.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium: {status}");
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("chromium did not finish within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dom = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
    dom
}

/// A fresh, empty directory under the system's temporary directory.
fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("archipel-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of the element with `id` in `dom` (tags inside it removed).
fn text_of(dom: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let mut depth = 0usize;
    let mut text = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in rest[start..].chars() {
        if in_tag {
            if c == '>' {
                in_tag = false;
                if tag.starts_with('/') {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                } else if !tag.ends_with('/') {
                    depth += 1;
                }
                text.push(' ');
            } else {
                tag.push(c);
            }
        } else if c == '<' {
            in_tag = true;
            tag.clear();
        } else {
            text.push(c);
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rows of the table with `id`, each row's cells' text.
fn rows_of(dom: &str, id: &str) -> Vec<Vec<String>> {
    let marker = format!("id=\"{id}\"");
    let at = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let table = &dom[at..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr")
        .skip(2)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..];
                    let cell = &cell[..cell.find("</td>").unwrap()];
                    cell.to_owned()
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_in_chromium_shows_backlog_failing_hosts_failures_and_inbound_numbers() {
    if !Path::new(CHROMIUM).exists() {
        skip_or_fail(
            "Chromium (Debian's chromium package)",
            "/usr/bin/chromium is missing; run tests/setup.sh",
        );
        return;
    }
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let base = a.app.base();
    let alice = a.app.actor_iri("alice");

    // Without the token: refused, the form says so.
    let client = http();
    let anonymous = client.get(format!("{base}/admin")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(
        anonymous
            .text()
            .await
            .unwrap()
            .contains("action=\"/admin/login\"")
    );
    let wrong = client
        .post(format!("{base}/admin/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=not-it")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That is not the token.")
    );
    // `/metrics` is served with the `metrics` feature (part of `server`).
    #[cfg(feature = "metrics")]
    {
        let scrape = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(scrape.status().as_u16(), 401);
        let scrape = client
            .get(format!("{base}/metrics"))
            .bearer_auth(&a.app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(scrape.status().as_u16(), 200);
        assert_eq!(
            scrape.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert!(
            scrape
                .text()
                .await
                .unwrap()
                .contains("# TYPE archipel_delivery_attempts_total counter")
        );
    }

    let answers = [
        Answer::Slow,
        Answer::Broken,
        Answer::Gone,
        Answer::Busy,
        Answer::Hang,
        Answer::Refuse,
    ];
    let mut hosts = Vec::new();
    let mut tasks = Vec::new();
    for (n, answer) in answers.into_iter().enumerate() {
        let (host, task) = start_host(n, answer).await;
        hosts.push(host);
        tasks.push(task);
    }
    for host in &hosts {
        for i in 0..PER_HOST {
            let follower = host.actor(i);
            assert_eq!(follow(&client, &follower, &alice).await, 202, "{follower}");
        }
    }
    within(
        Duration::from_secs(20),
        "every follower is stored",
        || async {
            crate::minimal_server::followers(&a, "alice").await.len() == hosts.len() * PER_HOST
        },
    )
    .await;
    // The refusing host stops listening once alice's Accepts reached it
    // (an Accept cut mid-request would fail differently): the fan-out
    // finds it closed.
    let refusing = hosts
        .iter()
        .position(|h| h.answer == Answer::Refuse)
        .unwrap();
    let refusing_host = hosts[refusing].authority().to_owned();
    within(
        Duration::from_secs(20),
        "the Accepts reached the refusing host",
        || async {
            let status = a.app.fed.delivery_status().await.unwrap().unwrap();
            status
                .hosts
                .iter()
                .any(|h| h.host == refusing_host && h.delivered == PER_HOST as u64)
        },
    )
    .await;
    tasks[refusing].abort();
    let _ = (&mut tasks[refusing]).await;

    let (status, create) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "hello, farm"}),
    )
    .await;
    assert_eq!(status, 201, "{create}");
    let host_of = |answer: Answer| {
        hosts
            .iter()
            .find(|h| h.answer == answer)
            .unwrap()
            .authority()
            .to_owned()
    };
    let (busy, broken, refuse, gone) = (
        host_of(Answer::Busy),
        host_of(Answer::Broken),
        host_of(Answer::Refuse),
        host_of(Answer::Gone),
    );
    // Wait until the fan-out met each kind of failure (the hanging host's
    // requests stay in flight).
    within(
        Duration::from_secs(20),
        "the fan-out met the failing hosts",
        || async {
            let Some(status) = a.app.fed.delivery_status().await.unwrap() else {
                return false;
            };
            let state = |host: &str| {
                status
                    .hosts
                    .iter()
                    .find(|h| h.host == host)
                    .map(|h| h.state)
            };
            state(&busy) == Some(HostState::Paused)
                && state(&broken) == Some(HostState::Failing)
                && state(&refuse) == Some(HostState::Failing)
                && status.recent_failures.iter().any(|f| f.status == Some(410))
        },
    )
    .await;

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join("admin-page");
    std::fs::create_dir_all(&dir).unwrap();
    let screenshot = dir.join("admin.png");
    let _ = std::fs::remove_file(&screenshot);
    let dom = render_admin(&base, &a.app.token, &screenshot).await;

    // The backlog: the numbers are there, with jobs still unsettled (the
    // retries, the paused host's, the hanging host's in flight).
    let unsettled: u64 = text_of(&dom, "unsettled").parse().unwrap();
    assert!(unsettled > 0, "unsettled {unsettled}");
    let _backlog: u64 = text_of(&dom, "backlog").parse().unwrap();
    assert_ne!(text_of(&dom, "oldest"), "—");
    let in_flight: u64 = text_of(&dom, "in-flight").parse().unwrap();
    assert!(in_flight >= 1, "the hanging host's requests are in flight");

    // Hosts: the paused one with its next attempt and error, the failing
    // ones with theirs; the peer's HTML in an error is shown as text.
    let hosts_table = rows_of(&dom, "hosts");
    let row = |host: &str| {
        hosts_table
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(host))
            .unwrap_or_else(|| panic!("{host} not listed: {hosts_table:?}"))
            .clone()
    };
    let paused = row(&busy);
    assert_eq!(paused[1], "paused");
    assert!(paused[2].starts_with("in "), "next attempt {paused:?}");
    assert_eq!(paused[4], "429");
    assert_eq!(paused[5], "HTTP 429");
    let failing = row(&broken);
    assert_eq!(failing[1], "failing");
    assert!(failing[2].starts_with("in "), "next attempt {failing:?}");
    assert_eq!(failing[5], "HTTP 500");
    let refused = row(&refuse);
    assert_eq!(refused[1], "failing");
    assert!(
        refused[5].contains("could not connect"),
        "refused host's error {refused:?}"
    );
    let counts = text_of(&dom, "host-counts");
    assert!(counts.starts_with("0 dead, 1 paused, "), "{counts}");

    // Recent failures with their reasons.
    let failures = rows_of(&dom, "failures");
    assert!(
        failures.iter().any(|r| r[1].contains(&gone)
            && r[3] == "410"
            && r[4] == "410 Gone: HTTP 410"
            && r[5] == "given up"),
        "{failures:?}"
    );
    assert!(
        failures
            .iter()
            .any(|r| r[1].contains(&broken) && r[4] == "HTTP 500" && r[5] == "retried"),
        "{failures:?}"
    );

    // Inbound numbers: the follows were admitted, none refused.
    let admitted = a.app.fed.admission().stats().admitted;
    assert!(
        admitted >= (hosts.len() * PER_HOST) as u64,
        "admitted {admitted}"
    );
    assert!(
        text_of(&dom, "admitted").starts_with(&format!("{admitted} (")),
        "{}",
        text_of(&dom, "admitted")
    );
    assert!(text_of(&dom, "refused").starts_with("0 ("));
    // The inbound queue processed each follow and holds nothing more.
    let inbound = a.app.fed.inbound().unwrap().stats().await.unwrap();
    assert!(
        inbound.processed >= (hosts.len() * PER_HOST) as u64,
        "{inbound:?}"
    );
    assert!(
        text_of(&dom, "inbound-processed").starts_with(&format!("{} (", inbound.processed)),
        "{}",
        text_of(&dom, "inbound-processed")
    );
    assert_eq!(text_of(&dom, "inbound-depth"), "0");

    // The scraper sees the same numbers.
    #[cfg(feature = "metrics")]
    {
        let text = client
            .get(format!("{base}/metrics"))
            .bearer_auth(&a.app.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            format!("archipel_inbound_admitted_total {admitted}"),
            "archipel_inbound_refused_total{reason=\"origin\"} 0".to_owned(),
            "archipel_delivery_hosts{state=\"paused\"} 1".to_owned(),
            "archipel_delivery_hosts{state=\"dead\"} 0".to_owned(),
            format!("archipel_inbound_processed_total {}", inbound.processed),
            "archipel_inbound_queue_depth 0".to_owned(),
        ] {
            assert!(
                lines.contains(&expected.as_str()),
                "no {expected:?} in\n{text}"
            );
        }
    }

    for task in tasks {
        task.abort();
    }
}
