//! Followers synchronization (FEP-8fcf), interoperable with Mastodon:
//! servers that drift apart about who follows whom (an `Undo` lost, a
//! database restored) notice it on the next delivery and reconcile.
//!
//! # What it decides
//!
//! - **Sending.** A delivery of an activity addressed to an author's
//!   followers carries a `Collection-Synchronization` header per receiving
//!   server: the followers collection, the [`FollowersDigest`] of the
//!   author's followers *on that server* (their IRIs' SHA-256, XORed), and
//!   the URL of the partial collection listing them
//!   (`/users/{name}/followers_synchronization`, as Mastodon names it).
//!   It is computed once per server per fan-out job from
//!   [`Graph::followers_on_host`](super::graph::Graph::followers_on_host)
//!   and carried in the delivery job. An author with more than
//!   [`FollowersSyncConfig::max_items`] followers on one server sends no
//!   header there (a partial collection that large is not served either).
//! - **Serving the partial collection.** Only to a request signed by an
//!   actor of the server it is about, and it lists only that server's
//!   followers: no server learns who follows an author from elsewhere.
//!   Unsigned requests get `401`.
//! - **Receiving.** The header is read only on an inbox `POST` whose
//!   signature verified, and only when the sender is the collection's
//!   owner: `collectionId` must be the sender's `followers` (its cached
//!   actor document) and `url` must be on the sender's origin (scheme,
//!   host, port), so a header can never make this server fetch elsewhere.
//!   A hostile value (over [`MAX_HEADER_LEN`], malformed, cross-origin) is
//!   refused before anything is fetched. When the digest of the local
//!   actors following the sender differs, the partial collection is
//!   fetched (signed by the instance actor, the client's body cap, at most
//!   `max_items` items) and the local side is made to match it:
//!   - a local actor recorded as following the sender but not listed is
//!     unfollowed ([`Federation::unfollow`](super::Federation::unfollow): the graph forgets it and an
//!     `Undo` of the `Follow` is sent, as Mastodon does, so both sides
//!     agree even if the sender still had it pending);
//!   - a local actor listed whose `Follow` is still pending is recorded as
//!     following (the owner says it was accepted);
//!   - a local actor listed that never followed gets an `Undo` of a
//!     `Follow` sent in its name, so the sender drops it.
//! - **Bounded work.** Parsing a header is one bounded pass; everything
//!   else runs off the request path, at most
//!   [`FollowersSyncConfig::concurrency`] at once: past that a header is
//!   skipped (the next delivery brings another), never queued. Comparing
//!   digests is one indexed graph read, and none for a digest that matched
//!   ours within the interval; a sender's partial collection is
//!   fetched at most once per [`FollowersSyncConfig::interval`] (a
//!   bounded table of the last times), however many deliveries disagree.
//!
//! ```
//! use archipel::federation::followers_sync::{FollowersDigest, SyncHeader};
//! use archipel::vocab::Iri;
//! let bob = Iri::parse("https://b.example/users/bob")?;
//! let value = format!(
//!     "collectionId=\"https://a.example/users/alice/followers\", digest=\"{}\", \
//!      url=\"https://a.example/users/alice/followers_synchronization\"",
//!     FollowersDigest::of([&bob]).to_hex(),
//! );
//! let header = SyncHeader::parse(&value)?;
//! assert_eq!(header.digest, FollowersDigest::of([&bob]));
//! // A header pointing elsewhere than its sender's origin is refused.
//! let alice = Iri::parse("https://a.example/users/alice")?;
//! assert!(header.check_origin(&alice).is_ok());
//! let mallory = Iri::parse("https://m.example/users/mallory")?;
//! assert!(header.check_origin(&mallory).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::graph::GraphError;
use crate::vocab::Iri;

mod header;
mod receive;
mod send;
mod serve;

pub use header::{FollowersDigest, MAX_HEADER_LEN, SyncHeader};
pub use receive::{SyncCheck, SyncOutcome};

/// The header's name (FEP-8fcf), as Mastodon sends it.
pub const HEADER_NAME: &str = "collection-synchronization";

/// The last path segment of the partial followers collection, under the
/// actor: `/users/{name}/followers_synchronization` (Mastodon's route).
pub const PARTIAL_COLLECTION_SUFFIX: &str = "followers_synchronization";

/// The default of [`FollowersSyncConfig::interval`]: 15 minutes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// The default of [`FollowersSyncConfig::max_items`].
pub const DEFAULT_MAX_ITEMS: usize = 10_000;
/// The default of [`FollowersSyncConfig::max_tracked`].
pub const DEFAULT_MAX_TRACKED: usize = 10_000;
/// The default of [`FollowersSyncConfig::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 2;

/// Why a header was refused or a reconciliation did not happen; every
/// message names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FollowersSyncError {
    /// The header value is longer than [`MAX_HEADER_LEN`].
    #[error("Collection-Synchronization header: {len} bytes, more than {max}")]
    HeaderTooLong {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The header value is not `key="value"` parameters.
    #[error("Collection-Synchronization header {value:?}: {reason}")]
    HeaderSyntax {
        /// The value (its first 80 bytes).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A parameter appears twice.
    #[error("Collection-Synchronization header: parameter {name} given twice")]
    DuplicateParameter {
        /// The parameter.
        name: String,
    },
    /// A required parameter is missing.
    #[error("Collection-Synchronization header: missing parameter {name}")]
    MissingParameter {
        /// The parameter.
        name: &'static str,
    },
    /// `collectionId` or `url` is not an `http(s)` IRI with a host.
    #[error("Collection-Synchronization header: {name} {value:?} is not an http(s) IRI")]
    BadIri {
        /// The parameter.
        name: &'static str,
        /// Its value (first 80 bytes).
        value: String,
    },
    /// `digest` is not 64 hex digits.
    #[error("Collection-Synchronization header: digest {value:?} is not 64 hex digits")]
    BadDigest {
        /// Its value (first 80 bytes).
        value: String,
    },
    /// `collectionId` or `url` is not on the sender's origin.
    #[error(
        "Collection-Synchronization header: {name} {value} is not on the origin of its sender {sender}"
    )]
    CrossOrigin {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: Iri,
        /// The verified sender.
        sender: Iri,
    },
    /// `collectionId` is not the sender's `followers` collection.
    #[error(
        "Collection-Synchronization header: {collection} is not the followers collection of {sender}"
    )]
    NotOwnersCollection {
        /// The header's `collectionId`.
        collection: Iri,
        /// The verified sender.
        sender: Iri,
    },
    /// The sender's actor document could not be read.
    #[error("followers synchronization with {sender}: actor unavailable: {reason}")]
    Actor {
        /// The sender.
        sender: Iri,
        /// Why.
        reason: String,
    },
    /// The partial collection could not be fetched or read.
    #[error("followers synchronization: fetching {url}: {reason}")]
    Fetch {
        /// The partial collection's URL.
        url: Iri,
        /// Why.
        reason: String,
    },
    /// The partial collection lists more than the cap.
    #[error("followers synchronization: {url} lists more than {max} items")]
    TooManyItems {
        /// The partial collection's URL.
        url: Iri,
        /// The cap ([`FollowersSyncConfig::max_items`]).
        max: usize,
    },
    /// More of this server's actors follow the sender than the cap: the
    /// digest cannot be compared over a list cut short, and reconciling
    /// against one would undo real follows. Nothing is changed.
    #[error("followers synchronization: more than {max} local actors follow {sender}")]
    TooManyLocalFollowers {
        /// The sender.
        sender: Iri,
        /// The cap ([`FollowersSyncConfig::max_items`]).
        max: usize,
    },
    /// Acting for a local actor failed (loading it, sending its `Undo`).
    #[error("followers synchronization: acting for {actor}: {reason}")]
    Local {
        /// The local actor.
        actor: Iri,
        /// Why.
        reason: String,
    },
    /// The follow graph failed.
    #[error("followers synchronization: {0}")]
    Graph(#[from] GraphError),
}

/// How followers synchronization behaves
/// ([`FederationBuilder::with_followers_sync`](super::FederationBuilder::with_followers_sync)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FollowersSyncConfig {
    /// Whether headers are sent and honoured (default `true`).
    pub enabled: bool,
    /// A sender's partial collection is fetched at most once per interval
    /// ([`DEFAULT_INTERVAL`]).
    pub interval: Duration,
    /// The most followers on one server a digest is computed over and a
    /// partial collection lists or is read with ([`DEFAULT_MAX_ITEMS`]).
    pub max_items: usize,
    /// How many senders' last reconciliation times are remembered
    /// ([`DEFAULT_MAX_TRACKED`]); past it the oldest is forgotten.
    pub max_tracked: usize,
    /// How many reconciliations run at once ([`DEFAULT_CONCURRENCY`]), at
    /// most one per sending host (a host's slow answers cannot hold every
    /// slot); a header arriving past them is skipped, not queued.
    pub concurrency: usize,
}

impl Default for FollowersSyncConfig {
    fn default() -> Self {
        FollowersSyncConfig {
            enabled: true,
            interval: DEFAULT_INTERVAL,
            max_items: DEFAULT_MAX_ITEMS,
            max_tracked: DEFAULT_MAX_TRACKED,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl FollowersSyncConfig {
    /// Turns synchronization on or off, both ways.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets [`FollowersSyncConfig::interval`].
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets [`FollowersSyncConfig::max_items`].
    pub fn with_max_items(mut self, max_items: usize) -> Self {
        self.max_items = max_items;
        self
    }

    /// Sets [`FollowersSyncConfig::max_tracked`].
    pub fn with_max_tracked(mut self, max_tracked: usize) -> Self {
        self.max_tracked = max_tracked;
        self
    }

    /// Sets [`FollowersSyncConfig::concurrency`].
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }
}

/// The receiving side's state: when each sender's partial collection was
/// last fetched, which digest of each sender last matched ours, and the
/// hosts reconciliations are running for.
#[derive(Debug)]
pub(crate) struct SyncState {
    pub(crate) config: FollowersSyncConfig,
    fetched: Mutex<Tracked<()>>,
    in_sync: Mutex<Tracked<FollowersDigest>>,
    /// The hosts a reconciliation runs for: one each, so one host's slow
    /// answers cannot hold every slot; as many as run.
    hosts: Arc<Mutex<std::collections::HashSet<String>>>,
}

/// Per sender, a value and when it was recorded; at most `max_tracked`
/// senders, the oldest recorded forgotten first.
#[derive(Debug)]
struct Tracked<V> {
    at: HashMap<String, (V, Instant)>,
    order: VecDeque<String>,
}

impl<V> Default for Tracked<V> {
    fn default() -> Self {
        Tracked {
            at: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V> Tracked<V> {
    /// The value recorded for `sender` less than `interval` before `now`.
    fn fresh(&self, sender: &Iri, now: Instant, interval: Duration) -> Option<&V> {
        self.at
            .get(sender.as_str())
            .filter(|(_, at)| now.saturating_duration_since(*at) < interval)
            .map(|(v, _)| v)
    }

    fn record(&mut self, sender: &Iri, value: V, now: Instant, cap: usize) {
        if self
            .at
            .insert(sender.as_str().to_owned(), (value, now))
            .is_none()
        {
            self.order.push_back(sender.as_str().to_owned());
        }
        while self.at.len() > cap.max(1) {
            match self.order.pop_front() {
                Some(old) => {
                    self.at.remove(&old);
                }
                None => break,
            }
        }
    }
}

/// A running reconciliation's slot, and its sender's host; released on
/// drop.
pub(crate) struct Slot {
    hosts: Arc<Mutex<std::collections::HashSet<String>>>,
    host: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.hosts).remove(&self.host);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A table of times: a panic elsewhere while holding it loses nothing
    // that matters.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SyncState {
    pub(crate) fn new(config: FollowersSyncConfig) -> SyncState {
        SyncState {
            config,
            fetched: Mutex::default(),
            in_sync: Mutex::default(),
            hosts: Arc::default(),
        }
    }

    /// A slot for one reconciliation for `sender`, if fewer than
    /// `concurrency` run and none runs for its host.
    pub(crate) fn slot(&self, sender: &Iri) -> Option<Slot> {
        let host = crate::client::origin::host_key(sender.as_str());
        let mut hosts = lock(&self.hosts);
        if hosts.contains(&host) || hosts.len() >= self.config.concurrency {
            return None;
        }
        hosts.insert(host.clone());
        Some(Slot {
            hosts: self.hosts.clone(),
            host,
        })
    }

    /// Whether `sender`'s partial collection may be fetched now: not
    /// within the interval of the last fetch. The time is taken.
    pub(crate) fn may_fetch(&self, sender: &Iri, now: Instant) -> bool {
        let mut t = lock(&self.fetched);
        if t.fresh(sender, now, self.config.interval).is_some() {
            return false;
        }
        t.record(sender, (), now, self.config.max_tracked);
        true
    }

    /// Whether `digest` from `sender` matched ours within the interval:
    /// then a delivery carrying it again costs no graph read.
    pub(crate) fn known_in_sync(
        &self,
        sender: &Iri,
        digest: &FollowersDigest,
        now: Instant,
    ) -> bool {
        lock(&self.in_sync).fresh(sender, now, self.config.interval) == Some(digest)
    }

    /// Records that `digest` from `sender` matched ours at `now`.
    pub(crate) fn record_in_sync(&self, sender: &Iri, digest: FollowersDigest, now: Instant) {
        lock(&self.in_sync).record(sender, digest, now, self.config.max_tracked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_once_per_interval_and_runs_within_concurrency() {
        let state = SyncState::new(
            FollowersSyncConfig::default()
                .with_interval(Duration::from_secs(60))
                .with_concurrency(1)
                .with_max_tracked(2),
        );
        let a = Iri::parse("https://a.example/users/a").unwrap();
        let b = Iri::parse("https://b.example/users/b").unwrap();
        let t0 = Instant::now();
        let slot = state.slot(&a).unwrap();
        assert!(state.slot(&b).is_none(), "one at a time");
        drop(slot);
        assert!(state.slot(&b).is_some());
        assert!(state.may_fetch(&a, t0));
        assert!(
            !state.may_fetch(&a, t0 + Duration::from_secs(59)),
            "within the interval"
        );
        assert!(state.may_fetch(&b, t0));
        assert!(state.may_fetch(&a, t0 + Duration::from_secs(61)));
        // The table stays at its cap.
        let c = Iri::parse("https://c.example/users/c").unwrap();
        assert!(state.may_fetch(&c, t0));
        assert_eq!(state.fetched.lock().unwrap().at.len(), 2);
        // A digest found in sync is remembered for the interval, per sender.
        let d = FollowersDigest::of([&a]);
        assert!(!state.known_in_sync(&a, &d, t0));
        state.record_in_sync(&a, d, t0);
        assert!(state.known_in_sync(&a, &d, t0 + Duration::from_secs(59)));
        assert!(!state.known_in_sync(&a, &FollowersDigest::default(), t0));
        assert!(!state.known_in_sync(&b, &d, t0));
        assert!(!state.known_in_sync(&a, &d, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn one_host_holds_one_slot_whatever_its_actors() {
        let state = SyncState::new(FollowersSyncConfig::default().with_concurrency(2));
        let iri = |s: &str| Iri::parse(s).unwrap();
        let first = state.slot(&iri("https://slow.example/users/a")).unwrap();
        // Another actor of the same host waits; another host does not.
        assert!(state.slot(&iri("https://slow.example/users/b")).is_none());
        let other = state.slot(&iri("https://b.example/users/bob")).unwrap();
        drop(first);
        assert!(state.slot(&iri("https://slow.example/users/b")).is_some());
        drop(other);
    }
}
