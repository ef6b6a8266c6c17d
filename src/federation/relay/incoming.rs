//! What a relay sends, handled before the dispatcher's rules: the answer
//! to this server's `Follow`, and the `Announce` of an activity.

use bytes::Bytes;
use serde_json::Value;

use crate::inbox::{Authenticity, Incoming, echo};
use crate::vocab::{AnyObject, Iri, Kind};

use super::super::dispatch::DispatchError;
use super::super::hub::Federation;
use super::{Relay, RelayError, RelayState};

fn refused(kind: &str, e: RelayError) -> DispatchError {
    DispatchError::Handler {
        kind: kind.to_owned(),
        source: Box::new(e),
    }
}

fn store_error(kind: &str, e: RelayError) -> DispatchError {
    refused(kind, e)
}

/// The relay step of [`Dispatcher::dispatch`](super::super::dispatch::Dispatcher::dispatch):
/// `Ok(None)` when `incoming` was a relay's answer and is fully handled,
/// `Ok(Some(_))` with what to dispatch (a relayed activity, as its
/// actor's; anything else unchanged).
pub(crate) async fn intercept(
    fed: &Federation,
    incoming: Incoming,
) -> Result<Option<Incoming>, DispatchError> {
    // A forwarded copy (a Mastodon-style relay's) was established by the
    // inbox already.
    if incoming.forwarded_by.is_some() {
        return Ok(Some(incoming));
    }
    let kind = incoming.activity.kind();
    if !matches!(
        kind,
        Some(Kind::Accept | Kind::Reject | Kind::Announce | Kind::Follow)
    ) {
        return Ok(Some(incoming));
    }
    let relays = fed
        .relay_store()
        .all()
        .await
        .map_err(|e| store_error(&incoming.kind, e))?;
    if relays.is_empty() {
        return Ok(Some(incoming));
    }
    match kind {
        Some(k @ (Kind::Accept | Kind::Reject)) => answer(fed, &relays, k, incoming).await,
        Some(Kind::Follow) => follow_back(fed, &relays, incoming).await,
        _ => {
            let from_relay = relays.iter().find(|r| {
                r.state == RelayState::Accepted && r.actor.as_ref() == Some(&incoming.actor)
            });
            match from_relay {
                Some(relay) => announced(fed, relay, incoming).await,
                None => Ok(Some(incoming)),
            }
        }
    }
}

/// The relay's `Accept` or `Reject` of this server's `Follow`.
async fn answer(
    fed: &Federation,
    relays: &[Relay],
    kind: Kind,
    incoming: Incoming,
) -> Result<Option<Incoming>, DispatchError> {
    let follow = incoming
        .activity
        .as_activity()
        .and_then(|a| a.object.as_ref())
        .and_then(|o| o.first())
        .and_then(|o| o.id());
    let Some(relay) = follow.and_then(|f| relays.iter().find(|r| r.follow == *f)) else {
        return Ok(Some(incoming));
    };
    if !relay.is_sent_by(&incoming.actor) {
        let e = RelayError::NotTheRelay {
            kind: kind.as_str(),
            follow: echo(relay.follow.as_str()),
            actor: echo(incoming.actor.as_str()),
            relay: echo(relay.id.as_str()),
        };
        return Err(refused(&incoming.kind, e));
    }
    let store = fed.relay_store();
    let result = if kind == Kind::Accept {
        let mut accepted = relay.clone();
        accepted.state = RelayState::Accepted;
        accepted.actor = Some(incoming.actor.clone());
        store.put(accepted).await
    } else {
        store.remove(&relay.id).await.map(|_| ())
    };
    result.map_err(|e| store_error(&incoming.kind, e))?;
    fed.refresh_relay_actors().await;
    Ok(None)
}

/// A LitePub relay following the instance actor back, as Pleroma's does:
/// accepted at once (its followers are not where posts go to relays, so
/// it changes nothing else). Any other `Follow` goes to the rules.
async fn follow_back(
    fed: &Federation,
    relays: &[Relay],
    incoming: Incoming,
) -> Result<Option<Incoming>, DispatchError> {
    let instance = fed.instance_actor().clone();
    let follow = incoming.activity.as_activity();
    let relay = relays
        .iter()
        .find(|r| r.actor.as_ref() == Some(&incoming.actor));
    let (Some(relay), Some(follow)) = (relay, follow) else {
        return Ok(Some(incoming));
    };
    if follow.object_id() != Some(instance.id()) {
        return Ok(Some(incoming));
    }
    let fail = |e: super::super::FederationError| DispatchError::Handler {
        kind: incoming.kind.clone(),
        source: Box::new(e),
    };
    let accept = crate::vocab::Activity::accept(
        fed.new_activity_id().map_err(fail)?,
        instance.id().clone(),
        crate::vocab::Reference::from(AnyObject::Activity(Box::new(follow.clone()))),
    )
    .with_to(vec![incoming.actor.clone()]);
    fed.deliver_to_relays(&instance, &accept, [relay])
        .await
        .map_err(fail)?;
    Ok(None)
}

/// A subscribed relay's `Announce`: of an activity, checked and handed on
/// as its actor's; of anything else, an ordinary `Announce`.
async fn announced(
    fed: &Federation,
    relay: &Relay,
    incoming: Incoming,
) -> Result<Option<Incoming>, DispatchError> {
    let relay_name = || echo(relay.id.as_str());
    let malformed = |activity: &str, reason: &str| {
        refused(
            &incoming.kind,
            RelayError::Malformed {
                activity: echo(activity),
                relay: relay_name(),
                reason: reason.to_owned(),
            },
        )
    };
    // The object as the relay sent it: an LD signature or a proof covers
    // those bytes, not a re-encoding of them.
    let json = incoming
        .json()
        .map_err(|e| malformed(incoming.id.as_str(), &e.to_string()))?;
    let object = crate::federation::forwarding::first(json.get("object")).cloned();
    let (document, authenticity) = match object {
        Some(Value::String(iri)) => {
            let Ok(url) = url::Url::parse(&iri) else {
                return Ok(Some(incoming));
            };
            let fetched = fed.fetcher().fetch_authoritative(&url).await.map_err(|e| {
                refused(
                    &incoming.kind,
                    RelayError::Fetch {
                        activity: echo(&iri),
                        relay: relay_name(),
                        reason: e.to_string(),
                    },
                )
            })?;
            if !is_activity(&fetched) {
                return Ok(Some(incoming));
            }
            let from = Iri::new_unchecked(iri);
            (fetched, Authenticity::Refetched { from })
        }
        Some(embedded @ Value::Object(_)) => {
            if !is_activity(&embedded) {
                return Ok(Some(incoming));
            }
            // Already accepted (delivered directly, or by another relay):
            // not worth the verification's fetches.
            let seen = fed.inbox().seen_store();
            if let Some(id) = embedded.get("id").and_then(Value::as_str)
                && seen.contains(id).await
            {
                return Ok(None);
            }
            let forwarder = Some(&incoming.actor);
            let authenticity =
                fed.verify_forwarded(&embedded, forwarder)
                    .await
                    .map_err(|source| {
                        refused(
                            &incoming.kind,
                            RelayError::Unverified {
                                activity: echo(
                                    embedded.get("id").and_then(Value::as_str).unwrap_or(""),
                                ),
                                relay: relay_name(),
                                source: Box::new(source),
                            },
                        )
                    })?;
            (embedded, authenticity)
        }
        _ => return Ok(Some(incoming)),
    };
    let id_str = document.get("id").and_then(Value::as_str).unwrap_or("");
    let activity =
        AnyObject::from_value(&document).map_err(|e| malformed(id_str, &e.to_string()))?;
    let (Some(id), Some(actor)) = (
        activity.id().cloned(),
        activity.as_activity().and_then(|a| a.actor_id()).cloned(),
    ) else {
        return Err(malformed(id_str, "the activity has no id or no actor"));
    };
    if !crate::client::same_origin(id.as_str(), actor.as_str()) {
        return Err(malformed(id_str, "its id is not on its actor's origin"));
    }
    // Delivered directly, or by another relay, already.
    if !fed.inbox().seen_store().insert_if_new(id.as_str()).await {
        return Ok(None);
    }
    let body = serde_json::to_vec(&document).map_err(|e| malformed(id_str, &e.to_string()))?;
    Ok(Some(Incoming {
        id,
        kind: activity
            .type_name()
            .unwrap_or(Kind::Announce.as_str())
            .to_owned(),
        actor,
        verified: incoming.verified,
        authenticity,
        forwarded_by: Some(incoming.actor),
        activity,
        body: Bytes::from(body),
    }))
}

/// Whether `document` is an activity (by its `type`).
fn is_activity(document: &Value) -> bool {
    AnyObject::from_value(document).is_ok_and(|o| o.as_activity().is_some())
}
