//! [`MemoryActorStore`]: the in-memory, bounded [`ActorStore`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::{ActorStore, RemoteError, StoredActor};
use crate::vocab::Iri;

/// The default entry cap of [`MemoryActorStore`].
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// The default cap on the documents' total size in [`MemoryActorStore`]
/// (64 MiB).
pub const DEFAULT_MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct Tables {
    map: HashMap<String, StoredActor>,
    // Stored first, evicted first: the entry stored longest ago is also the
    // one closest to expiry.
    order: VecDeque<String>,
    bytes: usize,
}

/// An in-memory [`ActorStore`] holding at most
/// [`DEFAULT_MAX_ENTRIES`] entries and [`DEFAULT_MAX_TOTAL_BYTES`] of
/// documents (both adjustable); past either cap, the entry stored longest
/// ago is evicted.
///
/// ```
/// use archipel::federation::remote::MemoryActorStore;
/// let store = MemoryActorStore::new().with_max_entries(1_000);
/// assert_eq!(store.len(), 0);
/// ```
pub struct MemoryActorStore {
    tables: Mutex<Tables>,
    max_entries: usize,
    max_bytes: usize,
}

impl std::fmt::Debug for MemoryActorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryActorStore")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryActorStore {
    fn default() -> Self {
        MemoryActorStore::new()
    }
}

impl MemoryActorStore {
    /// An empty store with the default caps.
    pub fn new() -> MemoryActorStore {
        MemoryActorStore {
            tables: Mutex::new(Tables::default()),
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MAX_TOTAL_BYTES,
        }
    }

    /// At most `n` entries (at least one is always kept).
    #[must_use]
    pub fn with_max_entries(mut self, n: usize) -> MemoryActorStore {
        self.max_entries = n.max(1);
        self
    }

    /// At most `bytes` of documents in total.
    #[must_use]
    pub fn with_max_total_bytes(mut self, bytes: usize) -> MemoryActorStore {
        self.max_bytes = bytes;
        self
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves at worst a stale entry.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn remove_in(t: &mut Tables, key: &str) -> bool {
    match t.map.remove(key) {
        Some(old) => {
            t.bytes = t.bytes.saturating_sub(old.document().len());
            t.order.retain(|k| k != key);
            true
        }
        None => false,
    }
}

#[async_trait::async_trait]
impl ActorStore for MemoryActorStore {
    async fn get(&self, id: &Iri) -> Result<Option<StoredActor>, RemoteError> {
        Ok(self.lock().map.get(id.as_str()).cloned())
    }

    async fn put(&self, entry: StoredActor) -> Result<(), RemoteError> {
        let size = entry.document().len();
        if size > self.max_bytes {
            return Err(RemoteError::Store(format!(
                "actor {}: document of {size} bytes exceeds the store's {} bytes",
                entry.id(),
                self.max_bytes
            )));
        }
        let key = entry.id().as_str().to_owned();
        let mut t = self.lock();
        remove_in(&mut t, &key);
        while t.map.len() >= self.max_entries || t.bytes + size > self.max_bytes {
            let Some(old) = t.order.pop_front() else {
                break;
            };
            if let Some(gone) = t.map.remove(&old) {
                t.bytes = t.bytes.saturating_sub(gone.document().len());
            }
        }
        t.bytes += size;
        t.order.push_back(key.clone());
        t.map.insert(key, entry);
        Ok(())
    }

    async fn remove(&self, id: &Iri) -> Result<bool, RemoteError> {
        Ok(remove_in(&mut self.lock(), id.as_str()))
    }
}
