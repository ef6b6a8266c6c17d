//! The sending side: [`Federation::move_account`].

use crate::vocab::{Activity, AnyObject, Iri, Kind};

use super::super::hub::{Federation, Sent};
use super::super::local::LocalActor;
use super::{Account, MigrationError, check_alias, fresh_actor};

/// What [`Federation::move_account`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Moved {
    /// The local actor as now registered, with its `movedTo`.
    pub actor: LocalActor,
    /// The `Move` sent.
    pub activity: Activity,
    /// The delivery of the `Update` of the actor.
    pub update: Sent,
    /// The delivery of the `Move`.
    pub sent: Sent,
}

impl Federation {
    /// Moves the local actor `actor` to the account `target` (elsewhere,
    /// or on this server): checks that the target lists `actor` in its
    /// `alsoKnownAs` (fetched fresh), registers `actor` with `movedTo` set
    /// (its document shows it from now on), then sends an `Update` of the
    /// actor and the `Move` to its followers, whose servers follow the
    /// target for them once they have checked the same.
    ///
    /// `movedTo` lives in this handle's registry: an application that
    /// restarts keeps it itself and registers the actor with
    /// [`LocalActor::with_moved_to`] at start-up.
    ///
    /// # Errors
    /// [`MigrationError::SameAccount`], [`MigrationError::NotLocal`] for
    /// an actor of another server; [`MigrationError::Fetch`] or
    /// [`MigrationError::NotAnActor`] when the target cannot be read;
    /// [`MigrationError::NotAnAlias`] when it does not list `actor`;
    /// [`MigrationError::TargetMoved`] when it moved on to a third account;
    /// [`MigrationError::Send`] when the deliveries cannot be queued.
    pub async fn move_account(
        &self,
        actor: &LocalActor,
        target: &Iri,
    ) -> Result<Moved, MigrationError> {
        if target == actor.id() {
            return Err(MigrationError::SameAccount {
                origin: actor.id().clone(),
            });
        }
        if self.paths().local_name(actor.id()).is_none() {
            return Err(MigrationError::NotLocal {
                actor: actor.id().clone(),
            });
        }
        let target_doc = fresh_actor(self, Account::Target, target, actor.id()).await?;
        check_alias(&target_doc, actor.id(), target)?;
        // The registered actor carries what the application set (locked,
        // display name); the one given may be an older copy.
        let current = self
            .local_by_id(actor.id())
            .unwrap_or_else(|| actor.clone());
        let moved = current.with_moved_to(Some(target.clone()));
        self.register(moved.clone());
        let followers = vec![moved.followers().clone()];
        let update = Activity::update(
            self.new_activity_id()?,
            moved.id().clone(),
            AnyObject::Actor(Box::new(moved.document())),
        )
        .with_to(followers.clone());
        let update = self.send(&moved, &update).await?;
        let mut activity = Activity::new(Kind::Move, self.new_activity_id()?, moved.id().clone())
            .with_to(followers);
        activity.object = Some(moved.id().clone().into());
        activity.target = Some(target.clone().into());
        let sent = self.send(&moved, &activity).await?;
        Ok(Moved {
            actor: moved,
            activity,
            update,
            sent,
        })
    }
}
