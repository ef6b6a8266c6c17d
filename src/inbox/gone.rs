//! Gone actors: the `Delete` of an account whose key can no longer be
//! fetched.
//!
//! When an account is deleted, its server sends `Delete` of the actor to
//! every server that knew it, signed with the actor's key; but the actor
//! document (and the key in it) is already gone, so the key fetch answers
//! `404` or `410` ([`KeyRefusal::Gone`]) and the signature cannot be
//! checked. Refusing it leaves the account's posts and follows behind on
//! every receiving server (Fedify's most reported problem).
//!
//! # The decision it makes
//!
//! Such an activity is unsigned for all we can tell, so only a claim that
//! is safe without a signature is accepted ([`confirm_self_delete`]): a
//! `Delete` whose single `object` is its single `actor` (a self-delete),
//! whose `id` and key id are on the actor's origin, and whose actor IRI,
//! fetched again from its own origin (no cross-origin redirect, no cache),
//! answers `404` or `410` too. A forger gains nothing: the account it
//! "deletes" is confirmed gone by its own server. Anything else (a
//! `Delete` of someone else, of a note, a self-delete of an actor that
//! still answers) stays a `401`.
//!
//! The application gets a typed [`GoneActor`] through the hook it
//! installs with [`FederationBuilder::on_gone_actor`](crate::federation::FederationBuilder::on_gone_actor),
//! and the inbox route answers `202`. Without a hook nothing is fetched
//! and the refusal stands: the safe default.
//!
//! ```
//! use archipel::inbox::gone::GoneActor;
//! use archipel::vocab::Iri;
//! let gone = GoneActor::new(
//!     Iri::parse("https://b.example/users/bob")?,
//!     Iri::parse("https://b.example/users/bob#delete")?,
//!     410,
//! );
//! assert_eq!(gone.status, 410);
//! # Ok::<(), archipel::vocab::VocabError>(())
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use url::Url;

use super::InboxError;
use crate::fetch::{FetchError, Fetcher};
use crate::signatures::{KeyRefusal, SignatureError};
use crate::vocab::{AnyObject, Iri, Kind};

/// A confirmed self-delete of an actor whose documents are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GoneActor {
    /// The deleted actor.
    pub actor: Iri,
    /// The `Delete` activity's id.
    pub activity: Iri,
    /// What the actor's origin answered for the actor IRI: `404` or `410`.
    pub status: u16,
}

impl GoneActor {
    /// A gone actor (for tests of a hook; the inbox builds it).
    pub fn new(actor: Iri, activity: Iri, status: u16) -> Self {
        GoneActor {
            actor,
            activity,
            status,
        }
    }
}

/// The error a gone-actor hook returns.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// The application's handling of a [`GoneActor`] (see
/// [`FederationBuilder::on_gone_actor`](crate::federation::FederationBuilder::on_gone_actor)).
pub type GoneActorHook = Arc<
    dyn Fn(GoneActor) -> Pin<Box<dyn Future<Output = Result<(), HookError>> + Send>> + Send + Sync,
>;

/// The key fetch answered `404` or `410`: the status, if `refusal` says so.
pub fn gone_status(refusal: &InboxError) -> Option<u16> {
    match refusal {
        InboxError::Signature(SignatureError::KeyResolution {
            reason: KeyRefusal::Gone { status, .. },
            ..
        }) => Some(*status),
        _ => None,
    }
}

/// Whether `refusal` is a key fetch that found the actor gone, and `body`
/// a self-delete of that actor that its origin confirms: the actor IRI,
/// fetched again through `fetcher` (same-origin redirects only, no cache),
/// answers `404` or `410`. See the [module docs](self).
pub async fn confirm_self_delete(
    refusal: &InboxError,
    body: &[u8],
    fetcher: &Fetcher,
) -> Option<GoneActor> {
    gone_status(refusal)?;
    let InboxError::Signature(SignatureError::KeyResolution { key_id, .. }) = refusal else {
        return None;
    };
    let (actor, activity) = self_delete(body)?;
    if !crate::client::same_origin(key_id, actor.as_str())
        || !crate::client::same_origin(activity.as_str(), actor.as_str())
    {
        return None;
    }
    let url = Url::parse(actor.as_str()).ok()?;
    let status = match fetcher
        .clone()
        .same_origin_redirects()
        .refetch_authoritative(&url)
        .await
    {
        Err(FetchError::NotFound { .. }) => 404,
        Err(FetchError::Gone { .. }) => 410,
        _ => return None,
    };
    Some(GoneActor {
        actor,
        activity,
        status,
    })
}

/// The actor and id of `body` if it is a `Delete` whose only object is its
/// only actor.
fn self_delete(body: &[u8]) -> Option<(Iri, Iri)> {
    let parsed = AnyObject::from_slice(body).ok()?;
    if parsed.kind() != Some(Kind::Delete) {
        return None;
    }
    let activity = parsed.as_activity()?;
    let actors = activity.actor.as_ref()?;
    let objects = activity.object.as_ref()?;
    if actors.len() != 1 || objects.len() != 1 {
        return None;
    }
    let actor = activity.actor_id()?.clone();
    if activity.object_id()? != &actor {
        return None;
    }
    Some((actor, parsed.id()?.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_delete_of_its_own_actor_is_a_self_delete() {
        let me = r#""actor":"https://b.example/u/bob""#;
        let ok = format!(
            r#"{{"type":"Delete","id":"https://b.example/d/1",{me},"object":"https://b.example/u/bob"}}"#
        );
        let (actor, id) = self_delete(ok.as_bytes()).unwrap();
        assert_eq!(actor.as_str(), "https://b.example/u/bob");
        assert_eq!(id.as_str(), "https://b.example/d/1");
        let embedded = format!(
            r#"{{"type":"Delete","id":"https://b.example/d/1",{me},"object":{{"type":"Tombstone","id":"https://b.example/u/bob"}}}}"#
        );
        assert!(self_delete(embedded.as_bytes()).is_some());
        for bad in [
            format!(r#"{{"type":"Delete","id":"https://b.example/d/1",{me},"object":"https://b.example/u/carol"}}"#),
            format!(r#"{{"type":"Delete","id":"https://b.example/d/1",{me},"object":"https://b.example/notes/1"}}"#),
            format!(r#"{{"type":"Update","id":"https://b.example/d/1",{me},"object":"https://b.example/u/bob"}}"#),
            format!(r#"{{"type":"Delete",{me},"object":"https://b.example/u/bob"}}"#),
            format!(r#"{{"type":"Delete","id":"https://b.example/d/1",{me},"object":["https://b.example/u/bob","https://b.example/u/carol"]}}"#),
            r#"{"type":"Delete","id":"https://b.example/d/1","actor":["https://b.example/u/bob","https://b.example/u/carol"],"object":"https://b.example/u/bob"}"#.to_owned(),
        ] {
            assert_eq!(self_delete(bad.as_bytes()), None, "{bad}");
        }
    }
}
