//! The authorizations this server issued: [`QuoteAuthorization`] records
//! in a bounded [`AuthorizationStore`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::vocab::{Context, Iri, Kind, Object};

use super::QuoteError;

/// The default of [`MemoryAuthorizations::new`]: authorizations kept.
pub const DEFAULT_MAX_AUTHORIZATIONS: usize = 100_000;

/// The default share of the authorizations kept that quoters on one host
/// may hold: 5,000 (5% of [`DEFAULT_MAX_AUTHORIZATIONS`]). A new one past it
/// is refused ([`QuoteError::HostFull`]; the quoted side answers the
/// request with a `Reject`), so one server asking to quote public posts with
/// endless new quote IRIs cannot fill the table and leave every other
/// server's quotes unauthorized. The key is the host name (any scheme or
/// port, lower case): a peer with many host names (subdomains of one
/// domain) still gets a share for each, so this bounds a server, not a
/// determined operator of many.
pub const DEFAULT_MAX_AUTHORIZATIONS_PER_HOST: usize = 5_000;

/// The host of a quoter's IRI, lower case (an IDN as punycode), without
/// scheme, port or user info: the key of the per-host caps; one key shared
/// by every IRI without a host ([`host_key`](crate::client::origin::host_key)).
pub(crate) fn quoter_host(iri: &Iri) -> String {
    crate::client::origin::host_key(iri.as_str())
}

/// How many entries of a table each quoter host holds.
#[derive(Debug, Default)]
pub(crate) struct HostCounts(HashMap<String, usize>);

impl HostCounts {
    pub(crate) fn held(&self, host: &str) -> usize {
        self.0.get(host).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, host: &str) {
        *self.0.entry(host.to_owned()).or_insert(0) += 1;
    }

    /// One fewer for `host`; a host holding none is forgotten.
    pub(crate) fn release(&mut self, host: &str) {
        match self.0.get_mut(host) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.0.remove(host);
            }
            None => {}
        }
    }
}

/// One authorization this server issued for a quote of a local post
/// (FEP-044f): served at [`QuoteAuthorization::id`] until revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuoteAuthorization {
    /// Its IRI (`/users/{name}/quote_authorizations/{random}`).
    pub id: Iri,
    /// The quoted author (a local actor): `attributedTo`.
    pub author: Iri,
    /// The quote post (`interactingObject`).
    pub quote: Iri,
    /// The quoted post (`interactionTarget`).
    pub target: Iri,
    /// The quote post's author, who asked.
    pub quoter: Iri,
    /// The `QuoteRequest` it answers.
    pub request: Iri,
}

impl QuoteAuthorization {
    /// The document served at its id, as Mastodon 4.5 writes it.
    pub fn to_object(&self) -> Object {
        let mut o = Object::new(Kind::QuoteAuthorization.as_str())
            .with_id(self.id.clone())
            .with_attributed_to(self.author.clone());
        o.ld_context = Some(Context::activitystreams_with_quotes());
        o.interacting_object = Some(self.quote.clone());
        o.interaction_target = Some(self.target.clone());
        o
    }
}

/// Where issued authorizations are kept. A revoked or lost authorization
/// is no longer served, so every server that checks the quote shows it as
/// a link: a durable application keeps them in its database.
#[async_trait::async_trait]
pub trait AuthorizationStore: Send + Sync {
    /// Stores `auth`, or returns the one already issued for the same quote
    /// of the same post (one authorization per pair).
    ///
    /// # Errors
    /// [`QuoteError::Full`] past the store's cap;
    /// [`QuoteError::HostFull`] when quoters on `auth.quoter`'s host
    /// hold the store's per-host share.
    async fn insert(&self, auth: QuoteAuthorization) -> Result<QuoteAuthorization, QuoteError>;
    /// The authorization with this id.
    async fn get(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError>;
    /// Removes (revokes) the authorization with this id.
    async fn remove(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError>;
}

/// An in-memory [`AuthorizationStore`] of at most a fixed number of
/// authorizations; past it a new one is refused ([`QuoteError::Full`])
/// rather than an old one dropped, since dropping one would silently
/// revoke a quote. Quoters on one host hold at most
/// [`DEFAULT_MAX_AUTHORIZATIONS_PER_HOST`] of them
/// ([`MemoryAuthorizations::with_host_cap`]).
#[derive(Debug)]
pub struct MemoryAuthorizations {
    cap: usize,
    host_cap: usize,
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    by_id: HashMap<Iri, QuoteAuthorization>,
    by_pair: HashMap<(Iri, Iri), Iri>,
    /// How many authorizations quoters on each host hold.
    by_host: HostCounts,
}

impl Default for MemoryAuthorizations {
    fn default() -> Self {
        MemoryAuthorizations::new(DEFAULT_MAX_AUTHORIZATIONS)
    }
}

impl MemoryAuthorizations {
    /// A store of at most `cap` authorizations (at least one), and at most
    /// [`DEFAULT_MAX_AUTHORIZATIONS_PER_HOST`] (or `cap`, if lower) for
    /// quoters on one host.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        MemoryAuthorizations {
            cap,
            host_cap: DEFAULT_MAX_AUTHORIZATIONS_PER_HOST.min(cap),
            inner: Mutex::new(Table::default()),
        }
    }

    /// At most `cap` authorizations (at least one) for quoters on one
    /// host.
    #[must_use]
    pub fn with_host_cap(mut self, cap: usize) -> Self {
        self.host_cap = cap.max(1);
        self
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic elsewhere cannot leave the maps inconsistent (each
        // update is two inserts or two removes), so a poisoned lock is
        // still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl AuthorizationStore for MemoryAuthorizations {
    async fn insert(&self, auth: QuoteAuthorization) -> Result<QuoteAuthorization, QuoteError> {
        let mut t = self.table();
        let pair = (auth.quote.clone(), auth.target.clone());
        if let Some(existing) = t.by_pair.get(&pair).and_then(|id| t.by_id.get(id)) {
            return Ok(existing.clone());
        }
        if t.by_id.len() >= self.cap {
            return Err(QuoteError::Full {
                table: "quote authorization",
                cap: self.cap,
            });
        }
        let host = quoter_host(&auth.quoter);
        if t.by_host.held(&host) >= self.host_cap {
            return Err(QuoteError::HostFull {
                host,
                cap: self.host_cap,
            });
        }
        t.by_host.add(&host);
        t.by_pair.insert(pair, auth.id.clone());
        t.by_id.insert(auth.id.clone(), auth.clone());
        Ok(auth)
    }

    async fn get(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError> {
        Ok(self.table().by_id.get(id).cloned())
    }

    async fn remove(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError> {
        let mut t = self.table();
        let removed = t.by_id.remove(id);
        if let Some(a) = &removed {
            t.by_pair.remove(&(a.quote.clone(), a.target.clone()));
            t.by_host.release(&quoter_host(&a.quoter));
        }
        Ok(removed)
    }
}

/// A bounded first-in-first-out map: the pending requests and the
/// requests this server sent, whose oldest entry is forgotten past the cap
/// (forgetting a request only means a late answer is ignored).
#[derive(Debug)]
pub(crate) struct Bounded<V> {
    cap: usize,
    order: VecDeque<Iri>,
    map: HashMap<Iri, V>,
}

impl<V> Bounded<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Bounded {
            cap: cap.max(1),
            order: VecDeque::new(),
            map: HashMap::new(),
        }
    }

    /// Inserts `value` at `key`: the value it replaced, if any, and those
    /// forgotten to stay within the cap.
    pub(crate) fn insert(&mut self, key: Iri, value: V) -> (Option<V>, Vec<V>) {
        let replaced = self.map.insert(key.clone(), value);
        if replaced.is_none() {
            self.order.push_back(key);
        }
        let mut evicted = Vec::new();
        while self.map.len() > self.cap {
            match self.order.pop_front() {
                Some(old) => evicted.extend(self.map.remove(&old)),
                None => break,
            }
        }
        // Keys removed by `remove` linger in `order`; keep it bounded too.
        if self.order.len() > 2 * self.cap {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
        (replaced, evicted)
    }

    pub(crate) fn get(&self, key: &Iri) -> Option<&V> {
        self.map.get(key)
    }

    pub(crate) fn remove(&mut self, key: &Iri) -> Option<V> {
        self.map.remove(key)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The requests awaiting approval, with how many each quoter host has,
/// kept with the table so that the per-host check costs no scan.
#[derive(Debug)]
pub(crate) struct PendingTable {
    table: Bounded<super::PendingQuote>,
    by_host: HostCounts,
}

impl PendingTable {
    pub(crate) fn new(cap: usize) -> Self {
        PendingTable {
            table: Bounded::new(cap),
            by_host: HostCounts::default(),
        }
    }

    pub(crate) fn get(&self, id: &Iri) -> Option<&super::PendingQuote> {
        self.table.get(id)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &super::PendingQuote> {
        self.table.values()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Takes a place for request `id` from `host`, which may hold `cap`:
    /// `Some(true)` taken, `Some(false)` none needed (a repeat of a
    /// request kept), `None` the host's places are all taken. Taken before
    /// the request is stored, so that concurrent requests cannot overshoot.
    pub(crate) fn reserve(&mut self, id: &Iri, host: &str, cap: usize) -> Option<bool> {
        if self.table.get(id).is_some() {
            return Some(false);
        }
        if self.by_host.held(host) >= cap {
            return None;
        }
        self.by_host.add(host);
        Some(true)
    }

    /// Gives back a place taken by [`PendingTable::reserve`] for a request
    /// that was not kept after all.
    pub(crate) fn unreserve(&mut self, host: &str) {
        self.by_host.release(host);
    }

    /// Keeps `pending`, whose host's place was taken (`reserved`) or not
    /// (a repeat, or read back at start).
    pub(crate) fn insert(&mut self, pending: super::PendingQuote, reserved: bool) {
        let host = quoter_host(&pending.request.quoter);
        let (replaced, evicted) = self.table.insert(pending.request.id.clone(), pending);
        match (replaced.is_some(), reserved) {
            (true, true) => self.by_host.release(&host),
            (false, false) => self.by_host.add(&host),
            _ => {}
        }
        for old in evicted {
            self.by_host.release(&quoter_host(&old.request.quoter));
        }
    }

    pub(crate) fn remove(&mut self, id: &Iri) -> Option<super::PendingQuote> {
        let removed = self.table.remove(id)?;
        self.by_host.release(&quoter_host(&removed.request.quoter));
        Some(removed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `store`, of a per-host cap of 2, against quoters on b.example
    /// however its IRIs are spelled, and on hosts that look like it.
    pub(crate) async fn host_share(store: &dyn AuthorizationStore) {
        let by = |n: u32, quoter: &str| QuoteAuthorization {
            id: iri(&format!(
                "https://a.example/users/alice/quote_authorizations/{n}"
            )),
            author: iri("https://a.example/users/alice"),
            quote: iri(&format!("https://q{n}.example/notes/{n}")),
            target: iri("https://a.example/objects/1"),
            quoter: iri(quoter),
            request: iri(&format!("https://q{n}.example/requests/{n}")),
        };
        store
            .insert(by(1, "https://b.example/users/bob"))
            .await
            .unwrap();
        store
            .insert(by(2, "https://b.example/users/eve"))
            .await
            .unwrap();
        // Spelled otherwise, the same host: no share of its own.
        for (n, quoter) in [
            (3, "https://b.example/users/bob"),
            (4, "https://B.EXAMPLE/users/x"),
            (5, "https://b.example:443/users/x"),
            (6, "https://u1@b.example/users/x"),
            (7, "http://b.example:8080/users/x"),
        ] {
            let full = store.insert(by(n, quoter)).await.unwrap_err();
            assert!(
                matches!(&full, QuoteError::HostFull { host, cap: 2 } if host == "b.example"),
                "{quoter}: {full:?}"
            );
        }
        // Other hosts, however alike, have their own share.
        for (n, quoter) in [
            (8, "https://b.example.evil/users/x"),
            (9, "https://c.example/users/carol"),
        ] {
            store.insert(by(n, quoter)).await.unwrap();
        }
        // A revoked one frees its place.
        store
            .remove(&by(1, "https://b.example/users/bob").id)
            .await
            .unwrap();
        store
            .insert(by(3, "https://b.example/users/bob"))
            .await
            .unwrap();
    }

    #[test]
    fn the_pending_table_counts_each_hosts_places_through_evictions() {
        use super::super::{PendingQuote, QuoteRequest};
        let pending = |id: &str, quoter: &str| {
            PendingQuote::new(
                QuoteRequest {
                    activity: Default::default(),
                    id: iri(id),
                    quoter: iri(quoter),
                    quoted: iri("https://a.example/objects/1"),
                    quote: iri(&format!("{id}/quote")),
                },
                iri("https://a.example/users/alice"),
            )
        };
        let bob = "https://b.example/users/bob";
        let mut t = PendingTable::new(2);
        let r = |n: u32| iri(&format!("https://b.example/r/{n}"));
        assert_eq!(t.reserve(&r(1), "b.example", 2), Some(true));
        t.insert(pending(r(1).as_str(), bob), true);
        assert_eq!(t.reserve(&r(1), "b.example", 2), Some(false), "a repeat");
        t.insert(pending(r(1).as_str(), bob), false);
        assert_eq!(t.reserve(&r(2), "b.example", 2), Some(true));
        t.insert(pending(r(2).as_str(), bob), true);
        assert_eq!(t.reserve(&r(3), "b.example", 2), None, "b.example is full");
        // c.example's request pushes the oldest out: b.example has a place again.
        let c1 = iri("https://c.example/r/1");
        assert_eq!(t.reserve(&c1, "c.example", 2), Some(true));
        t.insert(pending(c1.as_str(), "https://c.example/users/carol"), true);
        assert_eq!(t.len(), 2);
        assert!(t.get(&r(1)).is_none());
        assert_eq!(t.reserve(&r(3), "b.example", 2), Some(true));
        t.unreserve("b.example");
        // Answered: its place is free.
        assert!(t.remove(&r(2)).is_some());
        assert_eq!(t.reserve(&r(3), "b.example", 1), Some(true));
    }

    #[tokio::test]
    async fn memory_store_keeps_one_hosts_quoters_to_their_share() {
        host_share(&MemoryAuthorizations::new(100).with_host_cap(2)).await;
    }

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn auth(n: u32) -> QuoteAuthorization {
        QuoteAuthorization {
            id: iri(&format!(
                "https://a.example/users/alice/quote_authorizations/{n}"
            )),
            author: iri("https://a.example/users/alice"),
            quote: iri(&format!("https://b.example/notes/{n}")),
            target: iri("https://a.example/objects/1"),
            quoter: iri("https://b.example/users/bob"),
            request: iri(&format!("https://b.example/activities/{n}")),
        }
    }

    #[tokio::test]
    async fn memory_store_is_capped_and_one_per_pair() {
        let store = MemoryAuthorizations::new(2);
        assert_eq!(store.insert(auth(1)).await.unwrap(), auth(1));
        // The same quote of the same post again: the first authorization.
        let mut again = auth(1);
        again.id = iri("https://a.example/users/alice/quote_authorizations/other");
        assert_eq!(store.insert(again).await.unwrap(), auth(1));
        store.insert(auth(2)).await.unwrap();
        let full = store.insert(auth(3)).await.unwrap_err();
        assert!(matches!(full, QuoteError::Full { cap: 2, .. }), "{full:?}");
        assert_eq!(store.remove(&auth(1).id).await.unwrap(), Some(auth(1)));
        assert_eq!(store.get(&auth(1).id).await.unwrap(), None);
        store.insert(auth(3)).await.unwrap();
    }

    #[test]
    fn bounded_map_forgets_the_oldest() {
        let mut m = Bounded::new(2);
        for n in 0..5 {
            m.insert(iri(&format!("https://x.example/{n}")), n);
        }
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&iri("https://x.example/0")), None);
        assert_eq!(m.get(&iri("https://x.example/4")), Some(&4));
        for n in 0..100 {
            let k = iri(&format!("https://y.example/{n}"));
            m.insert(k.clone(), n);
            m.remove(&k);
        }
        assert!(m.order.len() <= 4, "{}", m.order.len());
    }
}
