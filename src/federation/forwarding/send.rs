//! The sending side of inbox forwarding (ActivityPub §7.1.2):
//! [`Federation::forward`].

use std::collections::HashSet;

use serde_json::Value;
use url::Url;

use crate::delivery::{DeliveryPlan, JobId, NewActivity, PreparedBody};
use crate::federation::dispatch::{Cx, DispatchError, OwnerLookup};
use crate::federation::recipients::{RecipientResolver, addressees};
use crate::federation::{Federation, FederationError, LocalActor};
use crate::inbox::{Incoming, echo};
use crate::vocab::{Activity, Iri};

use super::{first, iris};

/// How far [`Federation::forward`] follows `inReplyTo` through objects of
/// other servers looking for one of this server's (ActivityPub §7.1.2:
/// "SHOULD recurse … with a server-defined limit"): 3 fetches.
pub const MAX_REPLY_DEPTH: usize = 3;

/// What [`Federation::forward`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Forwarded {
    /// The original bytes were queued for these inboxes (one per shared
    /// inbox), signed by the owner of the collection addressed.
    Sent {
        /// The inboxes queued, in first-seen order.
        inboxes: Vec<Url>,
        /// The delivery jobs, one per inbox.
        jobs: Vec<JobId>,
    },
    /// Nothing was sent, and why.
    NotForwarded {
        /// Which condition of §7.1.2 did not hold.
        reason: NotForwarded,
    },
}

/// Why [`Federation::forward`] sent nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotForwarded {
    /// The activity is this server's own: it was delivered when sent.
    Local,
    /// It addresses no followers collection of a local actor loaded here.
    NoLocalCollection,
    /// Neither its `inReplyTo` nor its `object` (nor its embedded object's
    /// `inReplyTo`, nor replies up to [`MAX_REPLY_DEPTH`] away) is an
    /// object of this server. A `tag` (a `Mention`) never counts: anyone
    /// can mention anyone.
    NotAboutUs,
    /// It concerns objects of this server, but none whose owner (as the
    /// [`OwnerLookup`] says) is a local actor whose followers collection it
    /// addresses: a reply to bob's post cc'ing alice's followers is not
    /// passed on to alice's followers under alice's key.
    NotTheOwners,
    /// Every follower's inbox is on the activity's own origin, on the
    /// forwarder's, or is refused by the plan (local, blocked).
    NoRecipients,
    /// It is not an activity this server can read (no `id`).
    NotAnActivity,
}

impl Federation {
    /// Forwards `incoming` to the local followers it concerns (ActivityPub
    /// §7.1.2, "Forwarding from Inbox"), as the exact bytes received
    /// ([`Incoming::body`]), so their signature or proof still verifies.
    ///
    /// Only when every condition of the spec holds, read as Mastodon does:
    /// - it is the first time this server sees the activity: the inbox
    ///   hands over each activity `id` once (its dedup store), so call this
    ///   from the handler of an [`Incoming`], once;
    /// - it is not this server's own activity;
    /// - its `to`, `cc` or `audience` names the followers collection of a
    ///   local actor loaded here ([`Federation::actor`]), the *owner*;
    /// - its `inReplyTo` or `object`, or its embedded object's
    ///   `inReplyTo`, names an object of this server (following
    ///   `inReplyTo` through other servers' objects, at most
    ///   [`MAX_REPLY_DEPTH`] fetches) that the owner owns: `owners` (the
    ///   application's store, e.g. `store::Posts`) says who owns a local
    ///   object, and a local actor owns itself. When no owner can be
    ///   established it is not forwarded. A `tag` never counts.
    ///
    /// It then goes to the owner's followers only (the collection named,
    /// so a followers-only reply reaches no one else), one delivery per
    /// shared inbox, never to the activity's own origin nor to the server
    /// that forwarded it here, through the delivery queue, signed with the
    /// owner's key.
    ///
    /// Activities without an LD signature or integrity proof are forwarded
    /// too: ActivityPub does not ask for one, and receivers that check the
    /// origin's copy (archipel's [`ForwardedVerifier`](super::ForwardedVerifier),
    /// for one) can believe them; receivers that only believe signatures
    /// (Mastodon) drop them, at the cost of one request each.
    ///
    /// # Errors
    /// [`FederationError::Graph`] when the followers cannot be read,
    /// [`FederationError::Dispatch`] when `owners` fails,
    /// [`FederationError::Delivery`] when the jobs cannot be queued.
    pub async fn forward(
        &self,
        incoming: &Incoming,
        owners: &dyn OwnerLookup,
    ) -> Result<Forwarded, FederationError> {
        let Some(activity) = incoming.activity.as_activity() else {
            return Ok(not(NotForwarded::NotAnActivity));
        };
        let received = Received {
            actor: &incoming.actor,
            forwarded_by: incoming.forwarded_by.as_ref(),
            activity,
            body: &incoming.body,
        };
        self.forward_received(received, owners).await
    }

    /// [`Federation::forward`] from a dispatcher handler, which holds the
    /// [`Cx`] and the typed activity rather than the [`Incoming`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use archipel::federation::Federation;
    /// use archipel::federation::store::{MemoryPosts, Posts};
    ///
    /// let fed = Federation::builder("https://b.example".parse()?).build().await?;
    /// // Who owns each local post: the store the outbox records into.
    /// let posts = Posts::new(Arc::new(MemoryPosts::new()), fed.graph().clone());
    /// let handle = fed.clone();
    /// let dispatcher = fed.dispatcher().on_create(move |cx, create| {
    ///     let (fed, posts) = (handle.clone(), posts.clone());
    ///     async move {
    ///         // Store the reply, then pass it on to the followers it concerns.
    ///         fed.forward_from(&cx, &create.activity, &posts).await?;
    ///         Ok(())
    ///     }
    /// });
    /// # drop(dispatcher);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Federation::forward`].
    pub async fn forward_from(
        &self,
        cx: &Cx,
        activity: &Activity,
        owners: &dyn OwnerLookup,
    ) -> Result<Forwarded, FederationError> {
        let received = Received {
            actor: cx.actor(),
            forwarded_by: cx.forwarded_by(),
            activity,
            body: cx.body(),
        };
        self.forward_received(received, owners).await
    }

    async fn forward_received(
        &self,
        incoming: Received<'_>,
        lookup: &dyn OwnerLookup,
    ) -> Result<Forwarded, FederationError> {
        if self.inner.paths.is_local(incoming.actor) {
            return Ok(not(NotForwarded::Local));
        }
        let activity = incoming.activity;
        let addressed: Vec<LocalActor> = addressees(activity)
            .iter()
            .filter_map(|iri| self.followers_owner(iri))
            .collect();
        if addressed.is_empty() {
            return Ok(not(NotForwarded::NoLocalCollection));
        }
        let document: Value = serde_json::from_slice(incoming.body).unwrap_or(Value::Null);
        let ours = self.local_objects(&document).await;
        if ours.is_empty() {
            return Ok(not(NotForwarded::NotAboutUs));
        }
        let mut object_owners: Vec<Iri> = Vec::new();
        for object in &ours {
            if let Some(owner) = self.owner_of(object, lookup).await? {
                object_owners.push(owner);
            }
        }
        // Only the owner of the object concerned vouches for passing it on
        // to its own followers, under its own key.
        let owners: Vec<LocalActor> = addressed
            .into_iter()
            .filter(|a| object_owners.contains(a.id()))
            .collect();
        if owners.is_empty() {
            return Ok(not(NotForwarded::NotTheOwners));
        }
        let mut origins: Vec<&Iri> = vec![incoming.actor];
        origins.extend(incoming.forwarded_by);
        let mut seen: HashSet<Url> = HashSet::new();
        let (mut inboxes, mut jobs) = (Vec::new(), Vec::new());
        for owner in &owners {
            let (targets, plan) = self.followers_inboxes(activity, owner, &origins).await?;
            let fresh: Vec<Url> = targets
                .into_iter()
                .filter(|u| seen.insert(u.clone()))
                .collect();
            if fresh.is_empty() {
                continue;
            }
            let job = NewActivity::new(
                plan.activity_id().clone(),
                PreparedBody::new(incoming.body.clone()),
                owner.key_id().clone(),
                fresh.clone(),
            )
            .with_order_key(plan.order_key());
            jobs.extend(self.enqueue(job).await?);
            inboxes.extend(fresh);
        }
        if inboxes.is_empty() {
            return Ok(not(NotForwarded::NoRecipients));
        }
        Ok(Forwarded::Sent { inboxes, jobs })
    }

    /// The loaded local actor whose followers collection `iri` is.
    fn followers_owner(&self, iri: &Iri) -> Option<LocalActor> {
        self.loaded_actors()
            .into_iter()
            .find(|a| a.followers() == iri)
    }

    /// The shared-inbox-deduplicated inboxes of `owner`'s followers, not on
    /// any of `origins`, with the plan they came from.
    async fn followers_inboxes(
        &self,
        activity: &Activity,
        owner: &LocalActor,
        origins: &[&Iri],
    ) -> Result<(Vec<Url>, DeliveryPlan), FederationError> {
        let followers = self.inner.graph.followers(owner.id()).await?;
        let resolved = RecipientResolver::new(
            self.inner.graph.as_ref(),
            &self.inner.actors,
            &self.inner.paths,
        )
        .resolve_followers(followers, owner.id())
        .await;
        // The plan applies the delivery rules (shared inboxes, local hosts,
        // domain policy); its own body is not what is sent.
        let plan = DeliveryPlan::new(activity, resolved.recipients, self.plan_options())?;
        let inboxes = plan
            .inboxes()
            .iter()
            .filter(|inbox| {
                !origins
                    .iter()
                    .any(|o| crate::client::same_origin(inbox.as_str(), o.as_str()))
            })
            .cloned()
            .collect();
        Ok((inboxes, plan))
    }

    /// The objects of this server `document` concerns: its `inReplyTo` or
    /// `object`, its embedded object's `inReplyTo`, or the first of this
    /// server's found through `inReplyTo` up to [`MAX_REPLY_DEPTH`]
    /// fetches away.
    async fn local_objects(&self, document: &Value) -> Vec<Iri> {
        let mut refs = references(document);
        if let Some(object) = first(document.get("object")).filter(|o| o.is_object()) {
            refs.extend(iris(object.get("inReplyTo")));
        }
        let ours: Vec<Iri> = refs
            .into_iter()
            .filter(|r| self.is_ours(r))
            .map(Iri::new_unchecked)
            .collect();
        if !ours.is_empty() {
            return ours;
        }
        // Replies further down a thread: fetch the parents, a few.
        let mut next = reply_parent(document)
            .or_else(|| first(document.get("object")).and_then(reply_parent))
            .map(str::to_owned);
        for _ in 0..MAX_REPLY_DEPTH {
            let Some(parent) = next.take() else {
                break;
            };
            let Ok(url) = Url::parse(&parent) else {
                break;
            };
            let Ok(fetched) = self.fetcher().fetch_value(&url).await else {
                break;
            };
            match reply_parent(&fetched) {
                Some(p) if self.is_ours(p) => return vec![Iri::new_unchecked(p)],
                Some(p) => next = Some(p.to_owned()),
                None => break,
            }
        }
        Vec::new()
    }

    fn is_ours(&self, iri: &str) -> bool {
        self.inner.paths.is_local(&Iri::new_unchecked(iri))
    }

    /// The owner of the local `object`: itself for a local actor, else what
    /// the application's `lookup` says (`None`: unknown).
    async fn owner_of(
        &self,
        object: &Iri,
        lookup: &dyn OwnerLookup,
    ) -> Result<Option<Iri>, FederationError> {
        if self.inner.paths.local_name(object).is_some() {
            return Ok(Some(object.clone()));
        }
        lookup.owner(object).await.map_err(|source| {
            FederationError::Dispatch(DispatchError::OwnerLookup {
                object: echo(object.as_str()),
                source,
            })
        })
    }
}

/// What forwarding reads of a received activity.
struct Received<'a> {
    actor: &'a Iri,
    forwarded_by: Option<&'a Iri>,
    activity: &'a Activity,
    body: &'a bytes::Bytes,
}

fn not(reason: NotForwarded) -> Forwarded {
    Forwarded::NotForwarded { reason }
}

/// The IRIs of `inReplyTo` and `object` (never `tag`: a mention says
/// nothing about whose thread it is).
fn references(document: &Value) -> Vec<&str> {
    let mut out = iris(document.get("inReplyTo"));
    out.extend(iris(document.get("object")));
    out
}

/// The IRI a document replies to.
fn reply_parent(document: &Value) -> Option<&str> {
    iris(document.get("inReplyTo")).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_read_in_reply_to_and_object_never_tags() {
        let doc = json!({
            "inReplyTo": "https://b.example/n/1",
            "object": {"id": "https://a.example/n/2"},
            "tag": [{"type": "Mention", "href": "https://b.example/u/bob"}, 3],
        });
        assert_eq!(
            references(&doc),
            ["https://b.example/n/1", "https://a.example/n/2"]
        );
    }
}
