//! `POST /users/{name}/outbox` (ActivityPub §6; the library lets only the
//! token holder in, for a known user, with a bounded body): follow
//! commands by handle, approval of pending requests, and every other post
//! through the library's outbox (ids, authorship, `bto`/`bcc` removal,
//! ownership of what an `Update` or `Delete` acts on), stored in its served
//! form and sent to exactly its audience.
//!
//! The body is raw JSON only here, at the edge: a follow command may name
//! a handle (`bob@host`), and a post without addressing gets this server's
//! default (public, like the client it stands in for) before it is typed.

use std::sync::Arc;

use archipel::federation::outbox::OutboxError;
use archipel::federation::routes::ClientOutbox;
use archipel::federation::{FederationError, LocalActor};
use archipel::vocab::{Activity, AnyObject, Audience, Iri, Object, Reference};
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::App;
use crate::app::quotes;

type Answer = Result<Iri, (StatusCode, String)>;

fn bad(msg: impl Into<String>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, msg.into())
}

/// The route's handling, once the library checked the token (the owner
/// hook), the user and the body's size.
pub struct Outbox(pub Arc<App>);

#[async_trait::async_trait]
impl ClientOutbox for Outbox {
    async fn post(&self, me: &LocalActor, body: Bytes) -> Response {
        let app = &self.0;
        let Ok(Value::Object(raw)) = serde_json::from_slice::<Value>(&body) else {
            return bad("body must be a JSON object").into_response();
        };
        let kind = raw.get("type").and_then(Value::as_str).unwrap_or("Note");
        // What a command names: a string, or an embedded object's `object`/`id`.
        let named = raw.get("object").and_then(|o| match o {
            Value::String(s) => Some(s.clone()),
            Value::Object(m) => m
                .get("object")
                .or_else(|| m.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        });
        let answer = match (kind, named) {
            ("Follow", Some(target)) => follow(app, me, &target).await,
            ("Undo", Some(target)) if !target.contains("/activities/") => {
                unfollow(app, me, &target).await
            }
            ("Update", _) if quotes::is_policy_update(&raw, me) => {
                quotes::set_policy(app, me, &raw).await
            }
            ("Accept" | "Reject", Some(key)) => {
                match quotes::decide(app, me, kind == "Accept", &key).await {
                    Some(answer) => answer,
                    None => decide(app, me, kind == "Accept", &key).await,
                }
            }
            ("Delete", Some(key)) if key.contains("/quote_authorizations/") => {
                quotes::revoke(app, me, &key).await.unwrap_or_else(|| {
                    Err((StatusCode::NOT_FOUND, format!("no authorization {key}")))
                })
            }
            ("Move", _) => crate::app::migration::move_user(app, me, &raw).await,
            ("Follow" | "Accept" | "Reject", None) => Err(bad(format!("{kind} needs an object"))),
            _ => post(app, me, raw).await,
        };
        match answer {
            Ok(id) => (
                StatusCode::CREATED,
                [(header::LOCATION, id.as_str().to_owned())],
                id.as_str().to_owned(),
            )
                .into_response(),
            Err((status, msg)) => (status, msg).into_response(),
        }
    }
}

/// An actor IRI, from an IRI or a handle (`acct:bob@host`, `@bob@host`,
/// `bob@host`), known and reachable before anything is sent.
pub(crate) async fn resolve(app: &App, target: &str) -> Result<Iri, (StatusCode, String)> {
    match app.fed.lookup_actor(target).await {
        Ok(actor) => Ok(actor.id().clone()),
        Err(e) if e.is_bad_input() => Err(bad(e.to_string())),
        Err(e) => Err((StatusCode::BAD_GATEWAY, e.to_string())),
    }
}

fn failed(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn follow(app: &App, me: &LocalActor, target: &str) -> Answer {
    let remote = resolve(app, target).await?;
    let sent = app.fed.follow(me, &remote).await.map_err(failed)?;
    eprintln!("{} follows {remote}", me.name());
    Ok(sent.activity.unwrap_or(remote))
}

async fn unfollow(app: &App, me: &LocalActor, target: &str) -> Answer {
    let remote = resolve(app, target).await?;
    app.fed
        .unfollow(me, &remote)
        .await
        .map_err(|e| (StatusCode::NOT_FOUND, e.to_string()))?;
    eprintln!("{} unfollows {remote}", me.name());
    Ok(remote)
}

/// Approves or refuses a pending request, named by follower or Follow id;
/// answers with the Follow's id.
async fn decide(app: &App, me: &LocalActor, accept: bool, key: &str) -> Answer {
    let requests = &app.store.requests;
    match app.fed.decide_follow(requests, me, key, accept).await {
        Ok(Some((follow, _))) => Ok(follow.activity.id.clone().unwrap_or(follow.followee)),
        Ok(None) => Err((StatusCode::NOT_FOUND, format!("no pending Follow of {key}"))),
        Err(e) => Err(failed(e)),
    }
}

/// Any other post, through the library's post store: the outbox rules,
/// the stored post an `Update` or `Delete` completes, the ownership check,
/// the served forms kept, and delivery to exactly its audience.
pub(crate) async fn post(
    app: &App,
    me: &LocalActor,
    raw: serde_json::Map<String, Value>,
) -> Answer {
    let mut doc: AnyObject = serde_json::from_value(Value::Object(raw))
        .map_err(|e| bad(format!("not an ActivityStreams document: {e}")))?;
    let posts = &app.store.posts;
    posts.complete(me, &mut doc).await.map_err(failed)?;
    default_addressing(app, me, &mut doc).await;
    // A new note says who may quote it (the user's quote policy).
    quotes::stamp(app, me, &mut doc);
    let body = serde_json::to_vec(&doc).map_err(failed)?;
    let (posted, sent) = posts.post(&app.fed, me, &body).await.map_err(refused)?;
    // A new note quoting a post: ask its author's server (a link until then).
    if posted.activity().has_type("Create") {
        quotes::request(app, me, posted.object()).await;
    }
    let id = posted.activity().id.clone();
    let id = id.ok_or_else(|| failed("the outbox assigned no id"))?;
    let (name, visibility) = (me.name(), posted.visibility());
    let queued = sent.jobs.len();
    // Followers' inboxes are not known yet: the fan-out job expands them
    // in batches after this answer.
    let followers = if sent.fanout.is_some() {
        " and one fan-out to the followers"
    } else {
        ""
    };
    eprintln!("{name} posted {id} ({visibility:?}): {queued} deliveries queued{followers}");
    Ok(id)
}

fn refused(e: FederationError) -> (StatusCode, String) {
    match e {
        FederationError::Outbox(
            OutboxError::NotOwner { .. } | OutboxError::ForeignActor { .. },
        ) => (StatusCode::FORBIDDEN, e.to_string()),
        FederationError::Outbox(e) => bad(e.to_string()),
        e => failed(e),
    }
}

/// This server's default, as the client it stands in for: a post without
/// any addressing is public (to `Public`, cc followers), and a Like or
/// Announce also goes to the liked object's author. (A Delete or Update of
/// a stored post already has the post's addressing: `Posts::complete`.)
async fn default_addressing(app: &App, me: &LocalActor, doc: &mut AnyObject) {
    let addressed = |o: &Object| {
        [&o.to, &o.cc, &o.bto, &o.bcc, &o.audience]
            .into_iter()
            .any(|r| r.as_ref().is_some_and(|r| !r.is_empty()))
    };
    let activity = doc.as_activity();
    let target = activity.and_then(Activity::object_id).cloned();
    // A Create is addressed if its object is (the outbox merges the two).
    let embedded = activity
        .and_then(Activity::embedded_object)
        .and_then(AnyObject::as_object)
        .is_some_and(addressed);
    let is = |k: &str| doc.as_object().is_some_and(|o| o.has_type(k));
    let (like, delete) = (is("Like") || is("Announce"), is("Delete"));
    // Only new posts and reactions get the default; an Update inherits the
    // stored post's addressing in the library (a followers-only note stays
    // followers-only), and other activities name their audience.
    let new_post = activity.is_none() || is("Create") || like || delete;
    let Some(object) = doc.as_object_mut() else {
        return;
    };
    if !new_post || embedded || addressed(object) {
        return;
    }
    Audience::public(me.followers().clone()).apply(object);
    if like && let Some(target) = target {
        let author = match app.store.received(target.as_str()) {
            Some((owner, _)) => Some(owner),
            None => app.store.post(&target).await.map(|s| s.author),
        };
        if let Some(author) = author {
            let mut to: Vec<Reference> = object
                .to
                .take()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default();
            to.push(Reference::Iri(author));
            object.to = Some(to.into());
        }
    }
}
