//! Follow requests awaiting a locked account's decision
//! ([`FollowRequests`], feature `sqlite`), answered later with
//! [`Federation::decide_follow`].
//!
//! The decisions: a request is kept per followee and follower (a peer
//! repeating its Follow replaces its request, it does not add one), at
//! most [`DEFAULT_MAX_REQUESTS_PER_ACTOR`] per local actor, the oldest
//! forgotten past it (strangers grow this table); what is kept is the
//! `Follow` activity itself, so the `Accept` or `Reject` embeds it as
//! ActivityPub §7.1.2 asks; only a `Follow` of the local actor deciding can
//! be answered by it.
//!
//! ```no_run
//! use archipel::federation::requests::FollowRequests;
//! use archipel::federation::store::CappedStore;
//! use archipel::federation::Federation;
//! # async fn demo(fed: Federation, follow: archipel::federation::dispatch::Follow) -> Result<(), Box<dyn std::error::Error>> {
//! let requests = FollowRequests::new(&CappedStore::open("data/state.sqlite3")?, 1_000);
//! requests.hold(&follow)?; // in `on_follow`, for a locked account
//! // Later, the account's owner approves bob:
//! let alice = fed.local("alice").unwrap();
//! fed.decide_follow(&requests, &alice, "https://b.example/users/bob", true).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use super::collection::CollectionSource;
use super::dispatch::Follow;
use super::hub::Federation;
use super::local::LocalActor;
use super::paths::Paths;
use super::store::{Cap, CappedStore, CappedTable, StoreError};
use super::{FederationError, Sent};
use crate::vocab::{Activity, Iri};

/// The default cap on requests kept per local actor.
pub const DEFAULT_MAX_REQUESTS_PER_ACTOR: usize = 1_000;

/// The follow requests awaiting each local actor's decision (see the
/// module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct FollowRequests {
    table: CappedTable,
}

fn corrupt(key: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        id: key.to_owned(),
        reason: e.to_string(),
    }
}

impl FollowRequests {
    /// The requests in `store` (its table `follow_requests`), at most
    /// `per_actor` per local actor.
    pub fn new(store: &CappedStore, per_actor: usize) -> FollowRequests {
        FollowRequests {
            table: store.table("follow_requests", Cap::per_scope(per_actor)),
        }
    }

    /// Keeps a `Follow` for its followee's decision (replacing the same
    /// follower's earlier request).
    ///
    /// # Errors
    /// The store's failure.
    pub fn hold(&self, follow: &Follow) -> Result<(), StoreError> {
        let Some(follower) = follow.activity.actor_id() else {
            return Ok(());
        };
        let value =
            serde_json::to_string(&follow.activity).map_err(|e| corrupt(follower.as_str(), e))?;
        self.table.put(
            follow.followee.as_str(),
            follower.as_str(),
            Some(follower),
            &value,
        )
    }

    /// The requests awaiting `local`, oldest first.
    ///
    /// # Errors
    /// The store's failure.
    pub fn pending(&self, local: &Iri) -> Result<Vec<Activity>, StoreError> {
        let rows = self.table.oldest(local.as_str(), usize::MAX)?;
        Ok(rows
            .iter()
            .filter_map(|e| serde_json::from_str(&e.value).ok())
            .collect())
    }

    /// Takes the request to `local` named by its follower's IRI or by the
    /// `Follow`'s id, if there is one (`paths` is this server's layout,
    /// which names the followee).
    ///
    /// # Errors
    /// The store's failure.
    pub fn take(
        &self,
        paths: &Paths,
        local: &LocalActor,
        key: &str,
    ) -> Result<Option<Follow>, StoreError> {
        let scope = local.id().as_str();
        let entry = match self.table.get(scope, key)? {
            Some(entry) => Some(entry),
            None => self.table.oldest(scope, usize::MAX)?.into_iter().find(|e| {
                serde_json::from_str::<Activity>(&e.value)
                    .is_ok_and(|a| a.id.as_ref().is_some_and(|i| i.as_str() == key))
            }),
        };
        let Some(entry) = entry else {
            return Ok(None);
        };
        self.table.remove(scope, &entry.key)?;
        let activity: Activity =
            serde_json::from_str(&entry.value).map_err(|e| corrupt(&entry.key, e))?;
        // Only a Follow of this actor is answered by it.
        let follow = Follow::from_activity(activity, paths).filter(|f| f.followee == *local.id());
        Ok(follow)
    }

    /// Forgets `follower`'s request to `local` (an `Undo` or a `Block`
    /// from them); whether there was one.
    ///
    /// # Errors
    /// The store's failure.
    pub fn forget(&self, local: &Iri, follower: &Iri) -> Result<bool, StoreError> {
        self.table.remove(local.as_str(), follower.as_str())
    }

    /// The requests awaiting `local` as a paged collection for the
    /// account's owner only (newest first).
    pub fn collection(&self, local: &Iri) -> Arc<dyn CollectionSource> {
        self.table.owner_collection(local.as_str())
    }
}

impl Federation {
    /// Answers the request to `local` named by `key` (the follower's IRI
    /// or the `Follow`'s id): [`Federation::accept`] or
    /// [`Federation::reject`]; `None` when there is no such request.
    ///
    /// # Errors
    /// The store's or the delivery's failure.
    pub async fn decide_follow(
        &self,
        requests: &FollowRequests,
        local: &LocalActor,
        key: &str,
        accept: bool,
    ) -> Result<Option<(Follow, Sent)>, FederationError> {
        let Some(follow) = requests.take(self.paths(), local, key)? else {
            return Ok(None);
        };
        let sent = match accept {
            true => self.accept(local, &follow).await?,
            false => self.reject(local, &follow).await?,
        };
        Ok(Some((follow, sent)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::store::CappedStore;
    use crate::vocab::Kind;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn follow(fed: &Federation, n: u32) -> Follow {
        let mut activity = Activity::new(
            Kind::Follow,
            iri(&format!("https://b.example/follows/{n}")),
            iri(&format!("https://b.example/users/u{n}")),
        );
        activity.object = Some(iri("https://a.example/users/alice").into());
        Follow::from_activity(activity, fed.paths()).unwrap()
    }

    async fn fed() -> Federation {
        let fed = Federation::builder("https://a.example".parse().unwrap())
            .build()
            .await
            .unwrap();
        let alice = fed.actor("alice").await.unwrap();
        fed.register(alice.locked(true));
        fed
    }

    fn ids(list: Vec<Activity>) -> Vec<String> {
        list.iter()
            .filter_map(|a| a.id.as_ref())
            .map(|i| i.as_str().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn requests_are_capped_per_actor_and_answered_once() {
        let fed = fed().await;
        let alice = fed.local("alice").unwrap();
        let requests = FollowRequests::new(&CappedStore::open_in_memory().unwrap(), 2);
        for n in 0..4 {
            requests.hold(&follow(&fed, n)).unwrap();
        }
        // The same follower asking again replaces their request.
        requests.hold(&follow(&fed, 3)).unwrap();
        assert_eq!(
            ids(requests.pending(alice.id()).unwrap()),
            ["https://b.example/follows/2", "https://b.example/follows/3"]
        );
        // Named by the Follow's id, then by the follower.
        let by_id = requests
            .take(fed.paths(), &alice, "https://b.example/follows/2")
            .unwrap()
            .unwrap();
        assert_eq!(by_id.activity.id, Some(iri("https://b.example/follows/2")));
        let accepted = fed
            .decide_follow(&requests, &alice, "https://b.example/users/u3", true)
            .await
            .unwrap()
            .map(|(f, _)| f.activity.id.clone());
        assert_eq!(accepted, Some(Some(iri("https://b.example/follows/3"))));
        let u3 = iri("https://b.example/users/u3");
        assert!(fed.graph().is_follower(alice.id(), &u3).await.unwrap());
        // Nothing left to answer.
        let again = fed
            .decide_follow(&requests, &alice, "https://b.example/users/u3", true)
            .await
            .unwrap();
        assert!(again.is_none());
        assert!(requests.pending(alice.id()).unwrap().is_empty());
        assert!(!requests.forget(alice.id(), &u3).unwrap());
    }
}
