//! Where relay subscriptions are kept: [`RelayStore`], in memory
//! ([`MemoryRelays`]) or in SQLite (`SqliteRelays`, feature `sqlite`).

use std::sync::Mutex;

use crate::vocab::Iri;

use super::{DEFAULT_MAX_RELAYS, Relay, RelayError};

/// The relay subscriptions of a server, keyed by [`Relay::id`]. Only the
/// operator adds entries ([`Federation::subscribe_relay`](crate::federation::Federation::subscribe_relay));
/// a relay's answer only changes its own entry. A store holds at most a
/// fixed number ([`DEFAULT_MAX_RELAYS`] by default): past it a new
/// subscription is refused ([`RelayError::Full`]), never an old one
/// dropped.
#[async_trait::async_trait]
pub trait RelayStore: Send + Sync {
    /// Every subscription, in the order they were first made.
    async fn all(&self) -> Result<Vec<Relay>, RelayError>;

    /// Adds `relay`, or replaces the entry with its id.
    ///
    /// # Errors
    /// [`RelayError::Full`] for a new entry past the cap.
    async fn put(&self, relay: Relay) -> Result<(), RelayError>;

    /// Removes the entry `id`, returning it.
    async fn remove(&self, id: &Iri) -> Result<Option<Relay>, RelayError>;
}

/// A [`RelayStore`] in memory (lost on exit): the default.
#[derive(Debug)]
pub struct MemoryRelays {
    relays: Mutex<Vec<Relay>>,
    cap: usize,
}

impl Default for MemoryRelays {
    fn default() -> Self {
        MemoryRelays::new()
    }
}

impl MemoryRelays {
    /// An empty store of at most [`DEFAULT_MAX_RELAYS`].
    pub fn new() -> MemoryRelays {
        MemoryRelays {
            relays: Mutex::new(Vec::new()),
            cap: DEFAULT_MAX_RELAYS,
        }
    }

    /// Sets the cap (at least one).
    pub fn with_cap(mut self, cap: usize) -> MemoryRelays {
        self.cap = cap.max(1);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Relay>> {
        self.relays.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl RelayStore for MemoryRelays {
    async fn all(&self) -> Result<Vec<Relay>, RelayError> {
        Ok(self.lock().clone())
    }

    async fn put(&self, relay: Relay) -> Result<(), RelayError> {
        let mut relays = self.lock();
        if let Some(slot) = relays.iter_mut().find(|r| r.id == relay.id) {
            *slot = relay;
            return Ok(());
        }
        if relays.len() >= self.cap {
            return Err(RelayError::Full { cap: self.cap });
        }
        relays.push(relay);
        Ok(())
    }

    async fn remove(&self, id: &Iri) -> Result<Option<Relay>, RelayError> {
        let mut relays = self.lock();
        let found = relays.iter().position(|r| r.id == *id);
        Ok(found.map(|i| relays.remove(i)))
    }
}
