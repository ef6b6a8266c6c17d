//! The axum routes of a federating server, from one [`Federation`]:
//!
//! | route | serves |
//! |---|---|
//! | `GET /.well-known/webfinger` | the loaded local actors' and the instance actor's JRDs |
//! | `GET /users/{name}`, `GET /actor` | actor documents ([`Federation::serve_actor`]) |
//! | `POST /users/{name}/inbox`, `POST /inbox`, `POST /actor/inbox` | the inbox pipeline, then the [`Dispatcher`] |
//! | `GET /users/{name}/followers`, `/following` | paged collections from the [`Graph`](super::Graph) |
//! | `GET /users/{name}/outbox` | the application's outbox source, if given |
//! | `GET /objects/{id}`, `GET /activities/{id}` | the application's objects, through the serving guard |
//!
//! Inbox answers: `202 Accepted` once the dispatcher ran the activity's
//! handler (or ignored an unhandled type), the [`InboxError`](crate::inbox::InboxError)
//! or [`DispatchError`](super::dispatch::DispatchError) status otherwise.
//! A per-user inbox of an actor that is not loaded answers `404` before
//! any verification.
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
use ::axum::extract::{Path, Request, State};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{get, post};
use bytes::Bytes;
use http::StatusCode;

use super::collection::{CollectionError, CollectionSource, Cursor, Page, serve_collection};
use super::dispatch::Dispatcher;
use super::hub::Federation;
use super::local::LocalActor;
use super::serve::{ServeError, StoredObject};
use super::visibility::Reader;
use crate::axum::InboxRequest;
use crate::vocab::{Iri, Reference};
use crate::webfinger::Resource;

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

#[derive(Clone)]
struct RouteState {
    fed: Federation,
    dispatcher: Arc<Dispatcher>,
    objects: Option<Arc<dyn ObjectSource>>,
    outbox: Option<Arc<dyn OutboxSource>>,
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

    /// The router.
    pub fn into_router(self) -> Router {
        let for_webfinger = self.state.fed.clone();
        Router::new()
            .route("/users/{name}", get(user_actor))
            .route("/actor", get(instance_actor))
            .route("/users/{name}/inbox", post(user_inbox))
            .route("/inbox", post(shared_inbox))
            .route("/actor/inbox", post(shared_inbox))
            .route("/users/{name}/followers", get(followers))
            .route("/users/{name}/following", get(following))
            .route("/users/{name}/outbox", get(outbox))
            .route("/objects/{id}", get(object))
            .route("/activities/{id}", get(activity))
            .with_state(self.state)
            .merge(crate::axum::webfinger_routes(move |resource| {
                let fed = for_webfinger.clone();
                async move { webfinger(&fed, &resource) }
            }))
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

async fn user_actor(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    from_http(s.fed.serve_actor(Some(&name), &to_http(request)).await)
}

async fn instance_actor(State(s): State<RouteState>, request: Request) -> Response {
    from_http(s.fed.serve_actor(None, &to_http(request)).await)
}

async fn user_inbox(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: InboxRequest,
) -> Response {
    if s.fed.local(&name).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    receive(&s, request).await
}

async fn shared_inbox(State(s): State<RouteState>, request: InboxRequest) -> Response {
    receive(&s, request).await
}

async fn receive(s: &RouteState, request: InboxRequest) -> Response {
    let incoming = match s.fed.inbox().receive(&request.0).await {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    match s.dispatcher.dispatch(incoming).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(e) => refusal(&e),
    }
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

/// Authorized-fetch mode and the request unsigned, or a bad signature.
async fn reader_of(fed: &Federation, request: &http::Request<Bytes>) -> Result<Reader, Response> {
    let requester = fed
        .requester(request)
        .await
        .map_err(|e| from_http(e.into_response()))?;
    if requester.owner().is_none() && fed.authorized_fetch() {
        return Err(from_http(ServeError::Unsigned.into_response()));
    }
    Ok(requester.reader())
}

enum Side {
    Followers,
    Following,
}

async fn graph_collection(s: &RouteState, name: &str, side: Side, request: Request) -> Response {
    let Some(actor) = s.fed.local(name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let request = to_http(request);
    let reader = match reader_of(&s.fed, &request).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let (id, list) = match side {
        Side::Followers => (
            actor.followers().clone(),
            s.fed.graph().followers(actor.id()).await,
        ),
        Side::Following => (
            actor.following().clone(),
            s.fed.graph().following(actor.id()).await,
        ),
    };
    let list = match list {
        Ok(l) => l,
        // The store's message stays out of the answer.
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    let source = IriSetSource::new(list);
    serve_collection(&source, &id, request.uri().query(), &reader).await
}

async fn followers(
    State(s): State<RouteState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    graph_collection(&s, &name, Side::Followers, request).await
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
    let reader = match reader_of(&s.fed, &request).await {
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
    from_http(s.fed.serve_object(found.as_ref(), &request).await)
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

/// A follow list as a collection. The graph gives no order of its own, so
/// the items are ordered by a digest of their IRI, and a cursor is the
/// digest of the last item shown (`after-<16 hex digits>`): a page keeps
/// its place when followers come and go, where a position number would
/// skip or repeat items.
struct IriSetSource {
    items: Vec<(u64, Iri)>,
}

impl IriSetSource {
    fn new(list: Vec<Iri>) -> IriSetSource {
        use sha2::Digest;
        let mut items: Vec<(u64, Iri)> = list
            .into_iter()
            .map(|iri| {
                let digest = sha2::Sha256::digest(iri.as_str().as_bytes());
                let mut key = [0u8; 8];
                key.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
                (u64::from_be_bytes(key), iri)
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())));
        IriSetSource { items }
    }
}

#[async_trait::async_trait]
impl CollectionSource for IriSetSource {
    async fn total(&self, _reader: &Reader) -> Result<u64, CollectionError> {
        Ok(self.items.len() as u64)
    }

    async fn page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
        _reader: &Reader,
    ) -> Result<Page, CollectionError> {
        let start = match cursor {
            None => 0,
            Some(c) => {
                let key = c
                    .as_str()
                    .strip_prefix("after-")
                    .filter(|h| h.len() == 16)
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .ok_or_else(|| CollectionError::UnknownCursor {
                        cursor: c.as_str().to_owned(),
                    })?;
                self.items.partition_point(|(k, _)| *k <= key)
            }
        };
        let shown: Vec<&(u64, Iri)> = self.items.iter().skip(start).take(limit).collect();
        let mut page = Page::new(
            shown
                .iter()
                .map(|(_, iri)| Reference::Iri(iri.clone()))
                .collect(),
        );
        if start + shown.len() < self.items.len()
            && let Some((last, _)) = shown.last()
        {
            page = page.with_next(Cursor::new(format!("after-{last:016x}"))?);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iris(range: std::ops::Range<u32>) -> Vec<Iri> {
        range
            .map(|n| Iri::parse(format!("https://b.example/users/u{n}")).unwrap())
            .collect()
    }

    async fn walk(source: &IriSetSource, limit: usize) -> Vec<Iri> {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = source
                .page(cursor.as_ref(), limit, &Reader::Anonymous)
                .await
                .unwrap();
            seen.extend(page.items.iter().filter_map(|r| r.id().cloned()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => return seen,
            }
        }
    }

    #[tokio::test]
    async fn follow_list_pages_keep_their_place_when_followers_arrive() {
        let all = IriSetSource::new(iris(0..45));
        assert_eq!(all.total(&Reader::Anonymous).await.unwrap(), 45);
        let walked = walk(&all, 20).await;
        assert_eq!(walked.len(), 45);
        let mut sorted = walked.clone();
        sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        sorted.dedup();
        assert_eq!(sorted.len(), 45, "no item twice");

        // Read the first page, then ten followers arrive: the next page
        // goes on from the same place, so no earlier item comes back.
        let first = all.page(None, 20, &Reader::Anonymous).await.unwrap();
        let shown: Vec<Iri> = first.items.iter().filter_map(|r| r.id().cloned()).collect();
        let grown = IriSetSource::new(iris(0..55));
        let rest = grown
            .page(first.next.as_ref(), 100, &Reader::Anonymous)
            .await
            .unwrap();
        let rest: Vec<Iri> = rest.items.iter().filter_map(|r| r.id().cloned()).collect();
        assert!(rest.iter().all(|i| !shown.contains(i)), "an item repeated");
        let old_rest: Vec<&Iri> = walked.iter().skip(20).collect();
        assert!(old_rest.iter().all(|i| rest.contains(i)), "an item skipped");
    }

    #[tokio::test]
    async fn our_own_failures_are_not_told_to_the_peer() {
        use super::super::dispatch::DispatchError;
        let handler = DispatchError::Handler {
            kind: "Create".into(),
            source: "postgres://app:hunter2@db/app: connection refused".into(),
        };
        let response = refusal(&handler);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = ::axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"internal error");
    }

    #[tokio::test]
    async fn a_cursor_it_never_minted_is_refused() {
        let source = IriSetSource::new(iris(0..3));
        for bad in ["after-xyz", "before-0000000000000000", "after-00"] {
            let cursor = Cursor::new(bad).unwrap();
            assert!(matches!(
                source.page(Some(&cursor), 20, &Reader::Anonymous).await,
                Err(CollectionError::UnknownCursor { .. })
            ));
        }
    }
}
