//! The operator's routes: `GET /admin`, a page for a person (the delivery
//! backlog and its oldest age, hosts dead, paused or failing with their
//! next attempt and last error, recent failures and why, inbound numbers
//! and refusals), and `GET /metrics` for a Prometheus scraper (feature
//! `metrics`).
//!
//! Both are the token holder's only. A scraper sends the token as
//! `Authorization: Bearer` (Prometheus' `authorization` scrape setting). A
//! browser cannot send that header from the address bar, so `/admin`
//! without it answers a small form: the token is POSTed to `/admin/login`
//! (never in a URL, where it would land in history and logs) and comes back
//! as an `HttpOnly` cookie scoped to `/admin`, compared in constant time by
//! the library's [`BearerToken`](archipel::federation::routes::BearerToken).
//!
//! Every host name, inbox and error on the page comes from the network and
//! is escaped with the library's `escape_html`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::delivery::{DeliveryStatus, HostState, Timestamp};
use archipel::federation::routes::escape_html;
use archipel::inbox::admission::AdmissionStats;
use archipel::inbox::queue::InboundStats;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::App;

/// The cookie that carries the token for a browser.
const COOKIE: &str = "archipel_admin";
/// Hosts listed on the page: every unhealthy one up to this, then healthy
/// ones up to [`HEALTHY_SHOWN`] (the counts cover all of them).
const HOSTS_SHOWN: usize = 200;
const HEALTHY_SHOWN: usize = 20;

/// The routes' state: the server, and when it started (for rates).
#[derive(Clone)]
struct Admin {
    app: Arc<App>,
    started: Instant,
}

/// `GET /admin`, `POST /admin/login` and `GET /metrics`.
pub fn routes(app: Arc<App>) -> Router {
    let router = Router::new()
        .route("/admin", get(admin))
        .route("/admin/login", post(login));
    #[cfg(feature = "metrics")]
    let router = router.route("/metrics", get(metrics));
    router.with_state(Admin {
        app,
        started: Instant::now(),
    })
}

/// Whether the request carries the token: the bearer header, or the
/// cookie set by the login form.
fn authorized(app: &App, headers: &HeaderMap) -> bool {
    if app.bearer.matches(headers) {
        return true;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && app.bearer.matches_str(value))
}

/// HTML with the headers every operator page gets: never cached, never
/// framed, no referrer, no script.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

fn login_page(wrong: bool) -> Response {
    let note = if wrong {
        "<p role=\"alert\">That is not the token.</p>"
    } else {
        ""
    };
    html(
        StatusCode::UNAUTHORIZED,
        format!(
            "<!doctype html><meta charset=\"utf-8\"><title>archipel admin: sign in</title>\
             <h1>Operator page</h1>{note}\
             <form method=\"post\" action=\"/admin/login\">\
             <label>Token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label> \
             <button>Sign in</button></form>"
        ),
    )
}

#[derive(serde::Deserialize)]
struct Login {
    token: String,
}

/// `POST /admin/login`: the right token sets the cookie and goes to the page.
async fn login(State(admin): State<Admin>, Form(form): Form<Login>) -> Response {
    if !admin.app.bearer.matches_str(&form.token) {
        return login_page(true);
    }
    let secure = if admin.app.base.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    // Lax, not Strict: the page is read-only, and Strict would drop the
    // cookie on the redirect after a sign-in that began on another page.
    let cookie = format!(
        "{COOKIE}={}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=86400{secure}",
        form.token.trim()
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/admin"));
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /admin`: the page, or the sign-in form.
async fn admin(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !authorized(&admin.app, &headers) {
        return login_page(false);
    }
    let fed = &admin.app.fed;
    let delivery = match fed.delivery_status().await {
        Ok(status) => status,
        Err(e) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "<!doctype html><title>archipel admin</title><p>delivery status unavailable: {}</p>",
                    escape_html(&e.to_string())
                ),
            );
        }
    };
    let inbound = match fed.inbound() {
        Some(queue) => queue.stats().await.ok(),
        None => None,
    };
    let view = View {
        delivery: delivery.as_ref(),
        admission: fed.admission().stats(),
        inbound,
        uptime: admin.started.elapsed(),
    };
    html(StatusCode::OK, view.render())
}

/// `GET /metrics`: the Prometheus text exposition, for the token holder.
#[cfg(feature = "metrics")]
async fn metrics(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.app.bearer.matches(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response();
    }
    match archipel::metrics::Metrics::new(admin.app.fed.clone())
        .render()
        .await
    {
        Ok(text) => (
            [(header::CONTENT_TYPE, archipel::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

/// What the page shows.
pub struct View<'a> {
    /// The delivery pool's status, when it runs.
    pub delivery: Option<&'a DeliveryStatus>,
    /// The inbox admission gate's counters.
    pub admission: AdmissionStats,
    /// The inbound queue's counts, when there is one.
    pub inbound: Option<InboundStats>,
    /// How long the server has run (the rates' denominator).
    pub uptime: Duration,
}

/// "3 s", "4 min", "2 h": a duration for a person.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// When `at` is, from `now`: "in 12 s", "3 s ago".
fn relative(at: Option<Timestamp>, now: Timestamp) -> String {
    match at {
        None => "—".to_owned(),
        Some(at) if at >= now => format!("in {}", human(at.saturating_since(now))),
        Some(at) => format!("{} ago", human(now.saturating_since(at))),
    }
}

fn rate(n: u64, uptime: Duration) -> String {
    let secs = uptime.as_secs_f64().max(1.0);
    format!("{:.2}/s", n as f64 / secs)
}

impl View<'_> {
    /// The page's HTML; every string from the network escaped.
    pub fn render(&self) -> String {
        let mut page = String::from(
            "<!doctype html><meta charset=\"utf-8\"><title>archipel admin</title>\
             <style>body{font:14px system-ui,sans-serif;margin:1.5em}\
             table{border-collapse:collapse;margin-bottom:1.5em}\
             td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
             .dead{background:#fdd}.paused{background:#ffd}.failing{background:#fed}\
             dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}</style>\
             <h1>Operator page</h1>",
        );
        self.delivery_section(&mut page);
        self.inbound_section(&mut page);
        page
    }

    fn delivery_section(&self, page: &mut String) {
        page.push_str("<section id=\"delivery\"><h2>Delivery</h2>");
        let Some(d) = self.delivery else {
            page.push_str("<p>The delivery workers are not running.</p></section>");
            return;
        };
        let oldest = d.oldest_pending_age.map_or_else(|| "—".to_owned(), human);
        let a = d.attempts;
        let _ = write!(
            page,
            "<dl><dt>Backlog (due now)</dt><dd id=\"backlog\">{}</dd>\
             <dt>Unsettled jobs</dt><dd id=\"unsettled\">{}</dd>\
             <dt>Oldest pending</dt><dd id=\"oldest\">{oldest}</dd>\
             <dt>Attempts in flight</dt><dd id=\"in-flight\">{}</dd>\
             <dt>Delivered</dt><dd id=\"delivered\">{}</dd>\
             <dt>Retried</dt><dd id=\"retried\">{}</dd>\
             <dt>Gone (410)</dt><dd id=\"gone\">{}</dd>\
             <dt>Given up</dt><dd id=\"gave-up\">{}</dd>\
             <dt>Deferred</dt><dd id=\"deferred\">{}</dd></dl>",
            d.queue.due,
            d.queue.total,
            d.in_flight,
            a.delivered,
            a.retried,
            a.gone,
            a.gave_up,
            a.deferred,
        );
        let c = d.host_counts;
        let _ = write!(
            page,
            "<h3>Hosts</h3><p id=\"host-counts\">{} dead, {} paused, {} failing, {} healthy</p>",
            c.dead, c.paused, c.failing, c.healthy
        );
        page.push_str(
            "<table id=\"hosts\"><tr><th>Host</th><th>State</th><th>Next attempt</th>\
             <th>Last attempt</th><th>Last status</th><th>Last error</th><th>Delivered</th><th>Failed</th></tr>",
        );
        let mut healthy = 0;
        for host in d.hosts.iter().take(HOSTS_SHOWN) {
            if host.state == HostState::Healthy {
                healthy += 1;
                if healthy > HEALTHY_SHOWN {
                    break;
                }
            }
            let state = host.state.as_str();
            let _ = write!(
                page,
                "<tr class=\"{state}\"><td class=\"host\">{}</td><td class=\"state\">{state}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&host.host),
                relative(host.next_attempt, d.now),
                relative(host.last_attempt, d.now),
                host.last_status.map_or_else(String::new, |s| s.to_string()),
                escape_html(host.last_error.as_deref().unwrap_or_default()),
                host.delivered,
                host.failed,
            );
        }
        page.push_str("</table><h3>Recent failures</h3>");
        if d.recent_failures.is_empty() {
            page.push_str("<p id=\"failures\">None.</p>");
        } else {
            page.push_str(
                "<table id=\"failures\"><tr><th>When</th><th>Inbox</th><th>Attempts</th>\
                 <th>Status</th><th>Reason</th><th>Then</th></tr>",
            );
            for f in &d.recent_failures {
                let _ = write!(
                    page,
                    "<tr><td>{}</td><td class=\"inbox\">{}</td><td>{}</td><td>{}</td>\
                     <td class=\"reason\">{}</td><td>{}</td></tr>",
                    relative(Some(f.at), d.now),
                    escape_html(&f.inbox),
                    f.attempts,
                    f.status.map_or_else(String::new, |s| s.to_string()),
                    escape_html(&f.reason),
                    if f.gave_up { "given up" } else { "retried" },
                );
            }
            page.push_str("</table>");
        }
        let l = &d.latency;
        let mean = if l.count == 0 {
            "—".to_owned()
        } else {
            format!("{:.0} ms", l.sum_seconds * 1000.0 / l.count as f64)
        };
        let _ = write!(
            page,
            "<p id=\"latency\">{} attempts timed, mean {mean}.</p></section>",
            l.count
        );
    }

    fn inbound_section(&self, page: &mut String) {
        let s = self.admission;
        let refused = s.refused_origin + s.refused_address + s.refused_busy + s.refused_blocked;
        let up = self.uptime;
        let _ = write!(
            page,
            "<section id=\"inbound\"><h2>Inbound</h2>\
             <p>Rates are averages over the {} the server has run.</p><dl>\
             <dt>Admitted</dt><dd id=\"admitted\">{} ({})</dd>\
             <dt>Refused</dt><dd id=\"refused\">{refused} ({})</dd>\
             <dt>Refused: origin over its rate</dt><dd id=\"refused-origin\">{}</dd>\
             <dt>Refused: address over its rate</dt><dd id=\"refused-address\">{}</dd>\
             <dt>Refused: too busy</dt><dd id=\"refused-busy\">{}</dd>\
             <dt>Refused: blocked domain</dt><dd id=\"refused-blocked\">{}</dd>\
             <dt>Being handled</dt><dd id=\"inbound-in-flight\">{}</dd>\
             <dt>Origins tracked</dt><dd>{}</dd>",
            human(up),
            s.admitted,
            rate(s.admitted, up),
            rate(refused, up),
            s.refused_origin,
            s.refused_address,
            s.refused_busy,
            s.refused_blocked,
            s.in_flight,
            s.tracked_origins,
        );
        match &self.inbound {
            Some(q) => {
                let _ = write!(
                    page,
                    "<dt>Queued for processing</dt><dd id=\"inbound-depth\">{}</dd>\
                     <dt>Processed</dt><dd id=\"inbound-processed\">{} ({})</dd>\
                     <dt>Retried</dt><dd>{}</dd><dt>Failed</dt><dd>{}</dd>",
                    q.depth,
                    q.processed,
                    rate(q.processed, up),
                    q.retried,
                    q.failed,
                );
            }
            None => page.push_str("<dt>Inbound queue</dt><dd>none: handled inline</dd>"),
        }
        page.push_str("</dl></section>");
    }
}
