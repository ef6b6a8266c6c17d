//! The authorization rules, one function per activity type, each run on a
//! verified [`Incoming`] before any handler sees it. Each returns the typed
//! value its handler receives, or the [`DispatchError`] that refuses it.

use crate::client::same_origin;
use crate::inbox::{EmbeddedObject, Incoming, echo};
use crate::vocab::{Activity, AnyObject, Iri, Kind, Reference};

use super::super::graph::SentFollow;
use super::{DispatchError, Dispatcher};

/// The authors an object declares: an actor document is its own author, an
/// activity's are its `actor` entries, any other object's its `attributedTo`
/// entries. Empty when none is declared (or the object has no `id` to be
/// its own author).
fn declared_authors(object: &AnyObject) -> Vec<&Iri> {
    let refs = match object {
        AnyObject::Actor(a) => return a.base.id.iter().collect(),
        AnyObject::Activity(a) => a.actor.as_ref(),
        other => other.as_object().and_then(|o| o.attributed_to.as_ref()),
    };
    refs.into_iter()
        .flat_map(|r| r.iter())
        .filter_map(Reference::id)
        .collect()
}

/// The first declared author other than `actor`, if any.
fn foreign_author<'a>(object: &'a AnyObject, actor: &Iri) -> Option<&'a Iri> {
    declared_authors(object).into_iter().find(|a| *a != actor)
}

/// Refuses `object` unless it declares at least one author and every one
/// is `actor`.
fn require_authored_by(
    kind: Kind,
    object: &AnyObject,
    iri: &Iri,
    actor: &Iri,
) -> Result<(), DispatchError> {
    let authors = declared_authors(object);
    match authors.iter().find(|a| **a != actor) {
        Some(other) => Err(not_owner(kind, iri, other.as_str(), actor)),
        None if authors.is_empty() => Err(not_owner(kind, iri, "(no author declared)", actor)),
        None => Ok(()),
    }
}

fn not_owner(kind: Kind, object: &Iri, owner: &str, actor: &Iri) -> DispatchError {
    DispatchError::NotOwner {
        kind: kind.as_str(),
        object: echo(object.as_str()),
        owner: echo(owner),
        actor: echo(actor.as_str()),
    }
}

fn malformed(kind: Kind, incoming: &Incoming, reason: &'static str) -> DispatchError {
    DispatchError::Malformed {
        kind: kind.as_str(),
        activity: echo(incoming.id.as_str()),
        reason,
    }
}

fn first_object(activity: &Activity) -> Option<&Reference> {
    activity.object.as_ref().and_then(|o| o.first())
}

impl Dispatcher {
    /// Whether `actor` may change or undo the thing at `object`, known
    /// only by its IRI: the application's stored owner when it has one
    /// ([`Incoming::may_modify`]), else the same-origin rule.
    async fn check_iri_owner(
        &self,
        kind: Kind,
        incoming: &Incoming,
        object: &Iri,
    ) -> Result<(), DispatchError> {
        if self.check_stored_owner(kind, incoming, object).await? {
            return Ok(());
        }
        if same_origin(object.as_str(), incoming.actor.as_str()) {
            Ok(())
        } else {
            Err(DispatchError::ForeignOrigin {
                kind: kind.as_str(),
                object: echo(object.as_str()),
                actor: echo(incoming.actor.as_str()),
            })
        }
    }

    /// Refuses `object` when the application stored another owner for it;
    /// whether it stored one at all.
    async fn check_stored_owner(
        &self,
        kind: Kind,
        incoming: &Incoming,
        object: &Iri,
    ) -> Result<bool, DispatchError> {
        if let Some(lookup) = &self.owners {
            let stored =
                lookup
                    .owner(object)
                    .await
                    .map_err(|source| DispatchError::OwnerLookup {
                        object: echo(object.as_str()),
                        source,
                    })?;
            if let Some(owner) = stored {
                return if incoming.may_modify(&owner) {
                    Ok(true)
                } else {
                    Err(not_owner(kind, object, owner.as_str(), &incoming.actor))
                };
            }
        }
        Ok(false)
    }

    /// `Follow`: its object must be an actor of this server (and exist,
    /// when the application said how to tell). Returns the followee and
    /// its local name.
    pub(super) fn authorize_follow(
        &self,
        incoming: &Incoming,
        activity: &Activity,
    ) -> Result<(Iri, String), DispatchError> {
        let object = activity
            .object_id()
            .ok_or_else(|| malformed(Kind::Follow, incoming, "no object to follow"))?;
        let Some(name) = self.paths.local_name(object) else {
            return Err(DispatchError::NotLocal {
                object: echo(object.as_str()),
            });
        };
        if let Some(exists) = &self.local_exists
            && !exists(name)
        {
            return Err(DispatchError::NoSuchActor {
                object: echo(object.as_str()),
            });
        }
        Ok((object.clone(), name.to_owned()))
    }

    /// `Accept` / `Reject`: the `Follow` answered must be one this server
    /// sent to the sender. Found by the Follow's id, or, for an embedded
    /// Follow whose id is unknown or absent, by the pair follower/followee.
    pub(super) async fn authorize_reply(
        &self,
        kind: Kind,
        incoming: &Incoming,
        activity: &Activity,
    ) -> Result<SentFollow, DispatchError> {
        let object =
            first_object(activity).ok_or_else(|| malformed(kind, incoming, "no object"))?;
        let mut found = match object.id() {
            Some(id) => self.graph.sent_follow(id).await?,
            None => None,
        };
        if found.is_none()
            && let Some(AnyObject::Activity(follow)) = object.as_object()
            && let (Some(follower), Some(followee)) = (follow.actor_id(), follow.object_id())
        {
            found = self.graph.sent_follow_between(follower, followee).await?;
        }
        let Some(sent) = found else {
            return Err(DispatchError::UnknownFollow {
                kind: kind.as_str(),
                follow: echo(object.id().map_or("(embedded, no id)", Iri::as_str)),
                actor: echo(incoming.actor.as_str()),
            });
        };
        if sent.followee != incoming.actor {
            return Err(DispatchError::WrongFollowee {
                kind: kind.as_str(),
                follow: echo(sent.id.as_str()),
                followee: echo(sent.followee.as_str()),
                actor: echo(incoming.actor.as_str()),
            });
        }
        Ok(sent)
    }

    /// `Undo`: the undone activity must have been performed by the sender.
    /// Returns the undone activity's id, kind and object.
    pub(super) async fn authorize_undo(
        &self,
        incoming: &Incoming,
        activity: &Activity,
    ) -> Result<(Iri, Option<Kind>, Option<Iri>), DispatchError> {
        let object = first_object(activity)
            .ok_or_else(|| malformed(Kind::Undo, incoming, "no activity to undo"))?;
        match object {
            Reference::Iri(iri) => {
                self.check_iri_owner(Kind::Undo, incoming, iri).await?;
                Ok((iri.clone(), None, None))
            }
            Reference::Object(inner) => {
                let AnyObject::Activity(undone) = inner.as_ref() else {
                    return Err(malformed(
                        Kind::Undo,
                        incoming,
                        "the undone object is not an activity",
                    ));
                };
                let id = inner.id().ok_or_else(|| {
                    malformed(Kind::Undo, incoming, "the undone activity has no id")
                })?;
                if let Some(other) = foreign_author(inner, &incoming.actor) {
                    return Err(not_owner(Kind::Undo, id, other.as_str(), &incoming.actor));
                }
                // The embedded `actor` is only the sender's claim: the id must
                // also be the sender's (stored owner, else same origin), or a
                // forged copy of someone else's Like, keyed by its id, would
                // undo it.
                self.check_iri_owner(Kind::Undo, incoming, id).await?;
                Ok((id.clone(), inner.kind(), undone.object_id().cloned()))
            }
        }
    }

    /// `Create` / `Update`: the object the handler gets, owned by the
    /// sender: the embedded copy when the signature vouches for it, else
    /// the copy its origin serves. An `Update` also needs the stored owner
    /// (or the same origin); a `Create` must not name an object stored as
    /// someone else's.
    pub(super) async fn authorize_write(
        &self,
        kind: Kind,
        incoming: &Incoming,
    ) -> Result<AnyObject, DispatchError> {
        let actor = &incoming.actor;
        let activity = incoming
            .activity
            .as_activity()
            .ok_or_else(|| malformed(kind, incoming, "not an activity"))?;
        let claimed = first_object(activity).and_then(Reference::as_object);
        // An embedded copy naming another author is a false claim, whatever
        // its origin would say: refused without a fetch.
        if let Some(claim) = claimed
            && let Some(other) = foreign_author(claim, actor)
        {
            let iri = claim.id().unwrap_or(actor);
            return Err(not_owner(kind, iri, other.as_str(), actor));
        }
        let object = match incoming.object() {
            EmbeddedObject::Trusted(object) => object.clone(),
            EmbeddedObject::FetchFromOrigin(iri) => {
                let fetched = self.fetch_from_origin(kind, iri).await?;
                require_authored_by(kind, &fetched, iri, actor)?;
                fetched
            }
            _ => {
                return Err(malformed(
                    kind,
                    incoming,
                    "no object, or an embedded object without id or author",
                ));
            }
        };
        if let Some(id) = object.id() {
            if kind == Kind::Update {
                self.check_iri_owner(kind, incoming, id).await?;
            } else {
                // A Create must not overwrite what someone else owns here.
                self.check_stored_owner(kind, incoming, id).await?;
            }
        }
        Ok(object)
    }

    /// `Delete`: the sender deletes itself, or something it owns (stored
    /// owner, else same origin). Returns the object's IRI and whether it
    /// is the sender itself.
    pub(super) async fn authorize_delete(
        &self,
        incoming: &Incoming,
        activity: &Activity,
    ) -> Result<(Iri, bool), DispatchError> {
        let actor = &incoming.actor;
        let object = first_object(activity)
            .ok_or_else(|| malformed(Kind::Delete, incoming, "no object to delete"))?;
        let iri = object
            .id()
            .ok_or_else(|| malformed(Kind::Delete, incoming, "the object has no id"))?;
        if iri == actor {
            return Ok((iri.clone(), true));
        }
        if let Some(embedded) = object.as_object()
            && let Some(other) = foreign_author(embedded, actor)
        {
            return Err(not_owner(Kind::Delete, iri, other.as_str(), actor));
        }
        self.check_iri_owner(Kind::Delete, incoming, iri).await?;
        Ok((iri.clone(), false))
    }

    /// `Move`: an account moves only itself (its `object` is the sender).
    pub(super) fn authorize_move(
        &self,
        incoming: &Incoming,
        activity: &Activity,
    ) -> Result<(), DispatchError> {
        let object = activity
            .object_id()
            .ok_or_else(|| malformed(Kind::Move, incoming, "no account to move"))?;
        if *object == incoming.actor {
            Ok(())
        } else {
            Err(not_owner(
                Kind::Move,
                object,
                object.as_str(),
                &incoming.actor,
            ))
        }
    }

    /// Fetches `iri` from its origin: it must be served at its own id, and
    /// that id must be `iri`.
    async fn fetch_from_origin(&self, kind: Kind, iri: &Iri) -> Result<AnyObject, DispatchError> {
        let fetcher = self
            .fetcher
            .as_ref()
            .ok_or_else(|| DispatchError::NoFetcher {
                kind: kind.as_str(),
                object: echo(iri.as_str()),
            })?;
        let fetch_error = |source| DispatchError::Fetch {
            kind: kind.as_str(),
            object: echo(iri.as_str()),
            source: Box::new(source),
        };
        let url = iri.to_url().map_err(|source| {
            fetch_error(crate::fetch::FetchError::Vocab {
                url: echo(iri.as_str()),
                source,
            })
        })?;
        let document = fetcher
            .fetch_authoritative(&url)
            .await
            .map_err(fetch_error)?;
        let object = AnyObject::from_value(&document).map_err(|source| {
            fetch_error(crate::fetch::FetchError::Vocab {
                url: echo(iri.as_str()),
                source,
            })
        })?;
        match object.id() {
            Some(id) if id == iri => Ok(object),
            other => Err(DispatchError::FetchedOther {
                kind: kind.as_str(),
                object: echo(iri.as_str()),
                fetched: echo(other.map_or("(no id)", Iri::as_str)),
            }),
        }
    }
}
