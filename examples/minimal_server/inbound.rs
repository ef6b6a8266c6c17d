//! Inbound activities: the verified pipeline, then what each activity type
//! does to the state (Follow/Accept/Reject/Undo, Create/Update/Delete of
//! notes, Like/Announce counts, Block).

use std::sync::Arc;

use archipel::axum::InboxRequest;
use archipel::inbox::Incoming;
use archipel::policy::follow::{self, BlockEffect, FollowConsent, PendingFollow};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::{App, absolute};
use crate::store::{add_unique, push_bounded, remove};

/// `POST /users/{name}/inbox`.
pub async fn post_user_inbox(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: InboxRequest,
) -> Response {
    if !app.users.contains(&name) {
        return StatusCode::NOT_FOUND.into_response();
    }
    receive(app, Some(name), req).await
}

/// `POST /inbox` (the shared inbox).
pub async fn post_shared_inbox(State(app): State<Arc<App>>, req: InboxRequest) -> Response {
    receive(app, None, req).await
}

async fn receive(app: Arc<App>, user: Option<String>, req: InboxRequest) -> Response {
    let req = absolute(&app, req);
    let path = req.uri().path().to_owned();
    match app.inbox.receive(&req).await {
        Ok(incoming) => {
            eprintln!(
                "inbox {path}: {} {} from {} — signature verified ({} {}, key {})",
                incoming.kind,
                incoming.id,
                incoming.actor,
                incoming.verified.spec.as_str(),
                incoming.verified.algorithm.as_str(),
                incoming.verified.key_id
            );
            handle(&app, user, incoming).await;
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => {
            eprintln!("inbox {path}: refused ({}): {e}", e.status().as_u16());
            e.into_response()
        }
    }
}

/// The local users an activity concerns: the addressed inbox's owner, local
/// actors named in `to`/`cc`/`object`, and local followers of the sender.
fn recipients(
    app: &App,
    user: Option<String>,
    doc: &Value,
    data: &crate::store::Data,
    actor: &str,
) -> Vec<String> {
    let mut out: Vec<String> = user.into_iter().collect();
    let mut named = Vec::new();
    for key in ["to", "cc", "object"] {
        match doc.get(key) {
            Some(Value::String(s)) => named.push(s.clone()),
            Some(Value::Array(items)) => {
                named.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
            }
            _ => {}
        }
    }
    for iri in named {
        if let Some(name) = app.local_name(&iri) {
            add_unique(&mut out, &name);
        }
    }
    for (name, u) in &data.users {
        if u.following.iter().any(|f| f == actor) {
            add_unique(&mut out, name);
        }
    }
    out
}

/// Applies one verified activity to the state.
pub async fn handle(app: &Arc<App>, user: Option<String>, incoming: Incoming) {
    let Ok(doc) = incoming.json() else { return };
    let actor = incoming.actor.clone();
    let mut outgoing: Vec<(String, Value, Vec<String>)> = Vec::new();
    {
        let mut data = app.data.lock().await;
        data.verifications.insert(
            incoming.id.clone(),
            format!(
                "{} {} {}",
                incoming.verified.spec.as_str(),
                incoming.verified.algorithm.as_str(),
                incoming.verified.key_id
            ),
        );
        let targets = recipients(app, user, &doc, &data, &actor);
        for name in &targets {
            if let Some(u) = data.users.get_mut(name) {
                push_bounded(&mut u.inbox, doc.clone());
            }
        }
        match incoming.kind.as_str() {
            "Follow" => {
                if let Some(request) = PendingFollow::from_follow(&doc)
                    && let Some(name) = app.local_name(&request.followee)
                    && let Some(u) = data.users.get_mut(&name)
                {
                    match follow::consent_for(app.is_locked(&name)) {
                        FollowConsent::Pending => {
                            u.pending_followers.retain(|f| {
                                crate::fed::iri(f.get("actor")) != Some(actor.as_str())
                            });
                            u.pending_followers.push(doc.clone());
                            eprintln!("follow request from {actor} to {name} is pending approval");
                        }
                        _ => {
                            add_unique(&mut u.followers, &actor);
                            let accept = follow::accept(&request, &app.new_id());
                            eprintln!("{name} accepted follow from {actor}");
                            outgoing.push((name.clone(), accept, vec![actor.clone()]));
                        }
                    }
                }
            }
            "Accept" | "Reject" => {
                let follow_id = crate::fed::iri(doc.get("object")).map(str::to_owned);
                for u in data.users.values_mut() {
                    let matched: Vec<String> = u
                        .sent_follows
                        .iter()
                        .filter(|(id, target)| {
                            *target == &actor
                                && follow_id.as_deref().is_none_or(|f| f == id.as_str())
                        })
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in matched {
                        if incoming.kind == "Accept" {
                            add_unique(&mut u.following, &actor);
                        } else {
                            u.sent_follows.remove(&id);
                            remove(&mut u.following, &actor);
                        }
                    }
                }
            }
            "Undo" => match follow::check_undo(&doc) {
                Ok(target) => match target.kind.as_deref() {
                    Some("Like") => {
                        if let Some(obj) = &target.object
                            && let Some(list) = data.likes.get_mut(obj)
                        {
                            remove(list, &actor);
                        }
                    }
                    Some("Announce") => {
                        if let Some(obj) = &target.object
                            && let Some(list) = data.announces.get_mut(obj)
                        {
                            remove(list, &actor);
                        }
                    }
                    // A Follow, or an Undo by IRI only: drop whatever
                    // follow relationship the sender has with the addressed users.
                    _ => {
                        let followee = target.object.as_deref().and_then(|o| app.local_name(o));
                        for (name, u) in data.users.iter_mut() {
                            if followee.as_ref().is_none_or(|f| f == name) {
                                if remove(&mut u.followers, &actor) {
                                    eprintln!("{actor} unfollowed {name}");
                                }
                                u.pending_followers.retain(|f| {
                                    crate::fed::iri(f.get("actor")) != Some(actor.as_str())
                                });
                            }
                        }
                    }
                },
                Err(e) => eprintln!("ignored Undo {}: {e}", incoming.id),
            },
            "Create" => {
                if let Some(note) = doc.get("object").filter(|o| o.is_object())
                    && let Some(id) = note.get("id").and_then(Value::as_str)
                    && crate::fed::same_origin(id, &actor)
                {
                    data.notes.insert(id.to_owned(), note.clone());
                }
            }
            "Update" => {
                if let Some(note) = doc.get("object").filter(|o| o.is_object())
                    && let Some(id) = note.get("id").and_then(Value::as_str)
                    && crate::fed::same_origin(id, &actor)
                    && data.notes.contains_key(id)
                {
                    data.notes.insert(id.to_owned(), note.clone());
                }
            }
            "Delete" => {
                if let Some(id) = crate::fed::iri(doc.get("object"))
                    && crate::fed::same_origin(id, &actor)
                {
                    data.notes.remove(id);
                }
            }
            "Like" | "Announce" => {
                if let Some(obj) = crate::fed::iri(doc.get("object")) {
                    let map = if incoming.kind == "Like" {
                        &mut data.likes
                    } else {
                        &mut data.announces
                    };
                    add_unique(map.entry(obj.to_owned()).or_default(), &actor);
                }
            }
            "Block" => {
                if let Some(effect) = BlockEffect::from_block(&doc) {
                    for (name, u) in data.users.iter_mut() {
                        let me = app.actor_iri(name);
                        if effect.severs(&actor, &me) {
                            remove(&mut u.followers, &actor);
                        }
                        if effect.severs(&me, &actor) {
                            remove(&mut u.following, &actor);
                            u.sent_follows.retain(|_, t| t != &actor);
                        }
                    }
                }
            }
            _ => {}
        }
        app.persist(&data);
    }
    for (name, activity, to) in outgoing {
        app.fed.send(app, &name, activity, &to).await;
    }
}
