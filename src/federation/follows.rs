//! Following, in one call each: [`Federation::follow`],
//! [`Federation::unfollow`], and the answers to a `Follow` received,
//! [`Federation::accept`] and [`Federation::reject`] (ActivityPub §7.5,
//! §7.6, §7.7).
//!
//! Each records what the [`Graph`](super::Graph) must know before it
//! sends: a `Follow` sent is recorded so that only its followee's `Accept`
//! is believed ([`dispatch`](super::dispatch)); an accepted follower is
//! recorded before the `Accept` leaves, so the first post after it reaches
//! them.

use super::dispatch::Follow;
use super::error::FederationError;
use super::graph::SentFollow;
use super::hub::{Federation, Sent};
use super::local::LocalActor;
use crate::vocab::{Activity, AnyObject, Iri, Reference};

fn embed(activity: Activity) -> Reference {
    Reference::from(AnyObject::Activity(Box::new(activity)))
}

impl Federation {
    /// `local` follows `remote`: sends a `Follow` to it, recorded as sent
    /// (the graph says "following" only once its `Accept` arrives).
    ///
    /// # Errors
    /// [`FederationError::Graph`], or as [`Federation::send`].
    pub async fn follow(&self, local: &LocalActor, remote: &Iri) -> Result<Sent, FederationError> {
        let id = self.new_activity_id()?;
        let follow = Activity::follow(id.clone(), local.id().clone(), remote.clone())
            .with_to(vec![remote.clone()]);
        self.graph()
            .record_sent_follow(SentFollow {
                id,
                follower: local.id().clone(),
                followee: remote.clone(),
            })
            .await?;
        self.send(local, &follow).await
    }

    /// `local` stops following `remote`: an `Undo` of the `Follow` sent
    /// (embedded, as Mastodon expects), and the graph forgets both the
    /// request and the relationship.
    ///
    /// # Errors
    /// [`FederationError::NotFollowing`] when there is nothing to undo.
    pub async fn unfollow(
        &self,
        local: &LocalActor,
        remote: &Iri,
    ) -> Result<Sent, FederationError> {
        let graph = self.graph();
        let Some(sent) = graph.sent_follow_between(local.id(), remote).await? else {
            let was = graph.remove_following(local.id(), remote).await?;
            if !was {
                return Err(FederationError::NotFollowing {
                    follower: local.id().clone(),
                    followee: remote.clone(),
                });
            }
            // Following without a remembered Follow (made elsewhere): undo
            // a Follow rebuilt with a fresh id, which servers match by pair.
            let follow =
                Activity::follow(self.new_activity_id()?, local.id().clone(), remote.clone());
            return self.send_undo(local, remote, follow).await;
        };
        graph.forget_sent_follow(&sent.id).await?;
        graph.remove_following(local.id(), remote).await?;
        let follow = Activity::follow(sent.id, local.id().clone(), remote.clone());
        self.send_undo(local, remote, follow).await
    }

    async fn send_undo(
        &self,
        local: &LocalActor,
        remote: &Iri,
        follow: Activity,
    ) -> Result<Sent, FederationError> {
        let undo = Activity::undo(self.new_activity_id()?, local.id().clone(), embed(follow))
            .with_to(vec![remote.clone()]);
        self.send(local, &undo).await
    }

    /// Accepts a `Follow` of `local` (from the dispatcher's `on_follow`):
    /// records the follower, then sends an `Accept` embedding the `Follow`.
    ///
    /// # Errors
    /// [`FederationError::NotTheFollowee`] if `local` is not the followee.
    pub async fn accept(
        &self,
        local: &LocalActor,
        follow: &Follow,
    ) -> Result<Sent, FederationError> {
        let follower = self.check_followee(local, follow)?;
        self.graph().add_follower(local.id(), &follower).await?;
        let accept = Activity::accept(
            self.new_activity_id()?,
            local.id().clone(),
            embed(follow.activity.clone()),
        )
        .with_to(vec![follower]);
        self.send(local, &accept).await
    }

    /// Rejects a `Follow` of `local` (or removes an accepted follower):
    /// the graph forgets the follower, then a `Reject` embedding the
    /// `Follow` is sent.
    ///
    /// # Errors
    /// [`FederationError::NotTheFollowee`] if `local` is not the followee.
    pub async fn reject(
        &self,
        local: &LocalActor,
        follow: &Follow,
    ) -> Result<Sent, FederationError> {
        let follower = self.check_followee(local, follow)?;
        self.graph().remove_follower(local.id(), &follower).await?;
        let reject = Activity::reject(
            self.new_activity_id()?,
            local.id().clone(),
            embed(follow.activity.clone()),
        )
        .with_to(vec![follower]);
        self.send(local, &reject).await
    }

    fn check_followee(&self, local: &LocalActor, follow: &Follow) -> Result<Iri, FederationError> {
        if follow.followee != *local.id() {
            return Err(FederationError::NotTheFollowee {
                actor: local.id().clone(),
                followee: follow.followee.clone(),
            });
        }
        // The dispatcher checked the Follow's actor is the signer.
        follow
            .activity
            .actor_id()
            .cloned()
            .ok_or_else(|| FederationError::NotTheFollowee {
                actor: local.id().clone(),
                followee: follow.followee.clone(),
            })
    }
}
