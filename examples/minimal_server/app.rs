//! The server: configuration, shared state, routes and the documents it
//! serves (actors, collections, WebFinger, NodeInfo).
//!
//! Started by [`start`], which binds, spawns the server and delivery workers
//! and returns a handle; the binary (`main.rs`) and the integration tests both
//! call it, so the tests run exactly the code a newcomer runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use archipel::axum::{ActivityJson, InboxRequest, negotiate, nodeinfo_routes, webfinger_routes};
use archipel::inbox::{Inbox, rebase_uri};
use archipel::nodeinfo::{NodeInfo, Software, Usage};
use archipel::webfinger::{Jrd, JrdLink, Resource};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use url::Url;

use crate::fed::Federation;
use crate::store::{Data, Disk};

/// Items per collection page.
pub const PAGE_SIZE: usize = 20;

/// The ActivityStreams public collection.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// How the server is configured (from the command line, or by a test).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Public base URL; derived from the bound address when `None`.
    pub base_url: Option<Url>,
    /// Local user names.
    pub users: Vec<String>,
    /// Users who approve followers by hand.
    pub locked: Vec<String>,
    /// Bearer token for the C2S outbox and the inbox reader; random when `None`.
    pub token: Option<String>,
    /// Where state and keys are kept; memory only when `None`.
    pub data_dir: Option<PathBuf>,
    /// Whether to fetch from and deliver to loopback/private addresses.
    pub allow_private_addresses: bool,
    /// Domains refused inbound and outbound.
    pub blocked_domains: Vec<String>,
    /// Knock first with RFC 9421 signatures instead of draft-cavage (the
    /// delivery engine falls back to the other dialect on 401/403 either way).
    pub rfc9421_first: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: None,
            users: Vec::new(),
            locked: Vec::new(),
            token: None,
            data_dir: None,
            allow_private_addresses: false,
            blocked_domains: Vec::new(),
            rfc9421_first: false,
        }
    }
}

/// Shared state of a running server.
pub struct App {
    /// Public base URL, without trailing slash in `base()`.
    pub base: Url,
    /// Local user names (sorted as given).
    pub users: Vec<String>,
    /// Locked users.
    pub locked: Vec<String>,
    /// The bearer token.
    pub token: String,
    /// The stored data.
    pub data: Mutex<Data>,
    /// Disk mirror.
    pub disk: Disk,
    /// The inbound pipeline.
    pub inbox: Inbox,
    /// Keys, fetching, WebFinger, delivery.
    pub fed: Federation,
}

/// A running server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The public base URL.
    pub base: Url,
    /// The state, for tests to inspect.
    pub app: Arc<App>,
    /// The server task.
    pub task: tokio::task::JoinHandle<()>,
}

impl App {
    /// The base URL as a string without trailing slash.
    pub fn base(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// A local user's actor IRI.
    pub fn actor_iri(&self, name: &str) -> String {
        format!("{}/users/{name}", self.base())
    }

    /// The local user name of an actor IRI on this server, if any.
    pub fn local_name(&self, iri: &str) -> Option<String> {
        let prefix = format!("{}/users/", self.base());
        let name = iri.strip_prefix(&prefix)?;
        self.users.iter().find(|u| *u == name).cloned()
    }

    /// A fresh IRI on this server for a new object or activity.
    pub fn new_id(&self) -> String {
        format!("{}/objects/{}", self.base(), crate::fed::random_hex(16))
    }

    /// Whether `name` approves followers by hand.
    pub fn is_locked(&self, name: &str) -> bool {
        self.locked.iter().any(|l| l == name)
    }

    /// Saves the state to disk (when configured).
    pub fn persist(&self, data: &Data) {
        self.disk.save(data);
    }

    /// Whether the request carries the bearer token.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| {
                crate::fed::constant_time_eq(t.trim().as_bytes(), self.token.as_bytes())
            })
    }
}

/// Binds `config.bind`, builds the state and serves in a background task.
pub async fn start(config: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    start_on(listener, config).await
}

/// Like [`start`] on an already bound listener (tests bind first to learn
/// the port, then choose the base URL).
pub async fn start_on(
    listener: tokio::net::TcpListener,
    config: Config,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let base = match &config.base_url {
        Some(url) => url.clone(),
        None => {
            // 0.0.0.0 / [::] are not addresses peers can use: fall back to
            // loopback (pass --base-url for a public name).
            let mut public = addr;
            if public.ip().is_unspecified() {
                public.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            Url::parse(&format!("http://{public}")).map_err(std::io::Error::other)?
        }
    };
    let users = if config.users.is_empty() {
        vec!["alice".to_owned()]
    } else {
        config.users.clone()
    };
    let disk = match &config.data_dir {
        Some(dir) => Disk::at(dir)?,
        None => Disk::memory(),
    };
    let mut data = disk.load();
    for user in &users {
        data.users.entry(user.clone()).or_default();
    }
    let token = config
        .token
        .clone()
        .unwrap_or_else(|| crate::fed::random_hex(24));
    let fed = Federation::new(&base, &users, &config, &disk)
        .await
        .map_err(std::io::Error::other)?;
    let inbox = fed.inbox();
    let app = Arc::new(App {
        base: base.clone(),
        users,
        locked: config.locked.clone(),
        token,
        data: Mutex::new(data),
        disk,
        inbox,
        fed,
    });
    app.fed.spawn_workers();
    let router = routes(app.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server error: {e}");
        }
    });
    Ok(Running {
        addr,
        base,
        app,
        task,
    })
}

/// All routes: discovery from archipel's axum helpers, the rest here.
pub fn routes(app: Arc<App>) -> Router {
    let for_webfinger = app.clone();
    let for_nodeinfo = app.clone();
    Router::new()
        .route("/", get(home))
        .route("/users/{name}", get(actor))
        .route(
            "/users/{name}/inbox",
            post(crate::inbound::post_user_inbox).get(crate::outbound::read_inbox),
        )
        .route("/inbox", post(crate::inbound::post_shared_inbox))
        .route(
            "/users/{name}/outbox",
            get(outbox).post(crate::outbound::post_outbox),
        )
        .route("/users/{name}/followers", get(followers))
        .route("/users/{name}/following", get(following))
        .route(
            "/users/{name}/followers/pending",
            get(crate::outbound::pending_followers),
        )
        .route("/objects/{id}", get(object))
        .with_state(app.clone())
        .merge(webfinger_routes(move |resource| {
            let app = for_webfinger.clone();
            async move { webfinger_jrd(&app, &resource) }
        }))
        .merge(nodeinfo_routes(app.base.clone(), move || {
            let app = for_nodeinfo.clone();
            async move { nodeinfo_document(&app).await }
        }))
}

async fn home(State(app): State<Arc<App>>) -> Html<String> {
    let mut page = String::from(
        "<!doctype html><title>archipel minimal server</title><h1>archipel minimal server</h1><ul>",
    );
    for user in &app.users {
        let iri = app.actor_iri(user);
        page.push_str(&format!(
            "<li><a href=\"{iri}\">{user}@{}</a></li>",
            archipel::client::authority(&app.base)
        ));
    }
    page.push_str("</ul>");
    Html(page)
}

/// The JRD for a WebFinger query: `acct:NAME@HOST[:PORT]` or the actor IRI.
fn webfinger_jrd(app: &App, resource: &Resource) -> Option<Jrd> {
    let authority = archipel::client::authority(&app.base);
    let name = match resource {
        Resource::Acct(acct) if acct.authority().eq_ignore_ascii_case(&authority) => {
            Some(acct.user().to_owned())
        }
        Resource::Url(url) => app.local_name(url.as_str()),
        _ => None,
    }
    .filter(|n| app.users.contains(n))?;
    let iri = app.actor_iri(&name);
    let mut jrd = Jrd {
        subject: Some(format!("acct:{name}@{authority}")),
        aliases: Some(vec![iri.clone()]),
        ..Jrd::default()
    };
    jrd.push_link(JrdLink::new(
        "self",
        Some("application/activity+json"),
        iri.clone(),
    ));
    jrd.push_link(JrdLink::new(
        "http://webfinger.net/rel/profile-page",
        Some("text/html"),
        iri,
    ));
    Some(jrd)
}

/// The NodeInfo document, with current figures.
async fn nodeinfo_document(app: &App) -> NodeInfo {
    let local_posts = {
        let data = app.data.lock().await;
        data.users
            .values()
            .map(|u| u.outbox.len() as u64)
            .sum::<u64>()
    };
    let software = Software::new("archipel-minimal-server", env!("CARGO_PKG_VERSION"))
        .expect("a valid software name");
    let mut usage = Usage::default();
    usage.users.total = Some(app.users.len() as u64);
    usage.local_posts = Some(local_posts);
    NodeInfo::new(software, usage, false)
}

/// The actor document of a local user.
pub fn actor_document(app: &App, name: &str) -> Value {
    let iri = app.actor_iri(name);
    json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers"}
        ],
        "id": iri,
        "type": "Person",
        "preferredUsername": name,
        "name": name,
        "url": iri,
        "inbox": format!("{iri}/inbox"),
        "outbox": format!("{iri}/outbox"),
        "followers": format!("{iri}/followers"),
        "following": format!("{iri}/following"),
        "manuallyApprovesFollowers": app.is_locked(name),
        "endpoints": {"sharedInbox": format!("{}/inbox", app.base())},
        "publicKey": {
            "id": format!("{iri}#main-key"),
            "owner": iri,
            "publicKeyPem": app.fed.public_key_pem(name).unwrap_or_default()
        }
    })
}

async fn actor(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !app.users.contains(&name) {
        return (StatusCode::NOT_FOUND, "no such user").into_response();
    }
    let authority = archipel::client::authority(&app.base);
    negotiate(&headers, &actor_document(&app, &name), || {
        format!(
            "<!doctype html><title>{name}</title><h1>{name}@{authority}</h1>\
             <p>An ActivityPub actor. Follow <code>@{name}@{authority}</code> from another server.</p>"
        )
    })
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub page: Option<usize>,
}

/// An `OrderedCollection` (no `page`) or one `OrderedCollectionPage` of `items`.
pub fn paged_collection(id: &str, items: &[Value], page: Option<usize>) -> Value {
    let total = items.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let Some(page) = page else {
        return json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": format!("{id}?page=1"),
            "last": format!("{id}?page={pages}"),
        });
    };
    let page = page.max(1);
    let start = (page - 1).saturating_mul(PAGE_SIZE).min(total);
    let end = (start + PAGE_SIZE).min(total);
    let mut doc = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{id}?page={page}"),
        "type": "OrderedCollectionPage",
        "partOf": id,
        "totalItems": total,
        "orderedItems": items[start..end],
    });
    if end < total {
        doc["next"] = json!(format!("{id}?page={}", page + 1));
    }
    if page > 1 {
        doc["prev"] = json!(format!("{id}?page={}", page - 1));
    }
    doc
}

fn strings(items: &[String]) -> Vec<Value> {
    items
        .iter()
        .rev()
        .map(|s| Value::String(s.clone()))
        .collect()
}

async fn followers(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let data = app.data.lock().await;
    let Some(user) = data.users.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = format!("{}/followers", app.actor_iri(&name));
    ActivityJson(paged_collection(&id, &strings(&user.followers), q.page)).into_response()
}

async fn following(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let data = app.data.lock().await;
    let Some(user) = data.users.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = format!("{}/following", app.actor_iri(&name));
    ActivityJson(paged_collection(&id, &strings(&user.following), q.page)).into_response()
}

async fn outbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let data = app.data.lock().await;
    let Some(user) = data.users.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Only public activities are listed to anonymous readers.
    let items: Vec<Value> = user
        .outbox
        .iter()
        .rev()
        .filter(|a| crate::fed::addressed_to_public(a))
        .cloned()
        .collect();
    let id = format!("{}/outbox", app.actor_iri(&name));
    ActivityJson(paged_collection(&id, &items, q.page)).into_response()
}

async fn object(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let iri = format!("{}/objects/{id}", app.base());
    let data = app.data.lock().await;
    let Some(doc) = data.local_objects.get(&iri) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if doc.get("type").and_then(Value::as_str) == Some("Tombstone") {
        return (StatusCode::GONE, ActivityJson(doc.clone())).into_response();
    }
    if !crate::fed::addressed_to_public(doc) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let content = escape_html(
        doc.get("content")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    negotiate(&headers, doc, || {
        format!("<!doctype html><title>{iri}</title><article>{content}</article>")
    })
}

/// Rebuilds the request URI from the public base (see `rebase_uri`), so
/// logs show the URL the sender signed.
pub fn absolute(app: &App, req: InboxRequest) -> http::Request<bytes::Bytes> {
    rebase_uri(req.0, &app.base)
}

/// Escapes text for inclusion in HTML (the example shows note content as text).
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
