//! The server: one reader, a small book catalog, shelves and statuses,
//! built from archipel's pieces (keys and signatures, the verifying inbox,
//! the follow helpers, the fetcher, NodeInfo, WebFinger, the delivery
//! engine). Started by [`start_on`], which the binary and the tests share;
//! the HTTP side is in `routes.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use archipel::client::{FetchPolicy, HttpClient, ReqwestClient};
use archipel::delivery::{
    DeliveryPlan, MemoryQueue, NewActivity, PlanOptions, Recipient, SignedDelivery, SignerMap,
    WorkerConfig, Workers,
};
use archipel::fetch::Fetcher;
use archipel::inbox::{ActorKeyResolver, EmbeddedObject, Inbox};
use archipel::nodeinfo::{NodeInfo, Software, Usage};
use archipel::policy::DomainPolicy;
use archipel::policy::follow::{self, PendingFollow};
use archipel::signatures::{PrivateKey, Signer, Verifier, VerifyPolicy};
use archipel::vocab::{Activity, AnyObject, Iri, Kind, Object};
use archipel::webfinger::{Jrd, JrdLink, Resource};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::books::{self, BookObject, BookStatus, Edition, Review};

/// The NodeInfo `software.name` this server advertises; peers that
/// advertise one of [`RICH_SOFTWARE`] get the rich rendering.
pub const SOFTWARE: &str = "bookwyrm-like";
/// Software known to understand the book types.
pub const RICH_SOFTWARE: &[&str] = &["bookwyrm", SOFTWARE];
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// How the server is configured.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Public base URL (`http://` + the bound address when `None`).
    pub base_url: Option<Url>,
    /// The reader's user name.
    pub user: String,
    /// Bearer token of the reader's API.
    pub token: String,
    /// Federate with loopback/private addresses (local testing).
    pub allow_private_addresses: bool,
}

/// A follower and how to reach it.
#[derive(Debug, Clone)]
pub struct Follower {
    /// The actor IRI.
    pub actor: String,
    /// Its inboxes.
    pub recipient: Recipient,
    /// Whether its server understands the book types (from its NodeInfo).
    pub rich: bool,
}

/// What the reader writes about a book (the body of `POST /api/status`).
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
}

/// A verified incoming activity, as kept by the server.
#[derive(Debug, Clone)]
pub struct Received {
    /// The activity as received.
    pub activity: Value,
    /// The key that signed it.
    pub key_id: String,
}

/// Mutable state.
#[derive(Debug, Default)]
pub struct Data {
    /// Catalog documents (editions, works, authors) by IRI.
    pub catalog: BTreeMap<String, Value>,
    /// The reader's statuses by IRI (rich form).
    pub statuses: BTreeMap<String, Value>,
    /// Shelf name → edition IRIs.
    pub shelves: BTreeMap<String, Vec<String>>,
    /// Who follows the reader.
    pub followers: Vec<Follower>,
    /// Follows sent: Follow id → followed actor.
    pub sent_follows: BTreeMap<String, String>,
    /// Accepted follows.
    pub following: Vec<String>,
    /// Verified incoming activities, oldest first.
    pub received: Vec<Received>,
    /// Titles of remote books seen in received statuses (fetched).
    pub remote_books: BTreeMap<String, String>,
    /// Shelves of followed readers (shelf IRI → edition IRIs), from their
    /// `Add`/`Remove` activities.
    pub remote_shelves: BTreeMap<String, Vec<String>>,
}

/// Shared state of a running server.
pub struct App {
    /// Public base URL without trailing slash.
    pub base: String,
    /// Public base URL.
    pub base_url: Url,
    /// The reader's user name.
    pub user: String,
    token: String,
    /// The reader's signing key.
    pub key: PrivateKey,
    client: Arc<dyn HttpClient>,
    fetcher: Fetcher,
    /// The verifying inbox pipeline.
    pub inbox: Inbox,
    workers: Workers,
    /// The state.
    pub data: Mutex<Data>,
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

/// Serves on `listener` in a background task.
pub async fn start_on(
    listener: tokio::net::TcpListener,
    config: Config,
) -> Result<Running, Box<dyn std::error::Error>> {
    let addr = listener.local_addr()?;
    let base_url = match config.base_url {
        Some(url) => url,
        None => Url::parse(&format!("http://{addr}"))?,
    };
    let base = base_url.as_str().trim_end_matches('/').to_owned();
    let policy = DomainPolicy::new();
    let client: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new(
        FetchPolicy::default()
            .allow_http(config.allow_private_addresses || base_url.scheme() == "http")
            .allow_private_addresses(config.allow_private_addresses)
            .with_domain_policy(policy.clone()),
    )?);
    let key = PrivateKey::generate_rsa_2048()?;
    let actor = format!("{base}/user/{}", config.user);
    let mut signers = SignerMap::new();
    signers.insert(Signer::new(format!("{actor}#main-key"), key.clone()));
    let workers = Workers::start(
        Arc::new(MemoryQueue::new()),
        Arc::new(SignedDelivery::new(client.clone(), signers)),
        WorkerConfig::default(),
    );
    let verifier = Verifier::new(
        ActorKeyResolver::new(client.clone()).with_domain_policy(policy.clone()),
        VerifyPolicy::default(),
    );
    let inbox = Inbox::new(Arc::new(verifier))
        .with_domain_policy(policy.clone())
        .with_public_base(base_url.clone());
    let app = Arc::new(App {
        base,
        base_url,
        user: config.user,
        token: config.token,
        key,
        fetcher: Fetcher::new(client.clone()).with_domain_policy(policy),
        client,
        inbox,
        workers,
        data: Mutex::new(Data::default()),
    });
    let router = crate::routes::routes(app.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("server error: {e}");
        }
    });
    Ok(Running { addr, app, task })
}

impl App {
    /// The reader's actor IRI.
    pub fn actor_iri(&self) -> String {
        format!("{}/user/{}", self.base, self.user)
    }

    /// An IRI on this server.
    pub fn iri(&self, path: &str) -> Iri {
        Iri::new_unchecked(format!("{}/{path}", self.base))
    }

    fn new_id(&self, kind: &str) -> Iri {
        let mut n = [0u8; 8];
        getrandom::fill(&mut n).expect("OS random generator");
        self.iri(&format!("{kind}/{}", u64::from_le_bytes(n)))
    }

    /// The WebFinger answer for the reader (RFC 7033).
    pub fn webfinger(&self, resource: &Resource) -> Option<Jrd> {
        let host = archipel::client::authority(&self.base_url);
        let wanted = match resource {
            Resource::Acct(acct) => acct.user() == self.user && acct.authority() == host,
            Resource::Url(url) => url.as_str() == self.actor_iri(),
            _ => false,
        };
        if !wanted {
            return None;
        }
        let mut jrd = Jrd {
            subject: Some(format!("acct:{}@{host}", self.user)),
            ..Jrd::default()
        };
        jrd.push_link(JrdLink::new(
            "self",
            Some("application/activity+json"),
            self.actor_iri(),
        ));
        Some(jrd)
    }

    /// The NodeInfo document: `software.name` tells peers to send rich objects.
    pub async fn nodeinfo(&self) -> NodeInfo {
        let mut usage = Usage::default();
        usage.users.total = Some(1);
        usage.local_posts = Some(self.data.lock().await.statuses.len() as u64);
        let software = Software::new(SOFTWARE, env!("CARGO_PKG_VERSION")).expect("a valid name");
        NodeInfo::new(software, usage, false)
    }

    /// Adds an edition (and its author and work) to the catalog; returns the edition IRI.
    pub async fn add_book(&self, title: &str, author: &str) -> String {
        let author_iri = self.new_id("author");
        let work_iri = self.new_id("works");
        let edition_iri = self.new_id("book");
        let mut author_doc = books::Author::new(
            Object::new("Author").with_id(author_iri.clone()),
            books::AuthorProps::default(),
        );
        author_doc.name = Some(author.to_owned());
        let work = books::Work::new(
            Object::new("Work").with_id(work_iri.clone()),
            books::WorkProps {
                title: Some(title.to_owned()),
                authors: vec![author_iri.clone()],
                editions: vec![edition_iri.clone()],
            },
        );
        let edition = Edition::new(
            Object::new("Edition").with_id(edition_iri.clone()),
            books::EditionProps {
                title: Some(title.to_owned()),
                authors: vec![author_iri.clone()],
                work: Some(work_iri.clone()),
                ..Default::default()
            },
        );
        let mut data = self.data.lock().await;
        for (iri, doc) in [
            (author_iri, serde_json::to_value(&author_doc)),
            (work_iri, serde_json::to_value(&work)),
            (edition_iri.clone(), serde_json::to_value(&edition)),
        ] {
            let mut doc = doc.expect("book documents serialize");
            doc["@context"] = books::context().to_value();
            data.catalog.insert(iri.to_string(), doc);
        }
        edition_iri.to_string()
    }

    /// Puts a book on one of the reader's shelves (`on = true`) or takes
    /// it off, and tells the peers that understand shelves: `Add` or
    /// `Remove` of a `ShelfItem`, with the shelf as `target`. Returns the
    /// activity's IRI.
    pub async fn shelve(&self, book: &str, shelf: &str, on: bool) -> Result<String, String> {
        let book = Iri::parse(book).map_err(|e| e.to_string())?;
        let me = self.iri(&format!("user/{}", self.user));
        // The item has no id of its own: naming its author lets receivers
        // trust it as part of this signed activity.
        let item = books::ShelfItem::new(
            Object::new("ShelfItem").with_attributed_to(me.clone()),
            books::ShelfItemProps {
                book: Some(book.clone()),
            },
        );
        let kind = if on { Kind::Add } else { Kind::Remove };
        let mut activity = Activity::new(kind, self.new_id("activity"), me);
        activity.object = Some(AnyObject::from(item).into());
        activity.target = Some(
            self.iri(&format!("user/{}/shelf/{shelf}", self.user))
                .into(),
        );
        activity.ld_context = Some(books::context());
        let rich = {
            let mut data = self.data.lock().await;
            let list = data.shelves.entry(shelf.to_owned()).or_default();
            list.retain(|b| b != book.as_str());
            if on {
                list.push(book.to_string());
            }
            data.followers
                .iter()
                .filter(|f| f.rich)
                .map(|f| f.recipient.clone())
                .collect::<Vec<_>>()
        };
        self.deliver(&activity, rich).await?;
        Ok(activity.id.as_ref().map(Iri::to_string).unwrap_or_default())
    }

    /// Publishes a status about a book: the rich type to peers that know
    /// it, a plain `Article`/`Note` to everyone else. Returns its IRI.
    pub async fn post_status(&self, draft: Draft) -> Result<String, String> {
        let book = Some(Iri::parse(&draft.book).map_err(|e| format!("book: {e}"))?);
        let id = self.new_id("status");
        let mut base = Object::new(draft.kind.as_str())
            .with_id(id.clone())
            .with_attributed_to(self.iri(&format!("user/{}", self.user)));
        base.name = draft.name;
        base.content = draft.content;
        base.to = Some(Iri::new_unchecked(PUBLIC).into());
        base.cc = Some(self.iri(&format!("user/{}/followers", self.user)).into());
        let rating = |in_reply_to_book| books::ReviewProps {
            in_reply_to_book,
            rating: draft.rating,
        };
        let status = match draft.kind.as_str() {
            "Review" => BookStatus::Review(Review::new(base, rating(book))),
            "Rating" => BookStatus::Rating(books::Rating::new(base, rating(book))),
            "Comment" => BookStatus::Comment(books::Comment::new(
                base,
                books::CommentProps {
                    in_reply_to_book: book,
                },
            )),
            "Quotation" => BookStatus::Quotation(books::Quotation::new(
                base,
                books::QuotationProps {
                    in_reply_to_book: book,
                    quote: draft.quote,
                    position: draft.position,
                },
            )),
            other => return Err(format!("unknown status type {other:?}")),
        };
        self.publish(status).await?;
        Ok(id.to_string())
    }

    /// Sends a status: two `Create`s with the same id, one body each,
    /// chosen per follower by what its server understands.
    pub async fn publish(&self, status: BookStatus) -> Result<(), String> {
        let object = status.object();
        let id = object.id.clone().ok_or("a status needs an id")?;
        let me = self.iri(&format!("user/{}", self.user));
        let title = {
            let data = self.data.lock().await;
            status
                .book()
                .and_then(|b| data.catalog.get(b.as_str()).cloned())
                .and_then(|doc| doc["title"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "a book".to_owned())
        };
        let create_id = Iri::new_unchecked(format!("{id}/activity"));
        let mut rich = Activity::create(create_id.clone(), me.clone(), status.rich());
        rich.ld_context = Some(books::context());
        let plain = Activity::create(create_id, me, status.plain(&title));
        let (to_rich, to_plain): (Vec<_>, Vec<_>) = {
            let mut data = self.data.lock().await;
            let mut doc = serde_json::to_value(status.rich()).map_err(|e| e.to_string())?;
            doc["@context"] = books::context().to_value();
            data.statuses.insert(id.to_string(), doc);
            data.followers.iter().cloned().partition(|f| f.rich)
        };
        self.deliver(&rich, to_rich.into_iter().map(|f| f.recipient))
            .await?;
        self.deliver(&plain, to_plain.into_iter().map(|f| f.recipient))
            .await
    }

    /// Follows a remote actor (by IRI).
    pub async fn follow(&self, target: &str) -> Result<String, String> {
        let target_url = Url::parse(target).map_err(|e| e.to_string())?;
        let actor = self
            .fetcher
            .fetch_actor(&target_url)
            .await
            .map_err(|e| e.to_string())?;
        let recipient = Recipient::from_actor(&actor).ok_or("the actor has no inbox")?;
        let id = self.new_id("follow");
        let follow = Activity::follow(
            id.clone(),
            self.iri(&format!("user/{}", self.user)),
            target_url.into(),
        );
        self.data
            .lock()
            .await
            .sent_follows
            .insert(id.to_string(), target.to_owned());
        self.deliver(&follow, [recipient]).await?;
        Ok(id.to_string())
    }

    /// Plans the delivery of one body and hands it to the workers, which
    /// sign it per inbox.
    async fn deliver(
        &self,
        activity: &impl serde::Serialize,
        to: impl IntoIterator<Item = Recipient>,
    ) -> Result<(), String> {
        let options = PlanOptions::default()
            .with_local_hosts(vec![archipel::client::authority(&self.base_url)]);
        let plan = DeliveryPlan::new(activity, to, &options).map_err(|e| e.to_string())?;
        if plan.inboxes().is_empty() {
            return Ok(());
        }
        let key_id =
            Iri::parse(format!("{}#main-key", self.actor_iri())).map_err(|e| e.to_string())?;
        let job = NewActivity::from_plan(&plan, key_id);
        self.workers
            .enqueue(job)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Whether the server of `actor` understands the book types, from its NodeInfo.
    async fn speaks_books(&self, actor: &Url) -> bool {
        let Ok(origin) = Url::parse(&actor.origin().ascii_serialization()) else {
            return false;
        };
        match archipel::nodeinfo::discover(self.client.as_ref(), &origin).await {
            Ok(info) => RICH_SOFTWARE.contains(&info.software.name.as_str()),
            Err(_) => false,
        }
    }

    /// Applies a verified activity.
    pub async fn handle(&self, incoming: archipel::inbox::Incoming) {
        let Ok(doc) = incoming.json() else { return };
        let activity = incoming.activity.as_activity();
        // Embedded objects only as far as the signature vouches for them.
        let object = incoming.object().trusted();
        eprintln!(
            "inbox: {} from {} (key {}){}",
            incoming.kind,
            incoming.actor,
            incoming.verified.key_id,
            object
                .map(|o| format!(": {}", BookObject::from_any(o.clone()).summary()))
                .unwrap_or_default()
        );
        match incoming.kind.as_str() {
            "Follow" => {
                let Some(request) = activity.and_then(PendingFollow::from_follow) else {
                    return;
                };
                if request.followee != self.actor_iri() {
                    return;
                }
                // This reader approves every follower at once.
                let Ok(url) = request.follower.to_url() else {
                    return;
                };
                let Ok(actor) = self.fetcher.fetch_actor(&url).await else {
                    return;
                };
                let Some(recipient) = Recipient::from_actor(&actor) else {
                    return;
                };
                let rich = self.speaks_books(&url).await;
                {
                    let mut data = self.data.lock().await;
                    data.followers.retain(|f| f.actor != request.follower);
                    data.followers.push(Follower {
                        actor: request.follower.to_string(),
                        recipient: recipient.clone(),
                        rich,
                    });
                }
                let accept = follow::accept(&request, self.new_id("accept"));
                if let Err(e) = self.deliver(&accept, [recipient]).await {
                    eprintln!("cannot accept {}: {e}", request.follower);
                }
            }
            "Accept" => {
                let mut data = self.data.lock().await;
                let accepted: Vec<String> = data
                    .sent_follows
                    .iter()
                    .filter(|(_, target)| **target == incoming.actor)
                    .map(|(_, t)| t.clone())
                    .collect();
                for t in accepted {
                    if !data.following.contains(&t) {
                        data.following.push(t);
                    }
                }
            }
            "Undo" => {
                if let Some(Ok(target)) = activity.map(follow::check_undo)
                    && target.kind.as_deref() == Some("Follow")
                {
                    self.data
                        .lock()
                        .await
                        .followers
                        .retain(|f| f.actor != incoming.actor);
                }
            }
            "Add" | "Remove" => {
                // A followed reader's shelf changed: keep a copy, trusting
                // only shelves under the sender's own actor IRI.
                let activity = incoming.activity.as_activity();
                let shelf = activity.and_then(|a| a.target.as_ref()?.first()?.id().cloned());
                let item = object.cloned();
                if let (Some(shelf), Some(item)) = (shelf, item)
                    && shelf.as_str().starts_with(&format!("{}/", incoming.actor))
                    && let BookObject::ShelfItem(item) = BookObject::from_any(item)
                    && let Some(book) = item.ext.book
                {
                    let mut data = self.data.lock().await;
                    let list = data.remote_shelves.entry(shelf.to_string()).or_default();
                    list.retain(|b| b != book.as_str());
                    if incoming.kind == "Add" {
                        list.push(book.to_string());
                    }
                }
            }
            "Create" => {
                // Learn the title of a reviewed book from its owner (a
                // typed fetch of a custom type). A review the signature
                // does not vouch for is read from its origin instead.
                let status = match incoming.object() {
                    EmbeddedObject::Trusted(object) => Some(object.clone()),
                    EmbeddedObject::FetchFromOrigin(iri) => match iri.to_url() {
                        Ok(url) => self.fetcher.fetch_any(&url).await.ok(),
                        Err(_) => None,
                    },
                    _ => None,
                };
                if let Some(status) = status
                    && let BookObject::Review(review) = BookObject::from_any(status)
                    && let Some(book) = &review.ext.in_reply_to_book
                    && let Ok(url) = Url::parse(book.as_str())
                    && let Ok(edition) = self.fetcher.fetch::<Edition>(&url).await
                    && let Some(title) = edition.ext.title
                {
                    self.data
                        .lock()
                        .await
                        .remote_books
                        .insert(book.to_string(), title);
                }
            }
            _ => {}
        }
        self.data.lock().await.received.push(Received {
            activity: doc,
            key_id: incoming.verified.key_id.to_string(),
        });
    }

    /// Whether the request carries the API bearer token.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(self.token.as_str())
    }
}
