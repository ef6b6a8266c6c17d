//! Relays: servers that repeat the public posts of every subscribed
//! server to all the others, so that a small server's federated timeline
//! is not empty. Two kinds are in use, and both are spoken here
//! ([`RelayKind`]):
//!
//! * **Mastodon-style** (pub-relay, ActivityRelay, Aode relay): the
//!   instance actor sends a `Follow` of
//!   `https://www.w3.org/ns/activitystreams#Public` to the relay's inbox;
//!   once accepted, the relay re-sends each public activity it receives,
//!   *unchanged*, HTTP-signed by the relay.
//! * **LitePub** (Pleroma's relay): the instance actor follows the relay's
//!   actor; the relay then sends an `Announce` of each activity (or of its
//!   object).
//!
//! # The decisions
//!
//! * **Who subscribes.** The instance actor ([`Federation::instance_actor`]),
//!   as Mastodon and Pleroma do: a subscription is the server's, not a
//!   user's. Only the operator subscribes ([`Federation::subscribe_relay`]);
//!   the table is bounded ([`DEFAULT_MAX_RELAYS`]) and a relay's messages
//!   only ever change its own entry.
//! * **What a relay's answer may do.** An `Accept` or `Reject` counts only
//!   if it names the `Follow` this server sent (by id, embedded or not) and
//!   comes from the relay: the relay's actor for LitePub, an actor on the
//!   relay inbox's origin for a Mastodon-style relay (whose actor is
//!   learnt from its `Accept`). Nothing is delivered to a relay before its
//!   `Accept`; a `Reject` removes the subscription.
//! * **What goes to relays.** Local actors' `Create`, `Update`, `Delete`
//!   and `Announce` addressed to `Public` in `to` (not unlisted, not
//!   followers-only: Mastodon's rule), sent by [`Federation::send`] to
//!   every accepted relay's inbox, signed by the author. Sign public
//!   activities ([`ObjectSigning`](super::outbox::ObjectSigning)) so that
//!   the servers that receive them through the relay can check them
//!   without a fetch.
//! * **What is believed from a relay.** A relay vouches for nothing: an
//!   activity it passes on is believed only as its actor's. A
//!   Mastodon-style relay's unchanged copy arrives through the inbox's
//!   forwarded path ([`inbox`](crate::inbox#what-a-signature-proves)): an
//!   LD signature, an integrity proof or the origin's copy must establish
//!   it. A subscribed relay's `Announce` of an embedded activity is
//!   checked the same way ([`Federation::verify_forwarded`]), from the
//!   document as the relay sent it; an `Announce` of an activity's IRI is
//!   believed from the copy its origin serves at that IRI. The activity is
//!   then dispatched as its actor's, with [`Incoming::forwarded_by`](crate::inbox::Incoming::forwarded_by) naming
//!   the relay and [`Incoming::authenticity`](crate::inbox::Incoming::authenticity) saying how it was
//!   established, through every rule of the [`Dispatcher`]; an activity
//!   already seen (delivered directly, or by another relay) is dropped. An
//!   `Announce` of something that is not an activity (a LitePub relay
//!   repeating a `Note` by IRI), and any `Announce` from an actor that is
//!   not a subscribed relay, is an ordinary `Announce`.
//! * **What checking it costs.** The key fetches and re-fetches made to
//!   establish what an accepted relay (its actor, by exact IRI) passes on
//!   are charged to a relay budget of 600 a minute, twenty times a
//!   forwarding server's (passing posts on is a relay's job), and to the
//!   origins fetched (60 a minute each). What a spent origin budget leaves unchecked is not refused: the
//!   inbox answers `503`, or the inbound queue tries the `Announce` again
//!   later.
//! * **A LitePub relay's follow-back** (Pleroma's relay follows each
//!   subscriber's instance actor) is accepted by the instance actor; it
//!   changes nothing else, since posts reach relays as subscriptions, not
//!   as followers.
//!
//! The [`Dispatcher`] of [`Federation::dispatcher`] applies these rules
//! before its own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use archipel::federation::Federation;
//! use archipel::federation::relay::{RelayKind, RelayState};
//! let fed = Federation::builder("https://a.example".parse()?).build().await?;
//! let relay = fed
//!     .subscribe_relay(&"https://relay.example/inbox".parse()?, RelayKind::Mastodon)
//!     .await?;
//! // Pending until the relay accepts: nothing is delivered to it yet.
//! assert_eq!(relay.state, RelayState::Pending);
//! assert_eq!(relay.follow_actor(), fed.instance_actor().id());
//! assert_eq!(fed.relays().await?.len(), 1);
//! fed.unsubscribe_relay(&relay.id).await?;
//! assert!(fed.relays().await?.is_empty());
//! # Ok(()) }
//! ```

mod error;
mod incoming;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use error::RelayError;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteRelays;
pub use store::{MemoryRelays, RelayStore};

use url::Url;

use crate::delivery::{DeliveryPlan, JobId, NewActivity, Recipient};
use crate::vocab::{Activity, AnyObject, Iri, Kind, Reference, Visibility};

use super::dispatch::Dispatcher;
use super::error::FederationError;
use super::hub::Federation;
use super::local::LocalActor;
use super::visibility::read_visibility;

#[cfg(test)]
mod tests;

pub(crate) use incoming::intercept;

/// The default cap on relay subscriptions: 100.
pub const DEFAULT_MAX_RELAYS: usize = 100;

/// The two relay protocols in use (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RelayKind {
    /// pub-relay and its successors: a `Follow` of `Public`, sent to the
    /// relay's inbox; activities come back unchanged.
    Mastodon,
    /// Pleroma's relay: a `Follow` of the relay's actor; activities come
    /// back as `Announce`s.
    LitePub,
}

impl RelayKind {
    /// `mastodon` or `litepub`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RelayKind::Mastodon => "mastodon",
            RelayKind::LitePub => "litepub",
        }
    }

    /// The kind named by [`RelayKind::as_str`].
    pub fn parse(s: &str) -> Option<RelayKind> {
        match s {
            "mastodon" => Some(RelayKind::Mastodon),
            "litepub" => Some(RelayKind::LitePub),
            _ => None,
        }
    }
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RelayState {
    /// The `Follow` was sent; nothing is delivered to the relay yet.
    Pending,
    /// The relay accepted: public posts go to it.
    Accepted,
}

/// One relay subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Relay {
    /// What the operator subscribed to: the relay's inbox (Mastodon-style)
    /// or its actor (LitePub). The key of the subscription.
    pub id: Iri,
    /// The protocol.
    pub kind: RelayKind,
    /// Where the `Follow`, the `Undo` and public posts are sent.
    pub inbox: Iri,
    /// The relay's actor: known from the start for LitePub, from its
    /// `Accept` for a Mastodon-style relay.
    pub actor: Option<Iri>,
    /// The `id` of the `Follow` this server sent.
    pub follow: Iri,
    /// The local actor that follows: the instance actor.
    pub follower: Iri,
    /// Pending or accepted.
    pub state: RelayState,
}

impl Relay {
    /// The local actor the subscription is made by.
    pub fn follow_actor(&self) -> &Iri {
        &self.follower
    }

    /// The `Follow` this server sent for the subscription: of `Public`
    /// (Mastodon-style) or of the relay's actor (LitePub).
    pub fn follow_activity(&self) -> Activity {
        let object = match (self.kind, &self.actor) {
            (RelayKind::LitePub, Some(actor)) => actor.clone(),
            _ => Iri::new_unchecked(crate::vocab::audience::PUBLIC),
        };
        let follow = Activity::follow(self.follow.clone(), self.follower.clone(), object.clone());
        match self.kind {
            RelayKind::LitePub => follow.with_to(vec![object]),
            RelayKind::Mastodon => follow,
        }
    }

    /// Whether `actor` speaks for this relay: its actor once known, else
    /// (a Mastodon-style relay before its `Accept`) an actor on its
    /// inbox's origin.
    pub(crate) fn is_sent_by(&self, actor: &Iri) -> bool {
        match &self.actor {
            Some(known) => known == actor,
            None => crate::client::same_origin(actor.as_str(), self.inbox.as_str()),
        }
    }
}

fn url_of(iri: &Iri) -> Result<Url, RelayError> {
    iri.to_url()
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| RelayError::NotHttp {
            iri: crate::inbox::echo(iri.as_str()),
        })
}

impl Federation {
    /// Subscribes this server to the relay `relay`: its inbox for a
    /// Mastodon-style relay, its actor for a LitePub relay (fetched, for
    /// its inbox). The instance actor's `Follow` is queued and the
    /// subscription kept as [`RelayState::Pending`] until the relay's
    /// `Accept` (handled by [`Federation::dispatcher`]'s dispatchers).
    /// Subscribing again to the same relay sends a new `Follow`.
    ///
    /// # Errors
    /// [`RelayError::NotHttp`], [`RelayError::Full`], the fetch of a LitePub
    /// relay's actor ([`FederationError::Remote`]), or the queue's.
    pub async fn subscribe_relay(
        &self,
        relay: &Iri,
        kind: RelayKind,
    ) -> Result<Relay, FederationError> {
        url_of(relay)?;
        let (inbox, actor) = match kind {
            RelayKind::Mastodon => (relay.clone(), None),
            RelayKind::LitePub => {
                let remote = self.actors().get(relay).await?;
                let inbox = remote.shared_inbox().unwrap_or(remote.inbox()).clone();
                (inbox, Some(remote.id().clone()))
            }
        };
        let instance = self.instance_actor().clone();
        let subscription = Relay {
            id: relay.clone(),
            kind,
            inbox,
            actor,
            follow: self.new_activity_id()?,
            follower: instance.id().clone(),
            state: RelayState::Pending,
        };
        // Kept first, so that an Accept arriving at once is recognised.
        self.relay_store().put(subscription.clone()).await?;
        self.refresh_relay_actors().await;
        let follow = subscription.follow_activity();
        self.deliver_to_relays(&instance, &follow, [&subscription])
            .await?;
        Ok(subscription)
    }

    /// Ends the subscription to `relay` (as given to
    /// [`Federation::subscribe_relay`]): it is forgotten, so no post goes
    /// to the relay any more, and an `Undo` of the `Follow` is queued to
    /// its inbox. `None` when there was no such subscription.
    ///
    /// # Errors
    /// The store's or the queue's.
    pub async fn unsubscribe_relay(&self, relay: &Iri) -> Result<Option<Relay>, FederationError> {
        let Some(subscription) = self.relay_store().remove(relay).await? else {
            return Ok(None);
        };
        self.refresh_relay_actors().await;
        let instance = self.instance_actor().clone();
        let follow = subscription.follow_activity();
        let mut undo = Activity::undo(
            self.new_activity_id()?,
            instance.id().clone(),
            Reference::from(AnyObject::Activity(Box::new(follow))),
        );
        if let Some(actor) = &subscription.actor {
            undo = undo.with_to(vec![actor.clone()]);
        }
        self.deliver_to_relays(&instance, &undo, [&subscription])
            .await?;
        Ok(Some(subscription))
    }

    /// Every relay subscription, pending or accepted.
    ///
    /// # Errors
    /// The store's.
    pub async fn relays(&self) -> Result<Vec<Relay>, FederationError> {
        Ok(self.relay_store().all().await?)
    }

    /// The relay subscriptions' store
    /// ([`FederationBuilder::with_relay_store`](super::FederationBuilder::with_relay_store)).
    pub fn relay_store(&self) -> &std::sync::Arc<dyn RelayStore> {
        &self.inner.relays
    }

    /// Reads which relays are accepted again from the store, for the
    /// forwarded verifier's relay budget (see
    /// [`ForwardedVerifier`](super::forwarding::ForwardedVerifier)). A
    /// store that cannot be read leaves the set as it was: the change
    /// itself was made, and only a relay's budget is at stake.
    pub(crate) async fn refresh_relay_actors(&self) {
        match self.relay_store().all().await {
            Ok(relays) => self.inner.relay_actors.replace(&relays),
            #[cfg(feature = "delivery")]
            Err(e) => tracing::warn!(error = %e, "relay store unreadable; relay budgets unchanged"),
            #[cfg(not(feature = "delivery"))]
            Err(_) => {}
        }
    }

    /// Queues `activity`, signed by `signer`, to each of `relays`' inboxes.
    pub(crate) async fn deliver_to_relays<'a>(
        &self,
        signer: &LocalActor,
        activity: &Activity,
        relays: impl IntoIterator<Item = &'a Relay>,
    ) -> Result<Vec<JobId>, FederationError> {
        let mut recipients = Vec::new();
        for relay in relays {
            recipients.push(Recipient::new(url_of(&relay.inbox)?));
        }
        if recipients.is_empty() {
            return Ok(Vec::new());
        }
        let plan = DeliveryPlan::new(activity, recipients, self.plan_options())?;
        if plan.inboxes().is_empty() {
            return Ok(Vec::new());
        }
        let job = NewActivity::from_plan(&plan, signer.key_id().clone());
        Ok(self.enqueue(job).await?)
    }

    /// The relay half of [`Federation::send`]: a local actor's public
    /// `Create`, `Update`, `Delete` or `Announce` goes to every accepted
    /// relay (see the [module docs](self)).
    pub(crate) async fn send_to_relays(
        &self,
        author: &LocalActor,
        activity: &Activity,
    ) -> Result<Vec<JobId>, FederationError> {
        if author.id() == self.instance_actor().id() || !is_relayable(activity, author) {
            return Ok(Vec::new());
        }
        let relays = self.relay_store().all().await?;
        let accepted = relays.iter().filter(|r| r.state == RelayState::Accepted);
        self.deliver_to_relays(author, activity, accepted).await
    }
}

/// Whether a relay should repeat `activity`: a `Create`, `Update`,
/// `Delete` or `Announce`, public (not unlisted), and its embedded object
/// too.
pub fn is_relayable(activity: &Activity, author: &LocalActor) -> bool {
    let kinds = [Kind::Create, Kind::Update, Kind::Delete, Kind::Announce];
    activity
        .type_names()
        .find_map(Kind::from_name)
        .is_some_and(|k| kinds.contains(&k))
        && read_visibility(activity, author) == Visibility::Public
        && activity
            .embedded_object()
            .and_then(AnyObject::as_object)
            .is_none_or(|o| {
                // A Delete embeds a Tombstone, which carries no addressing.
                o.has_type("Tombstone") || read_visibility(o, author) == Visibility::Public
            })
}

impl Dispatcher {
    /// Handles the relay subscriptions of `fed` before the rules (see the
    /// [module docs](self)): [`Federation::dispatcher`] does it for you.
    pub fn with_relays(mut self, fed: &Federation) -> Dispatcher {
        self.relays = Some(fed.clone());
        self
    }
}
