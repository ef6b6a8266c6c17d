//! ActivityPub client-to-server posting (`POST /users/{name}/outbox`) and
//! the bearer-protected readers (`GET /users/{name}/inbox`, pending follow
//! requests).

use std::sync::Arc;

use archipel::axum::ActivityJson;
use archipel::policy::follow::{self, PendingFollow};
use archipel::vocab::{AnyObject, Iri};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::{App, PUBLIC, PageQuery, paged_collection};
use crate::store::{add_unique, remove};

/// Largest accepted C2S body.
const MAX_C2S_BODY: usize = 64 * 1024;

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong bearer token",
    )
        .into_response()
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, msg.into()).into_response()
}

/// `GET /users/{name}/inbox`: what the user received, newest first.
pub async fn read_inbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    if !app.authorized(&headers) {
        return unauthorized();
    }
    let data = app.data.lock().await;
    let Some(user) = data.users.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let items: Vec<Value> = user.inbox.iter().rev().cloned().collect();
    let id = format!("{}/inbox", app.actor_iri(&name));
    ActivityJson(paged_collection(&id, &items, q.page)).into_response()
}

/// `GET /users/{name}/followers/pending`: follow requests awaiting approval.
pub async fn pending_followers(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !app.authorized(&headers) {
        return unauthorized();
    }
    let data = app.data.lock().await;
    let Some(user) = data.users.get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = format!("{}/followers/pending", app.actor_iri(&name));
    ActivityJson(json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id,
        "type": "OrderedCollection",
        "totalItems": user.pending_followers.len(),
        "orderedItems": user.pending_followers,
    }))
    .into_response()
}

/// `POST /users/{name}/outbox` (ActivityPub §6): a Note (wrapped in a
/// Create), Create, Follow (IRI or `acct:` handle), Undo (of a Follow),
/// Accept / Reject (of a pending Follow), Like, Announce, Update, Delete.
pub async fn post_outbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !app.authorized(&headers) {
        return unauthorized();
    }
    if !app.users.contains(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if body.len() > MAX_C2S_BODY {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(&body) else {
        return bad("body must be a JSON object");
    };
    doc.remove("@context");
    let kind = doc
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Note")
        .to_owned();
    let me = app.actor_iri(&name);
    let result = match kind.as_str() {
        "Follow" => follow_out(&app, &name, doc).await,
        "Undo" => undo_out(&app, &name, doc).await,
        "Accept" | "Reject" => decide_out(&app, &name, &kind, doc).await,
        "Create" | "Update" | "Delete" | "Like" | "Announce" => {
            post_activity(&app, &name, &me, &kind, doc).await
        }
        _ => {
            // A bare object (a Note, an Article…): wrap it in a Create (§6.2.1).
            let object = Value::Object(doc);
            let mut create = serde_json::Map::new();
            create.insert("object".into(), object);
            post_activity(&app, &name, &me, "Create", create).await
        }
    };
    match result {
        Ok(id) => (StatusCode::CREATED, [(header::LOCATION, id.clone())], id).into_response(),
        Err(resp) => resp,
    }
}

/// Fills ids/actor/addressing of a Create/Update/Delete/Like/Announce and
/// delivers it to the followers (and to the object's owner for Like/Announce).
async fn post_activity(
    app: &Arc<App>,
    name: &str,
    me: &str,
    kind: &str,
    mut doc: serde_json::Map<String, Value>,
) -> Result<String, Response> {
    let id = app.new_id();
    let followers = format!("{me}/followers");
    let to = doc.get("to").cloned().unwrap_or_else(|| json!([PUBLIC]));
    let cc = doc.get("cc").cloned().unwrap_or_else(|| json!([followers]));
    let now = crate::fed::now_rfc3339();
    if kind == "Create" {
        let Some(Value::Object(object)) = doc.get_mut("object") else {
            return Err(bad("Create needs an embedded object"));
        };
        object.insert("id".into(), json!(app.new_id()));
        object.entry("type").or_insert(json!("Note"));
        object.insert("attributedTo".into(), json!(me));
        object.entry("to").or_insert(to.clone());
        object.entry("cc").or_insert(cc.clone());
        object.entry("published").or_insert(json!(now));
        object.remove("bto");
        object.remove("bcc");
    }
    if matches!(kind, "Update" | "Delete") {
        own_object_change(app, name, me, kind, &now, &mut doc).await?;
    }
    doc.insert(
        "@context".into(),
        json!("https://www.w3.org/ns/activitystreams"),
    );
    doc.insert("id".into(), json!(id));
    doc.insert("type".into(), json!(kind));
    doc.insert("actor".into(), json!(me));
    doc.insert("to".into(), to);
    doc.insert("cc".into(), cc);
    doc.entry("published").or_insert(json!(now));
    let activity = Value::Object(doc);
    let mut extra = Vec::new();
    if matches!(kind, "Like" | "Announce")
        && let Some(object) = crate::fed::iri(activity.get("object"))
        && app.local_name(object).is_none()
    {
        // The liked/announced object's author learns of it; its IRI's
        // owner is found by fetching it.
        if let Some(author) = app.fed.author_of(object).await {
            extra.push(author);
        }
    }
    if kind == "Create"
        && let Some(object) = activity.get("object")
    {
        let mut data = app.data.lock().await;
        if let Some(oid) = object.get("id").and_then(Value::as_str) {
            data.local_objects.insert(oid.to_owned(), object.clone());
        }
    }
    let recipients = {
        let data = app.data.lock().await;
        let mut list = data
            .users
            .get(name)
            .map(|u| u.followers.clone())
            .unwrap_or_default();
        for e in extra {
            add_unique(&mut list, &e);
        }
        list
    };
    app.fed.send(app, name, activity, &recipients).await;
    Ok(id)
}

async fn follow_out(
    app: &Arc<App>,
    name: &str,
    doc: serde_json::Map<String, Value>,
) -> Result<String, Response> {
    let Some(target) = doc.get("object").and_then(|v| crate::fed::iri(Some(v))) else {
        return Err(bad(
            "Follow needs an object: an actor IRI or acct:user@host",
        ));
    };
    let target = app.fed.resolve_actor(target).await.map_err(|e| {
        (
            StatusCode::BAD_GATEWAY,
            format!("cannot resolve {target}: {e}"),
        )
            .into_response()
    })?;
    let me = app.actor_iri(name);
    let id = app.new_id();
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id, "type": "Follow", "actor": me, "object": target, "to": [target]
    });
    {
        let mut data = app.data.lock().await;
        if let Some(u) = data.users.get_mut(name) {
            u.sent_follows.insert(id.clone(), target.clone());
        }
    }
    eprintln!("{name} follows {target} ({id})");
    app.fed
        .send(app, name, follow, std::slice::from_ref(&target))
        .await;
    Ok(id)
}

async fn undo_out(
    app: &Arc<App>,
    name: &str,
    doc: serde_json::Map<String, Value>,
) -> Result<String, Response> {
    // The object may be the Follow's id, the Follow itself, or the followed
    // actor (IRI or acct: handle).
    let given = doc.get("object").and_then(|v| {
        v.get("object")
            .and_then(|o| crate::fed::iri(Some(o)))
            .or_else(|| crate::fed::iri(Some(v)))
    });
    let Some(given) = given.map(str::to_owned) else {
        return Err(bad(
            "Undo needs an object: the Follow (or its id, or the followed actor)",
        ));
    };
    let (follow_id, target) = {
        let data = app.data.lock().await;
        let sent = data
            .users
            .get(name)
            .map(|u| u.sent_follows.clone())
            .unwrap_or_default();
        match sent.get(&given) {
            Some(t) => (Some(given.clone()), Some(t.clone())),
            None => {
                let resolved = if given.starts_with("acct:") || given.starts_with('@') {
                    app.fed.resolve_actor(&given).await.ok()
                } else {
                    Some(given.clone())
                };
                let found = sent.iter().find(|(_, t)| Some(*t) == resolved.as_ref());
                (found.map(|(i, _)| i.clone()), found.map(|(_, t)| t.clone()))
            }
        }
    };
    let (Some(follow_id), Some(target)) = (follow_id, target) else {
        return Err((
            StatusCode::NOT_FOUND,
            format!("no Follow of {given} to undo"),
        )
            .into_response());
    };
    let me = app.actor_iri(name);
    let id = app.new_id();
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id, "type": "Undo", "actor": me, "to": [target],
        "object": {"id": follow_id, "type": "Follow", "actor": me, "object": target}
    });
    {
        let mut data = app.data.lock().await;
        if let Some(u) = data.users.get_mut(name) {
            u.sent_follows.remove(&follow_id);
            remove(&mut u.following, &target);
        }
    }
    eprintln!("{name} unfollows {target}");
    app.fed
        .send(app, name, undo, std::slice::from_ref(&target))
        .await;
    Ok(id)
}

async fn decide_out(
    app: &Arc<App>,
    name: &str,
    kind: &str,
    doc: serde_json::Map<String, Value>,
) -> Result<String, Response> {
    let Some(key) = doc
        .get("object")
        .and_then(|v| crate::fed::iri(Some(v)))
        .map(str::to_owned)
    else {
        return Err(bad(
            "Accept/Reject needs an object: the Follow id or the follower IRI",
        ));
    };
    let request = {
        let mut data = app.data.lock().await;
        let Some(u) = data.users.get_mut(name) else {
            return Err(StatusCode::NOT_FOUND.into_response());
        };
        let index = u.pending_followers.iter().position(|f| {
            crate::fed::iri(f.get("id")) == Some(key.as_str())
                || crate::fed::iri(f.get("actor")) == Some(key.as_str())
        });
        let Some(follow_doc) = index.map(|i| u.pending_followers.remove(i)) else {
            return Err((
                StatusCode::NOT_FOUND,
                format!("no pending follow request {key}"),
            )
                .into_response());
        };
        let follow = AnyObject::from_value(&follow_doc).ok();
        let Some(request) = follow
            .as_ref()
            .and_then(AnyObject::as_activity)
            .and_then(PendingFollow::from_follow)
        else {
            return Err(bad("stored follow request is malformed"));
        };
        if kind == "Accept" {
            add_unique(&mut u.followers, request.follower.as_str());
        }
        app.persist(&data);
        request
    };
    let id = app.new_id();
    // The id is minted from this server's own base URL.
    let answer_id = Iri::new_unchecked(id.clone());
    let answer = if kind == "Accept" {
        follow::accept(&request, answer_id)
    } else {
        follow::reject(&request, answer_id)
    };
    let answer = serde_json::to_value(&answer)
        .map_err(|e| bad(format!("cannot serialize the answer: {e}")))?;
    eprintln!(
        "{name} {}ed follow request from {}",
        kind.to_lowercase(),
        request.follower
    );
    app.fed
        .send(app, name, answer, &[request.follower.to_string()])
        .await;
    Ok(id)
}

/// Checks that an Update/Delete targets one of the user's own notes, and
/// applies it locally (merging the update; a Tombstone for a delete).
async fn own_object_change(
    app: &Arc<App>,
    name: &str,
    me: &str,
    kind: &str,
    now: &str,
    doc: &mut serde_json::Map<String, Value>,
) -> Result<(), Response> {
    let Some(target) = crate::fed::iri(doc.get("object")).map(str::to_owned) else {
        return Err(bad(format!("{kind} needs an object")));
    };
    let mut data = app.data.lock().await;
    let owned = data
        .local_objects
        .get(&target)
        .is_some_and(|o| crate::fed::iri(o.get("attributedTo")) == Some(me));
    if !owned {
        return Err((
            StatusCode::FORBIDDEN,
            format!("{target} is not a note of {name}"),
        )
            .into_response());
    }
    if kind == "Delete" {
        let tombstone = json!({"id": target, "type": "Tombstone", "deleted": now});
        data.local_objects.insert(target.clone(), tombstone.clone());
        doc.insert("object".into(), tombstone);
    } else {
        let mut merged = data.local_objects.get(&target).cloned().unwrap_or_default();
        if let (Value::Object(m), Some(Value::Object(changes))) = (&mut merged, doc.get("object")) {
            for (k, v) in changes {
                if !matches!(k.as_str(), "id" | "attributedTo" | "type") {
                    m.insert(k.clone(), v.clone());
                }
            }
            m.insert("updated".into(), json!(now));
        }
        data.local_objects.insert(target.clone(), merged.clone());
        doc.insert("object".into(), merged);
    }
    app.persist(&data);
    Ok(())
}
