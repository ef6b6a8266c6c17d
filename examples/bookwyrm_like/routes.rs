//! The HTTP side: archipel's WebFinger and NodeInfo routes, the verified
//! inboxes, the documents (actor, books, statuses, shelves) and the
//! reader's small JSON API.

use std::sync::Arc;

use archipel::axum::{ActivityJson, InboxRequest, nodeinfo_routes, webfinger_routes};
use archipel::inbox::rebase_uri;
use archipel::vocab::{Iri, Object};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::books::{self, BookObject};
use crate::server::{App, Draft};

/// All routes.
pub fn routes(app: Arc<App>) -> Router {
    let for_webfinger = app.clone();
    let for_nodeinfo = app.clone();
    Router::new()
        .route("/user/{name}", get(actor))
        .route("/user/{name}/inbox", post(inbox))
        .route("/inbox", post(inbox_shared))
        .route("/user/{name}/shelf/{shelf}", get(shelf))
        .route("/book/{id}", get(document))
        .route("/author/{id}", get(document))
        .route("/works/{id}", get(document))
        .route("/status/{id}", get(document))
        .route("/api/book", post(api_book))
        .route("/api/shelve", post(api_shelve))
        .route("/api/unshelve", post(api_unshelve))
        .route("/api/status", post(api_status))
        .route("/api/received", get(api_received))
        .route("/api/follow", post(api_follow))
        .with_state(app.clone())
        .merge(webfinger_routes(move |resource| {
            let app = for_webfinger.clone();
            async move { app.webfinger(&resource) }
        }))
        .merge(nodeinfo_routes(app.base_url.clone(), move || {
            let app = for_nodeinfo.clone();
            async move { app.nodeinfo().await }
        }))
}

async fn actor(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    if name != app.user {
        return StatusCode::NOT_FOUND.into_response();
    }
    let iri = app.actor_iri();
    ActivityJson(json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": iri,
        "type": "Person",
        "preferredUsername": app.user,
        "inbox": format!("{iri}/inbox"),
        "outbox": format!("{iri}/outbox"),
        "followers": format!("{iri}/followers"),
        "endpoints": {"sharedInbox": format!("{}/inbox", app.base)},
        "publicKey": {
            "id": format!("{iri}#main-key"),
            "owner": iri,
            "publicKeyPem": app.key.public_key().to_spki_pem()
        }
    }))
    .into_response()
}

async fn inbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: InboxRequest,
) -> Response {
    if name != app.user {
        return StatusCode::NOT_FOUND.into_response();
    }
    inbox_shared(State(app), req).await
}

async fn inbox_shared(State(app): State<Arc<App>>, req: InboxRequest) -> Response {
    match app.inbox.receive(&rebase_uri(req.0, &app.base_url)).await {
        Ok(incoming) => {
            // Answer at once; fetching the follower's NodeInfo and the like
            // happen in the background.
            tokio::spawn(async move { app.handle(incoming).await });
            StatusCode::ACCEPTED.into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn document(State(app): State<Arc<App>>, uri: axum::http::Uri) -> Response {
    let iri = format!("{}{}", app.base, uri.path());
    let data = app.data.lock().await;
    match data.catalog.get(&iri).or_else(|| data.statuses.get(&iri)) {
        Some(doc) => ActivityJson(doc.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn shelf(
    State(app): State<Arc<App>>,
    Path((name, shelf)): Path<(String, String)>,
) -> Response {
    let data = app.data.lock().await;
    let Some(items) = data.shelves.get(&shelf).filter(|_| name == app.user) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut doc = books::Shelf::default();
    doc.base.base =
        Box::new(Object::new("Shelf").with_id(app.iri(&format!("user/{name}/shelf/{shelf}"))));
    doc.base.base.name = Some(shelf.clone());
    doc.base.total_items = Some(items.len() as u64);
    doc.base.items = Some(
        items
            .iter()
            .map(|i| Iri::new_unchecked(i.clone()).into())
            .collect(),
    );
    doc.ext.owner = Some(Iri::new_unchecked(app.actor_iri()));
    doc.base.base.ld_context = Some(books::context());
    ActivityJson(doc).into_response()
}

#[derive(Deserialize)]
struct ApiRequest {
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

async fn api(app: &App, headers: &HeaderMap, body: &[u8], kind: &str) -> Response {
    if !app.authorized(headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let result = if kind == "status" {
        match serde_json::from_slice::<Draft>(body) {
            Ok(draft) => app.post_status(draft).await,
            Err(e) => Err(e.to_string()),
        }
    } else {
        match serde_json::from_slice::<ApiRequest>(body) {
            Ok(r) if kind == "book" => Ok(app.add_book(&r.title, &r.author).await),
            Ok(r) if kind == "shelve" => app.shelve(&r.book, &r.shelf, true).await,
            Ok(r) if kind == "unshelve" => app.shelve(&r.book, &r.shelf, false).await,
            Ok(r) => app.follow(&r.target).await,
            Err(e) => Err(e.to_string()),
        }
    };
    match result {
        Ok(iri) => (StatusCode::CREATED, [(header::LOCATION, iri.clone())], iri).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

/// `GET /api/received`: what arrived, with the signing key and what the
/// book vocabulary made of the object.
async fn api_received(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let data = app.data.lock().await;
    let items: Vec<Value> = data
        .received
        .iter()
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

async fn api_book(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    api(&app, &headers, &body, "book").await
}
async fn api_shelve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    api(&app, &headers, &body, "shelve").await
}
async fn api_unshelve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    api(&app, &headers, &body, "unshelve").await
}
async fn api_status(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    api(&app, &headers, &body, "status").await
}
async fn api_follow(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    api(&app, &headers, &body, "follow").await
}
