//! What a handler receives: the [`Cx`] of the activity and a typed value
//! per activity type.

use std::sync::Arc;

use bytes::Bytes;

use crate::inbox::{Authenticity, Incoming};
use crate::signatures::Verified;
use crate::vocab::{Activity, AnyObject, Iri, Kind, Reference};

use super::super::graph::SentFollow;
use super::super::paths::Paths;
use super::MAX_LOCAL_ACTORS;

/// The context of one authorized activity, given to its handler: who sent
/// it, with which key, to which local actors.
///
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cx {
    inner: Arc<CxInner>,
}

#[derive(Debug)]
struct CxInner {
    activity_id: Iri,
    actor: Iri,
    verified: Verified,
    local_actors: Vec<Iri>,
    body: Bytes,
    authenticity: Authenticity,
    forwarded_by: Option<Iri>,
}

impl Cx {
    pub(super) fn new(incoming: &Incoming, paths: &Paths) -> Cx {
        let activity = incoming.activity.as_activity();
        let addressed = activity.into_iter().flat_map(|a| {
            [&a.base.to, &a.base.cc, &a.base.audience, &a.object]
                .into_iter()
                .flatten()
                .flat_map(|refs| refs.iter())
                .filter_map(Reference::id)
        });
        let mut local_actors: Vec<Iri> = Vec::new();
        for iri in addressed {
            if local_actors.len() >= MAX_LOCAL_ACTORS {
                break;
            }
            if paths.local_name(iri).is_some() && !local_actors.contains(iri) {
                local_actors.push(iri.clone());
            }
        }
        Cx {
            inner: Arc::new(CxInner {
                activity_id: incoming.id.clone(),
                actor: incoming.actor.clone(),
                verified: incoming.verified.clone(),
                local_actors,
                body: incoming.body.clone(),
                authenticity: incoming.authenticity.clone(),
                forwarded_by: incoming.forwarded_by.clone(),
            }),
        }
    }

    /// The authenticated sender: the activity's `actor`, owner of the key
    /// that signed the request, or for a forwarded activity the actor its
    /// [`Cx::authenticity`] vouches for.
    pub fn actor(&self) -> &Iri {
        &self.inner.actor
    }

    /// The id of the key that signed the request (for a forwarded
    /// activity, the forwarder's).
    pub fn key_id(&self) -> &Iri {
        &self.inner.verified.key_id
    }

    /// Everything the signature check established (key, dialect, algorithm).
    pub fn verified(&self) -> &Verified {
        &self.inner.verified
    }

    /// The activity's `id`.
    pub fn activity_id(&self) -> &Iri {
        &self.inner.activity_id
    }

    /// The actors of this server the activity names in `to`, `cc`,
    /// `audience` or `object` (at most [`MAX_LOCAL_ACTORS`], in document
    /// order). Followers-only posts name a followers collection instead:
    /// look the sender's local followers up in the [`Graph`](crate::federation::Graph).
    pub fn local_actors(&self) -> &[Iri] {
        &self.inner.local_actors
    }

    /// The exact bytes received, for storage or forwarding.
    pub fn body(&self) -> &Bytes {
        &self.inner.body
    }

    /// How the activity was established as its actor's (see
    /// [`Incoming::authenticity`]).
    pub fn authenticity(&self) -> &Authenticity {
        &self.inner.authenticity
    }

    /// The server that forwarded the activity, when not its actor's (see
    /// [`Incoming::forwarded_by`]).
    pub fn forwarded_by(&self) -> Option<&Iri> {
        self.inner.forwarded_by.as_ref()
    }
}

/// An authorized `Follow` of a local actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Follow {
    /// The `Follow` activity (answer it with an `Accept` that embeds it).
    pub activity: Activity,
    /// The local actor followed.
    pub followee: Iri,
    /// Its local name (`/users/{name}`).
    pub name: String,
}

impl Follow {
    /// Rebuilds a `Follow` from a stored `Follow` activity, so a request
    /// kept while an account is locked can be answered later with
    /// [`Federation::accept`](crate::federation::Federation::accept) or
    /// `reject` (ActivityPub §7.1.2: the `Accept` embeds the `Follow`).
    ///
    /// `None` unless `activity` is a `Follow` with an `actor` whose
    /// `object` is an actor of this server (`/users/{name}` under
    /// `paths`). It does not authenticate anything: store only a `Follow`
    /// the dispatcher handed to a handler.
    ///
    /// ```
    /// use archipel::federation::Paths;
    /// use archipel::federation::dispatch::Follow;
    /// use archipel::vocab::{Activity, Iri};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let paths = Paths::new(url::Url::parse("https://a.example")?)?;
    /// let stored = Activity::follow(
    ///     Iri::parse("https://b.example/follows/1")?,
    ///     Iri::parse("https://b.example/users/bob")?,
    ///     paths.actor("alice")?,
    /// );
    /// let follow = Follow::from_activity(stored, &paths).ok_or("not a local Follow")?;
    /// assert_eq!((follow.name.as_str(), &follow.followee), ("alice", &paths.actor("alice")?));
    /// # Ok(()) }
    /// ```
    pub fn from_activity(activity: Activity, paths: &Paths) -> Option<Follow> {
        if !activity.has_type("Follow") {
            return None;
        }
        // Accepting needs the follower: a Follow without one is useless.
        activity.actor_id()?;
        let followee = activity.object_id()?.clone();
        let name = paths.local_name(&followee)?.to_owned();
        Some(Follow {
            activity,
            followee,
            name,
        })
    }
}

/// An authorized `Accept` or `Reject` of a `Follow` this server sent; the
/// [`Graph`](crate::federation::Graph) is already updated.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FollowReply {
    /// The `Accept` or `Reject` activity.
    pub activity: Activity,
    /// The Follow it answers (`follower` is the local actor).
    pub follow: SentFollow,
}

/// An authorized `Undo` of the sender's own activity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Undo {
    /// The `Undo` activity.
    pub activity: Activity,
    /// The undone activity's id.
    pub undone: Iri,
    /// Its type, when the `Undo` embeds it (`Follow`, `Like`, `Announce`,
    /// `Block`, ...); `None` when given by IRI only.
    pub kind: Option<Kind>,
    /// Its `object` when embedded: whom was followed, what was liked.
    pub object: Option<Iri>,
}

/// An authorized `Create` or `Update`, with its object as far as it can be
/// believed: authored by the sender.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WithObject {
    /// The `Create` or `Update` activity (its embedded `object` is the
    /// sender's claim; use [`WithObject::object`]).
    pub activity: Activity,
    /// The object: the embedded copy the signature vouches for, or the
    /// copy fetched from its origin.
    pub object: AnyObject,
}

/// An authorized `Delete`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delete {
    /// The `Delete` activity.
    pub activity: Activity,
    /// The IRI of what is deleted.
    pub object: Iri,
    /// Whether the sender deletes itself (its account).
    pub is_actor: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn paths() -> Paths {
        Paths::new("https://a.example".parse().unwrap()).unwrap()
    }

    fn follow_of(object: &str) -> Activity {
        Activity::follow(
            iri("https://b.example/follows/1"),
            iri("https://b.example/users/bob"),
            iri(object),
        )
    }

    #[test]
    fn a_stored_follow_of_a_local_actor_is_rebuilt() {
        // Stored as JSON text, read back, rebuilt.
        let stored = serde_json::to_string(&follow_of("https://a.example/users/alice")).unwrap();
        let activity: Activity = serde_json::from_str(&stored).unwrap();
        let follow = Follow::from_activity(activity.clone(), &paths()).unwrap();
        assert_eq!(follow.followee, iri("https://a.example/users/alice"));
        assert_eq!(follow.name, "alice");
        assert_eq!(follow.activity, activity);
    }

    #[test]
    fn anything_else_is_not_a_follow_to_answer() {
        let p = paths();
        for object in [
            "https://c.example/users/alice",
            "https://a.example/objects/alice",
            "https://a.example/users/alice/followers",
            "https://a.example/users/../actor",
        ] {
            assert!(
                Follow::from_activity(follow_of(object), &p).is_none(),
                "{object}"
            );
        }
        let like = Activity::like(
            iri("https://b.example/likes/1"),
            iri("https://b.example/users/bob"),
            iri("https://a.example/users/alice"),
        );
        assert!(Follow::from_activity(like, &p).is_none());
        let mut anonymous = follow_of("https://a.example/users/alice");
        anonymous.actor = None;
        assert!(Follow::from_activity(anonymous, &p).is_none());
    }
}
