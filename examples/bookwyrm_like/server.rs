//! The server: configuration, start-up, and what a reader does (catalog a
//! book, shelve it, write about it, follow someone). Everything federated
//! goes through `archipel::federation`: the actors, keys, WebFinger and
//! the inbox are the library's, statuses pass through its client-to-server
//! outbox (ids, addressing, `bto`/`bcc` removal), recipients come from its
//! follow graph, and its serving guard decides who may read a status.
//!
//! The one choice made here: a status goes out twice, with the same id, as
//! the rich book type to servers whose NodeInfo says they speak it, and as
//! a plain `Article`/`Note` to everyone else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use archipel::client::{FetchPolicy, ReqwestClient, authority};
use archipel::delivery::{DeliveryError, SqliteQueue, WorkerConfig};
use archipel::federation::keys::SqliteKeyStore;
use archipel::federation::outbox::OutboxError;
use archipel::federation::remote::SqliteActorStore;
use archipel::federation::routes::BearerToken;
use archipel::federation::{Federation, FederationError, LocalActor};
use archipel::inbox::admission::AdmissionConfig;
use archipel::nodeinfo::Software;
use archipel::vocab::{Activity, AnyObject, Audience, Iri, Kind, Object, Reference, VocabError};
use axum::http::HeaderMap;
use serde::Deserialize;
use url::Url;

use super::books::{self, BookStatus};
use super::store::{Caps, Store};

/// The NodeInfo `software.name` this server advertises; peers that
/// advertise one of [`RICH_SOFTWARE`] get the rich rendering.
pub const SOFTWARE: &str = "bookwyrm-like";
/// Software known to understand the book types.
pub const RICH_SOFTWARE: &[&str] = &["bookwyrm", SOFTWARE];

/// How the server is configured (from the command line, or by a test).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Public base URL (when `None`: `http://` + the bound address, loopback
    /// for an unspecified one, as `routes::listener_base` derives it).
    pub base_url: Option<Url>,
    /// The readers' user names (the first is the API's default).
    pub users: Vec<String>,
    /// Bearer token of the readers' API.
    pub token: String,
    /// Where state and keys are kept (SQLite); in memory when `None`.
    pub data_dir: Option<PathBuf>,
    /// Federate with loopback/private addresses (local testing).
    pub allow_private_addresses: bool,
    /// Caps on the tables peers can grow.
    pub caps: Caps,
    /// The inbox's rate and concurrency limits (the library's defaults).
    pub admission: AdmissionConfig,
}

/// What a reader writes about a book (the body of `POST /api/status`).
#[derive(Debug, Default, Deserialize)]
pub struct Draft {
    /// `Review`, `Rating`, `Comment` or `Quotation`.
    pub kind: String,
    /// The edition's IRI.
    pub book: String,
    /// A review's title.
    pub name: Option<String>,
    /// The text (HTML).
    pub content: Option<String>,
    /// Stars (reviews and ratings).
    pub rating: Option<f64>,
    /// The quoted text (quotations).
    pub quote: Option<String>,
    /// The quote's page (quotations).
    pub position: Option<u64>,
    /// Who may read it: `public` (default), `unlisted`, `followers`, or
    /// `direct` (only the actors in `to`).
    pub visibility: Option<String>,
    /// The addressees of a `direct` status (actor IRIs).
    #[serde(default)]
    pub to: Vec<String>,
}

/// Why a reader's action failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request names something wrong (the message says what).
    #[error("{0}")]
    Bad(String),
    /// An IRI in the request is not one.
    #[error("{0}")]
    Iri(#[from] VocabError),
    /// The library's outbox refused the status.
    #[error("{0}")]
    Outbox(#[from] OutboxError),
    /// The application layer failed (keys, graph, sending).
    #[error("{0}")]
    Federation(#[from] FederationError),
    /// Planning or queueing a delivery failed.
    #[error("{0}")]
    Delivery(#[from] DeliveryError),
    /// The OS random source failed (making an id).
    #[error("random source: {0}")]
    Random(String),
    /// The state database failed.
    #[error("state database: {0}")]
    Store(#[from] rusqlite::Error),
    /// The library's post store failed.
    #[error("{0}")]
    Posts(#[from] archipel::federation::store::StoreError),
}

/// Shared state of a running server.
pub struct App {
    /// The application layer: actors, keys, fetching, inbox, delivery.
    pub fed: Federation,
    /// The readers' user names.
    pub users: Vec<String>,
    /// The API's token (the library's check: constant-time, and an empty
    /// token lets nobody in).
    token: BearerToken,
    /// The server's tables.
    pub store: Store,
}

/// A running server.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The state, for tests to inspect.
    pub app: Arc<App>,
    /// The server task.
    pub task: tokio::task::JoinHandle<()>,
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Serves on `listener` in a background task.
pub async fn start_on(
    listener: tokio::net::TcpListener,
    config: Config,
) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let base = match config.base_url {
        Some(url) => url,
        None => archipel::federation::routes::listener_base(addr).map_err(io)?,
    };
    let dir = config.data_dir.as_deref();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let store = Store::open(dir, config.caps).map_err(io)?;
    let policy = FetchPolicy::default()
        .allow_http(config.allow_private_addresses || base.scheme() == "http")
        .allow_private_addresses(config.allow_private_addresses);
    let mut builder = Federation::builder(base)
        .with_client(Arc::new(ReqwestClient::new(policy).map_err(io)?))
        .with_graph(store.graph())
        .with_admission(config.admission.clone());
    if let Some(dir) = dir {
        builder = builder
            .with_key_store(Arc::new(
                SqliteKeyStore::open(dir.join("keys.sqlite3")).map_err(io)?,
            ))
            .with_actor_store(Arc::new(
                SqliteActorStore::open(dir.join("actors.sqlite3")).map_err(io)?,
            ))
            .with_queue(Arc::new(
                SqliteQueue::open(dir.join("delivery.sqlite3"))
                    .await
                    .map_err(io)?,
            ));
    }
    let fed = builder.build().await.map_err(io)?;
    let mut users = config.users;
    if users.is_empty() {
        users.push("mouse".to_owned());
    }
    for name in &users {
        fed.actor(name).await.map_err(io)?;
    }
    fed.start_delivery(WorkerConfig::default()).await;
    let app = Arc::new(App {
        fed,
        users,
        token: BearerToken::new(config.token),
        store,
    });
    let router = super::routes::routes(app.clone());
    let task = tokio::spawn(async move {
        // With the peer's address, so the inbox admits per address too.
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("server error: {e}");
        }
    });
    Ok(Running { addr, app, task })
}

impl App {
    /// The reader `name`, if it is one of this server's.
    pub fn reader(&self, name: Option<&str>) -> Result<LocalActor, AppError> {
        let name = name
            .or(self.users.first().map(String::as_str))
            .unwrap_or("");
        self.fed
            .local(name)
            .filter(|_| self.users.iter().any(|u| u == name))
            .ok_or_else(|| AppError::Bad(format!("no reader {name:?}")))
    }

    /// An IRI on this server.
    pub fn iri(&self, path: &str) -> Result<Iri, AppError> {
        let base = self.fed.paths().base().as_str().trim_end_matches('/');
        Ok(Iri::parse(format!("{base}/{path}"))?)
    }

    fn new_id(&self, kind: &str) -> Result<Iri, AppError> {
        let id =
            archipel::federation::Paths::new_id().map_err(|e| AppError::Random(e.to_string()))?;
        self.iri(&format!("{kind}/{id}"))
    }

    /// Adds an edition (and its author and work) to the catalog; returns the edition IRI.
    pub async fn add_book(&self, title: &str, author: &str) -> Result<Iri, AppError> {
        let author_iri = self.new_id("author")?;
        let work_iri = self.new_id("works")?;
        let edition_iri = self.new_id("book")?;
        let mut author_doc = books::Author::new(
            Object::new("Author").with_id(author_iri.clone()),
            books::AuthorProps::default(),
        );
        author_doc.name = Some(author.to_owned());
        author_doc.ld_context = Some(books::context());
        let mut work = books::Work::new(
            Object::new("Work").with_id(work_iri.clone()),
            books::WorkProps {
                title: Some(title.to_owned()),
                authors: vec![author_iri.clone()],
                editions: vec![edition_iri.clone()],
            },
        );
        work.ld_context = Some(books::context());
        let mut edition = books::Edition::new(
            Object::new("Edition").with_id(edition_iri.clone()),
            books::EditionProps {
                title: Some(title.to_owned()),
                authors: vec![author_iri.clone()],
                work: Some(work_iri.clone()),
                ..Default::default()
            },
        );
        edition.ld_context = Some(books::context());
        self.store.put_catalog(&author_iri, None, &author_doc)?;
        self.store.put_catalog(&work_iri, None, &work)?;
        self.store
            .put_catalog(&edition_iri, Some((title, author)), &edition)?;
        Ok(edition_iri)
    }

    /// Puts a book on one of `reader`'s shelves (`on = true`) or takes it
    /// off, and tells the followers whose servers understand shelves: `Add`
    /// or `Remove` of a `ShelfItem`, with the shelf as `target`. Returns
    /// the activity's IRI.
    pub async fn shelve(
        &self,
        reader: &LocalActor,
        book: &str,
        shelf: &str,
        on: bool,
    ) -> Result<Iri, AppError> {
        let book = Iri::parse(book)?;
        archipel::federation::Paths::check_name(shelf).map_err(|_| {
            AppError::Bad(format!("shelf name {shelf:?}: letters, digits, -_. only"))
        })?;
        self.store.shelve(reader.id(), shelf, &book, on)?;
        // The item has no id of its own: naming its author lets receivers
        // trust it as part of this signed activity.
        let item = books::ShelfItem::new(
            Object::new("ShelfItem").with_attributed_to(reader.id().clone()),
            books::ShelfItemProps { book: Some(book) },
        );
        let kind = if on { Kind::Add } else { Kind::Remove };
        let mut activity = Activity::new(kind, self.fed.new_activity_id()?, reader.id().clone());
        activity.object = Some(AnyObject::from(item).into());
        activity.target = Some(
            self.iri(&format!("users/{}/shelf/{shelf}", reader.name()))?
                .into(),
        );
        activity.ld_context = Some(books::context());
        Audience::public(reader.followers().clone()).apply(&mut activity);
        self.deliver(reader, &activity, None).await?;
        activity
            .id
            .clone()
            .ok_or_else(|| AppError::Bad("no id".into()))
    }

    /// Publishes a status about a book through the library's outbox: the
    /// rich type to peers that know it, a plain `Article`/`Note` to
    /// everyone else, each only to the status's audience. Returns its IRI.
    pub async fn post_status(&self, reader: &LocalActor, draft: Draft) -> Result<Iri, AppError> {
        let book = Iri::parse(&draft.book).map_err(|e| AppError::Bad(format!("book: {e}")))?;
        let mut base = Object::new(draft.kind.as_str());
        base.name = draft.name;
        base.content = draft.content;
        let followers = reader.followers().clone();
        let audience = match draft.visibility.as_deref().unwrap_or("public") {
            "public" => Audience::public(followers),
            "unlisted" => Audience::unlisted(followers),
            "followers" => Audience::followers_only(followers),
            "direct" => {
                Audience::direct(draft.to.iter().map(Iri::parse).collect::<Result<_, _>>()?)
            }
            other => return Err(AppError::Bad(format!("unknown visibility {other:?}"))),
        };
        audience.apply(&mut base);
        let rating = books::ReviewProps {
            in_reply_to_book: Some(book.clone()),
            rating: draft.rating,
        };
        let status = match draft.kind.as_str() {
            "Review" => AnyObject::from(books::Review::new(base, rating)),
            "Rating" => AnyObject::from(books::Rating::new(base, rating)),
            "Comment" => AnyObject::from(books::Comment::new(
                base,
                books::CommentProps {
                    in_reply_to_book: Some(book.clone()),
                },
            )),
            "Quotation" => AnyObject::from(books::Quotation::new(
                base,
                books::QuotationProps {
                    in_reply_to_book: Some(book.clone()),
                    quote: draft.quote,
                    position: draft.position,
                },
            )),
            other => return Err(AppError::Bad(format!("unknown status type {other:?}"))),
        };
        // The library's outbox assigns the ids, copies the addressing onto
        // the Create, and keeps `bto`/`bcc` out of what is stored and served.
        let body = serde_json::to_vec(&status).map_err(|e| AppError::Bad(e.to_string()))?;
        let posted = self.fed.outbox().prepare(reader, &body)?.finish(None)?;
        let object = posted
            .object()
            .cloned()
            .ok_or_else(|| AppError::Bad("no status".into()))?;
        let id = object
            .id()
            .cloned()
            .ok_or_else(|| AppError::Bad("no id".into()))?;
        let with_context = |mut any: AnyObject| {
            if let Some(o) = any.as_object_mut() {
                o.ld_context = Some(books::context());
            }
            any
        };
        // Kept as served, with the book terms' context, by the library's
        // post store, which serves them only to their audience.
        let posts = self.store.posts();
        posts
            .put(reader, with_context(object.clone()), false)
            .await?;
        let create = AnyObject::from(posted.activity().clone());
        posts.put(reader, with_context(create), true).await?;
        self.store.put_status(&id, reader.id(), &book)?;

        let title = self
            .store
            .title(book.as_str())
            .unwrap_or_else(|| "a book".to_owned());
        let mut rich = posted.delivery().unredacted().clone();
        rich.ld_context = Some(books::context());
        let mut plain = posted.delivery().unredacted().clone();
        if let Some(status) = BookStatus::from_any(object) {
            plain.object = Some(Reference::from(status.plain(&title)).into());
        }
        self.deliver(reader, &rich, Some(&plain)).await?;
        Ok(id)
    }

    /// `reader` follows the actor `target` (the library records the Follow
    /// and believes only its followee's Accept).
    pub async fn follow(&self, reader: &LocalActor, target: &str) -> Result<Iri, AppError> {
        let target = Iri::parse(target)?;
        let sent = self.fed.follow(reader, &target).await?;
        if let Some((iri, why)) = sent.unresolved.first() {
            return Err(AppError::Bad(format!("cannot follow {iri}: {why}")));
        }
        // Learn what the followee's server speaks before posting to it.
        self.learn_peer(&target).await;
        Ok(target)
    }

    /// Sends `rich` to the recipients its addressing names (resolved by the
    /// library: followers from the graph, actors through its cache) whose
    /// servers speak the book types, and `plain` (if any) to the others.
    /// The library checks that `plain` is addressed exactly as `rich`, so
    /// the plain rendering can never reach more people than the rich one.
    async fn deliver(
        &self,
        author: &LocalActor,
        rich: &Activity,
        plain: Option<&Activity>,
    ) -> Result<(), AppError> {
        let audience = self.fed.audience(author, rich).await?;
        let mut speaks = Vec::with_capacity(audience.recipients().len());
        for recipient in audience.recipients() {
            let actor = recipient.id.as_ref().unwrap_or(&recipient.inbox);
            speaks.push(match Iri::parse(actor.as_str()) {
                Ok(iri) => self.speaks_books(&iri).await,
                Err(_) => false,
            });
        }
        let mut speaks = speaks.into_iter();
        let (to_rich, to_plain) = audience.split(|_| speaks.next().unwrap_or(false));
        self.fed.send_to(author, rich, to_rich).await?;
        if let Some(plain) = plain {
            self.fed.send_to(author, plain, to_plain).await?;
        }
        Ok(())
    }

    /// Whether the server of `actor` understands the book types, as the
    /// `peers` table remembers it, or else as [`App::learn_peer`] finds.
    pub async fn speaks_books(&self, actor: &Iri) -> bool {
        let known = actor
            .to_url()
            .ok()
            .and_then(|url| self.store.peer(&authority(&url)));
        match known {
            Some(rich) => rich,
            None => self.learn_peer(actor).await,
        }
    }

    /// Asks the server of `actor` for its NodeInfo and remembers whether
    /// its software speaks the book types. A server that does not answer
    /// counts as plain until it is asked again (a Follow to or from it).
    pub async fn learn_peer(&self, actor: &Iri) -> bool {
        let Ok(url) = actor.to_url() else {
            return false;
        };
        let Ok(origin) = Url::parse(&url.origin().ascii_serialization()) else {
            return false;
        };
        let rich = archipel::nodeinfo::discover(self.fed.client().as_ref(), &origin)
            .await
            .is_ok_and(|info| RICH_SOFTWARE.contains(&info.software.name.as_str()));
        let host = authority(&url);
        if let Err(e) = self.store.put_peer(&host, rich) {
            eprintln!("cannot remember {host}: {e}");
        }
        rich
    }

    /// Whether the request carries the API bearer token.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        self.token.matches(headers)
    }
}

/// The software this server's NodeInfo names: `software.name` tells peers
/// to send rich objects.
pub fn software() -> Software {
    // A constant that passes the check; the fallback is never taken.
    Software::new(SOFTWARE, env!("CARGO_PKG_VERSION")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    /// An empty token (`--token ''`) authorizes no request, not one whose
    /// header is just `Bearer `.
    #[tokio::test]
    async fn an_empty_token_lets_nobody_in() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config {
            bind: listener.local_addr().unwrap(),
            base_url: None,
            users: Vec::new(),
            token: String::new(),
            data_dir: None,
            allow_private_addresses: false,
            caps: Caps::default(),
            admission: AdmissionConfig::default(),
        };
        let running = start_on(listener, config).await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert!(!running.app.authorized(&headers));
        running.task.abort();
    }
}
