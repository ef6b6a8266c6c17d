//! The HTTP side. The library's routes serve the actors, WebFinger, the
//! inboxes, followers, following, and the statuses with their outbox
//! listing (from its post store, through its serving guard); beside them,
//! this server's: NodeInfo, the catalog, the shelves, the book pages, and
//! the readers' small JSON API (bearer token):
//!
//! `POST /api/book {"title","author"}`, `POST /api/shelve {"book","shelf"}`
//! (and `/api/unshelve`), `POST /api/status {"kind": "Review"|"Rating"|
//! "Comment"|"Quotation", "book", "name", "content", "rating", "quote",
//! "position", "visibility": "public"|"unlisted"|"followers"|"direct", "to"}`,
//! `POST /api/follow {"target": actor IRI}`, `GET /api/received`; each
//! takes `"user"` to act as another reader than the first. The token also
//! reads a reader's whole outbox (`GET /users/{name}/outbox`).
//!
//! Content negotiation: a browser (`Accept: text/html`) gets a page at a
//! reader's, a book's and a status's IRI (the library's routes ask
//! [`BookPages`] for the first and the last); an ActivityPub client gets
//! the JSON document at the same IRI.

use std::sync::Arc;

use archipel::axum::{ActivityJson, wants_html};
use archipel::federation::LocalActor;
use archipel::federation::routes::Pages;
use archipel::federation::serve::StoredObject;
use archipel::federation::visibility::{Access, ReadGuard, Reader};
use archipel::vocab::{AnyObject, Iri, Object, Visibility};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::books::{self, BookObject, BookStatus};
use super::pages;
use super::server::{App, AppError, Draft};

/// Statuses shown on a page.
const PAGE_STATUSES: usize = 50;

/// All routes.
pub fn routes(app: Arc<App>) -> Router {
    let owner = app.clone();
    let posts = Arc::new(app.store.posts().clone());
    let library = app
        .fed
        .routes(super::inbound::dispatcher(&app))
        .with_objects(posts.clone())
        .with_outbox(posts)
        // NodeInfo's `software.name` tells peers to send rich objects;
        // `localPosts` counts the readers' listed statuses.
        .with_nodeinfo(
            super::server::software(),
            app.users.len() as u64,
            app.store.posts().clone(),
        )
        // The token holder reads the readers' whole outboxes.
        .with_owner_auth(move |headers, _reader| owner.authorized(headers))
        .with_pages(Arc::new(BookPages(app.clone())))
        .into_router();
    Router::new()
        .route("/", get(home))
        .route("/users/{name}/shelf/{shelf}", get(shelf))
        .route("/book/{id}", get(book))
        .route("/author/{id}", get(catalog))
        .route("/works/{id}", get(catalog))
        .route("/api/received", get(api_received))
        .route("/api/{action}", post(api))
        .with_state(app)
        .merge(library)
}

/// The pages the library's routes give a browser at a reader's IRI and at
/// a status's (the latter only once its serving guard let the reader see it).
struct BookPages(Arc<App>);

#[async_trait::async_trait]
impl Pages for BookPages {
    async fn actor(&self, reader: &LocalActor) -> Option<String> {
        Some(profile(&self.0, reader).await)
    }

    async fn object(&self, object: &AnyObject, author: &LocalActor) -> Option<String> {
        // An activity (a `Create`) is served as JSON.
        let status = BookStatus::from_any(object.clone())?;
        let title = status
            .object()
            .name
            .clone()
            .unwrap_or_else(|| "A status".to_owned());
        let body = format!(
            "<h1>{}</h1>{}",
            pages::escape(&title),
            article(&self.0, &status, author.id(), false)
        );
        Some(pages::page(&title, &body))
    }
}

fn html(body: String) -> Response {
    ([(header::VARY, "Accept")], Html(body)).into_response()
}

/// The local statuses of `stored` an anonymous reader may see (the
/// library's serving guard decides), as (status, author).
async fn visible(app: &App, stored: Vec<StoredObject>) -> Vec<(BookStatus, Iri)> {
    let guard = ReadGuard::new(app.fed.graph().clone());
    let mut out = Vec::new();
    for s in stored {
        let (Some(author), Some(object)) = (app.fed.local_by_id(&s.author), s.object.as_object())
        else {
            continue;
        };
        if guard.check(&author, object, &Reader::Anonymous).await.ok() == Some(Access::Allow)
            && let Some(status) = BookStatus::from_any(s.object)
        {
            out.push((status, s.author));
        }
    }
    out
}

/// A status as an article, with its book's title, and a heading linking
/// to its own page when `linked`.
fn article(app: &App, status: &BookStatus, author: &Iri, linked: bool) -> String {
    let book = status.book().map(Iri::as_str).unwrap_or_default();
    let title = app.store.title(book).unwrap_or_else(|| book.to_owned());
    let id = status
        .object()
        .id
        .as_ref()
        .map(Iri::as_str)
        .filter(|_| linked);
    pages::status(status, author, (book, &title), id)
}

/// A reader's profile: shelves with their books, recent public statuses.
async fn profile(app: &App, reader: &LocalActor) -> String {
    let host = app.fed.paths().authority();
    let mut body = format!(
        "<h1>{}</h1><p class=\"meta\">@{}@{} · a reader on this bookwyrm-like server</p><h2>Shelves</h2>",
        pages::escape(reader.display_name().unwrap_or(reader.name())),
        pages::escape(reader.name()),
        pages::escape(&host)
    );
    let shelves = app.store.shelves(reader.id());
    if shelves.is_empty() {
        body.push_str("<p>No books shelved yet.</p>");
    }
    for (shelf, books) in shelves {
        body.push_str(&format!(
            "<section class=\"shelf\"><h3>{}</h3><ul class=\"books\">",
            pages::escape(&shelf)
        ));
        for book in books {
            let title = app.store.title(&book).unwrap_or_else(|| book.clone());
            let by = app
                .store
                .book(&book)
                .map(|b| format!(" by {}", pages::escape(&b.author)))
                .unwrap_or_default();
            body.push_str(&format!("<li>{}{by}</li>", pages::link(&book, &title)));
        }
        body.push_str("</ul></section>");
    }
    body.push_str("<h2>Recent reviews</h2>");
    let statuses = app
        .store
        .statuses(Some(reader.id()), None, PAGE_STATUSES)
        .await;
    let statuses = visible(app, statuses).await;
    if statuses.is_empty() {
        body.push_str("<p>Nothing yet.</p>");
    }
    for (status, author) in &statuses {
        body.push_str(&article(app, status, author, true));
    }
    pages::page(reader.name(), &body)
}

/// `GET /book/{id}`: the edition's document, or its page with every
/// status this server may show about it, local and received.
async fn book(State(app): State<Arc<App>>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let Ok(iri) = app.iri(uri.path().trim_start_matches('/')) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (Some(doc), Some(book)) = (
        app.store.catalog(iri.as_str()),
        app.store.book(iri.as_str()),
    ) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !wants_html(&headers) {
        return ActivityJson(doc).into_response();
    }
    let mut body = format!(
        "<h1>{}</h1><p class=\"meta\">by {}</p><h2>Reviews</h2>",
        pages::escape(&book.title),
        pages::escape(&book.author)
    );
    let local = app
        .store
        .statuses(None, Some(iri.as_str()), PAGE_STATUSES)
        .await;
    let mut shown = 0;
    for (status, author) in visible(&app, local).await {
        body.push_str(&article(&app, &status, &author, true));
        shown += 1;
    }
    // Statuses from other servers: only those addressed to everyone.
    for object in app.store.received_about(iri.as_str(), PAGE_STATUSES) {
        let public = object
            .as_object()
            .map(|o| o.visibility(None))
            .is_some_and(|v| matches!(v, Visibility::Public | Visibility::Unlisted));
        let author = object
            .as_object()
            .and_then(Object::attributed_to_id)
            .cloned();
        if let (true, Some(author), Some(status)) = (public, author, BookStatus::from_any(object)) {
            body.push_str(&article(&app, &status, &author, true));
            shown += 1;
        }
    }
    if shown == 0 {
        body.push_str("<p>No reviews yet.</p>");
    }
    html(pages::page(&book.title, &body))
}

async fn home(State(app): State<Arc<App>>) -> Html<String> {
    let mut body = String::from("<h1>A bookwyrm-like server</h1><ul>");
    for name in &app.users {
        if let Ok(reader) = app.reader(Some(name)) {
            body.push_str(&format!(
                "<li>{}</li>",
                pages::link(reader.id().as_str(), name)
            ));
        }
    }
    body.push_str("</ul>");
    Html(pages::page("bookwyrm-like", &body))
}

/// `GET /author/{id}`, `GET /works/{id}`: catalog documents.
async fn catalog(State(app): State<Arc<App>>, uri: axum::http::Uri) -> Response {
    let doc = app
        .iri(uri.path().trim_start_matches('/'))
        .ok()
        .and_then(|iri| app.store.catalog(iri.as_str()));
    match doc {
        Some(doc) => ActivityJson(doc).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /users/{name}/shelf/{shelf}`: a reader's shelf, a `Shelf` collection.
async fn shelf(
    State(app): State<Arc<App>>,
    Path((name, shelf)): Path<(String, String)>,
) -> Response {
    let Ok(reader) = app.reader(Some(&name)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((_, items)) = app
        .store
        .shelves(reader.id())
        .into_iter()
        .find(|(s, _)| *s == shelf)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(id) = app.iri(&format!("users/{name}/shelf/{shelf}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut doc = books::Shelf::default();
    doc.base.base = Box::new(Object::new("Shelf").with_id(id));
    doc.base.base.name = Some(shelf);
    doc.base.total_items = Some(items.len() as u64);
    doc.base.items = Some(
        items
            .iter()
            .filter_map(|i| Iri::parse(i.as_str()).ok())
            .map(Into::into)
            .collect(),
    );
    doc.ext.owner = Some(reader.id().clone());
    doc.base.base.ld_context = Some(books::context());
    ActivityJson(doc).into_response()
}

#[derive(Deserialize)]
struct ApiRequest {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    book: String,
    #[serde(default)]
    shelf: String,
    #[serde(default)]
    target: String,
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong bearer token",
    )
        .into_response()
}

/// `POST /api/{action}` (token): what a reader does.
async fn api(
    State(app): State<Arc<App>>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !app.authorized(&headers) {
        return unauthorized();
    }
    let result = async {
        let r: ApiRequest =
            serde_json::from_slice(&body).map_err(|e| AppError::Bad(e.to_string()))?;
        let reader = app.reader(r.user.as_deref())?;
        match action.as_str() {
            "book" => app.add_book(&r.title, &r.author).await,
            "shelve" => app.shelve(&reader, &r.book, &r.shelf, true).await,
            "unshelve" => app.shelve(&reader, &r.book, &r.shelf, false).await,
            "follow" => app.follow(&reader, &r.target).await,
            "status" => {
                let draft: Draft =
                    serde_json::from_slice(&body).map_err(|e| AppError::Bad(e.to_string()))?;
                app.post_status(&reader, draft).await
            }
            other => Err(AppError::Bad(format!("no action {other:?}"))),
        }
    }
    .await;
    match result {
        Ok(iri) => (
            StatusCode::CREATED,
            [(header::LOCATION, iri.as_str().to_owned())],
            iri.as_str().to_owned(),
        )
            .into_response(),
        // The reader's mistake is named; the server's own stays in its log.
        Err(e @ (AppError::Bad(_) | AppError::Iri(_) | AppError::Outbox(_))) => {
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(e) => {
            eprintln!("api {action}: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `GET /api/received` (token): what arrived, with the signing key and
/// what the book vocabulary made of the object.
async fn api_received(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.authorized(&headers) {
        return unauthorized();
    }
    let items: Vec<Value> = app
        .store
        .received(1_000)
        .into_iter()
        .map(|r| {
            let object = serde_json::to_vec(&r.activity["object"]).unwrap_or_default();
            let summary = BookObject::from_slice(&object).map(|o| o.summary());
            json!({
                "activity": r.activity,
                "key": r.key_id,
                "object": summary.unwrap_or_else(|_| "an IRI".to_owned()),
            })
        })
        .collect();
    axum::Json(items).into_response()
}
