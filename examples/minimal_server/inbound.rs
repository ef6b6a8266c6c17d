//! Inbound activities: the verified pipeline, then what each activity type
//! does to the state (Follow/Accept/Reject/Undo, Create/Update/Delete of
//! notes, Like/Announce counts, Block).

use std::sync::Arc;

use archipel::axum::InboxRequest;
use archipel::inbox::{EmbeddedObject, Incoming};
use archipel::policy::follow::{self, BlockEffect, FollowConsent, PendingFollow};
use archipel::vocab::Iri;
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

/// The `object` of a `Create` or `Update` as the application may believe it:
/// the embedded copy when the signature vouches for it, else the document
/// its origin serves. The library makes the trust decision
/// ([`Incoming::object`]); this only follows it.
async fn believed_object(app: &App, incoming: &Incoming) -> Option<Value> {
    match incoming.object() {
        EmbeddedObject::Trusted(object) => serde_json::to_value(object).ok(),
        EmbeddedObject::FetchFromOrigin(iri) => app.fed.fetch_object(iri).await,
        _ => None,
    }
}

/// The stored owner (`attributedTo`) of a note, for [`Incoming::may_modify`].
fn owner_of(note: &Value) -> Option<Iri> {
    crate::fed::iri(note.get("attributedTo")).map(Iri::new_unchecked)
}

/// Applies one verified activity to the state.
pub async fn handle(app: &Arc<App>, user: Option<String>, incoming: Incoming) {
    let Ok(doc) = incoming.json() else { return };
    let activity = incoming.activity.as_activity();
    let actor = incoming.actor.to_string();
    // Fetched before taking the lock: a note whose embedded copy the
    // signature does not vouch for comes from its origin.
    let object = match incoming.kind.as_str() {
        "Create" | "Update" => believed_object(app, &incoming).await,
        _ => None,
    };
    let mut outgoing: Vec<(String, Value, Vec<String>)> = Vec::new();
    {
        let mut data = app.data.lock().await;
        data.verifications.insert(
            incoming.id.to_string(),
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
                if let Some(request) = activity.and_then(PendingFollow::from_follow)
                    && let Some(name) = app.local_name(request.followee.as_str())
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
                            // The id is minted from this server's own base URL.
                            let accept = follow::accept(&request, Iri::new_unchecked(app.new_id()));
                            eprintln!("{name} accepted follow from {actor}");
                            if let Ok(accept) = serde_json::to_value(&accept) {
                                outgoing.push((name.clone(), accept, vec![actor.clone()]));
                            }
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
            "Undo" => match activity.map(follow::check_undo) {
                Some(Ok(target)) => match target.kind.as_deref() {
                    Some("Like") => {
                        if let Some(obj) = &target.object
                            && let Some(list) = data.likes.get_mut(obj.as_str())
                        {
                            remove(list, &actor);
                        }
                    }
                    Some("Announce") => {
                        if let Some(obj) = &target.object
                            && let Some(list) = data.announces.get_mut(obj.as_str())
                        {
                            remove(list, &actor);
                        }
                    }
                    // A Follow, or an Undo by IRI only: drop whatever
                    // follow relationship the sender has with the addressed users.
                    _ => {
                        let followee = target
                            .object
                            .as_ref()
                            .and_then(|o| app.local_name(o.as_str()));
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
                Some(Err(e)) => eprintln!("ignored Undo {}: {e}", incoming.id),
                None => eprintln!("ignored Undo {}: not an activity", incoming.id),
            },
            "Create" => {
                // Only the author creates: a note claiming someone else as
                // author (or fetched and found to be someone else's) is dropped.
                if let Some(note) = object
                    && let Some(id) = note.get("id").and_then(Value::as_str)
                    && owner_of(&note).is_some_and(|owner| owner.as_str() == actor)
                {
                    data.notes.insert(id.to_owned(), note);
                }
            }
            "Update" => {
                // Only the owner we stored may change a note.
                if let Some(note) = object
                    && let Some(id) = note.get("id").and_then(Value::as_str)
                    && let Some(stored) = data.notes.get(id)
                    && owner_of(stored).is_some_and(|owner| incoming.may_modify(&owner))
                    && owner_of(&note).is_some_and(|owner| incoming.may_modify(&owner))
                {
                    data.notes.insert(id.to_owned(), note);
                }
            }
            "Delete" => {
                // The inbox refused a Delete across origins; on this origin,
                // only the stored owner may delete.
                if let Some(id) = incoming.object().iri()
                    && data
                        .notes
                        .get(id.as_str())
                        .and_then(owner_of)
                        .is_some_and(|owner| incoming.may_modify(&owner))
                {
                    data.notes.remove(id.as_str());
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
                if let Some(effect) = activity.and_then(BlockEffect::from_block) {
                    for (name, u) in data.users.iter_mut() {
                        let me = Iri::new_unchecked(app.actor_iri(name));
                        if effect.severs(&incoming.actor, &me) {
                            remove(&mut u.followers, &actor);
                        }
                        if effect.severs(&me, &incoming.actor) {
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
