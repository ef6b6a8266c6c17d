//! What an HTTP signature proves about the objects an activity carries.
//!
//! A verified signature proves that the activity's `actor` sent the
//! activity. It proves nothing about a third party's object embedded in it:
//! anyone can embed a `Note` that claims `attributedTo` = someone else, or
//! an `Update` of a document that lives on another server. This module
//! decides, for each embedded object, whether the sender speaks for it
//! ([`EmbeddedObject::Trusted`]) or whether the application must take it
//! from its origin ([`EmbeddedObject::FetchFromOrigin`]), and refuses the
//! `Update`/`Delete` shapes no legitimate sender produces. The rules are
//! tabulated in the [`inbox`](super) module documentation.

use crate::vocab::{Activity, AnyObject, Iri, Reference};

use super::{InboxError, echo};
use crate::client::same_origin;

/// One `object` of a verified activity, as far as the signature vouches for
/// it: read it from [`Incoming::object`](super::Incoming::object) rather
/// than from the raw activity.
///
/// ```
/// use archipel::inbox::{EmbeddedObject, Incoming};
///
/// fn note_to_store(incoming: &Incoming) -> Option<String> {
///     match incoming.object() {
///         // The sender wrote it and it lives on the sender's origin.
///         EmbeddedObject::Trusted(note) => Some(format!("store {:?}", note.id())),
///         // A claim about someone else's object: dereference the IRI at its
///         // origin (e.g. with `archipel::fetch::Fetcher`) before believing it.
///         EmbeddedObject::FetchFromOrigin(iri) => Some(format!("fetch {iri}")),
///         // Nothing usable.
///         _ => None,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum EmbeddedObject<'a> {
    /// The object is embedded and the signature vouches for it: its `id` is
    /// on the actor's origin (or it has none and exists only inside this
    /// activity) and its author is the actor (see the table in the
    /// [`inbox`](super) docs). Use it as is.
    Trusted(&'a AnyObject),
    /// The object's IRI, when it was given by IRI only, or embedded without
    /// established authority. The embedded copy is only a claim: dereference
    /// the IRI at its origin (or look it up in your own store) instead.
    FetchFromOrigin(&'a Iri),
    /// The activity has no `object`, or an embedded object without `id`
    /// whose authority is not established: there is nothing to trust or
    /// fetch. Also returned for activity types outside the vocabulary, whose
    /// properties stay raw in `extra`.
    Absent,
}

impl<'a> EmbeddedObject<'a> {
    /// The object, when it is [`EmbeddedObject::Trusted`].
    pub fn trusted(self) -> Option<&'a AnyObject> {
        match self {
            EmbeddedObject::Trusted(o) => Some(o),
            _ => None,
        }
    }

    /// The object's IRI, trusted or not (for lookups and logs).
    pub fn iri(self) -> Option<&'a Iri> {
        match self {
            EmbeddedObject::Trusted(o) => o.id(),
            EmbeddedObject::FetchFromOrigin(iri) => Some(iri),
            EmbeddedObject::Absent => None,
        }
    }
}

/// Classifies one entry of the activity's `object` sent by `actor`.
pub(crate) fn classify<'a>(object: &'a Reference, actor: &str) -> EmbeddedObject<'a> {
    match object {
        Reference::Iri(iri) => EmbeddedObject::FetchFromOrigin(iri),
        Reference::Object(embedded) => {
            let on_origin = embedded
                .id()
                .is_none_or(|id| same_origin(id.as_str(), actor));
            match (on_origin && authored_by(embedded, actor), embedded.id()) {
                (true, _) => EmbeddedObject::Trusted(embedded),
                (false, Some(iri)) => EmbeddedObject::FetchFromOrigin(iri),
                (false, None) => EmbeddedObject::Absent,
            }
        }
    }
}

/// Whether `object` names `actor` as its author: an actor document must be
/// the actor itself, an activity's every `actor` and any other object's
/// every `attributedTo` must be `actor` (and there must be at least one).
fn authored_by(object: &AnyObject, actor: &str) -> bool {
    if let AnyObject::Actor(a) = object {
        return a.base.id.as_ref().is_some_and(|id| id.as_str() == actor);
    }
    let authors = match object {
        AnyObject::Activity(a) => a.actor.as_ref(),
        other => other.as_object().and_then(|o| o.attributed_to.as_ref()),
    };
    authors.is_some_and(|refs| !refs.is_empty() && refs.iter().all(|r| r.is(actor)))
}

/// Refuses what no signature can make legitimate: an `Update` or `Delete`
/// of another actor, or of an object on another origin than the actor's.
pub(crate) fn check(activity: &AnyObject, actor: &str) -> Result<(), InboxError> {
    let Some(a) = activity.as_activity() else {
        return Ok(());
    };
    let kind = if a.has_type("Update") {
        "Update"
    } else if a.has_type("Delete") {
        "Delete"
    } else {
        return Ok(());
    };
    for object in objects_of(a) {
        let Some(id) = object.id() else { continue };
        let names_other_actor =
            matches!(object.as_object(), Some(AnyObject::Actor(_))) && id.as_str() != actor;
        if names_other_actor {
            return Err(InboxError::ForeignActor {
                kind,
                object: echo(id.as_str()),
                actor: echo(actor),
            });
        }
        if !same_origin(id.as_str(), actor) {
            return Err(InboxError::ForeignObject {
                kind,
                object: echo(id.as_str()),
                actor: echo(actor),
            });
        }
    }
    Ok(())
}

/// Every entry of the activity's `object`.
pub(crate) fn objects_of(activity: &Activity) -> impl Iterator<Item = &Reference> {
    activity.object.iter().flat_map(|o| o.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOB: &str = "https://b.example/users/bob";
    const CAROL: &str = "https://b.example/users/carol";

    fn any(v: serde_json::Value) -> AnyObject {
        AnyObject::from_slice(v.to_string().as_bytes()).unwrap()
    }

    fn first_object(activity: &AnyObject) -> &Reference {
        objects_of(activity.as_activity().unwrap()).next().unwrap()
    }

    fn verdict(object: serde_json::Value) -> String {
        let a = any(
            json!({"type": "Create", "id": "https://b.example/c", "actor": BOB, "object": object}),
        );
        match classify(first_object(&a), BOB) {
            EmbeddedObject::Trusted(_) => "trusted".into(),
            EmbeddedObject::FetchFromOrigin(iri) => format!("fetch {iri}"),
            EmbeddedObject::Absent => "absent".into(),
        }
    }

    #[test]
    fn content_is_trusted_only_from_its_author_on_its_origin() {
        let n = "https://b.example/notes/1";
        assert_eq!(
            verdict(json!({"type":"Note","id":n,"attributedTo":BOB})),
            "trusted"
        );
        assert_eq!(
            verdict(json!({"type":"Note","id":n,"attributedTo":[BOB, CAROL]})),
            format!("fetch {n}")
        );
        assert_eq!(
            verdict(json!({"type":"Note","id":n,"attributedTo":CAROL})),
            format!("fetch {n}")
        );
        assert_eq!(verdict(json!({"type":"Note","id":n})), format!("fetch {n}"));
        assert_eq!(
            verdict(json!({"type":"Note","id":n,"attributedTo":[]})),
            format!("fetch {n}")
        );
        let far = "https://c.example/notes/1";
        assert_eq!(
            verdict(json!({"type":"Note","id":far,"attributedTo":BOB})),
            format!("fetch {far}")
        );
        assert_eq!(
            verdict(json!({"type":"Note","attributedTo":BOB})),
            "trusted"
        );
        assert_eq!(
            verdict(json!({"type":"Note","attributedTo":CAROL})),
            "absent"
        );
        assert_eq!(verdict(json!(n)), format!("fetch {n}"));
    }

    #[test]
    fn activities_by_their_actor_and_actors_by_themselves() {
        let f = "https://b.example/follows/1";
        assert_eq!(
            verdict(json!({"type":"Follow","id":f,"actor":BOB})),
            "trusted"
        );
        assert_eq!(
            verdict(json!({"type":"Follow","id":f,"actor":CAROL})),
            format!("fetch {f}")
        );
        assert_eq!(verdict(json!({"type":"Person","id":BOB})), "trusted");
        assert_eq!(
            verdict(json!({"type":"Person","id":CAROL})),
            format!("fetch {CAROL}")
        );
        assert_eq!(
            verdict(json!({"type":"Person","id":CAROL,"attributedTo":BOB})),
            format!("fetch {CAROL}")
        );
    }

    fn refusal(kind: &str, object: serde_json::Value) -> Option<InboxError> {
        check(
            &any(
                json!({"type": kind, "id": "https://b.example/x", "actor": BOB, "object": object}),
            ),
            BOB,
        )
        .err()
    }

    #[test]
    fn update_or_delete_of_another_actor_or_origin_is_refused() {
        for kind in ["Update", "Delete"] {
            assert!(matches!(
                refusal(kind, json!({"type":"Person","id":CAROL})),
                Some(InboxError::ForeignActor { object, .. }) if object == CAROL
            ));
            assert!(matches!(
                refusal(kind, json!("https://c.example/notes/1")),
                Some(InboxError::ForeignObject { object, .. }) if object == "https://c.example/notes/1"
            ));
            assert!(refusal(kind, json!({"type":"Person","id":BOB})).is_none());
            // Same origin, another author: allowed through, but not trusted.
            assert!(
                refusal(
                    kind,
                    json!({"type":"Note","id":"https://b.example/n","attributedTo":CAROL})
                )
                .is_none()
            );
        }
        assert!(refusal("Create", json!({"type":"Person","id":CAROL})).is_none());
    }
}
