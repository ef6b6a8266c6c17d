//! Deduplication of incoming activities by their `id`.
//!
//! Remote servers retry deliveries, shared inboxes receive one activity for
//! several local users, and an attacker may replay a captured request inside
//! the signature's validity window. The inbox therefore records each accepted
//! activity `id` in a [`SeenStore`] and answers a repeat with `202 Accepted`
//! without handing it to the application again.

use std::hash::BuildHasher;
use std::sync::Mutex;

use hashbrown::HashTable;
use sha2::{Digest as _, Sha256};

/// Where the inbox records the activity ids it has already accepted.
///
/// The inbox passes the activity `id` as received (at most
/// [`InboxConfig::max_iri_bytes`](super::InboxConfig::max_iri_bytes) long).
/// Implement it over a database to share deduplication between processes or
/// keep it across restarts; store [`id_digest`] rather than the id itself, so
/// each entry has the same small size whatever a sender puts in its ids.
/// [`MemorySeenStore`] is the bounded in-memory default.
#[async_trait::async_trait]
pub trait SeenStore: Send + Sync {
    /// Records `id` and returns `true` if it was not recorded before, `false`
    /// if it was (a duplicate). Must be atomic: of two concurrent calls with
    /// the same id, exactly one returns `true`.
    async fn insert_if_new(&self, id: &str) -> bool;

    /// Whether `id` is recorded, without recording it. The inbox asks
    /// before verifying a forwarded activity, to spare a repeat's fetches;
    /// the default, `false`, only costs them again.
    async fn contains(&self, _id: &str) -> bool {
        false
    }

    /// Forgets `id`, so that a later delivery of it is processed again.
    ///
    /// The inbox calls this when the application's handler fails after the id
    /// was recorded, so the sender's retry is not lost.
    async fn forget(&self, id: &str);
}

/// The SHA-256 digest of an activity `id`: the fixed-size (32-byte) key a
/// [`SeenStore`] should keep instead of the id.
///
/// Ids are chosen by remote senders; keeping their digest bounds the memory
/// (or rows) a store spends per entry, and SHA-256's collision resistance
/// keeps two different ids from being taken for one another.
///
/// ```
/// let d = archipel::inbox::id_digest("https://a.example/activities/1");
/// assert_eq!(d.len(), 32);
/// assert_ne!(d, archipel::inbox::id_digest("https://a.example/activities/2"));
/// ```
pub fn id_digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A bounded in-memory [`SeenStore`] that forgets the oldest ids first.
///
/// Holds at most `capacity` ids; beyond that the oldest is evicted (FIFO), so
/// memory stays bounded under any load. Each id is kept once, as its 32-byte
/// [`id_digest`] in a ring of `capacity` slots, plus a 4-byte index into
/// that ring in a hash table: about 40 bytes per id whatever its length. A
/// capacity of some tens of thousands covers the retry windows of common
/// senders. A [`forget`](SeenStore::forget)ten id's slot stays empty until
/// the ring comes round to it.
///
/// ```
/// # tokio_test_block_on(async {
/// use archipel::inbox::{MemorySeenStore, SeenStore};
/// let seen = MemorySeenStore::new(2);
/// assert!(seen.insert_if_new("https://a.example/1").await);
/// assert!(!seen.insert_if_new("https://a.example/1").await);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
#[derive(Debug)]
pub struct MemorySeenStore {
    capacity: usize,
    inner: Mutex<Ring>,
}

/// The digests in insertion order (a ring overwritten oldest first) and a
/// table of ring positions keyed by digest, so each digest is stored once.
#[derive(Debug, Default)]
struct Ring {
    /// Slot `i` holds a digest, or `None` once it was forgotten.
    slots: Vec<Option<[u8; 32]>>,
    /// The slot the next insertion takes once `slots` is full (the oldest).
    next: usize,
    /// Positions in `slots` of the digests currently remembered.
    index: HashTable<u32>,
    /// Keyed hashing of the digests: digests of attacker-chosen ids cannot
    /// be steered into one bucket without knowing the key.
    hasher: std::hash::RandomState,
}

impl Ring {
    fn hash(&self, digest: &[u8; 32]) -> u64 {
        self.hasher.hash_one(digest)
    }

    fn find(&self, digest: &[u8; 32]) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hash(digest), |&i| {
                slots.get(i as usize).copied().flatten().as_ref() == Some(digest)
            })
            .copied()
    }

    fn remove(&mut self, digest: &[u8; 32]) -> Option<u32> {
        let hash = self.hash(digest);
        let slots = &self.slots;
        let entry = self
            .index
            .find_entry(hash, |&i| {
                slots.get(i as usize).copied().flatten().as_ref() == Some(digest)
            })
            .ok()?;
        let (position, _) = entry.remove();
        if let Some(slot) = self.slots.get_mut(position as usize) {
            *slot = None;
        }
        Some(position)
    }

    /// Records `digest` (known to be absent), evicting the oldest entry when
    /// all `capacity` slots are taken.
    fn push(&mut self, digest: [u8; 32], capacity: usize) {
        let position = if self.slots.len() < capacity {
            self.slots.push(None);
            self.slots.len() - 1
        } else {
            let oldest = self.next;
            self.next = (oldest + 1) % capacity;
            if let Some(old) = self.slots.get(oldest).copied().flatten() {
                self.remove(&old);
            }
            oldest
        };
        // Capacities are far below u32::MAX (checked in `new`).
        let Ok(stored) = u32::try_from(position) else {
            return;
        };
        if let Some(slot) = self.slots.get_mut(position) {
            *slot = Some(digest);
        }
        let hasher = &self.hasher;
        let slots = &self.slots;
        self.index
            .insert_unique(self.hasher.hash_one(digest), stored, |&i| {
                slots
                    .get(i as usize)
                    .copied()
                    .flatten()
                    .map_or(0, |d| hasher.hash_one(d))
            });
    }
}

impl MemorySeenStore {
    /// The capacity [`Default`] uses.
    pub const DEFAULT_CAPACITY: usize = 50_000;

    /// A store remembering at most `capacity` ids (at least one, at most
    /// `u32::MAX`).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.clamp(1, u32::MAX as usize),
            inner: Mutex::new(Ring::default()),
        }
    }

    /// How many ids are currently remembered.
    pub fn len(&self) -> usize {
        self.lock().index.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`SeenStore::forget`] without a future: for a guard that gives a
    /// claim back when dropped.
    pub(crate) fn forget_now(&self, id: &str) {
        let digest = id_digest(id);
        self.lock().remove(&digest);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        // A poisoned lock only means another thread panicked mid-update of a
        // cache; the ring is still consistent enough to keep using.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Default for MemorySeenStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[async_trait::async_trait]
impl SeenStore for MemorySeenStore {
    async fn insert_if_new(&self, id: &str) -> bool {
        let digest = id_digest(id);
        let mut ring = self.lock();
        if ring.find(&digest).is_some() {
            return false;
        }
        ring.push(digest, self.capacity);
        true
    }

    async fn forget(&self, id: &str) {
        self.forget_now(id);
    }

    async fn contains(&self, id: &str) -> bool {
        self.lock().find(&id_digest(id)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut f = std::pin::pin!(f);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn evicts_oldest_beyond_capacity() {
        block_on(async {
            let s = MemorySeenStore::new(2);
            assert!(s.insert_if_new("a").await);
            assert!(s.insert_if_new("b").await);
            assert!(s.insert_if_new("c").await);
            assert_eq!(s.len(), 2);
            // "a" was evicted, so it is new again; "c" is still a duplicate.
            assert!(s.insert_if_new("a").await);
            assert!(!s.insert_if_new("c").await);
        });
    }

    #[test]
    fn forget_allows_reprocessing() {
        block_on(async {
            let s = MemorySeenStore::new(10);
            assert!(s.insert_if_new("x").await);
            s.forget("x").await;
            assert!(s.insert_if_new("x").await);
            assert_eq!(s.len(), 1);
        });
    }

    #[test]
    fn keeps_one_fixed_size_digest_per_id() {
        block_on(async {
            let s = MemorySeenStore::new(3);
            let long = "x".repeat(100_000);
            assert!(s.insert_if_new(&long).await);
            let ring = s.lock();
            assert_eq!(ring.slots, vec![Some(id_digest(&long))]);
            assert_eq!(ring.index.len(), 1);
        });
    }

    #[test]
    fn eviction_and_forget_keep_ring_and_index_in_step() {
        block_on(async {
            let s = MemorySeenStore::new(3);
            for id in ["a", "b", "c"] {
                assert!(s.insert_if_new(id).await);
            }
            s.forget("b").await;
            assert_eq!(s.len(), 2);
            // The ring is full (with b's slot empty): d takes a's slot.
            assert!(s.insert_if_new("d").await);
            assert_eq!(s.len(), 2);
            assert!(s.insert_if_new("a").await);
            assert!(!s.insert_if_new("c").await);
            assert!(!s.insert_if_new("d").await);
            for _ in 0..10 {
                for id in ["e", "f", "g", "h"] {
                    s.insert_if_new(id).await;
                }
            }
            assert_eq!(s.len(), 3);
            assert!(!s.insert_if_new("h").await);
            assert!(s.insert_if_new("e").await);
        });
    }
}
