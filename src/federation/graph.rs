//! [`Graph`]: the follow relationships the application layer consults,
//! kept by the application (its database) behind a small trait, with an
//! in-memory default ([`MemoryGraph`]) and, with the `sqlite` feature, a
//! durable one (`SqliteGraph`) that gives the same answers.
//!
//! Recipient resolution reads followers from it; the serving guard asks
//! whether a reader's server has a follower; dispatch asks whether an
//! `Accept` answers a `Follow` this server really sent.
//!
//! Remote peers grow these tables, so both implementations are bounded by
//! default: past the cap a new follower is refused with
//! [`GraphError::Full`] (an existing follower is never silently dropped,
//! and one already recorded may follow again), and the oldest pending sent
//! Follow is forgotten.
//!
//! ```
//! use archipel::federation::graph::{Graph, GraphError, MemoryGraph};
//! use archipel::vocab::Iri;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let graph = MemoryGraph::with_cap(1);
//! let alice = Iri::parse("https://a.example/users/alice")?;
//! let bob = Iri::parse("https://b.example/users/bob")?;
//! graph.add_follower(&alice, &bob).await?;
//! assert!(graph.has_follower_on(&alice, "b.example").await?);
//! let carol = Iri::parse("https://c.example/users/carol")?;
//! assert_eq!(
//!     graph.add_follower(&alice, &carol).await,
//!     Err(GraphError::Full { what: "followers", cap: 1 })
//! );
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use crate::vocab::Iri;

#[cfg(test)]
mod conformance;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{
    DEFAULT_MAX_FOLLOWERS_PER_ACTOR, DEFAULT_MAX_FOLLOWING_PER_ACTOR, DEFAULT_MAX_SENT_FOLLOWS,
    SqliteGraph,
};

/// Why the graph could not answer (the application's store failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The backing store failed; the message says how.
    #[error("follow graph store: {0}")]
    Store(String),
    /// A bounded table is full.
    #[error("follow graph: {what} is at its cap of {cap}")]
    Full {
        /// Which table.
        what: &'static str,
        /// Its cap.
        cap: usize,
    },
}

/// A `Follow` this server sent on behalf of a local actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFollow {
    /// The `Follow` activity's id.
    pub id: Iri,
    /// The local actor who follows.
    pub follower: Iri,
    /// The remote actor followed.
    pub followee: Iri,
}

/// The follow relationships of this server's actors.
///
/// Implement it over the application's database; [`MemoryGraph`] is the
/// in-memory default. Every method is keyed by IRI, never by display name.
#[async_trait::async_trait]
pub trait Graph: Send + Sync {
    /// The accepted followers of the local actor `local`.
    async fn followers(&self, local: &Iri) -> Result<Vec<Iri>, GraphError>;
    /// Whether `remote` is an accepted follower of `local`.
    async fn is_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError>;
    /// Whether `local` has an accepted follower on `authority` (`host` or
    /// `host:port`), as the serving guard asks of a signed fetch made by
    /// that server's instance actor.
    async fn has_follower_on(&self, local: &Iri, authority: &str) -> Result<bool, GraphError>;
    /// Records `remote` as an accepted follower of `local`.
    async fn add_follower(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError>;
    /// Removes `remote` from `local`'s followers; whether it was one.
    async fn remove_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError>;
    /// Records a `Follow` sent by a local actor.
    async fn record_sent_follow(&self, follow: SentFollow) -> Result<(), GraphError>;
    /// The sent `Follow` with this id, if any.
    async fn sent_follow(&self, id: &Iri) -> Result<Option<SentFollow>, GraphError>;
    /// The sent `Follow` from `follower` to `followee`, if any (an `Accept`
    /// may name the Follow by id, embed it, or, from some servers, carry
    /// only the pair).
    async fn sent_follow_between(
        &self,
        follower: &Iri,
        followee: &Iri,
    ) -> Result<Option<SentFollow>, GraphError>;
    /// Forgets a sent `Follow` (undone, rejected); whether it was known.
    async fn forget_sent_follow(&self, id: &Iri) -> Result<bool, GraphError>;
    /// Records that `local` now follows `remote` (its `Follow` was accepted).
    async fn add_following(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError>;
    /// Removes `remote` from whom `local` follows; whether it was there.
    async fn remove_following(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError>;
    /// Whom the local actor `local` follows.
    async fn following(&self, local: &Iri) -> Result<Vec<Iri>, GraphError>;

    /// At most `limit` accepted followers of `local`, in [`page_order`]
    /// (by lower-case authority, then IRI), starting after the follower
    /// `after` (the last one of the previous page; it need not still be a
    /// follower). Followers on one server come one after the other, so a
    /// fan-out reading page by page meets each shared inbox in one run,
    /// and its memory is bounded by the page, not the follower count.
    ///
    /// The default reads the whole list with [`Graph::followers`] and
    /// sorts it: correct, but not bounded; a store with an index overrides
    /// it ([`MemoryGraph`] and `SqliteGraph` do).
    async fn followers_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        Ok(page_of(self.followers(local).await?, after, limit))
    }

    /// As [`Graph::followers_page`], of whom `local` follows.
    async fn following_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        Ok(page_of(self.following(local).await?, after, limit))
    }

    /// How many accepted followers `local` has (a collection's
    /// `totalItems`). The default counts [`Graph::followers`].
    async fn follower_count(&self, local: &Iri) -> Result<u64, GraphError> {
        Ok(self.followers(local).await?.len() as u64)
    }

    /// How many actors `local` follows. The default counts
    /// [`Graph::following`].
    async fn following_count(&self, local: &Iri) -> Result<u64, GraphError> {
        Ok(self.following(local).await?.len() as u64)
    }

    /// At most `limit` accepted followers of `local` on the server
    /// `authority` (`host[:port]`, compared without case, as
    /// [`page_order`] spells it), in IRI order, after the follower `after`:
    /// what a server's followers-synchronization digest and partial
    /// collection are made of (FEP-8fcf,
    /// [`followers_sync`](super::followers_sync)).
    ///
    /// The default filters [`Graph::followers`]: correct, not bounded; a
    /// store with an index overrides it ([`MemoryGraph`] and `SqliteGraph`
    /// read one range).
    async fn followers_on_host(
        &self,
        local: &Iri,
        authority: &str,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        let authority = authority.to_ascii_lowercase();
        let mut on: Vec<Iri> = self
            .followers(local)
            .await?
            .into_iter()
            .filter(|i| page_order(i).0 == authority)
            .filter(|i| after.is_none_or(|a| i.as_str() > a.as_str()))
            .collect();
        on.sort_by(|x, y| x.as_str().cmp(y.as_str()));
        on.truncate(limit);
        Ok(on)
    }

    /// At most `limit` local actors recorded as following `remote` (whose
    /// `Follow` it accepted), in IRI order: what the receiving side of
    /// followers synchronization compares with the remote's digest.
    ///
    /// The default cannot answer (the trait has no list of local actors)
    /// and fails with [`GraphError::Store`], which leaves
    /// synchronization off for such a graph; [`MemoryGraph`] and
    /// `SqliteGraph` answer it.
    async fn local_followers_of(&self, remote: &Iri, limit: usize) -> Result<Vec<Iri>, GraphError> {
        let _ = (remote, limit);
        Err(GraphError::Store(
            "this graph does not list the local followers of a remote actor (local_followers_of)"
                .to_owned(),
        ))
    }
}

/// The key [`Graph::followers_page`] orders by: the IRI's lower-case
/// authority (`host[:port]`, empty when it has none), then the IRI.
///
/// ```
/// use archipel::federation::graph::page_order;
/// use archipel::vocab::Iri;
/// let bob = Iri::parse("https://B.example/users/bob")?;
/// assert_eq!(page_order(&bob), ("b.example".to_owned(), bob.as_str()));
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
pub fn page_order(iri: &Iri) -> (String, &str) {
    (authority_of(iri.as_str()).unwrap_or_default(), iri.as_str())
}

/// One page of `list` in [`page_order`], after `after`.
fn page_of(list: Vec<Iri>, after: Option<&Iri>, limit: usize) -> Vec<Iri> {
    let after = after.map(page_order);
    let mut keyed: Vec<((String, String), Iri)> = list
        .into_iter()
        .map(|i| {
            let (a, s) = page_order(&i);
            ((a, s.to_owned()), i)
        })
        .filter(|(k, _)| {
            after
                .as_ref()
                .is_none_or(|(a, s)| (k.0.as_str(), k.1.as_str()) > (a.as_str(), *s))
        })
        .collect();
    keyed.sort_by(|x, y| x.0.cmp(&y.0));
    keyed.into_iter().take(limit).map(|(_, i)| i).collect()
}

/// The default cap of [`MemoryGraph`]'s tables, per table.
pub const DEFAULT_MEMORY_GRAPH_CAP: usize = 100_000;

#[derive(Default)]
struct Tables {
    followers: BTreeMap<String, BTreeSet<String>>,
    following: BTreeMap<String, BTreeSet<String>>,
    // The same rows keyed by (authority, IRI), for the paged reads.
    followers_by_host: BTreeMap<String, BTreeSet<(String, String)>>,
    following_by_host: BTreeMap<String, BTreeSet<(String, String)>>,
    follower_count: usize,
    following_count: usize,
    // Per local actor, how many followers each lower-case authority has,
    // so `has_follower_on` is one lookup, not a parse of every follower.
    follower_authorities: BTreeMap<String, BTreeMap<String, usize>>,
    sent: BTreeMap<String, SentFollow>,
    // Oldest first, so the cap evicts the oldest pending request.
    sent_order: VecDeque<String>,
}

/// An in-memory [`Graph`], bounded: each table holds at most `cap` rows.
/// Past the cap, adding a follower fails with [`GraphError::Full`] (a
/// hostile peer cannot grow it without limit) and the oldest sent Follow
/// is forgotten.
pub struct MemoryGraph {
    tables: Mutex<Tables>,
    cap: usize,
}

impl std::fmt::Debug for MemoryGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGraph")
            .field("cap", &self.cap)
            .finish()
    }
}

impl Default for MemoryGraph {
    fn default() -> Self {
        MemoryGraph::new()
    }
}

impl MemoryGraph {
    /// An empty graph with [`DEFAULT_MEMORY_GRAPH_CAP`] rows per table.
    pub fn new() -> MemoryGraph {
        MemoryGraph::with_cap(DEFAULT_MEMORY_GRAPH_CAP)
    }

    /// An empty graph with `cap` rows per table.
    pub fn with_cap(cap: usize) -> MemoryGraph {
        MemoryGraph {
            tables: Mutex::new(Tables::default()),
            cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the tables
        // half-updated in a way that matters more than losing them.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `host[:port]` of an IRI, the key the followers index is ordered by.
use crate::client::origin::authority_of;

#[async_trait::async_trait]
impl Graph for MemoryGraph {
    async fn followers(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        Ok(self
            .lock()
            .followers
            .get(local.as_str())
            .map(|s| s.iter().map(|i| Iri::new_unchecked(i.as_str())).collect())
            .unwrap_or_default())
    }

    async fn is_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        Ok(self
            .lock()
            .followers
            .get(local.as_str())
            .is_some_and(|s| s.contains(remote.as_str())))
    }

    async fn has_follower_on(&self, local: &Iri, authority: &str) -> Result<bool, GraphError> {
        Ok(self
            .lock()
            .follower_authorities
            .get(local.as_str())
            .is_some_and(|a| a.contains_key(&authority.to_ascii_lowercase())))
    }

    async fn add_follower(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        let mut t = self.lock();
        // A follower already recorded is no new row: a repeated Follow
        // from an existing follower succeeds even at the cap.
        if t.follower_count >= self.cap
            && !t
                .followers
                .get(local.as_str())
                .is_some_and(|s| s.contains(remote.as_str()))
        {
            return Err(GraphError::Full {
                what: "followers",
                cap: self.cap,
            });
        }
        if t.followers
            .entry(local.as_str().to_owned())
            .or_default()
            .insert(remote.as_str().to_owned())
        {
            t.follower_count += 1;
            t.followers_by_host
                .entry(local.as_str().to_owned())
                .or_default()
                .insert(host_key(remote));
            if let Some(a) = authority_of(remote.as_str()) {
                *t.follower_authorities
                    .entry(local.as_str().to_owned())
                    .or_default()
                    .entry(a)
                    .or_default() += 1;
            }
        }
        Ok(())
    }

    async fn remove_follower(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        let mut t = self.lock();
        let removed = t
            .followers
            .get_mut(local.as_str())
            .is_some_and(|s| s.remove(remote.as_str()));
        if removed {
            t.follower_count -= 1;
            if let Some(set) = t.followers_by_host.get_mut(local.as_str()) {
                set.remove(&host_key(remote));
            }
            if let Some(a) = authority_of(remote.as_str())
                && let Some(counts) = t.follower_authorities.get_mut(local.as_str())
                && let Some(n) = counts.get_mut(&a)
            {
                *n -= 1;
                if *n == 0 {
                    counts.remove(&a);
                }
            }
        }
        Ok(removed)
    }

    async fn record_sent_follow(&self, follow: SentFollow) -> Result<(), GraphError> {
        let mut t = self.lock();
        let key = follow.id.as_str().to_owned();
        if t.sent.insert(key.clone(), follow).is_none() {
            t.sent_order.push_back(key);
        }
        while t.sent.len() > self.cap {
            match t.sent_order.pop_front() {
                Some(old) => {
                    t.sent.remove(&old);
                }
                None => break,
            }
        }
        Ok(())
    }

    async fn sent_follow(&self, id: &Iri) -> Result<Option<SentFollow>, GraphError> {
        Ok(self.lock().sent.get(id.as_str()).cloned())
    }

    async fn sent_follow_between(
        &self,
        follower: &Iri,
        followee: &Iri,
    ) -> Result<Option<SentFollow>, GraphError> {
        Ok(self
            .lock()
            .sent
            .values()
            .rev()
            .find(|f| f.follower == *follower && f.followee == *followee)
            .cloned())
    }

    async fn forget_sent_follow(&self, id: &Iri) -> Result<bool, GraphError> {
        let mut t = self.lock();
        let known = t.sent.remove(id.as_str()).is_some();
        if known {
            t.sent_order.retain(|k| k != id.as_str());
        }
        Ok(known)
    }

    async fn add_following(&self, local: &Iri, remote: &Iri) -> Result<(), GraphError> {
        let mut t = self.lock();
        if t.following_count >= self.cap
            && !t
                .following
                .get(local.as_str())
                .is_some_and(|s| s.contains(remote.as_str()))
        {
            return Err(GraphError::Full {
                what: "following",
                cap: self.cap,
            });
        }
        if t.following
            .entry(local.as_str().to_owned())
            .or_default()
            .insert(remote.as_str().to_owned())
        {
            t.following_count += 1;
            t.following_by_host
                .entry(local.as_str().to_owned())
                .or_default()
                .insert(host_key(remote));
        }
        Ok(())
    }

    async fn remove_following(&self, local: &Iri, remote: &Iri) -> Result<bool, GraphError> {
        let mut t = self.lock();
        let removed = t
            .following
            .get_mut(local.as_str())
            .is_some_and(|s| s.remove(remote.as_str()));
        if removed {
            t.following_count -= 1;
            if let Some(set) = t.following_by_host.get_mut(local.as_str()) {
                set.remove(&host_key(remote));
            }
        }
        Ok(removed)
    }

    async fn following(&self, local: &Iri) -> Result<Vec<Iri>, GraphError> {
        Ok(self
            .lock()
            .following
            .get(local.as_str())
            .map(|s| s.iter().map(|i| Iri::new_unchecked(i.as_str())).collect())
            .unwrap_or_default())
    }

    async fn followers_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        Ok(ordered_page(
            self.lock().followers_by_host.get(local.as_str()),
            after,
            limit,
        ))
    }

    async fn following_page(
        &self,
        local: &Iri,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        Ok(ordered_page(
            self.lock().following_by_host.get(local.as_str()),
            after,
            limit,
        ))
    }

    async fn follower_count(&self, local: &Iri) -> Result<u64, GraphError> {
        Ok(self
            .lock()
            .followers
            .get(local.as_str())
            .map_or(0, |s| s.len() as u64))
    }

    async fn following_count(&self, local: &Iri) -> Result<u64, GraphError> {
        Ok(self
            .lock()
            .following
            .get(local.as_str())
            .map_or(0, |s| s.len() as u64))
    }

    async fn followers_on_host(
        &self,
        local: &Iri,
        authority: &str,
        after: Option<&Iri>,
        limit: usize,
    ) -> Result<Vec<Iri>, GraphError> {
        use std::ops::Bound;
        let authority = authority.to_ascii_lowercase();
        let t = self.lock();
        let Some(set) = t.followers_by_host.get(local.as_str()) else {
            return Ok(Vec::new());
        };
        let start = match after {
            Some(a) => Bound::Excluded((authority.clone(), a.as_str().to_owned())),
            None => Bound::Included((authority.clone(), String::new())),
        };
        Ok(set
            .range((start, Bound::Unbounded))
            .take_while(|(a, _)| *a == authority)
            .take(limit)
            .map(|(_, i)| Iri::new_unchecked(i.as_str()))
            .collect())
    }

    async fn local_followers_of(&self, remote: &Iri, limit: usize) -> Result<Vec<Iri>, GraphError> {
        // One lookup per local actor: local actors are few.
        Ok(self
            .lock()
            .following
            .iter()
            .filter(|(_, remotes)| remotes.contains(remote.as_str()))
            .take(limit)
            .map(|(local, _)| Iri::new_unchecked(local.as_str()))
            .collect())
    }
}

/// `iri`'s [`page_order`] key, owned.
fn host_key(iri: &Iri) -> (String, String) {
    let (a, s) = page_order(iri);
    (a, s.to_owned())
}

/// A range read of one actor's ordered set: `limit` rows after `after`.
fn ordered_page(
    set: Option<&BTreeSet<(String, String)>>,
    after: Option<&Iri>,
    limit: usize,
) -> Vec<Iri> {
    use std::ops::Bound;
    let Some(set) = set else {
        return Vec::new();
    };
    let start = match after {
        Some(a) => Bound::Excluded(host_key(a)),
        None => Bound::Unbounded,
    };
    set.range((start, Bound::Unbounded))
        .take(limit)
        .map(|(_, i)| Iri::new_unchecked(i.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    #[tokio::test]
    async fn followers_by_actor_and_by_server() {
        let g = MemoryGraph::new();
        let alice = iri("https://a.example/users/alice");
        let bob = iri("https://b.example:8443/users/bob");
        g.add_follower(&alice, &bob).await.unwrap();
        assert!(g.is_follower(&alice, &bob).await.unwrap());
        assert!(g.has_follower_on(&alice, "b.example:8443").await.unwrap());
        assert!(!g.has_follower_on(&alice, "b.example").await.unwrap());
        assert_eq!(g.followers(&alice).await.unwrap(), vec![bob.clone()]);
        assert!(g.remove_follower(&alice, &bob).await.unwrap());
        assert!(!g.remove_follower(&alice, &bob).await.unwrap());
        assert!(g.followers(&alice).await.unwrap().is_empty());
    }
}
