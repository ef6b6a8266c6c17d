//! The axum routes of a federating server, from one [`Federation`]:
//!
//! | route | serves |
//! |---|---|
//! | `GET /.well-known/webfinger` | the loaded local actors' and the instance actor's JRDs |
//! | `GET /users/{name}`, `GET /actor` | actor documents ([`Federation::serve_actor`]) |
//! | `POST /users/{name}/inbox`, `POST /inbox`, `POST /actor/inbox` | the inbox pipeline, then the [`Dispatcher`] |
//! | `GET /users/{name}/followers`, `/following` | paged collections from the [`Graph`](super::Graph) |
//! | `GET /users/{name}/outbox` | the application's outbox source, if given |
//! | `GET /users/{name}/followers_synchronization` | the followers on the signer's server only (FEP-8fcf, [`followers_sync`](super::followers_sync)) |
//! | `GET /users/{name}/quote_authorizations/{id}` | the quote authorizations issued, if given ([`Routes::with_quotes`]) |
//! | `GET /objects/{id}`, `GET /activities/{id}` | the application's objects, through the serving guard |
//! | `GET /users/{name}/{suffix}` | an owner-only collection, if given ([`Routes::with_owner_collection`]) |
//! | `POST /users/{name}/outbox` | the owner's client-to-server posts, if given ([`Routes::with_client_outbox`]) |
//! | `GET /.well-known/nodeinfo`, `/nodeinfo/2.1`, `/nodeinfo/2.0` | NodeInfo, if given ([`Routes::with_nodeinfo`]) |
//!
//! **Who reads.** A GET is read as its verified signer, or anonymously;
//! the application says how its own users authenticate with
//! [`Routes::with_owner_auth`] (a bearer token, a session cookie), and a
//! request it vouches for reads as [`Reader::Owner`] of that actor's
//! outbox, collections and objects: the whole outbox, private posts
//! included. Nothing else can make a reader the owner. An owner-only
//! collection (a user's received activities, its pending follow requests)
//! is served to that request only, and only it may post to the actor's
//! outbox: anyone else gets `401` with `WWW-Authenticate: Bearer`, and
//! without the owner hook everyone does.
//!
//! **Pages for people.** With [`Routes::with_pages`], a request that
//! prefers `text/html` ([`wants_html`]) for an actor or an object gets the
//! application's page instead of JSON; an object's page is rendered only
//! after the serving guard allowed the reader, so a private post is a
//! `404` in HTML too. ActivityPub clients still get JSON. Without pages,
//! every client gets JSON.
//!
//! Without a public name, [`listener_base`] gives the base URL of the
//! bound listener (loopback for `0.0.0.0`).
//!
//! Inbox answers: `202 Accepted` once the dispatcher ran the activity's
//! handler (or ignored an unhandled type), the [`InboxError`](crate::inbox::InboxError)
//! or [`DispatchError`](super::dispatch::DispatchError) status otherwise.
//! A per-user inbox of an actor that is not loaded answers `404` before
//! any verification. With an inbound queue
//! ([`FederationBuilder::with_inbound_queue`](super::FederationBuilder::with_inbound_queue)),
//! `202` means stored, and a queue at its cap answers `503` with
//! `Retry-After` before the body is read
//! ([`QueueFull`](crate::inbox::queue::QueueFull)).
//!
//! ```no_run
//! use archipel::federation::Federation;
//! # async fn demo(fed: Federation) {
//! let dispatcher = fed.dispatcher().on_follow({
//!     let fed = fed.clone();
//!     move |_cx, follow| {
//!         let fed = fed.clone();
//!         async move {
//!             if let Some(me) = fed.local(&follow.name) {
//!                 fed.accept(&me, &follow).await?;
//!             }
//!             Ok(())
//!         }
//!     }
//! });
//! let app: axum::Router = fed.router(dispatcher);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```

use std::sync::Arc;

use ::axum::Router;
use ::axum::body::Body;
use ::axum::extract::{FromRequest, Path, Request, State};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::collection::{CollectionSource, serve_collection};
use super::dispatch::Dispatcher;
use super::hub::Federation;
use super::local::LocalActor;
use super::serve::{ServeError, StoredObject};
use super::store::Posts;
use super::visibility::Reader;
use crate::axum::{InboxRequest, wants_html};
use crate::inbox::admission::Permit;
use crate::nodeinfo::{NodeInfo, Software, Usage};
use crate::vocab::{AnyObject, Iri};
use crate::webfinger::Resource;

mod follows;
mod people;
use follows::{FollowsSource, Side};
pub use people::{BearerToken, OwnerAuth, Pages, escape_html};

/// The application's stored objects and activities, for
/// `GET /objects/{id}` and `GET /activities/{id}`.
#[async_trait::async_trait]
pub trait ObjectSource: Send + Sync {
    /// The object or activity with this IRI, if the application has it.
    /// Return it as served: without `bto`/`bcc`.
    async fn object(&self, id: &Iri) -> Option<StoredObject>;
}

/// The application's outbox collections, by local actor.
#[async_trait::async_trait]
pub trait OutboxSource: Send + Sync {
    /// The outbox of `actor` as a collection source; it is asked for items
    /// visible to the reader, who is also passed.
    async fn outbox(&self, actor: &LocalActor) -> Option<Arc<dyn CollectionSource>>;
}

/// The most bytes read from an inbox POST body (1 MiB, as Mastodon).
pub const MAX_INBOX_BODY: usize = 1024 * 1024;

/// The most bytes read from a client-to-server outbox POST body (64 KiB:
/// a post, not an upload); a larger one is `413`.
pub const MAX_CLIENT_BODY: usize = 64 * 1024;

/// The application's handling of what an actor's owner POSTs to its outbox
/// (ActivityPub §6, client to server), served by
/// [`Routes::with_client_outbox`] once the owner hook vouched for the
/// request.
#[async_trait::async_trait]
pub trait ClientOutbox: Send + Sync {
    /// Handles `body` (at most [`MAX_CLIENT_BODY`] bytes, not yet parsed)
    /// posted by `actor`'s owner: typically `201 Created` with the new
    /// activity's IRI in `Location`, as §6 asks.
    async fn post(&self, actor: &LocalActor, body: Bytes) -> Response;
}

/// What [`Routes::with_nodeinfo`] serves.
#[derive(Clone)]
struct NodeInfoSource {
    software: Software,
    users: u64,
    posts: Posts,
}

#[derive(Clone)]
struct RouteState {
    fed: Federation,
    dispatcher: Arc<Dispatcher>,
    objects: Option<Arc<dyn ObjectSource>>,
    outbox: Option<Arc<dyn OutboxSource>>,
    owner_auth: Option<OwnerAuth>,
    pages: Option<Arc<dyn Pages>>,
    owner_collections: Vec<(String, OwnerCollection)>,
    client_outbox: Option<Arc<dyn ClientOutbox>>,
    nodeinfo: Option<NodeInfoSource>,
    quotes: Option<super::quotes::Quotes>,
}

/// The collection of a local actor that only its owner reads (see
/// [`Routes::with_owner_collection`]).
pub type OwnerCollection = Arc<dyn Fn(&LocalActor) -> Arc<dyn CollectionSource> + Send + Sync>;

/// Route suffixes the library serves with `GET` itself: an owner-only
/// collection cannot take them.
const OWN_SUFFIXES: [&str; 4] = [
    "followers",
    "following",
    "outbox",
    super::followers_sync::PARTIAL_COLLECTION_SUFFIX,
];

/// Whether `suffix` can name an owner-only collection: path segments of
/// ASCII letters, digits, `-` and `_`, none of the library's own.
fn owner_suffix_ok(suffix: &str) -> bool {
    !OWN_SUFFIXES.contains(&suffix)
        && suffix.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Builds the routes of a [`Federation`] (see [`Federation::routes`]).
pub struct Routes {
    state: RouteState,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("objects", &self.state.objects.is_some())
            .field("outbox", &self.state.outbox.is_some())
            .field("owner_auth", &self.state.owner_auth.is_some())
            .field("pages", &self.state.pages.is_some())
            .finish_non_exhaustive()
    }
}

impl Routes {
    /// Serves `GET /objects/{id}` and `GET /activities/{id}` from `objects`.
    pub fn with_objects(mut self, objects: Arc<dyn ObjectSource>) -> Routes {
        self.state.objects = Some(objects);
        self
    }

    /// Serves `GET /users/{name}/outbox` from `outbox`.
    pub fn with_outbox(mut self, outbox: Arc<dyn OutboxSource>) -> Routes {
        self.state.outbox = Some(outbox);
        self
    }

    /// Reads a GET as [`Reader::Owner`] of a local actor's outbox,
    /// followers, following and objects when `owner_auth` says its headers
    /// authenticate that actor's owner (check a token in constant time).
    /// Without it, no request is ever the owner.
    ///
    /// ```no_run
    /// use archipel::federation::Federation;
    /// # fn demo(fed: Federation) {
    /// let token = "secret".to_owned();
    /// let routes = fed.routes(fed.dispatcher()).with_owner_auth(move |headers, _actor| {
    ///     headers.get("authorization").and_then(|v| v.to_str().ok())
    ///         == Some(format!("Bearer {token}").as_str())
    /// });
    /// # }
    /// ```
    pub fn with_owner_auth(
        mut self,
        owner_auth: impl Fn(&HeaderMap, &LocalActor) -> bool + Send + Sync + 'static,
    ) -> Routes {
        self.state.owner_auth = Some(Arc::new(owner_auth));
        self
    }

    /// Serves `GET /users/{name}/{suffix}` (id `{actor}/{suffix}`, paged)
    /// from `source` to the actor's owner only, read as [`Reader::Owner`]:
    /// the owner hook ([`Routes::with_owner_auth`]) must vouch for the
    /// request, else `401` with `WWW-Authenticate: Bearer`; an actor that is
    /// not loaded is `404`. For what a user may read of its own and nobody
    /// else: the activities it received, the follow requests it holds.
    ///
    /// `suffix` is one or more path segments of ASCII letters, digits, `-`
    /// and `_` (`inbox`, `followers/pending`); one naming a route the
    /// library serves with `GET` (`followers`, `following`, `outbox`), or
    /// any other, is not served. A second source for a suffix replaces the
    /// first.
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlite")]
    /// # fn demo(fed: archipel::federation::Federation) -> Result<(), Box<dyn std::error::Error>> {
    /// use archipel::federation::store::{CappedStore, InboxLog};
    /// let log = InboxLog::new(&CappedStore::open_in_memory()?, 5_000, 10_000);
    /// let routes = fed
    ///     .routes(fed.dispatcher())
    ///     .with_owner_auth(|headers, _actor| headers.contains_key("x-owner"))
    ///     .with_owner_collection("inbox", move |actor| log.collection(actor.id()));
    /// # Ok(()) }
    /// ```
    pub fn with_owner_collection(
        mut self,
        suffix: &str,
        source: impl Fn(&LocalActor) -> Arc<dyn CollectionSource> + Send + Sync + 'static,
    ) -> Routes {
        let suffix = suffix.trim_matches('/').to_owned();
        let collections = &mut self.state.owner_collections;
        collections.retain(|(s, _)| *s != suffix);
        collections.push((suffix, Arc::new(source)));
        self
    }

    /// Serves `POST /users/{name}/outbox` to the actor's owner only: an
    /// actor that is not loaded is `404`; a request the owner hook
    /// ([`Routes::with_owner_auth`]) does not vouch for is `401` with
    /// `WWW-Authenticate: Bearer`, its body unread; a body over
    /// [`MAX_CLIENT_BODY`] is `413`. Otherwise `outbox` answers.
    pub fn with_client_outbox(mut self, outbox: Arc<dyn ClientOutbox>) -> Routes {
        self.state.client_outbox = Some(outbox);
        self
    }

    /// Serves NodeInfo discovery and the 2.1 and 2.0 documents
    /// (`crate::axum::nodeinfo_routes`): `software`, `users` local users,
    /// the listed posts of `posts` as `localPosts` (counted per request;
    /// left out if the store fails), registrations closed.
    pub fn with_nodeinfo(mut self, software: Software, users: u64, posts: Posts) -> Routes {
        self.state.nodeinfo = Some(NodeInfoSource {
            software,
            users,
            posts,
        });
        self
    }

    /// Serves the quote authorizations `quotes` issued at
    /// `GET /users/{name}/quote_authorizations/{id}` (FEP-044f), to anyone.
    pub fn with_quotes(mut self, quotes: super::quotes::Quotes) -> Routes {
        self.state.quotes = Some(quotes);
        self
    }

    /// Serves `pages` to requests that prefer HTML (see the module docs).
    pub fn with_pages(mut self, pages: Arc<dyn Pages>) -> Routes {
        self.state.pages = Some(pages);
        self
    }

    /// The router.
    pub fn into_router(self) -> Router {
        let for_webfinger = self.state.fed.clone();
        let nodeinfo = self.state.nodeinfo.clone().map(|source| {
            let base = self.state.fed.paths().base().clone();
            crate::axum::nodeinfo_routes(base, move || {
                let source = source.clone();
                async move { nodeinfo(&source).await }
            })
        });
        let mut router = Router::new();
        for (suffix, source) in &self.state.owner_collections {
            if !owner_suffix_ok(suffix) {
                continue;
            }
            let path = format!("/users/{{name}}/{suffix}");
            let (suffix, source) = (suffix.clone(), source.clone());
            let serve = move |State(s): State<RouteState>, Path(name): Path<String>, request| {
                let (suffix, source) = (suffix.clone(), source.clone());
                async move { owner_collection(&s, &name, &suffix, &source, request).await }
            };
            router = router.route(&path, get(serve));
        }
        router
            .route("/users/{name}", get(user_actor))
            .route("/actor", get(instance_actor))
            .route("/users/{name}/inbox", post(user_inbox))
            .route("/inbox", post(shared_inbox))
            .route("/actor/inbox", post(shared_inbox))
            .route("/users/{name}/followers", get(followers))
            .route("/users/{name}/following", get(following))
            .route(
                "/users/{name}/followers_synchronization",
                get(followers_sync),
            )
            .route("/users/{name}/outbox", get(outbox).post(client_outbox))
            .route(
                "/users/{name}/quote_authorizations/{id}",
                get(quote_authorization),
            )
            .route("/objects/{id}", get(object))
            .route("/activities/{id}", get(activity))
            .with_state(self.state)
            .merge(crate::axum::webfinger_routes(move |resource| {
                let fed = for_webfinger.clone();
                async move { webfinger(&fed, &resource) }
            }))
            .merge(nodeinfo.unwrap_or_default())
    }
}

impl Federation {
    /// The routes of this server (see the [module docs](super::routes)),
    /// to add objects and an outbox to.
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn routes(&self, dispatcher: Dispatcher) -> Routes {
        Routes {
            state: RouteState {
                fed: self.clone(),
                dispatcher: Arc::new(dispatcher),
                objects: None,
                outbox: None,
                owner_auth: None,
                pages: None,
                owner_collections: Vec::new(),
                client_outbox: None,
                nodeinfo: None,
                quotes: None,
            },
        }
    }

    /// The routes of this server, with no objects or outbox of the
    /// application's: `self.routes(dispatcher).into_router()`.
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn router(&self, dispatcher: Dispatcher) -> Router {
        self.routes(dispatcher).into_router()
    }
}

fn webfinger(fed: &Federation, resource: &Resource) -> Option<crate::webfinger::Jrd> {
    let actor = match resource {
        Resource::Acct(acct) => {
            // `authority()` keeps a port (`host:8080`), as the base's does.
            if !acct
                .authority()
                .eq_ignore_ascii_case(&fed.paths().authority())
            {
                return None;
            }
            // The instance actor's handle is the authority itself, its
            // `:port` percent-encoded in the JRD subject.
            let authority = fed.paths().authority();
            let user = acct.user();
            if user.eq_ignore_ascii_case(&authority)
                || user.eq_ignore_ascii_case(&authority.replace(':', "%3A"))
            {
                fed.instance_actor().clone()
            } else {
                fed.local(acct.user())?
            }
        }
        Resource::Url(url) => fed.local_by_id(&Iri::parse(url.as_str()).ok()?)?,
    };
    Some(actor.jrd(fed.paths()))
}

fn to_http(request: Request) -> http::Request<Bytes> {
    // GET bodies are ignored: only the head is verified.
    let (parts, _) = request.into_parts();
    http::Request::from_parts(parts, Bytes::new())
}

fn from_http(response: http::Response<Bytes>) -> Response {
    response.map(Body::from)
}

/// An HTML page, which differs from the JSON at the same IRI.
fn html(page: String) -> Response {
    let mut r = Response::new(Body::from(page));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept, Signature"));
    r
}

async fn user_actor(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    if let Some(pages) = s.pages.as_ref().filter(|_| wants_html(request.headers()))
        && let Some(actor) = s.fed.local(&name)
        && let Some(page) = pages.actor(&actor).await
    {
        return html(page);
    }
    from_http(s.fed.serve_actor(Some(&name), &to_http(request)).await)
}

async fn instance_actor(State(s): State<RouteState>, request: Request) -> Response {
    from_http(s.fed.serve_actor(None, &to_http(request)).await)
}

async fn user_inbox(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    if s.fed.local(&name).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    admit_then_receive(&s, request).await
}

async fn shared_inbox(State(s): State<RouteState>, request: Request) -> Response {
    admit_then_receive(&s, request).await
}

/// Admission first, from the headers and the connection's address alone:
/// a refused request costs no body read, key fetch or signature check.
/// The permit is held until the activity is handled.
async fn admit_then_receive(s: &RouteState, request: Request) -> Response {
    let remote = request
        .extensions()
        .get::<::axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let mut permit = match s.fed.admission().admit(request.headers(), remote) {
        Ok(p) => p,
        Err(refused) => return refused.into_response(),
    };
    // A full inbound queue: 503 before the body is read or verified, and
    // the origin keeps its token (the request was not processed).
    if let Some(inbound) = s.fed.inbound()
        && let Err(full) = inbound.check_room().await
    {
        permit.not_from_origin();
        return from_http(full.response());
    }
    match InboxRequest::from_request(request, &()).await {
        Ok(request) => receive(s, request, &mut permit).await,
        Err(e) => {
            // Unread, so unproven: the named origin does not pay for it.
            permit.not_from_origin();
            e.into_response()
        }
    }
}

/// Whether the inbox's refusal comes after the signature proved who sent
/// the request: only then did the `keyId`'s origin really send it, and
/// only then does it pay for it from its admission budget. A replay of an
/// activity already received does not either, whoever replays it. A
/// forwarded copy refused (altered, unconfirmable) was signed by its
/// forwarder, who pays for it: otherwise a forwarder could make us verify
/// and fetch without limit.
fn proves_origin(e: &crate::inbox::InboxError) -> bool {
    use crate::inbox::InboxError as E;
    matches!(
        e,
        E::ActorMismatch { .. }
            | E::IdOriginMismatch { .. }
            | E::ForeignActor { .. }
            | E::ForeignObject { .. }
            | E::Vocab(_)
            | E::Forwarded(_)
    )
}

async fn receive(s: &RouteState, mut request: InboxRequest, permit: &mut Permit) -> Response {
    let incoming = match s.fed.inbox().receive_in_place(&mut request.0).await {
        Ok(i) => i,
        Err(e) => {
            if !proves_origin(&e) {
                permit.not_from_origin();
            }
            return match gone_actor(s, &e, request.0.body()).await {
                Some(answer) => answer,
                // With the inbox's own Accept-Signature challenge, if any.
                None => crate::axum::InboxRefusal::new(s.fed.inbox(), e).into_response(),
            };
        }
    };
    // A verified sender's followers-synchronization header: checked here,
    // where the request's headers still are; reconciled in the background.
    if let Err(e) = s
        .fed
        .check_followers_sync(&incoming.verified.owner, request.0.headers())
    {
        warn("inbox: Collection-Synchronization header refused", &e);
    }
    // With an inbound queue: persisted, then answered; workers dispatch.
    if let Some(inbound) = s.fed.inbound() {
        let id = incoming.id.clone();
        return match inbound.enqueue_owned(incoming).await {
            Ok(_) => StatusCode::ACCEPTED.into_response(),
            Err(e) => {
                warn("inbox: storing an accepted activity failed", &e);
                // Not stored: the sender's retry must not be a duplicate.
                s.fed.inbox().seen_store().forget(id.as_str()).await;
                (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
            }
        };
    }
    let id = incoming.id.clone();
    match s.dispatcher.dispatch(incoming).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            // Not handled, for a reason of ours (a store, a spent fetch
            // budget, a third server): the sender's retry must not be
            // answered as a duplicate and dropped.
            if e.status().is_server_error() {
                s.fed.inbox().seen_store().forget(id.as_str()).await;
            }
            refusal(&e)
        }
    }
}

/// A `Delete` the inbox refused because its actor's key is gone: handed
/// to the application's gone-actor hook when it is a self-delete the
/// actor's origin confirms ([`inbox::gone`](crate::inbox::gone)), else
/// `None` (the refusal stands). Deduplicated by id like any activity.
async fn gone_actor(
    s: &RouteState,
    refusal: &crate::inbox::InboxError,
    body: &Bytes,
) -> Option<Response> {
    let hook = s.fed.inner.gone_actor.as_ref()?;
    crate::inbox::gone::gone_status(refusal)?;
    let gone = crate::inbox::gone::confirm_self_delete(refusal, body, s.fed.fetcher()).await?;
    let seen = s.fed.inbox().seen_store();
    if !seen.insert_if_new(gone.activity.as_str()).await {
        return Some(StatusCode::ACCEPTED.into_response());
    }
    let id = gone.activity.clone();
    Some(match hook(gone).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => {
            warn("inbox: the gone-actor hook failed", &*e);
            seen.forget(id.as_str()).await;
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    })
}

/// Logs one of our own failures, kept out of the answer (`tracing` comes
/// with the `delivery` feature).
fn warn(_what: &str, _error: &dyn std::fmt::Display) {
    #[cfg(feature = "delivery")]
    tracing::warn!(error = %_error, "{_what}");
}

/// The answer to an activity the dispatcher refused: the reason for a
/// refusal of the peer's activity, but nothing of our own failures (a
/// handler's, the graph store's, a fetch's message stays out of it, as
/// [`ServeError`] keeps it out of GET answers).
fn refusal(e: &super::dispatch::DispatchError) -> Response {
    let status = e.status();
    if status.is_server_error() {
        (status, "internal error").into_response()
    } else {
        (status, e.to_string()).into_response()
    }
}

/// Whether the application vouches for the request as `actor`'s owner.
fn is_owner(s: &RouteState, request: &http::Request<Bytes>, actor: &LocalActor) -> bool {
    s.owner_auth
        .as_ref()
        .is_some_and(|auth| auth(request.headers(), actor))
}

/// The reader of a GET of `actor`'s collection: the owner if the
/// application vouches for the request, else its signer; refused in
/// authorized-fetch mode when unsigned, or for a bad signature.
async fn reader_of(
    s: &RouteState,
    request: &http::Request<Bytes>,
    actor: &LocalActor,
) -> Result<Reader, Response> {
    if is_owner(s, request, actor) {
        return Ok(Reader::Owner);
    }
    let fed = &s.fed;
    let requester = fed
        .requester(request)
        .await
        .map_err(|e| from_http(e.into_response()))?;
    if requester.owner().is_none() && fed.authorized_fetch() {
        return Err(from_http(ServeError::Unsigned.into_response()));
    }
    Ok(requester.reader())
}

/// `GET /users/{name}/{suffix}` of an owner-only collection (see
/// [`Routes::with_owner_collection`]).
async fn owner_collection(
    s: &RouteState,
    name: &str,
    suffix: &str,
    source: &OwnerCollection,
    request: Request,
) -> Response {
    let Some(actor) = s.fed.local(name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request = to_http(request);
    if !is_owner(s, &request, &actor) {
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
        return (StatusCode::UNAUTHORIZED, challenge, "not the owner").into_response();
    }
    let Ok(id) = Iri::parse(format!("{}/{suffix}", actor.id())) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let source = source(&actor);
    serve_collection(source.as_ref(), &id, request.uri().query(), &Reader::Owner).await
}

/// The base URL of a server listening on `addr` and given no public name:
/// `http://{addr}`, an unspecified address (`0.0.0.0`, `[::]`, which peers
/// cannot use) replaced by loopback of the same family. For local runs and
/// tests; a public server passes its own `https` base.
///
/// # Errors
/// None in practice (a socket address always makes a valid URL); the
/// parser's error is passed on rather than assumed away.
pub fn listener_base(addr: std::net::SocketAddr) -> Result<url::Url, url::ParseError> {
    let mut public = addr;
    match public.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            public.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            public.set_ip(std::net::Ipv6Addr::LOCALHOST.into());
        }
        _ => {}
    }
    url::Url::parse(&format!("http://{public}"))
}

/// `POST /users/{name}/outbox` (see [`Routes::with_client_outbox`]).
async fn client_outbox(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    // Without the application's handling, the outbox takes no POSTs.
    let Some(outbox) = s.client_outbox.as_ref() else {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    };
    let Some(actor) = s.fed.local(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (parts, body) = request.into_parts();
    if !is_owner(&s, &http::Request::from_parts(parts, Bytes::new()), &actor) {
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
        return (StatusCode::UNAUTHORIZED, challenge, "not the owner").into_response();
    }
    match ::axum::body::to_bytes(body, MAX_CLIENT_BODY).await {
        Ok(body) => outbox.post(&actor, body).await,
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

async fn nodeinfo(source: &NodeInfoSource) -> NodeInfo {
    let mut usage = Usage::default();
    usage.users.total = Some(source.users);
    usage.local_posts = source.posts.count().await.ok();
    NodeInfo::new(source.software.clone(), usage, false)
}

async fn graph_collection(s: &RouteState, name: &str, side: Side, request: Request) -> Response {
    let Some(actor) = s.fed.local(name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request = to_http(request);
    let reader = match reader_of(s, &request, &actor).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let id = match side {
        Side::Followers => actor.followers().clone(),
        Side::Following => actor.following().clone(),
    };
    // Paged from the graph's range reads: a page of rows and a count per
    // request, never the whole list.
    let source = FollowsSource::new(s.fed.graph().clone(), actor.id().clone(), side);
    serve_collection(&source, &id, request.uri().query(), &reader).await
}

async fn followers(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    graph_collection(&s, &name, Side::Followers, request).await
}

async fn quote_authorization(
    State(s): State<RouteState>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    match &s.quotes {
        Some(quotes) => from_http(quotes.serve(&name, &id).await),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /users/{name}/followers_synchronization` (FEP-8fcf).
async fn followers_sync(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    from_http(s.fed.serve_followers_sync(&name, &to_http(request)).await)
}

async fn following(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    graph_collection(&s, &name, Side::Following, request).await
}

async fn outbox(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (Some(actor), Some(outboxes)) = (s.fed.local(&name), s.outbox.as_ref()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request = to_http(request);
    let reader = match reader_of(&s, &request, &actor).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let Some(source) = outboxes.outbox(&actor).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    serve_collection(
        source.as_ref(),
        actor.outbox(),
        request.uri().query(),
        &reader,
    )
    .await
}

async fn stored(
    s: &RouteState,
    iri: Result<Iri, super::paths::PathsError>,
    request: Request,
) -> Response {
    let request = to_http(request);
    let found = match (iri, s.objects.as_ref()) {
        (Ok(iri), Some(objects)) => objects.object(&iri).await,
        _ => None,
    };
    let author = found.as_ref().and_then(|f| s.fed.local_by_id(&f.author));
    let owner = author.as_ref().is_some_and(|a| is_owner(s, &request, a));
    if let Some(pages) = s.pages.as_ref().filter(|_| wants_html(request.headers()))
        && let Some(author) = &author
    {
        return match s
            .fed
            .authorize_read_by(found.as_ref(), &request, owner)
            .await
        {
            // The page is built from what the JSON answer would carry:
            // `bto`/`bcc` never leave the server, in HTML either.
            Ok(object) => {
                let page = match without_hidden_audience(object) {
                    Some(object) => pages.object(&object, author).await,
                    None => None,
                };
                match page {
                    Some(page) => html(page),
                    None => from_http(s.fed.serve_object_by(found.as_ref(), &request, owner).await),
                }
            }
            Err(e) => from_http(e.into_response()),
        };
    }
    from_http(s.fed.serve_object_by(found.as_ref(), &request, owner).await)
}

/// `object` without `bto`/`bcc`, at any depth; `None` if it cannot be
/// re-read after stripping (then the JSON answer, stripped too, is served).
fn without_hidden_audience(object: &AnyObject) -> Option<AnyObject> {
    let mut value = serde_json::to_value(object).ok()?;
    crate::vocab::audience::strip_hidden_audience(&mut value);
    AnyObject::from_value(&value).ok()
}

async fn object(State(s): State<RouteState>, Path(id): Path<String>, request: Request) -> Response {
    let iri = s.fed.paths().object(&id);
    stored(&s, iri, request).await
}

async fn activity(
    State(s): State<RouteState>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let iri = s.fed.paths().activity(&id);
    stored(&s, iri, request).await
}

#[cfg(test)]
mod tests;
