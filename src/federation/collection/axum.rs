//! axum integration (feature `axum`): serving a collection or one of its
//! pages from any route.

use ::axum::http::{StatusCode, header};
use ::axum::response::{IntoResponse, Response};

use crate::axum::ActivityJson;
use crate::federation::visibility::Reader;
use crate::vocab::Iri;

use super::{CollectionConfig, CollectionError, CollectionSource, respond};

/// Serves the collection `id` or the page `query` asks for (see
/// [`respond`]), with the default [`CollectionConfig`]: `200` with
/// `application/activity+json`, `400` (with the reason as plain text) for
/// a bad cursor or query string, `500` when the source fails (its message
/// is not shown to the peer).
///
/// `query` is the request's raw query string (axum's `RawQuery`); `reader`
/// who asks ([`Reader::Signed`] with the verified key owner of a signed
/// GET, [`Reader::Anonymous`] otherwise). Mount one route per collection, with the IRIs
/// [`Paths`](crate::federation::Paths) gives:
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, extract::{Path, RawQuery, State}, http::StatusCode};
/// use axum::response::{IntoResponse, Response};
/// use axum::routing::get;
/// use archipel::federation::Paths;
/// use archipel::federation::collection::{serve_collection, VecSource};
/// use archipel::federation::visibility::Reader;
///
/// #[derive(Clone)]
/// struct App { paths: Paths, followers: Arc<VecSource> }
///
/// async fn followers(
///     State(app): State<App>,
///     Path(name): Path<String>,
///     RawQuery(query): RawQuery,
/// ) -> Response {
///     // Look the actor up in the application's store; one actor here.
///     // A server verifying signed GETs passes `Reader::Signed { owner }`.
///     let Ok(id) = app.paths.followers(&name) else {
///         return StatusCode::NOT_FOUND.into_response();
///     };
///     serve_collection(app.followers.as_ref(), &id, query.as_deref(), &Reader::Anonymous).await
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app = App {
///     paths: Paths::new("https://a.example".parse()?)?,
///     followers: Arc::new(VecSource::new()),
/// };
/// // `/users/{name}/following`, `/outbox` and `/liked` are mounted alike.
/// let router: Router = Router::new()
///     .route("/users/{name}/followers", get(followers))
///     .with_state(app.clone());
///
/// let page = followers(State(app.clone()), Path("alice".into()), RawQuery(Some("page=true".into()))).await;
/// assert_eq!(page.status(), StatusCode::OK);
/// assert_eq!(page.headers()["content-type"], "application/activity+json");
/// let bad = followers(State(app), Path("alice".into()), RawQuery(Some("cursor=%20".into()))).await;
/// assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub async fn serve_collection(
    source: &dyn CollectionSource,
    id: &Iri,
    query: Option<&str>,
    reader: &Reader,
) -> Response {
    serve_collection_with(source, id, query, reader, &CollectionConfig::default()).await
}

/// [`serve_collection`] with a chosen [`CollectionConfig`] (the page size).
pub async fn serve_collection_with(
    source: &dyn CollectionSource,
    id: &Iri,
    query: Option<&str>,
    reader: &Reader,
    config: &CollectionConfig,
) -> Response {
    match respond(source, id, query, reader, config).await {
        Ok(doc) => ActivityJson(doc).into_response(),
        Err(e) => error_response(&e),
    }
}

fn error_response(e: &CollectionError) -> Response {
    let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    if e.is_bad_request() {
        (StatusCode::BAD_REQUEST, plain, e.to_string()).into_response()
    } else {
        // The store's message may name internals; the peer learns only
        // that the collection is unavailable.
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            plain,
            "collection unavailable",
        )
            .into_response()
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use ::axum::Router;
    use ::axum::extract::{Path, RawQuery, State};
    use ::axum::http::HeaderMap;
    use ::axum::routing::get;
    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;
    use crate::client::{ClientError, FetchPolicy, HttpClient, ReqwestClient};
    use crate::federation::Paths;
    use crate::federation::collection::{CollectionWalker, VecSource};
    use crate::fetch::{FetchError, Fetcher};

    #[derive(Clone)]
    struct App {
        paths: Paths,
        outbox: Arc<VecSource>,
        /// Whether each request carried a `Signature` header.
        signed: Arc<Mutex<Vec<bool>>>,
    }

    async fn outbox(
        State(app): State<App>,
        Path(name): Path<String>,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
    ) -> Response {
        app.signed
            .lock()
            .unwrap()
            .push(headers.contains_key("signature"));
        let Ok(id) = app.paths.outbox(&name) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        serve_collection(
            app.outbox.as_ref(),
            &id,
            query.as_deref(),
            &Reader::Anonymous,
        )
        .await
    }

    /// A collection whose first page is 3 MiB.
    async fn huge(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
        let id = format!("{}/huge", app.paths.base().as_str().trim_end_matches('/'));
        let doc = match query {
            None => {
                json!({"id": id, "type": "OrderedCollection", "first": format!("{id}?page=true")})
            }
            Some(_) => {
                let items: Vec<Value> = (0..30_000)
                    .map(|n| json!(format!("https://x.example/{n:0>90}")))
                    .collect();
                json!({"id": format!("{id}?page=true"), "type": "OrderedCollectionPage", "orderedItems": items})
            }
        };
        crate::axum::ActivityJson(doc).into_response()
    }

    /// A server on 127.0.0.1:0 with `/users/alice/outbox` (45 items) and
    /// `/huge`; the task is aborted when the test ends.
    async fn server() -> (App, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = App {
            paths: Paths::new(base.parse().unwrap()).unwrap(),
            outbox: Arc::new(VecSource::new()),
            signed: Arc::default(),
        };
        for n in 1..=45 {
            app.outbox
                .push(
                    Iri::parse(format!("https://b.example/n/{n}"))
                        .unwrap()
                        .into(),
                )
                .unwrap();
        }
        let router = Router::new()
            .route("/users/{name}/outbox", get(outbox))
            .route("/huge", get(huge))
            .with_state(app.clone());
        let task = tokio::spawn(async move {
            ::axum::serve(listener, router).await.unwrap();
        });
        (app, task)
    }

    fn client(policy: FetchPolicy) -> Arc<ReqwestClient> {
        let policy = policy
            .allow_http(true)
            .allow_private_addresses(true)
            .total_timeout(Duration::from_secs(10));
        Arc::new(ReqwestClient::new(policy).unwrap())
    }

    async fn drain(w: &mut CollectionWalker) -> (Vec<String>, Option<CollectionError>) {
        let mut items = Vec::new();
        while let Some(next) = w.next().await {
            match next {
                Ok(r) => items.push(r.id().map(|i| i.to_string()).unwrap_or_default()),
                Err(e) => return (items, Some(e)),
            }
        }
        (items, None)
    }

    #[tokio::test]
    async fn the_walker_reads_all_45_items_in_order_over_http() {
        let (app, task) = server().await;
        let fetcher = Fetcher::new(client(FetchPolicy::default()));
        let id = app.paths.outbox("alice").unwrap();
        let mut w = CollectionWalker::new(fetcher, id);
        let (items, err) = tokio::time::timeout(Duration::from_secs(30), drain(&mut w))
            .await
            .unwrap();
        assert!(err.is_none(), "{err:?}");
        let want: Vec<String> = (1..=45)
            .rev()
            .map(|n| format!("https://b.example/n/{n}"))
            .collect();
        assert_eq!(items, want);
        // The collection and its three pages.
        assert_eq!(w.pages_read(), 4);
        assert_eq!(*app.signed.lock().unwrap(), [false; 4]);
        task.abort();
    }

    #[cfg(feature = "ed25519")]
    #[tokio::test]
    async fn a_signed_fetcher_signs_every_page_request() {
        use crate::signatures::{PrivateKey, Signer};
        let (app, task) = server().await;
        let key = PrivateKey::generate_ed25519().unwrap();
        let signer = Arc::new(Signer::new("https://a.example/actor#main-key", key));
        let fetcher = Fetcher::new(client(FetchPolicy::default())).signed(signer);
        let mut w =
            CollectionWalker::new(fetcher, app.paths.outbox("alice").unwrap()).with_max_items(30);
        let (items, err) = tokio::time::timeout(Duration::from_secs(30), drain(&mut w))
            .await
            .unwrap();
        assert_eq!(items.len(), 30);
        assert!(
            matches!(err, Some(CollectionError::TooManyItems { limit: 30 })),
            "{err:?}"
        );
        assert_eq!(*app.signed.lock().unwrap(), [true; 3]);
        task.abort();
    }

    #[tokio::test]
    async fn a_huge_page_is_a_typed_error() {
        let (app, task) = server().await;
        let limit = 256 * 1024;
        let fetcher = Fetcher::new(client(FetchPolicy::default().max_body_bytes(limit)));
        let id = Iri::parse(format!("{}huge", app.paths.base())).unwrap();
        let mut w = CollectionWalker::new(fetcher, id);
        let (items, err) = tokio::time::timeout(Duration::from_secs(30), drain(&mut w))
            .await
            .unwrap();
        assert!(items.is_empty());
        assert!(
            matches!(
                err,
                Some(CollectionError::Fetch(FetchError::Client(ClientError::BodyTooLarge { limit: l }))) if l == limit
            ),
            "{err:?}"
        );
        task.abort();
    }

    async fn fetch(client: &ReqwestClient, url: &str) -> http::Response<Bytes> {
        let req = http::Request::get(url).body(Bytes::new()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), client.execute(req))
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn bad_cursors_and_queries_get_400() {
        let (app, task) = server().await;
        let http = client(FetchPolicy::default());
        let id = app.paths.outbox("alice").unwrap();
        let long = "a".repeat(200);
        for (query, says) in [
            ("cursor=%20".to_owned(), "cursor \" \""),
            ("cursor=a%2Fb".to_owned(), "cursor \"a/b\""),
            (format!("cursor={long}"), "must be 1 to 128"),
            ("page=2".to_owned(), "pages are cursor-addressed"),
            ("cursor=a&cursor=b".to_owned(), "repeats"),
            (format!("x={}", "y".repeat(2000)), "longer than 1024 bytes"),
        ] {
            let resp = fetch(&http, &format!("{id}?{query}")).await;
            assert_eq!(resp.status(), 400, "{query}");
            let body = String::from_utf8_lossy(resp.body());
            assert!(body.contains(says), "{query}: {body}");
        }
        // A well-formed cursor the store never minted is refused by the store.
        let resp = fetch(&http, &format!("{id}?cursor=nonsense")).await;
        assert_eq!(resp.status(), 400);
        assert_eq!(
            String::from_utf8_lossy(resp.body()),
            "collection cursor \"nonsense\" names no position in this collection"
        );
        // And good requests are ActivityStreams documents.
        for query in ["", "?page=true", "?cursor=before-26"] {
            let resp = fetch(&http, &format!("{id}{query}")).await;
            assert_eq!(resp.status(), 200, "{query}");
            assert_eq!(
                resp.headers()["content-type"],
                "application/activity+json",
                "{query}"
            );
        }
        task.abort();
    }

    #[tokio::test]
    async fn a_failing_store_is_500_without_its_message() {
        struct Down;
        #[async_trait::async_trait]
        impl CollectionSource for Down {
            async fn total(&self, _: &Reader) -> Result<u64, CollectionError> {
                Err(CollectionError::Source("password=hunter2".into()))
            }
            async fn page(
                &self,
                _: Option<&super::super::Cursor>,
                _: usize,
                _: &Reader,
            ) -> Result<super::super::Page, CollectionError> {
                Err(CollectionError::Source("password=hunter2".into()))
            }
        }
        let id = Iri::parse("https://a.example/c").unwrap();
        let resp = serve_collection(&Down, &id, None, &Reader::Anonymous).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = ::axum::body::to_bytes(resp.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"collection unavailable");
    }
}
