//! [`MemoryKeyStore`]: keys in the process's memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{ActorKeys, KeyStore, KeyStoreError, check_key_name};

/// A [`KeyStore`] in memory: for tests and throw-away servers, whose
/// actors get new keys at every start (remote servers that cached the old
/// keys refetch them when a signature fails).
///
/// It holds one entry per local actor the application creates.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, ActorKeys>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> MemoryKeyStore {
        MemoryKeyStore::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActorKeys>> {
        // The map is never left half-updated, so a poisoned lock is usable.
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl KeyStore for MemoryKeyStore {
    async fn load(&self, name: &str) -> Result<Option<ActorKeys>, KeyStoreError> {
        check_key_name(name)?;
        Ok(self.map().get(name).cloned())
    }

    async fn store(&self, name: &str, keys: &ActorKeys) -> Result<(), KeyStoreError> {
        check_key_name(name)?;
        self.map().insert(name.to_owned(), keys.clone());
        Ok(())
    }

    async fn insert_missing(
        &self,
        name: &str,
        keys: &ActorKeys,
    ) -> Result<ActorKeys, KeyStoreError> {
        check_key_name(name)?;
        let mut map = self.map();
        let entry = map.entry(name.to_owned()).or_insert_with(|| keys.clone());
        if entry.ed25519.is_none() {
            entry.ed25519.clone_from(&keys.ed25519);
        }
        Ok(entry.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::keys::tests::rsa_fixture;

    #[tokio::test]
    async fn generates_once_and_keeps_the_first_key() {
        let store = MemoryKeyStore::new();
        assert!(store.load("alice").await.unwrap().is_none());
        let first = store.load_or_generate("alice", false).await.unwrap();
        assert_eq!(first.rsa.kind(), "rsa");
        assert!(first.ed25519.is_none());
        let again = store.load_or_generate("alice", false).await.unwrap();
        assert_eq!(again.rsa.public_key(), first.rsa.public_key());
        // A racing first use hands back the key already stored.
        let other = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        };
        let kept = store.insert_missing("alice", &other).await.unwrap();
        assert_eq!(kept.rsa.public_key(), first.rsa.public_key());
        // `store` replaces.
        store.store("alice", &other).await.unwrap();
        let loaded = store.load("alice").await.unwrap().unwrap();
        assert_eq!(loaded.rsa.public_key(), rsa_fixture().public_key());
    }

    #[tokio::test]
    async fn hostile_names_are_refused() {
        let store = MemoryKeyStore::new();
        let keys = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        };
        for bad in ["../x", "", &"a".repeat(65)] {
            assert!(matches!(
                store.store(bad, &keys).await,
                Err(KeyStoreError::InvalidName(n)) if n == bad
            ));
            assert!(matches!(
                store.load_or_generate(bad, false).await,
                Err(KeyStoreError::InvalidName(_))
            ));
        }
    }

    #[cfg(feature = "ed25519")]
    #[tokio::test]
    async fn adds_an_ed25519_key_to_an_rsa_only_actor() {
        let store = MemoryKeyStore::new();
        let rsa_only = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        };
        store.store("bob", &rsa_only).await.unwrap();
        let both = store.load_or_generate("bob", true).await.unwrap();
        assert_eq!(both.rsa.public_key(), rsa_fixture().public_key());
        let ed = both.ed25519.clone().unwrap();
        assert_eq!(ed.kind(), "ed25519");
        // Asking again returns the same Ed25519 key, not a new one.
        let again = store.load_or_generate("bob", true).await.unwrap();
        assert_eq!(again.ed25519.unwrap().public_key(), ed.public_key());
        // And an insert never replaces it.
        let other = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: Some(crate::signatures::PrivateKey::generate_ed25519().unwrap()),
        };
        let kept = store.insert_missing("bob", &other).await.unwrap();
        assert_eq!(kept.ed25519.unwrap().public_key(), ed.public_key());
    }
}
