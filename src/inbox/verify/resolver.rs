//! [`ActorKeyResolver`]: a `keyId` → key, through the [`Fetcher`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use super::key_document::{Found, find_key, lists_key};
use super::limits::{HostBudget, NegativeCache};
use crate::client::HttpClient;
use crate::fetch::{FetchError, Fetcher};
use crate::flight::{Flights, Role};
use crate::policy::DomainPolicy;
use crate::signatures::{KeyRefusal, KeyResolver, ResolvedKey, SignatureError, Signer};

/// Largest number of keys (and of failed key ids) the resolver remembers.
const CACHE_CAPACITY: usize = 10_000;
/// A key fetched this recently is not fetched again on `refresh`: a
/// signature that fails with a fresh key is forged, not rotated.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Largest number of hosts whose fetch budget is tracked at once.
const MAX_BUDGET_HOSTS: usize = 4_096;

/// A [`KeyResolver`] that dereferences a `keyId` to the actor (or key)
/// document that publishes it, with the checks Mastodon applies.
///
/// The document is fetched through a [`Fetcher`] (the same code path as
/// every other object, so the client's `FetchPolicy` applies: size cap,
/// timeouts, private addresses), which here also:
/// - refuses a redirect to another origin
///   ([`KeyRefusal::CrossOriginRedirect`]): an open redirect on a server
///   cannot make another server's document stand for its keys;
/// - accepts only JSON media types (`application/activity+json`,
///   `application/ld+json`, `application/json`): a file uploaded to a
///   server and served as `text/plain` is refused ([`KeyRefusal::NotJson`]);
/// - requires the document to be served at its own `id`, fetching that
///   `id` once more when it is not ([`Fetcher::fetch_authoritative`]).
///
/// The key is then read from the actor's `publicKey` (one or an array) or
/// FEP-521a `assertionMethod` (`Multikey` with `publicKeyMultibase`;
/// Ed25519 needs the `ed25519` feature); its `owner` / `controller` must be
/// that actor. A **standalone key document** (`owner` + `publicKeyPem`, or
/// a `Multikey` with `controller`) counts only if the owner's actor
/// document, fetched and checked the same way, lists the key id in
/// `publicKey` or `assertionMethod` ([`KeyRefusal::NotListedByOwner`]).
///
/// Before any request: the key id must be an `http(s)` IRI; its host must
/// pass the domain policy ([`ActorKeyResolver::with_domain_policy`]); a key id
/// that failed within the negative-cache TTL (default five minutes) is
/// refused with [`KeyRefusal::RecentlyFailed`]; and each host has a budget
/// of key fetches (default 60 per minute, a token bucket), past which
/// [`KeyRefusal::OverBudget`] is returned (the inbox answers `503`).
///
/// Resolved keys are cached for [`ActorKeyResolver::with_ttl`] (default
/// one hour); the verifier asks again with `refresh = true` after a
/// failure, which handles key rotation, but a key fetched less than a
/// minute ago is not fetched again (a bad signature with a fresh key is a
/// forgery, and must not make us fetch on the forger's behalf). Every map
/// is bounded.
///
/// One fetch per key id at a time: requests that need a key id whose
/// fetch is already running wait for that fetch and share its outcome, so
/// a burst of activities from an actor the server has not met costs one
/// fetch (and one unit of the host's budget), not one per request.
pub struct ActorKeyResolver {
    fetcher: Fetcher,
    domains: Option<DomainPolicy>,
    ttl: Duration,
    cache: Mutex<Cache>,
    negative: Mutex<NegativeCache>,
    /// Key ids whose document answered `404`/`410`, kept apart from
    /// `negative` so a repeat is refused as [`KeyRefusal::Gone`] again
    /// (the gone-actor path needs the typed reason), without a fetch.
    gone: Mutex<NegativeCache>,
    budget: Mutex<HostBudget>,
    /// The key fetches running, by key id (and whether they refresh).
    flights: Flights<Result<ResolvedKey, KeyRefusal>>,
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, (ResolvedKey, Instant)>,
    order: VecDeque<String>,
}

impl std::fmt::Debug for ActorKeyResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorKeyResolver")
            .field("fetcher", &self.fetcher)
            .field("domains", &self.domains)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ActorKeyResolver {
    /// A resolver fetching through `client`, unsigned, with a one-hour key
    /// cache, a five-minute negative cache and 60 key fetches per host per
    /// minute.
    pub fn new(client: Arc<dyn HttpClient>) -> Self {
        Self::from_fetcher(Fetcher::new(client))
    }

    /// A resolver fetching through `fetcher`, whose signer, cache and
    /// domain policy apply; cross-origin redirects are refused whatever
    /// `fetcher` was configured with.
    pub fn from_fetcher(fetcher: Fetcher) -> Self {
        Self {
            domains: fetcher.domain_policy().cloned(),
            fetcher: fetcher.same_origin_redirects(),
            ttl: Duration::from_secs(3600),
            cache: Mutex::new(Cache::default()),
            negative: Mutex::new(NegativeCache::new(Duration::from_secs(300), CACHE_CAPACITY)),
            gone: Mutex::new(NegativeCache::new(Duration::from_secs(300), CACHE_CAPACITY)),
            budget: Mutex::new(HostBudget::new(
                60,
                Duration::from_secs(60),
                MAX_BUDGET_HOSTS,
            )),
            flights: Flights::new(|| {
                Err(KeyRefusal::Fetch(
                    "the request fetching this key was cancelled".to_owned(),
                ))
            }),
        }
    }

    /// Signs key fetches with `signer` (servers in "authorized fetch" /
    /// secure mode refuse unsigned `GET`s), as [`Fetcher::signed`] does.
    /// Use the instance actor's key.
    #[must_use]
    pub fn with_signer(mut self, signer: Arc<Signer>) -> Self {
        self.fetcher = self.fetcher.signed(signer);
        self
    }

    /// Refuses key ids (and key owners) on hosts `policy` blocks, before
    /// any request ([`KeyRefusal::Blocked`]). Pass the inbox's policy: the
    /// inbox checks the activity's actor, but a key id may name another
    /// host.
    #[must_use]
    pub fn with_domain_policy(mut self, policy: DomainPolicy) -> Self {
        // Checked by `admit` before each fetch (the key's host and the
        // owner's), before any budget is spent.
        self.domains = Some(policy);
        self
    }

    /// How long a resolved key is reused without fetching again.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a key id that failed is refused without fetching again
    /// (default five minutes; zero disables the negative cache).
    #[must_use]
    pub fn with_negative_ttl(self, ttl: Duration) -> Self {
        if let Ok(mut n) = self.negative.lock() {
            n.set_ttl(ttl);
        }
        if let Ok(mut g) = self.gone.lock() {
            g.set_ttl(ttl);
        }
        self
    }

    /// At most `fetches` key fetches per host per `period`, refilled
    /// continuously (a token bucket; default 60 per minute). Cached keys
    /// cost nothing; a standalone key document costs one fetch at its host
    /// and one at its owner's.
    #[must_use]
    pub fn with_fetch_budget(self, fetches: u32, period: Duration) -> Self {
        if let Ok(mut b) = self.budget.lock() {
            *b = HostBudget::new(fetches, period, MAX_BUDGET_HOSTS);
        }
        self
    }

    /// How recently a cached key must have been fetched to answer without
    /// a request: within the TTL, or for a refresh within the last minute
    /// (forged signatures naming a real key must not each cost a fetch).
    fn fresh_for(&self, refresh: bool) -> std::time::Duration {
        if refresh {
            MIN_REFRESH_INTERVAL.min(self.ttl)
        } else {
            self.ttl
        }
    }

    /// The cached key, if fetched within `fresh_for(refresh)`: marked as
    /// cached for a lookup, as fresh for a refresh (so the verifier does
    /// not ask again).
    fn cached(&self, key_id: &str, refresh: bool) -> Option<ResolvedKey> {
        let cache = self.cache.lock().ok()?;
        let (key, at) = cache.map.get(key_id)?;
        if at.elapsed() >= self.fresh_for(refresh) {
            return None;
        }
        Some(if refresh {
            key.clone()
        } else {
            key.clone().cached()
        })
    }

    /// Whether [`cached`](Self::cached) would answer, without copying the
    /// key.
    fn has_cached(&self, key_id: &str, refresh: bool) -> bool {
        self.cache.lock().is_ok_and(|cache| {
            cache
                .map
                .get(key_id)
                .is_some_and(|(_, at)| at.elapsed() < self.fresh_for(refresh))
        })
    }

    /// A refusal remembered for `key_id` (its key gone, or a fetch that
    /// failed moments ago): answered again without a request.
    fn remembered_refusal(&self, key_id: &str) -> Option<SignatureError> {
        if let Some(reason) = self.recently_gone(key_id) {
            // Not recorded again: the entry lapses at its first TTL.
            return Some(SignatureError::KeyResolution {
                key_id: key_id.chars().take(512).collect(),
                reason,
            });
        }
        let reason = self
            .negative
            .lock()
            .ok()
            .and_then(|n| n.get(key_id, Instant::now()).map(str::to_owned))?;
        Some(self.refuse(key_id, KeyRefusal::RecentlyFailed { reason }))
    }

    fn remember(&self, key_id: &str, key: &ResolvedKey) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache
            .map
            .insert(key_id.to_owned(), (key.clone(), Instant::now()))
            .is_none()
        {
            cache.order.push_back(key_id.to_owned());
        }
        while cache.order.len() > CACHE_CAPACITY {
            if let Some(old) = cache.order.pop_front() {
                cache.map.remove(&old);
            }
        }
    }

    /// Domain policy and budget for one fetch from `url`'s host.
    fn admit(&self, url: &Url) -> Result<(), KeyRefusal> {
        let host = url
            .host_str()
            .ok_or(KeyRefusal::InvalidKeyId)?
            .to_ascii_lowercase();
        if let Some(policy) = &self.domains
            && !policy.allows(&host)
        {
            return Err(KeyRefusal::Blocked { host });
        }
        let granted = self
            .budget
            .lock()
            .map(|mut b| b.take(&host, Instant::now()))
            .unwrap_or(false);
        if granted {
            Ok(())
        } else {
            Err(KeyRefusal::OverBudget { host })
        }
    }

    /// On `refresh` the shared fetch cache is not read: the key may have
    /// been rotated since the cached document was fetched.
    async fn fetch_document(
        &self,
        url: &Url,
        refresh: bool,
    ) -> Result<serde_json::Value, KeyRefusal> {
        self.admit(url)?;
        let fetched = if refresh {
            self.fetcher.refetch_authoritative(url).await
        } else {
            self.fetcher.fetch_authoritative(url).await
        };
        fetched.map_err(refusal_of)
    }

    async fn fetch(&self, key_id: &str, refresh: bool) -> Result<ResolvedKey, KeyRefusal> {
        let url = Url::parse(key_id).map_err(|_| KeyRefusal::InvalidKeyId)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(KeyRefusal::InvalidKeyId);
        }
        let mut document_url = url.clone();
        document_url.set_fragment(None);
        let document = self.fetch_document(&document_url, refresh).await?;
        match find_key(key_id, &document)? {
            Found::Owned { key, owner } => Ok(ResolvedKey::new(key, owner)),
            Found::NeedsOwner { key, owner } => {
                let owner_url = Url::parse(&owner).map_err(|_| KeyRefusal::NotListedByOwner {
                    owner: owner.clone(),
                })?;
                let actor = self.fetch_document(&owner_url, refresh).await?;
                let actor_id = actor.get("id").and_then(serde_json::Value::as_str);
                if actor_id != Some(owner.as_str()) || !lists_key(&actor, key_id) {
                    return Err(KeyRefusal::NotListedByOwner { owner });
                }
                Ok(ResolvedKey::new(key, owner))
            }
        }
    }

    /// The `404`/`410` recorded for `key_id` within the negative TTL.
    fn recently_gone(&self, key_id: &str) -> Option<KeyRefusal> {
        let g = self.gone.lock().ok()?;
        let (status, url) = g.get(key_id, Instant::now())?.split_once(' ')?;
        Some(KeyRefusal::Gone {
            url: url.to_owned(),
            status: status.parse().ok()?,
        })
    }

    fn refuse(&self, key_id: &str, reason: KeyRefusal) -> SignatureError {
        // Decisions made without a request are not remembered: they are
        // cheap to make again, and a budget refills.
        let remember = !matches!(
            reason,
            KeyRefusal::Blocked { .. }
                | KeyRefusal::OverBudget { .. }
                | KeyRefusal::RecentlyFailed { .. }
                | KeyRefusal::InvalidKeyId
        );
        if let KeyRefusal::Gone { url, status } = &reason {
            if let Ok(mut g) = self.gone.lock() {
                g.insert(key_id, format!("{status} {url}"), Instant::now());
            }
        } else if remember && let Ok(mut n) = self.negative.lock() {
            n.insert(key_id, reason.to_string(), Instant::now());
        }
        SignatureError::KeyResolution {
            key_id: key_id.chars().take(512).collect(),
            reason,
        }
    }
}

/// The key-resolution view of a fetch failure.
fn refusal_of(e: FetchError) -> KeyRefusal {
    match e {
        FetchError::NotActivityStreams { url, content_type } => {
            KeyRefusal::NotJson { url, content_type }
        }
        FetchError::CrossOriginRedirect { url, final_url } => {
            KeyRefusal::CrossOriginRedirect { url, final_url }
        }
        FetchError::OriginMismatch { id, fetched } | FetchError::NotAtItsId { id, fetched } => {
            KeyRefusal::NotAuthoritative { id, fetched }
        }
        FetchError::Blocked { host, .. } => KeyRefusal::Blocked { host },
        FetchError::NotFound { url } => KeyRefusal::Gone { url, status: 404 },
        FetchError::Gone { url } => KeyRefusal::Gone { url, status: 410 },
        other => KeyRefusal::Fetch(other.to_string()),
    }
}

#[async_trait::async_trait]
impl KeyResolver for ActorKeyResolver {
    async fn resolve(&self, key_id: &str, refresh: bool) -> Result<ResolvedKey, SignatureError> {
        if let Some(hit) = self.cached(key_id, refresh) {
            return Ok(hit);
        }
        if let Some(refusal) = self.remembered_refusal(key_id) {
            return Err(refusal);
        }
        // A refresh is its own flight: it must not take the outcome of a
        // cached-path fetch that started before the key was rotated.
        let flight = format!("{}{key_id}", if refresh { "r " } else { "c " });
        let outcome = match self.flights.join(&flight) {
            Role::Leader(guard) => {
                let outcome = self.fetch(key_id, refresh).await;
                if let Ok(resolved) = &outcome {
                    // Cached before the flight ends: a caller arriving
                    // after it reads the cache instead of fetching again.
                    self.remember(key_id, resolved);
                }
                guard.finish(outcome.clone());
                outcome
            }
            Role::Follower(wait) => wait.await,
        };
        match outcome {
            Ok(resolved) => {
                self.remember(key_id, &resolved);
                if let Ok(mut n) = self.negative.lock() {
                    n.remove(key_id);
                }
                Ok(resolved)
            }
            Err(reason) => Err(self.refuse(key_id, reason)),
        }
    }

    fn holds(&self, key_id: &str, refresh: bool) -> bool {
        // As `resolve` answers without a request: a cached key (for a
        // refresh, one fetched less than a minute ago), or a refusal
        // remembered (gone, recently failed).
        self.has_cached(key_id, refresh) || self.remembered_refusal(key_id).is_some()
    }
}
