//! The receiving side: check a header, then reconcile the local actors
//! following its sender with the sender's partial collection.

use std::collections::HashSet;
use std::time::Instant;

use http::HeaderMap;

use super::header::clip;
use super::{FollowersDigest, FollowersSyncError, HEADER_NAME, SyncHeader};
use crate::federation::hub::Federation;
use crate::vocab::{Activity, AnyObject, Collection, Iri, Reference};

/// What [`Federation::check_followers_sync`] did with a request's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncCheck {
    /// The request carries no `Collection-Synchronization` header.
    NoHeader,
    /// Synchronization is off (or this build has no runtime to run it:
    /// feature `delivery`).
    Disabled,
    /// The header is sound, but enough reconciliations are running:
    /// skipped (the next delivery brings another).
    Throttled,
    /// The digest matched ours on an earlier delivery within the
    /// interval: nothing to do, not even a graph read.
    InSync,
    /// A reconciliation was started in the background.
    Started,
}

/// How a reconciliation ended
/// ([`Federation::synchronize_followers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncOutcome {
    /// The digests agree: nothing was fetched.
    InSync,
    /// The digests differ, but this sender's partial collection was
    /// fetched within the interval: not fetched again yet.
    Throttled,
    /// The partial collection was fetched and the local side changed to
    /// match it.
    Reconciled {
        /// Local actors that followed the sender but were not listed:
        /// unfollowed (the graph forgot them, an `Undo` was sent).
        unfollowed: Vec<Iri>,
        /// Local actors listed whose `Follow` was pending: now following.
        confirmed: Vec<Iri>,
        /// Local actors listed that did not follow: an `Undo` of the
        /// `Follow` was sent in their name, so the sender drops them.
        undone: Vec<Iri>,
    },
}

impl SyncHeader {
    /// Checks that the header may come from `sender` (the verified actor
    /// of the request that carried it): `collectionId` and `url` on its
    /// origin (scheme, host, port), so the header cannot point this
    /// server at any other.
    ///
    /// # Errors
    /// [`FollowersSyncError::CrossOrigin`] naming the parameter.
    pub fn check_origin(&self, sender: &Iri) -> Result<(), FollowersSyncError> {
        let origin = |i: &Iri| i.to_url().ok().map(|u| u.origin());
        let want = origin(sender).filter(url::Origin::is_tuple);
        for (name, value) in [("collectionId", &self.collection_id), ("url", &self.url)] {
            if want.is_none() || origin(value) != want {
                return Err(FollowersSyncError::CrossOrigin {
                    name,
                    value: value.clone(),
                    sender: sender.clone(),
                });
            }
        }
        Ok(())
    }
}

impl Federation {
    /// Reads the `Collection-Synchronization` header of an inbox `POST`
    /// whose signature verified as `sender` (the [`Incoming`]'s actor) and,
    /// when it is sound and fewer than `concurrency` run, starts
    /// reconciling in the background ([`Federation::synchronize_followers`],
    /// fetching at most once per interval per sender). The
    /// router calls it for every accepted activity; call it yourself when
    /// you receive with [`Inbox`] directly.
    ///
    /// Cheap and bounded on the request path: one parse of at most
    /// [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN) bytes, the origin check,
    /// one counter. Nothing is fetched for a refused header.
    ///
    /// # Errors
    /// The header's fault: every parse error of [`SyncHeader::parse`],
    /// and [`FollowersSyncError::CrossOrigin`].
    ///
    /// [`Incoming`]: crate::inbox::Incoming
    /// [`Inbox`]: crate::inbox::Inbox
    pub fn check_followers_sync(
        &self,
        sender: &Iri,
        headers: &HeaderMap,
    ) -> Result<SyncCheck, FollowersSyncError> {
        let mut values = headers.get_all(HEADER_NAME).iter();
        let Some(value) = values.next() else {
            return Ok(SyncCheck::NoHeader);
        };
        let state = &self.inner.followers_sync;
        if !state.config.enabled || !cfg!(feature = "delivery") {
            return Ok(SyncCheck::Disabled);
        }
        // Which one would the sender mean? Neither is read.
        if values.next().is_some() {
            return Err(FollowersSyncError::HeaderSyntax {
                value: clip(&String::from_utf8_lossy(value.as_bytes())).to_owned(),
                reason: "the header is given more than once",
            });
        }
        let value = value
            .to_str()
            .map_err(|_| FollowersSyncError::HeaderSyntax {
                value: clip(&String::from_utf8_lossy(value.as_bytes())).to_owned(),
                reason: "not visible ASCII",
            })?;
        let header = SyncHeader::parse(value)?;
        header.check_origin(sender)?;
        if state.known_in_sync(sender, &header.digest, Instant::now()) {
            return Ok(SyncCheck::InSync);
        }
        let Some(slot) = state.slot(sender) else {
            return Ok(SyncCheck::Throttled);
        };
        #[cfg(feature = "delivery")]
        {
            let fed = self.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let _slot = slot;
                if let Err(e) = fed.reconcile(&sender, &header, true).await {
                    tracing::info!(sender = %sender, error = %e, "followers synchronization failed");
                }
            });
        }
        #[cfg(not(feature = "delivery"))]
        drop((slot, header));
        Ok(SyncCheck::Started)
    }

    /// Reconciles the local actors following `sender` with the partial
    /// collection `header` names, now (no interval, and whatever
    /// [`enabled`](super::FollowersSyncConfig::enabled) says: this is the
    /// application's own call; see [`Federation::check_followers_sync`] for
    /// the guarded entry).
    ///
    /// Checks again that `header` is the sender's: `collectionId` must be
    /// the `followers` of its actor document, `url` on its origin. Compares
    /// the digest with that of the local actors following `sender` (at most
    /// [`max_items`](super::FollowersSyncConfig::max_items)); when they
    /// differ, fetches the collection (signed, one hop to its `first` page
    /// on the same origin at most) and applies it (module docs).
    ///
    /// # Errors
    /// [`FollowersSyncError`]: the header's fault, the sender's actor or
    /// collection unavailable or over the cap, the graph failing. Changes
    /// made before a failure stay.
    pub async fn synchronize_followers(
        &self,
        sender: &Iri,
        header: &SyncHeader,
    ) -> Result<SyncOutcome, FollowersSyncError> {
        self.reconcile(sender, header, false).await
    }

    /// [`Federation::synchronize_followers`], fetching only as the
    /// interval allows when `throttled`.
    async fn reconcile(
        &self,
        sender: &Iri,
        header: &SyncHeader,
        throttled: bool,
    ) -> Result<SyncOutcome, FollowersSyncError> {
        header.check_origin(sender)?;
        let max = self.inner.followers_sync.config.max_items;
        // One more than the cap, before anything is fetched: a list cut
        // short must not be reconciled.
        let ours = self
            .graph()
            .local_followers_of(sender, max.saturating_add(1))
            .await?;
        if ours.len() > max {
            return Err(FollowersSyncError::TooManyLocalFollowers {
                sender: sender.clone(),
                max,
            });
        }
        let remote = self
            .actors()
            .get(sender)
            .await
            .map_err(|e| FollowersSyncError::Actor {
                sender: sender.clone(),
                reason: e.to_string(),
            })?;
        if remote.followers() != Some(&header.collection_id) {
            return Err(FollowersSyncError::NotOwnersCollection {
                collection: header.collection_id.clone(),
                sender: sender.clone(),
            });
        }
        if FollowersDigest::of(&ours) == header.digest {
            let state = &self.inner.followers_sync;
            state.record_in_sync(sender, header.digest, Instant::now());
            return Ok(SyncOutcome::InSync);
        }
        if throttled && !self.inner.followers_sync.may_fetch(sender, Instant::now()) {
            return Ok(SyncOutcome::Throttled);
        }
        let listed = self.fetch_partial(&header.url, max).await?;

        let mut unfollowed = Vec::new();
        for local in ours.iter().filter(|l| !listed.contains(l.as_str())) {
            let Some(name) = self.paths().local_name(local) else {
                continue;
            };
            // Only an actor loaded now: a name left in the graph by an
            // account no longer served must not be brought back (with new
            // keys) on a peer's request.
            let Some(actor) = self.local(name) else {
                continue;
            };
            match self.unfollow(&actor, sender).await {
                Ok(_) => unfollowed.push(local.clone()),
                Err(crate::federation::FederationError::NotFollowing { .. }) => {}
                Err(e) => return Err(acting(local, e)),
            }
        }
        let ours: HashSet<&str> = ours.iter().map(Iri::as_str).collect();
        let (mut confirmed, mut undone) = (Vec::new(), Vec::new());
        for listed in listed.iter().filter(|l| !ours.contains(l.as_str())) {
            let local = Iri::new_unchecked(listed.as_str());
            let graph = self.graph();
            if let Some(pending) = graph.sent_follow_between(&local, sender).await? {
                graph.add_following(&local, sender).await?;
                graph.forget_sent_follow(&pending.id).await?;
                confirmed.push(local);
                continue;
            }
            // Only an actor loaded here: the list never makes this server
            // create one.
            let Some(actor) = self
                .paths()
                .local_name(&local)
                .and_then(|name| self.local(name))
            else {
                continue;
            };
            // Read again now: an Accept handled while the collection was
            // fetched made it a follow, which an Undo would break.
            if super::super::migration::follows(graph.as_ref(), &local, sender)
                .await
                .map_err(|e| acting(&local, e.into()))?
            {
                continue;
            }
            let id = self.new_activity_id().map_err(|e| acting(&local, e))?;
            let follow = Activity::follow(id, local.clone(), sender.clone());
            let id = self.new_activity_id().map_err(|e| acting(&local, e))?;
            let undo = Activity::undo(
                id,
                local.clone(),
                Reference::from(AnyObject::Activity(Box::new(follow))),
            )
            .with_to(vec![sender.clone()]);
            self.send(&actor, &undo)
                .await
                .map_err(|e| acting(&local, e))?;
            undone.push(local);
        }
        Ok(SyncOutcome::Reconciled {
            unfollowed,
            confirmed,
            undone,
        })
    }

    /// The local actors the partial collection at `url` lists (the other
    /// items are not this server's to judge), at most `max` items read.
    async fn fetch_partial(
        &self,
        url: &Iri,
        max: usize,
    ) -> Result<HashSet<String>, FollowersSyncError> {
        let failed = |reason: String| FollowersSyncError::Fetch {
            url: url.clone(),
            reason,
        };
        let mut collection = self.fetch_collection(url).await?;
        let announced = collection.total_items;
        if collection.all_items().is_empty()
            && let Some(first) = collection.first.take()
        {
            collection = match first {
                Reference::Iri(page) => {
                    let same = page.to_url().ok().map(|u| u.origin())
                        == url.to_url().ok().map(|u| u.origin());
                    if !same {
                        return Err(failed(format!(
                            "first page {} on another origin",
                            clip(page.as_str())
                        )));
                    }
                    self.fetch_collection(&page).await?
                }
                other => match other.as_object() {
                    Some(AnyObject::Collection(page)) => (**page).clone(),
                    _ => return Err(failed("first page is not a collection".to_owned())),
                },
            };
        }
        let items = collection.all_items();
        // Reconciling unfollows whatever the list leaves out: a list read
        // only in part would undo real follows. One page is read; a
        // collection paged further, or announcing more than it holds,
        // is refused, never taken as the whole.
        let short = announced
            .or(collection.total_items)
            .is_some_and(|total| total > items.len() as u64);
        if collection.next.is_some() || short {
            return Err(failed(format!(
                "the partial collection holds more than one page ({} items read{})",
                items.len(),
                announced
                    .or(collection.total_items)
                    .map_or(String::new(), |t| format!(" of {t}"))
            )));
        }
        if items.len() > max {
            return Err(FollowersSyncError::TooManyItems {
                url: url.clone(),
                max,
            });
        }
        Ok(items
            .iter()
            .filter_map(|r| match r {
                Reference::Iri(i) => Some(i.as_str()),
                other => other.as_object().and_then(|o| o.id()).map(Iri::as_str),
            })
            .filter(|i| self.paths().local_name(&Iri::new_unchecked(*i)).is_some())
            .map(str::to_owned)
            .collect())
    }

    async fn fetch_collection(&self, url: &Iri) -> Result<Collection, FollowersSyncError> {
        let failed = |reason: String| FollowersSyncError::Fetch {
            url: url.clone(),
            reason,
        };
        let target = url.to_url().map_err(|e| failed(e.to_string()))?;
        // Served for this server's signature alone: never cached, where
        // another fetch of the URL could be answered with it.
        let value = self
            .fetcher()
            .fetch_private(&target)
            .await
            .map_err(|e| failed(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| failed(e.to_string()))
    }
}

/// A failure acting for the local actor `local` (loading it, an
/// `Undo`), kept typed when it is the graph's.
fn acting(local: &Iri, e: crate::federation::FederationError) -> FollowersSyncError {
    match e {
        crate::federation::FederationError::Graph(g) => FollowersSyncError::Graph(g),
        other => FollowersSyncError::Local {
            actor: local.clone(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::followers_sync::FollowersSyncConfig;
    use crate::federation::testing::offline;

    #[tokio::test]
    async fn a_header_given_twice_is_refused() {
        let (fed, _) = offline(|b| b).await;
        let sender = Iri::new_unchecked("https://b.example/users/bob");
        let value = |digest: char| {
            http::HeaderValue::from_str(&format!(
                "collectionId=\"{sender}/followers\", digest=\"{}\", \
                 url=\"https://b.example/users/bob/followers_synchronization\"",
                digest.to_string().repeat(64)
            ))
            .unwrap()
        };
        let mut headers = HeaderMap::new();
        headers.append(HEADER_NAME, value('0'));
        headers.append(HEADER_NAME, value('1'));
        let refused = fed.check_followers_sync(&sender, &headers);
        assert!(
            matches!(&refused, Err(FollowersSyncError::HeaderSyntax { reason, .. })
                if reason.contains("more than once")),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn more_local_followers_than_the_cap_are_never_reconciled() {
        let (fed, client) =
            offline(|b| b.with_followers_sync(FollowersSyncConfig::default().with_max_items(2)))
                .await;
        let sender = Iri::new_unchecked("https://b.example/users/bob");
        for name in ["ann", "ben", "cat"] {
            let local = fed.actor(name).await.unwrap();
            fed.graph()
                .add_following(local.id(), &sender)
                .await
                .unwrap();
        }
        let header = SyncHeader::parse(&format!(
            "collectionId=\"{sender}/followers\", digest=\"{}\", \
             url=\"https://b.example/users/bob/followers_synchronization\"",
            "0".repeat(64)
        ))
        .unwrap();
        let refused = fed.synchronize_followers(&sender, &header).await;
        assert!(
            matches!(
                &refused,
                Err(FollowersSyncError::TooManyLocalFollowers { max: 2, .. })
            ),
            "{refused:?}"
        );
        // Decided before any fetch, and every follow is still there.
        assert_eq!(client.requests(), 0);
        assert_eq!(
            fed.graph()
                .local_followers_of(&sender, 10)
                .await
                .unwrap()
                .len(),
            3
        );
    }
}
