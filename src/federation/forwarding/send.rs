//! The sending side of inbox forwarding (ActivityPub §7.1.2):
//! [`Federation::forward`].

use std::collections::HashSet;

use serde_json::Value;
use url::Url;

use crate::delivery::{DeliveryPlan, JobId, NewActivity, PreparedBody};
use crate::federation::dispatch::{Cx, DispatchError, OwnerLookup};
use crate::federation::recipients::{RecipientResolver, addressees};
use crate::federation::{Federation, FederationError, LocalActor};
use crate::inbox::{Incoming, SeenStore as _, echo};
use crate::vocab::{Activity, Iri};

use super::{first, iris};

/// How far [`Federation::forward`] follows `inReplyTo` through objects of
/// other servers looking for one of this server's (ActivityPub §7.1.2:
/// "SHOULD recurse … with a server-defined limit"): 3 fetches.
pub const MAX_REPLY_DEPTH: usize = 3;

/// How many forwards (an activity to one owner's followers)
/// [`Federation::forward`] remembers, so as not to send one twice: 10,000.
pub const FORWARDS_REMEMBERED: usize = 10_000;

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
    /// Neither its `object` given by IRI nor its embedded object's
    /// `inReplyTo` (nor replies up to [`MAX_REPLY_DEPTH`] away) is an
    /// object of this server. What the sender writes of its own does not
    /// count: a `tag` (a `Mention`: anyone can mention anyone), the
    /// activity's own `inReplyTo` (receivers ignore it), an embedded
    /// object's `id`.
    NotAboutUs,
    /// The objects of this server it concerns are not public or unlisted
    /// (or the [`OwnerLookup`] cannot say they are,
    /// [`OwnerLookup::distributable`]): passing it on would tell people
    /// outside a private post's audience about it.
    Private,
    /// This server already passed this activity on to these owners'
    /// followers (a retry of a handler that forwarded it before failing).
    AlreadyForwarded,
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
    /// §7.1.2, "Forwarding from Inbox"), as the bytes of [`Incoming::body`]
    /// (those received; for an activity a relay announced, its document
    /// re-serialized, which its LD signature or proof still covers), so
    /// their signature or proof still verifies.
    ///
    /// Only when every condition of the spec holds, read as Mastodon does:
    /// - it is the first time this server sees the activity: the inbox
    ///   hands over each activity `id` once (its dedup store), so call this
    ///   from the handler of an [`Incoming`];
    /// - it is not this server's own activity;
    /// - its `to`, `cc` or `audience` names the followers collection of a
    ///   local actor loaded here ([`Federation::actor`]), the *owner*;
    /// - its `object` given by IRI, or its embedded object's `inReplyTo`,
    ///   names an object of this server (following `inReplyTo` through
    ///   other servers' objects, at most [`MAX_REPLY_DEPTH`] fetches) that
    ///   the owner owns: `owners` (the application's store, e.g.
    ///   `store::Posts`) says who owns a local object, and a local actor
    ///   owns itself. When no owner can be established it is not
    ///   forwarded. What the sender writes of its own never counts: a
    ///   `tag`, the activity's own `inReplyTo`, an embedded object's `id`;
    /// - that object is public or unlisted ([`OwnerLookup::distributable`];
    ///   a local actor is): a reply to a followers-only or direct post is
    ///   not passed on, as Mastodon does not;
    /// - it was not forwarded to that owner's followers already: a handler
    ///   retried after a failure (the inbound queue's retries, a sender's
    ///   retry after a `5xx`) does not send it twice. The last
    ///   [`FORWARDS_REMEMBERED`] forwards are remembered, in memory.
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
        // Before any fetch: without an id nothing can be remembered as
        // forwarded, so nothing is.
        let Some(id) = activity.id.as_ref() else {
            return Ok(not(NotForwarded::NotAnActivity));
        };
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
        let mut private = false;
        for object in &ours {
            // Only an owner whose followers are addressed can matter: the
            // visibility is read for those alone.
            if let Some(owner) = self.owner_of(object, lookup).await?
                && addressed.iter().any(|a| a.id() == &owner)
            {
                if self.distributable(object, lookup).await? {
                    object_owners.push(owner);
                } else {
                    private = true;
                }
            }
        }
        if object_owners.is_empty() && private {
            return Ok(not(NotForwarded::Private));
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
        // Already passed on to these owners' followers (a retried handler,
        // or the same activity handled twice at once: delivered directly
        // and announced by a relay). Each owner is claimed before anything
        // is sent, so only one of two concurrent calls sends; a claim whose
        // sending fails, or is cut short (the handler timed out and was
        // dropped, or panicked), is given back, so a retry can send it.
        let record = |owner: &LocalActor| format!("{} {}", owner.id(), id);
        let done = &self.inner.forwards;
        let mut claimed = Vec::new();
        let mut claims = Claims {
            store: done,
            records: Vec::new(),
            kept: 0,
        };
        for owner in owners {
            let r = record(&owner);
            if done.insert_if_new(&r).await {
                claims.records.push(r);
                claimed.push(owner);
            }
        }
        if claimed.is_empty() {
            return Ok(not(NotForwarded::AlreadyForwarded));
        }
        let sent = self
            .forward_to_followers(&incoming, activity, &claimed)
            .await;
        // Owners whose jobs were queued keep their claims.
        claims.kept = match &sent {
            Ok(_) => claimed.len(),
            Err((_, queued)) => *queued,
        };
        drop(claims);
        let (inboxes, jobs) = sent.map_err(|(e, _)| e)?;
        if inboxes.is_empty() {
            return Ok(not(NotForwarded::NoRecipients));
        }
        Ok(Forwarded::Sent { inboxes, jobs })
    }

    /// Queues `activity`'s received bytes to the followers of each of
    /// `owners`, each inbox once; returns the inboxes and jobs. On an error,
    /// also how many owners' jobs were queued before it (the rest were not
    /// sent).
    async fn forward_to_followers(
        &self,
        incoming: &Received<'_>,
        activity: &Activity,
        owners: &[LocalActor],
    ) -> Result<(Vec<Url>, Vec<JobId>), (FederationError, usize)> {
        let mut origins: Vec<&Iri> = vec![incoming.actor];
        origins.extend(incoming.forwarded_by);
        // Every owner's inboxes first (the reads that may fail), then the
        // jobs.
        let mut seen: HashSet<Url> = HashSet::new();
        let mut planned = Vec::new();
        for owner in owners {
            let (targets, plan) = self
                .followers_inboxes(activity, owner, &origins)
                .await
                .map_err(|e| (e, 0))?;
            let fresh: Vec<Url> = targets
                .into_iter()
                .filter(|u| seen.insert(u.clone()))
                .collect();
            planned.push((owner, fresh, plan));
        }
        let (mut inboxes, mut jobs) = (Vec::new(), Vec::new());
        for (queued, (owner, fresh, plan)) in planned.into_iter().enumerate() {
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
            jobs.extend(self.enqueue(job).await.map_err(|e| (e.into(), queued))?);
            inboxes.extend(fresh);
        }
        Ok((inboxes, jobs))
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
        let refs = references(document);
        let ours: Vec<Iri> = refs
            .into_iter()
            .filter(|r| self.is_ours(r))
            .map(Iri::new_unchecked)
            .collect();
        if !ours.is_empty() {
            return ours;
        }
        // Replies further down a thread: fetch the parents, a few.
        let mut next = first(document.get("object"))
            .filter(|o| o.is_object())
            .and_then(reply_parent)
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

    /// Whether activities about the local `object` may be passed on: a
    /// local actor always, a post when `lookup` says it is public or
    /// unlisted.
    async fn distributable(
        &self,
        object: &Iri,
        lookup: &dyn OwnerLookup,
    ) -> Result<bool, FederationError> {
        if self.inner.paths.local_name(object).is_some() {
            return Ok(true);
        }
        lookup.distributable(object).await.map_err(|source| {
            FederationError::Dispatch(DispatchError::OwnerLookup {
                object: echo(object.as_str()),
                source,
            })
        })
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

/// What an activity is about, as far as what its sender writes can say:
/// its `object` given by IRI, or its embedded object's `inReplyTo`. Never
/// the activity's own `inReplyTo` (receivers ignore it), an embedded
/// object's `id` (the sender writes it: a `Create` of "our" post with other
/// content) nor a `tag` (a mention says nothing about whose thread it is).
fn references(document: &Value) -> Vec<&str> {
    match first(document.get("object")) {
        Some(Value::String(iri)) => vec![iri.as_str()],
        Some(embedded @ Value::Object(_)) => iris(embedded.get("inReplyTo")),
        _ => Vec::new(),
    }
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
    fn references_are_an_object_iri_or_an_embedded_objects_reply_parent() {
        // What the sender writes of its own never counts.
        let doc = json!({
            "inReplyTo": "https://b.example/n/1",
            "object": {"id": "https://b.example/n/2", "inReplyTo": "https://b.example/n/3"},
            "tag": [{"type": "Mention", "href": "https://b.example/u/bob"}, 3],
        });
        assert_eq!(references(&doc), ["https://b.example/n/3"]);
        let like = json!({"inReplyTo": "https://b.example/n/1", "object": "https://b.example/n/2"});
        assert_eq!(references(&like), ["https://b.example/n/2"]);
        assert!(references(&json!({"object": {"id": "https://b.example/n/2"}})).is_empty());
    }
}

/// Forward claims taken in the record of forwards, given back when dropped
/// except the first `kept` (the owners whose jobs were queued): on a failed
/// send, and when the handler is dropped or panics half-way.
struct Claims<'a> {
    store: &'a crate::inbox::MemorySeenStore,
    records: Vec<String>,
    kept: usize,
}

impl Drop for Claims<'_> {
    fn drop(&mut self) {
        for record in self.records.iter().skip(self.kept) {
            self.store.forget_now(record);
        }
    }
}

#[cfg(test)]
mod claims_tests {
    use super::Claims;
    use crate::inbox::{MemorySeenStore, SeenStore};

    async fn claimed(store: &MemorySeenStore, records: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for r in records {
            assert!(store.insert_if_new(r).await);
            out.push((*r).to_owned());
        }
        out
    }

    #[tokio::test]
    async fn claims_not_kept_are_given_back_when_dropped() {
        let store = MemorySeenStore::new(16);
        let records = claimed(&store, &["a x", "b x", "c x"]).await;
        // The first owner's jobs were queued, then the send failed.
        drop(Claims {
            store: &store,
            records,
            kept: 1,
        });
        assert!(store.contains("a x").await);
        assert!(!store.contains("b x").await);
        assert!(!store.contains("c x").await);
    }

    #[tokio::test]
    async fn a_forward_cut_short_gives_its_claims_back() {
        let store = MemorySeenStore::new(16);
        let records = claimed(&store, &["a y"]).await;
        // A handler dropped while it waits (a timeout): nothing was queued.
        let cut = async {
            let _claims = Claims {
                store: &store,
                records,
                kept: 0,
            };
            std::future::pending::<()>().await;
        };
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), cut)
                .await
                .is_err()
        );
        assert!(!store.contains("a y").await, "a retry can forward it");
    }
}
