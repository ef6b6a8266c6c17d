//! The server: configuration, start-up, and the routes: the library's
//! (`archipel::federation::routes` serves the actors, WebFinger, NodeInfo,
//! the inboxes, followers, following, the outbox and the objects, through
//! its serving guard; and to the owner only, the C2S outbox, each user's
//! received activities and pending follow requests), told who the owner is
//! (the token holder) and given this server's pages and home page.
//!
//! Started by [`start`], which binds, spawns the server and the delivery
//! workers and returns a handle; the binary (`main.rs`) and the
//! integration tests both call it, so the tests run exactly the code a
//! newcomer runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use archipel::client::{FetchPolicy, ReqwestClient, authority};
use archipel::delivery::WorkerConfig;
use archipel::federation::routes::{self, BearerToken, escape_html};
use archipel::federation::{Federation, LocalActor};
use archipel::nodeinfo::Software;
use archipel::policy::DomainPolicy;
use archipel::signatures::Spec;
use archipel::vocab::{AnyObject, Iri};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use url::Url;

use crate::store::{Caps, Store};

// The operator's page and metrics; beside this file (a child module, so
// every crate that compiles `app.rs` in gets it).
#[path = "admin.rs"]
mod admin;
// Account migration: aliases, moving a user, following a moved account.
#[path = "migration.rs"]
pub mod migration;
// Quote posts (FEP-044f): policies, requests, approvals, checks.
#[path = "quotes.rs"]
pub mod quotes;

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
    /// Where state and keys are kept (SQLite); memory only when `None`.
    pub data_dir: Option<PathBuf>,
    /// Whether to fetch from and deliver to loopback/private addresses.
    pub allow_private_addresses: bool,
    /// Domains refused inbound and outbound.
    pub blocked_domains: Vec<String>,
    /// Knock first with RFC 9421 signatures instead of draft-cavage (the
    /// delivery engine falls back to the other dialect on 401/403 either way).
    pub rfc9421_first: bool,
    /// Serve documents only to signed requests (Mastodon's secure mode).
    pub authorized_fetch: bool,
    /// Caps on the tables remote peers can grow.
    pub caps: Caps,
    /// The inbox's rate and concurrency limits (the library's defaults).
    pub admission: archipel::inbox::admission::AdmissionConfig,
    /// Earlier accounts of local users (`--also-known-as NAME=IRI`), which
    /// may move to them.
    pub also_known_as: Vec<(String, Iri)>,
    /// Relays to subscribe to (`--relay`: a Mastodon-style relay's inbox,
    /// or a LitePub relay's actor), of the kind `--relay-kind` names.
    pub relays: Vec<Iri>,
    /// Mastodon-style (the default) or LitePub.
    pub relay_kind: archipel::federation::relay::RelayKind,
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
            authorized_fetch: false,
            caps: Caps::default(),
            admission: archipel::inbox::admission::AdmissionConfig::default(),
            also_known_as: Vec::new(),
            relays: Vec::new(),
            relay_kind: archipel::federation::relay::RelayKind::Mastodon,
        }
    }
}

/// Shared state of a running server.
pub struct App {
    /// Public base URL.
    pub base: Url,
    /// Local user names.
    pub users: Vec<String>,
    /// The bearer token.
    pub token: String,
    /// The same, checked in constant time.
    bearer: BearerToken,
    /// The application layer: keys, fetching, inbox, delivery.
    pub fed: Federation,
    /// The server's tables.
    pub store: Store,
    /// Account migration: the receiving side, and where users moved.
    pub migration: migration::Migrations,
    /// Quote posts: who may quote whom, and what was authorized.
    pub quotes: quotes::QuotePosts,
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

    /// Whether the request carries the bearer token.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        self.bearer.matches(headers)
    }
}

/// Any start-up failure, as an I/O error.
fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
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
        // Loopback for 0.0.0.0 / [::]; --base-url gives a public name.
        None => routes::listener_base(addr).map_err(io)?,
    };
    let mut users = config.users.clone();
    if users.is_empty() {
        users.push("alice".to_owned());
    }
    let dir = config.data_dir.as_deref();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let store = Store::open(dir, config.caps).map_err(io)?;
    let policy = FetchPolicy::default()
        .allow_http(config.allow_private_addresses || base.scheme() == "http")
        .allow_private_addresses(config.allow_private_addresses);
    let domains = DomainPolicy::new();
    for domain in &config.blocked_domains {
        domains.block(domain).map_err(io)?;
    }
    let mut builder = Federation::builder(base.clone())
        .with_client(Arc::new(ReqwestClient::new(policy).map_err(io)?))
        .with_graph(store.graph.clone())
        .with_domain_policy(domains)
        .with_authorized_fetch(config.authorized_fetch)
        .with_admission(config.admission.clone());
    if let Some(dir) = dir {
        builder = builder.with_data_dir(dir).await.map_err(io)?;
        let relays = archipel::federation::relay::SqliteRelays::open(&dir.join("relays.sqlite3"));
        builder = builder.with_relay_store(Arc::new(relays.map_err(io)?));
    }
    if !config.relays.is_empty() {
        // What relays carry is signed, where the build can, so receivers
        // need not fetch it again.
        builder = builder.with_object_signing(archipel::federation::outbox::ObjectSigning::all());
    }
    // Accepted activities are stored and answered 202, then handled by the
    // inbound workers: in a file of their own under --data-dir.
    let inbound: Arc<dyn archipel::delivery::DeliveryQueue> = match dir {
        Some(dir) => {
            let file = dir.join("inbound.sqlite3");
            let options = archipel::inbox::queue::InboundQueue::sqlite_options();
            Arc::new(
                archipel::delivery::SqliteQueue::open_with(file, options)
                    .await
                    .map_err(io)?,
            )
        }
        None => Arc::new(archipel::delivery::MemoryQueue::new()),
    };
    builder = builder.with_inbound_queue(inbound);
    let fed = builder.build().await.map_err(io)?;
    let migrations =
        migration::Migrations::open(archipel::federation::migration::Migration::new(&fed), dir)?;
    for name in &users {
        let actor = fed.actor(name).await.map_err(io)?;
        let aliases = config.also_known_as.iter().filter(|(n, _)| n == name);
        fed.register(
            actor
                .locked(config.locked.contains(name))
                .with_also_known_as(aliases.map(|(_, iri)| iri.clone()).collect())
                .with_moved_to(migrations.moved_to(name)),
        );
    }
    let mut workers = WorkerConfig::default();
    if config.rfc9421_first {
        workers = workers.with_first_dialect(Spec::Rfc9421);
    }
    fed.start_delivery(workers).await;
    let subscribed = fed.relays().await.map_err(io)?;
    for relay in config
        .relays
        .iter()
        .filter(|r| !subscribed.iter().any(|s| &s.id == *r))
    {
        fed.subscribe_relay(relay, config.relay_kind)
            .await
            .map_err(io)?;
    }
    let bearer = match config.token.clone() {
        Some(t) => BearerToken::new(t),
        None => BearerToken::random().map_err(io)?,
    };
    let quote_posts = quotes::QuotePosts::open(&fed, store.posts.clone(), dir).await?;
    let app = Arc::new(App {
        base: base.clone(),
        users,
        token: bearer.as_str().to_owned(),
        bearer,
        fed,
        store,
        migration: migrations,
        quotes: quote_posts,
    });
    let inbound = archipel::inbox::queue::InboundConfig::default();
    app.fed
        .start_inbound(crate::inbound::dispatcher(&app), inbound)
        .await;
    let router = routes(app.clone());
    let task = tokio::spawn(async move {
        // With the peer's address, so the inbox admits per address too.
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
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

/// The library's routes (with this server's owner authentication: the
/// token holder reads everything, including each user's inbox and pending
/// follow requests; and its pages for browsers), and beside them the
/// application's home page. The C2S outbox (`outbound`) and NodeInfo are
/// served by the library's routes too.
pub fn routes(app: Arc<App>) -> Router {
    let owner = app.clone();
    let library = app
        .fed
        .routes(crate::inbound::dispatcher(&app))
        .with_objects(Arc::new(app.store.posts.clone()))
        .with_outbox(Arc::new(app.store.posts.clone()))
        .with_owner_auth(move |headers, _actor| owner.authorized(headers))
        .with_owner_collection("inbox", {
            let log = app.store.log.clone();
            move |me| log.collection(me.id())
        })
        .with_owner_collection("followers/pending", {
            let requests = app.store.requests.clone();
            move |me| requests.collection(me.id())
        })
        .with_client_outbox(Arc::new(crate::outbound::Outbox(app.clone())))
        .with_quotes(app.quotes.quotes.clone())
        .with_pages(Arc::new(Pages {
            at: authority(&app.base),
        }))
        .with_nodeinfo(software(), app.users.len() as u64, app.store.posts.clone())
        .into_router();
    Router::new()
        .route("/", get(home))
        .with_state(app.clone())
        .merge(admin::routes(app))
        .merge(library)
}

/// This server in NodeInfo.
fn software() -> Software {
    let software = Software::new("archipel-minimal-server", env!("CARGO_PKG_VERSION"));
    // The name is a constant that passes the check; the fallback is never taken.
    software.unwrap_or_else(|_| Software::default())
}

/// This server's pages for browsers: an actor's, and a post's content as
/// text (the library shows a post only to whom the serving guard allows).
struct Pages {
    at: String,
}

#[async_trait::async_trait]
impl routes::Pages for Pages {
    async fn actor(&self, actor: &LocalActor) -> Option<String> {
        let (name, at) = (actor.name(), &self.at);
        Some(format!(
            "<!doctype html><title>{name}</title><h1>{name}@{at}</h1>\
             <p>An ActivityPub actor. Follow <code>@{name}@{at}</code> from another server.</p>"
        ))
    }

    async fn object(&self, object: &AnyObject, _author: &LocalActor) -> Option<String> {
        let id = object.id().map(Iri::as_str).unwrap_or_default();
        let content = object.as_object().and_then(|o| o.content.as_deref());
        let content = escape_html(content.unwrap_or_default());
        Some(format!(
            "<!doctype html><title>{}</title><article>{content}</article>",
            escape_html(id)
        ))
    }
}

async fn home(State(app): State<Arc<App>>) -> Html<String> {
    let at = authority(&app.base);
    let mut page = String::from(
        "<!doctype html><title>archipel minimal server</title><h1>archipel minimal server</h1><ul>",
    );
    for user in &app.users {
        let iri = app.actor_iri(user);
        page.push_str(&format!("<li><a href=\"{iri}\">{user}@{at}</a></li>"));
    }
    page.push_str("</ul>");
    Html(page)
}
