//! [`RemoteActors`]: the bounded cache of remote actors, with a TTL, that
//! recipient resolution (inboxes, shared inboxes), key resolution and the
//! [`Fetcher`] all read through, so one actor document is fetched once and
//! every consumer sees the same, verified copy.
//!
//! # What it decides
//!
//! * **Where an actor comes from.** A cache miss is a
//!   [`Fetcher::fetch_authoritative`]: the document must be served at its own
//!   `id`, on that `id`'s origin (the checks Mastodon applies to actor and key
//!   documents). Pass a fetcher signed by the instance actor
//!   ([`Fetcher::signed`]): servers in "authorized fetch" mode refuse unsigned
//!   GETs. Its own cache is replaced by none: this cache decides freshness.
//! * **What is an actor.** [`RemoteActor::from_actor`] accepts a document
//!   only if its type is an actor type (`Person`, `Service`, `Application`,
//!   `Group`, `Organization`), it has an `http(s)` `id` and an `http(s)`
//!   `inbox`, and its `sharedInbox` and `followers`, when present, are
//!   `http(s)` IRIs. Anything else is a typed [`RemoteError`], so a
//!   `javascript:` or `file:` inbox never reaches delivery.
//! * **What is not checked.** The inbox and shared inbox may be on another
//!   origin than the actor, as Mastodon allows (its account processing stores
//!   `inbox` and `endpoints.sharedInbox` as given): the actor's own server is
//!   the authority on where it receives, and delivery's client still applies
//!   its address policy (no private addresses) to every POST. Keys whose
//!   `owner`/`controller` is another actor are left out of
//!   [`RemoteActor::keys`]; key resolution reads the raw document and makes
//!   its own, stricter checks.
//! * **How long.** An entry is fresh for [`DEFAULT_TTL`] (24 hours,
//!   [`RemoteActors::with_ttl`]) and refetched after. If that refetch fails
//!   for a reason that may pass (network, timeout, 5xx, 429), the stale entry
//!   is served for at most [`DEFAULT_STALE_GRACE`] (7 days,
//!   [`RemoteActors::with_stale_grace`]) past its TTL, so a server that is
//!   down for an afternoon still gets its deliveries queued (delivery retries
//!   them). A `404`/`410` or a document that is no longer a valid actor drops
//!   the entry at once.
//! * **How much.** Documents larger than [`DEFAULT_MAX_DOCUMENT_BYTES`]
//!   (64 KiB, [`RemoteActors::with_max_document_bytes`]) are refused; the
//!   stores are bounded ([`MemoryActorStore`]: 10,000 entries and 64 MiB by
//!   default; `SqliteActorStore`: 100,000 rows).
//!
//! # One cache for everything
//!
//! [`RemoteActors::fetch_cache`] is a [`FetchCache`] over the same store:
//! hand it to [`Fetcher::cache`] for the fetcher behind
//! [`ActorKeyResolver::from_fetcher`](crate::inbox::ActorKeyResolver::from_fetcher)
//! and key resolution reads the actor documents recipient resolution
//! fetched (and the other way round). It caches actors only, and only
//! documents served at their own `id`; anything else passes through
//! uncached.
//!
//! Concurrent [`get`](RemoteActors::get)s of the same uncached actor share
//! one fetch: the first caller fetches, the others wait for its result.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use archipel::client::{ClientError, HttpClient};
//! use archipel::federation::remote::{MemoryActorStore, RemoteActors};
//! use archipel::fetch::Fetcher;
//! use archipel::vocab::Iri;
//! use bytes::Bytes;
//!
//! /// Serves one actor document (a real server would use `ReqwestClient`).
//! struct Bob;
//! #[async_trait::async_trait]
//! impl HttpClient for Bob {
//!     async fn execute(&self, _req: http::Request<Bytes>)
//!         -> Result<http::Response<Bytes>, ClientError> {
//!         Ok(http::Response::builder()
//!             .header("content-type", "application/activity+json")
//!             .body(Bytes::from_static(br#"{"id": "https://b.example/users/bob",
//!                 "type": "Person", "inbox": "https://b.example/users/bob/inbox",
//!                 "endpoints": {"sharedInbox": "https://b.example/inbox"}}"#))
//!             .unwrap())
//!     }
//! }
//!
//! let remote = RemoteActors::new(Fetcher::new(Arc::new(Bob)), Arc::new(MemoryActorStore::new()));
//! let bob = remote.get(&Iri::parse("https://b.example/users/bob")?).await?;
//! assert_eq!(bob.inbox().as_str(), "https://b.example/users/bob/inbox");
//! assert_eq!(bob.shared_inbox().map(Iri::as_str), Some("https://b.example/inbox"));
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::fetch::{FetchCache, FetchError, Fetcher, NoCache};
use crate::flight::{Flights, Role};
use crate::vocab::Iri;

mod actor;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use actor::{KeyMaterial, MAX_KEYS, RemoteActor, RemoteKey};
pub use memory::{DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOTAL_BYTES, MemoryActorStore};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{DEFAULT_MAX_ROWS, SqliteActorStore};
use store::actor_of;
pub use store::{ActorStore, CachedRecipient, StoredActor};

/// How long a cached actor is used without fetching it again (24 hours).
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long past its TTL a stale actor may still be served while its
/// server cannot be reached (7 days).
pub const DEFAULT_STALE_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
/// The largest actor document cached, serialized (64 KiB; Mastodon's are
/// 2 to 10 KiB).
pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Longest input echoed back in an error message.
const ECHO: usize = 256;

/// Why a remote actor could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// Fetching the document failed (network, status, origin checks, ...).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The document is not an actor (a collection, a note, an unknown type).
    #[error("{id}: not an actor (type {found:?})")]
    NotAnActor {
        /// The IRI asked for.
        id: String,
        /// The document's first type name (empty if none).
        found: String,
    },
    /// A property of the actor is missing or not an acceptable value.
    #[error("actor {id}: {field} {value:?} is missing or not an http(s) IRI")]
    Invalid {
        /// The actor (or the IRI asked for).
        id: String,
        /// The property (`id`, `inbox`, `endpoints.sharedInbox`, `followers`).
        field: &'static str,
        /// The value found (empty when missing), truncated.
        value: String,
    },
    /// The document is larger than the cache accepts.
    #[error("actor {id}: document of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The actor.
        id: String,
        /// The serialized size.
        size: usize,
        /// The limit ([`RemoteActors::with_max_document_bytes`]).
        limit: usize,
    },
    /// Another caller's fetch of the same actor, which this call waited
    /// for, failed (its error, as text).
    #[error("actor {id}: fetch failed: {reason}")]
    Unavailable {
        /// The actor.
        id: String,
        /// The first caller's error.
        reason: String,
    },
    /// The [`ActorStore`] failed; the message says how.
    #[error("remote actor store: {0}")]
    Store(String),
}

impl RemoteError {
    /// Whether a later attempt may succeed (network errors, timeouts, 5xx,
    /// 429): the cases where a stale entry may still be served.
    pub fn is_transient(&self) -> bool {
        match self {
            RemoteError::Fetch(FetchError::Client(e)) => e.is_transient(),
            RemoteError::Fetch(FetchError::Status { status, .. }) => {
                *status >= 500 || *status == 429 || *status == 408
            }
            RemoteError::Unavailable { .. } | RemoteError::Store(_) => true,
            _ => false,
        }
    }
}

fn echo(s: &str) -> String {
    s.chars().take(ECHO).collect()
}

/// The cache key of an actor IRI: the parsed URL without fragment, so
/// `https://B.example/users/bob#main-key` and `https://b.example/users/bob`
/// are one entry.
fn cache_key(iri: &str) -> Option<Url> {
    let mut url = Url::parse(iri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// The remote actor cache (see the module docs).
#[derive(Clone)]
pub struct RemoteActors {
    fetcher: Fetcher,
    store: Arc<dyn ActorStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    grace: Duration,
    max_document_bytes: usize,
    flights: Arc<Flights<Result<RemoteActor, String>>>,
}

impl std::fmt::Debug for RemoteActors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteActors")
            .field("fetcher", &self.fetcher)
            .field("ttl", &self.ttl)
            .field("grace", &self.grace)
            .field("max_document_bytes", &self.max_document_bytes)
            .finish_non_exhaustive()
    }
}

impl RemoteActors {
    /// A cache over `store`, fetching misses with `fetcher` (sign it with
    /// the instance actor's key: [`Fetcher::signed`]). The fetcher's own
    /// cache is not used: this cache decides what is fresh.
    pub fn new(fetcher: Fetcher, store: Arc<dyn ActorStore>) -> RemoteActors {
        RemoteActors {
            fetcher: fetcher.cache(Arc::new(NoCache)),
            store,
            clock: Arc::new(SystemClock),
            ttl: DEFAULT_TTL,
            grace: DEFAULT_STALE_GRACE,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            flights: Arc::new(Flights::new(|| {
                Err("the fetching caller was cancelled".to_owned())
            })),
        }
    }

    /// How long an entry is fresh (default [`DEFAULT_TTL`]).
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> RemoteActors {
        self.ttl = ttl;
        self
    }

    /// How long past its TTL a stale entry may be served when the refetch
    /// fails transiently (default [`DEFAULT_STALE_GRACE`]; zero never serves
    /// a stale entry).
    #[must_use]
    pub fn with_stale_grace(mut self, grace: Duration) -> RemoteActors {
        self.grace = grace;
        self
    }

    /// The largest document accepted, serialized (default
    /// [`DEFAULT_MAX_DOCUMENT_BYTES`]).
    #[must_use]
    pub fn with_max_document_bytes(mut self, bytes: usize) -> RemoteActors {
        self.max_document_bytes = bytes;
        self
    }

    /// Where "now" comes from (default the system clock), as
    /// [`Signer::clock`](crate::signatures::Signer::clock) takes it.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> RemoteActors {
        self.clock = clock;
        self
    }

    /// The store behind this cache.
    pub fn store(&self) -> &Arc<dyn ActorStore> {
        &self.store
    }

    fn age(&self, entry: &StoredActor) -> Duration {
        self.age_since(entry.fetched_at())
    }

    fn age_since(&self, fetched_at: std::time::SystemTime) -> Duration {
        // A fetch time in the future (the clock moved back) reads as fresh.
        self.clock
            .now()
            .duration_since(fetched_at)
            .unwrap_or_default()
    }

    fn key(id: &Iri) -> Result<Url, RemoteError> {
        cache_key(id.as_str()).ok_or_else(|| RemoteError::Invalid {
            id: echo(id.as_str()),
            field: "id",
            value: echo(id.as_str()),
        })
    }

    /// The actor `id` (fragment ignored): from the cache if fresh, else
    /// fetched, validated and stored. Concurrent calls for the same
    /// uncached actor share one fetch.
    ///
    /// # Errors
    /// [`RemoteError::Invalid`] for an `id` that is not `http(s)`; every
    /// error of [`RemoteActors::refresh`] when the fetch fails and no stale
    /// entry may be served.
    pub async fn get(&self, id: &Iri) -> Result<RemoteActor, RemoteError> {
        let key = Self::key(id)?;
        let key_iri = Iri::from(&key);
        let cached = self.store.get(&key_iri).await?;
        if let Some(entry) = &cached
            && self.age(entry) < self.ttl
        {
            return Ok(entry.actor.clone());
        }
        let result = match self.flights.join(key.as_str()) {
            Role::Leader(guard) => {
                let result = self.fetch_and_store(&key).await;
                guard.finish(match &result {
                    Ok(a) => Ok(a.clone()),
                    Err(e) => Err(e.to_string()),
                });
                result
            }
            Role::Follower(wait) => wait.await.map_err(|reason| RemoteError::Unavailable {
                id: echo(key.as_str()),
                reason,
            }),
        };
        match result {
            Ok(actor) => Ok(actor),
            Err(e) => match cached {
                Some(entry) if e.is_transient() && self.age(&entry) < self.ttl + self.grace => {
                    Ok(entry.actor)
                }
                _ => Err(e),
            },
        }
    }

    /// Where the actors `ids` receive deliveries, in their order: the
    /// cache is read for all of them in one
    /// [`ActorStore::recipients_many`] (what each validated actor had when
    /// stored, no document decoded), fresh entries answered from it as
    /// [`get`](Self::get) would answer from the cache; the others (missing,
    /// stale, or answered for another id) are fetched through `get`, so
    /// concurrent fetches of one actor are shared, `concurrency` at a
    /// time.
    pub(crate) async fn recipients_many(
        &self,
        ids: &[Iri],
        concurrency: usize,
    ) -> Vec<Result<CachedRecipient, RemoteError>> {
        let keys: Vec<Option<Iri>> = ids
            .iter()
            .map(|id| Self::key(id).ok().map(|k| Iri::from(&k)))
            .collect();
        let asked: Vec<Iri> = keys.iter().flatten().cloned().collect();
        // A store that cannot answer the batch: each actor goes through
        // `get`, which reports the store's error for it.
        // A store that answers another number of entries than asked is
        // not matched up by position: every actor then goes through `get`.
        let mut cached = self
            .store
            .recipients_many(&asked)
            .await
            .ok()
            .filter(|answers| answers.len() == asked.len())
            .unwrap_or_default()
            .into_iter();
        let mut out: Vec<Option<Result<CachedRecipient, RemoteError>>> = keys
            .iter()
            .map(|key| {
                let key = key.as_ref()?;
                match cached.next().flatten() {
                    Some(r) if r.id == *key && self.age_since(r.fetched_at) < self.ttl => {
                        Some(Ok(r))
                    }
                    _ => None,
                }
            })
            .collect();
        let missing: Vec<(usize, &Iri)> = out
            .iter()
            .zip(ids)
            .enumerate()
            .filter(|(_, (answer, _))| answer.is_none())
            .map(|(i, (_, id))| (i, id))
            .collect();
        for chunk in missing.chunks(concurrency.max(1)) {
            let got =
                crate::federation::recipients::join_all(chunk.iter().map(|(_, id)| self.get(id)))
                    .await;
            for ((i, _), result) in chunk.iter().zip(got) {
                if let Some(slot) = out.get_mut(*i) {
                    *slot = Some(result.map(|actor| CachedRecipient::of(&actor)));
                }
            }
        }
        out.into_iter()
            .map(|r| {
                // Every slot was filled above: from the cache or by `get`.
                r.unwrap_or_else(|| {
                    Err(RemoteError::Store(
                        "actor cache: an entry was not resolved".into(),
                    ))
                })
            })
            .collect()
    }

    /// Fetches `id` again whatever the cache holds (after a failed
    /// signature with a cached key, on an `Update` of the actor), and stores
    /// the result. A `404`, `410` or an invalid document removes the entry.
    ///
    /// # Errors
    /// [`RemoteError::Fetch`] (network, status, origin, not served at its
    /// id), [`RemoteError::NotAnActor`], [`RemoteError::Invalid`],
    /// [`RemoteError::TooLarge`], [`RemoteError::Store`].
    pub async fn refresh(&self, id: &Iri) -> Result<RemoteActor, RemoteError> {
        let key = Self::key(id)?;
        self.fetch_and_store(&key).await
    }

    async fn fetch_and_store(&self, key: &Url) -> Result<RemoteActor, RemoteError> {
        let result = match self.fetcher.fetch_authoritative(key).await {
            Ok(doc) => self.entry_of(&doc, key.as_str()),
            Err(e) => Err(RemoteError::Fetch(e)),
        };
        match result {
            Ok(entry) => {
                let actor = entry.actor.clone();
                self.store.put(entry).await?;
                Ok(actor)
            }
            Err(e) => {
                if !e.is_transient() {
                    self.store.remove(&Iri::from(key)).await?;
                }
                Err(e)
            }
        }
    }

    /// Validates a verified document into an entry.
    fn entry_of(&self, doc: &Value, asked: &str) -> Result<StoredActor, RemoteError> {
        let text = serde_json::to_string(doc).map_err(|e| RemoteError::Store(e.to_string()))?;
        if text.len() > self.max_document_bytes {
            return Err(RemoteError::TooLarge {
                id: echo(asked),
                size: text.len(),
                limit: self.max_document_bytes,
            });
        }
        let actor = actor_of(doc, asked)?;
        let mut remote = RemoteActor::from_actor(&actor, self.clock.now())?;
        // Stored under its normalized IRI, as `get` looks it up.
        if let Some(key) = cache_key(remote.id.as_str()) {
            remote.id = Iri::from(&key);
        }
        Ok(StoredActor {
            actor: remote,
            document: Arc::from(text),
        })
    }

    /// Forgets `id` (on an `Update` of the actor, a `Delete`, a key
    /// rotation): the next [`get`](RemoteActors::get) fetches it.
    ///
    /// # Errors
    /// [`RemoteError::Invalid`], [`RemoteError::Store`].
    pub async fn invalidate(&self, id: &Iri) -> Result<bool, RemoteError> {
        let key = Self::key(id)?;
        self.store.remove(&Iri::from(&key)).await
    }

    /// A [`FetchCache`] over this cache's store, for [`Fetcher::cache`]: key
    /// resolution and any other fetch then read the same actor documents.
    ///
    /// It answers with fresh actor documents only, and keeps a document
    /// only if it is a valid actor served at its own `id`; other documents
    /// are not cached.
    pub fn fetch_cache(&self) -> Arc<dyn FetchCache> {
        Arc::new(ActorDocumentCache {
            remote: self.clone(),
        })
    }
}

/// The [`FetchCache`] of [`RemoteActors::fetch_cache`].
struct ActorDocumentCache {
    remote: RemoteActors,
}

#[async_trait::async_trait]
impl FetchCache for ActorDocumentCache {
    async fn get(&self, iri: &Url) -> Option<Value> {
        // A key id (`#main-key`) is answered by its actor's document.
        let key = cache_key(iri.as_str())?;
        let entry = self.remote.store.get(&Iri::from(&key)).await.ok()??;
        if self.remote.age(&entry) >= self.remote.ttl {
            return None;
        }
        serde_json::from_str(entry.document()).ok()
    }

    async fn put(&self, iri: &Url, document: &Value) {
        let Some(key) = cache_key(iri.as_str()) else {
            return;
        };
        // Only a document served at its own id: the fetcher's plain
        // `fetch_value` accepts any id on the same origin.
        let at_its_id = document
            .get("id")
            .and_then(Value::as_str)
            .and_then(cache_key)
            .is_some_and(|id| id == key);
        if !at_its_id {
            return;
        }
        if let Ok(entry) = self.remote.entry_of(document, key.as_str()) {
            // A cache that cannot store is only a slower cache.
            let _ = self.remote.store.put(entry).await;
        }
    }
}
