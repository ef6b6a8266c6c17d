//! Deduplication of incoming activities by their `id`.
//!
//! Remote servers retry deliveries, shared inboxes receive one activity for
//! several local users, and an attacker may replay a captured request inside
//! the signature's validity window. The inbox therefore records each accepted
//! activity `id` in a [`SeenStore`] and answers a repeat with `202 Accepted`
//! without handing it to the application again.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// Where the inbox records the activity ids it has already accepted.
///
/// Implement it over a database to share deduplication between processes or
/// keep it across restarts; [`MemorySeenStore`] is the bounded in-memory
/// default.
#[async_trait::async_trait]
pub trait SeenStore: Send + Sync {
    /// Records `id` and returns `true` if it was not recorded before, `false`
    /// if it was (a duplicate). Must be atomic: of two concurrent calls with
    /// the same id, exactly one returns `true`.
    async fn insert_if_new(&self, id: &str) -> bool;

    /// Forgets `id`, so that a later delivery of it is processed again.
    ///
    /// The inbox calls this when the application's handler fails after the id
    /// was recorded, so the sender's retry is not lost.
    async fn forget(&self, id: &str);
}

/// A bounded in-memory [`SeenStore`] that forgets the oldest ids first.
///
/// Holds at most `capacity` ids; beyond that the oldest is evicted (FIFO), so
/// memory stays bounded under any load. A capacity of some tens of thousands
/// covers the retry windows of common senders.
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
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl MemorySeenStore {
    /// The capacity [`Default`] uses.
    pub const DEFAULT_CAPACITY: usize = 50_000;

    /// A store remembering at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How many ids are currently remembered.
    pub fn len(&self) -> usize {
        self.lock().set.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means another thread panicked mid-update of a
        // cache; the sets are still consistent enough to keep using.
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
        let mut inner = self.lock();
        if inner.set.contains(id) {
            return false;
        }
        while inner.order.len() >= self.capacity {
            match inner.order.pop_front() {
                Some(old) => {
                    inner.set.remove(&old);
                }
                None => break,
            }
        }
        inner.set.insert(id.to_owned());
        inner.order.push_back(id.to_owned());
        true
    }

    async fn forget(&self, id: &str) {
        let mut inner = self.lock();
        if inner.set.remove(id) {
            inner.order.retain(|x| x != id);
        }
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
}
