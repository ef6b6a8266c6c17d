//! Local actors' private keys, and where they are kept ([`KeyStore`]).
//!
//! The decision made here: **a key is never used before it is persisted**.
//! [`KeyStore::load_or_generate`] makes an actor's keys on first use, writes
//! them to the store, and returns what the store then holds. If two tasks
//! (or two processes sharing the store) make keys for the same actor at
//! once, [`KeyStore::insert_missing`] keeps the first and hands it to both,
//! so the key a remote server fetched is always the key that signs.
//!
//! Stores, keyed by the actor's local name (checked with
//! [`Paths::check_name`](super::Paths::check_name); the instance actor uses
//! the reserved [`INSTANCE_KEY_NAME`], which no user name can equal):
//!
//! | store | for | where |
//! |---|---|---|
//! | [`MemoryKeyStore`] | tests, throw-away servers | the process's memory |
//! | [`FileKeyStore`] | one server on one disk | a `0700` directory of `0600` PKCS#8 PEM files |
//! | `SqliteKeyStore` (feature `sqlite`) | a server already keeping SQLite files | one `0600` table in a database file |
//!
//! The RSA key (2048 bits, what Mastodon makes) is published as
//! `publicKey`; the optional Ed25519 key (feature `ed25519`) as an
//! FEP-521a `Multikey` in `assertionMethod`. Generating an RSA key takes
//! tens to hundreds of milliseconds, once per actor; with tokio in the
//! build (features `client`, `delivery`, `sqlite`, `postgres`) it runs on
//! the blocking pool, not on the async worker.
//!
//! A store grows only with the actors the application creates: never call
//! [`KeyStore::load_or_generate`] with a name taken from a request (a
//! WebFinger query, an actor URL) before checking that the user exists, or
//! a peer could make the server generate and keep keys for any name.
//!
//! ```
//! use archipel::federation::keys::{KeyStore, MemoryKeyStore};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), archipel::federation::keys::KeyStoreError> {
//! let store = MemoryKeyStore::new();
//! let first = store.load_or_generate("alice", false).await?;
//! let again = store.load_or_generate("alice", false).await?;
//! assert_eq!(first.rsa.public_key(), again.rsa.public_key());
//! assert!(store.load("../etc/passwd").await.is_err());
//! # Ok(()) }
//! ```

use crate::signatures::{PrivateKey, SignatureError};

use super::paths::Paths;

mod file;
mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use file::FileKeyStore;
pub use memory::MemoryKeyStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteKeyStore;

/// The store name of the instance actor's keys.
///
/// It contains `@`, which [`Paths::check_name`] refuses, so no user can be
/// registered under it and be handed the instance actor's key (which signs
/// the server's own fetches).
pub const INSTANCE_KEY_NAME: &str = "@instance";

/// Largest key PEM a store reads back, in bytes. A 4096-bit RSA PKCS#8 PEM
/// is about 3.3 KB; anything far larger is not a key.
pub const MAX_KEY_PEM_BYTES: usize = 16 * 1024;

/// Why keys could not be loaded, made or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// A file or directory could not be read or written.
    #[error("key store: {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A stored key could not be read back: not PEM, not PKCS#8, the wrong
    /// key type for its slot, or larger than [`MAX_KEY_PEM_BYTES`].
    #[error("key store: {kind} key of {name:?} is corrupt: {reason}")]
    Corrupt {
        /// The actor's store name.
        name: String,
        /// `"rsa"` or `"ed25519"`.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The name is neither a valid local name (1 to 64 of
    /// `[A-Za-z0-9_.-]`) nor [`INSTANCE_KEY_NAME`].
    #[error("key store: name {0:?} must be 1 to 64 of [A-Za-z0-9_.-] (or the instance key name)")]
    InvalidName(String),
    /// A key file, directory or database is accessible to group or others
    /// (unix): a private key readable by other accounts is no longer private.
    #[error(
        "key store: {path} has mode {mode:04o}; group and others must have no access (chmod {want:o})"
    )]
    PermissionsTooOpen {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The mode the store creates it with (`600` or `700`).
        want: u32,
    },
    /// An Ed25519 key was asked for, or found in the store, but this build
    /// lacks the `ed25519` feature.
    #[error("key store: Ed25519 key of {name:?} needs the `ed25519` feature")]
    Ed25519Unavailable {
        /// The actor's store name.
        name: String,
    },
    /// The SQLite database failed.
    #[error("key store: sqlite: {0}")]
    Sqlite(String),
    /// A key could not be generated or encoded.
    #[error("key store: {0}")]
    Signature(#[from] SignatureError),
}

/// Checks a store name: a valid local name ([`Paths::check_name`]) or
/// [`INSTANCE_KEY_NAME`]. Every [`KeyStore`] calls it before touching
/// storage, so a name can never reach a file path or a query unchecked.
///
/// # Errors
/// [`KeyStoreError::InvalidName`].
pub fn check_key_name(name: &str) -> Result<(), KeyStoreError> {
    if name == INSTANCE_KEY_NAME || Paths::check_name(name).is_ok() {
        Ok(())
    } else {
        Err(KeyStoreError::InvalidName(name.chars().take(80).collect()))
    }
}

/// The private keys of one local actor: the RSA key every server
/// understands (`publicKey`, `#main-key`), and optionally an Ed25519 key
/// published as an FEP-521a `Multikey` in `assertionMethod` (`#ed25519-key`).
#[derive(Clone)]
pub struct ActorKeys {
    /// The RSA key (PKCS#1 v1.5 SHA-256), published as `publicKey`.
    pub rsa: PrivateKey,
    /// The Ed25519 key, published in `assertionMethod`, if any.
    pub ed25519: Option<PrivateKey>,
}

impl std::fmt::Debug for ActorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("ActorKeys")
            .field("rsa", &self.rsa.kind())
            .field("ed25519", &self.ed25519.as_ref().map(|k| k.kind()))
            .finish()
    }
}

impl ActorKeys {
    /// Fresh keys: a 2048-bit RSA key, and an Ed25519 key if `with_ed25519`.
    ///
    /// Prefer [`KeyStore::load_or_generate`], which persists them before
    /// they can be used.
    ///
    /// # Errors
    /// [`KeyStoreError::Ed25519Unavailable`] (naming `name`) for
    /// `with_ed25519` without the `ed25519` feature;
    /// [`KeyStoreError::Signature`] if the random source fails.
    pub fn generate(name: &str, with_ed25519: bool) -> Result<ActorKeys, KeyStoreError> {
        let ed25519 = if with_ed25519 {
            Some(generate_ed25519(name)?)
        } else {
            None
        };
        Ok(ActorKeys {
            rsa: PrivateKey::generate_rsa_2048()?,
            ed25519,
        })
    }
}

#[cfg(feature = "ed25519")]
fn generate_ed25519(_name: &str) -> Result<PrivateKey, KeyStoreError> {
    Ok(PrivateKey::generate_ed25519()?)
}

#[cfg(not(feature = "ed25519"))]
fn generate_ed25519(name: &str) -> Result<PrivateKey, KeyStoreError> {
    Err(KeyStoreError::Ed25519Unavailable {
        name: name.to_owned(),
    })
}

/// A 2048-bit RSA key, made on tokio's blocking pool when the build has
/// tokio (features `client`, `delivery`, `sqlite`, `postgres`) and a runtime
/// is running: generation takes tens to hundreds of milliseconds, which
/// must not stall an async worker serving other requests.
async fn generate_rsa_2048() -> Result<PrivateKey, KeyStoreError> {
    #[cfg(any(
        feature = "client",
        feature = "delivery",
        feature = "sqlite",
        feature = "postgres"
    ))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        return runtime
            .spawn_blocking(PrivateKey::generate_rsa_2048)
            .await
            .map_err(|e| SignatureError::Crypto(format!("RSA key generation task: {e}")))?
            .map_err(KeyStoreError::from);
    }
    Ok(PrivateKey::generate_rsa_2048()?)
}

/// The two key slots of an actor, `"rsa"` and `"ed25519"`.
pub(crate) const RSA: &str = "rsa";
pub(crate) const ED25519: &str = "ed25519";

/// Encodes a key for storage.
pub(crate) fn to_pem(key: &PrivateKey) -> Result<String, KeyStoreError> {
    Ok(key.to_pkcs8_pem()?)
}

/// Reads a stored key back, checking that it fits its slot.
pub(crate) fn from_pem(
    name: &str,
    slot: &'static str,
    pem: &str,
) -> Result<PrivateKey, KeyStoreError> {
    let corrupt = |reason: String| KeyStoreError::Corrupt {
        name: name.to_owned(),
        kind: slot,
        reason,
    };
    if pem.len() > MAX_KEY_PEM_BYTES {
        return Err(corrupt(format!(
            "{} bytes exceed {MAX_KEY_PEM_BYTES}",
            pem.len()
        )));
    }
    let key = match PrivateKey::from_pem(pem) {
        Ok(key) => key,
        // Without the feature an Ed25519 PKCS#8 key does not parse at all:
        // say what is missing rather than calling the key corrupt.
        #[cfg(not(feature = "ed25519"))]
        Err(_) if slot == ED25519 => {
            return Err(KeyStoreError::Ed25519Unavailable {
                name: name.to_owned(),
            });
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    if key.kind() != slot {
        return Err(corrupt(format!("holds an {} key", key.kind())));
    }
    Ok(key)
}

/// Where local actors' private keys live, keyed by the actor's local name.
///
/// Implementations check every name with [`check_key_name`] first, and
/// persist a write before returning from it.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// The keys stored under `name`, or `None` if it has no RSA key yet.
    ///
    /// # Errors
    /// [`KeyStoreError::InvalidName`], [`KeyStoreError::Corrupt`], and the
    /// store's own I/O errors.
    async fn load(&self, name: &str) -> Result<Option<ActorKeys>, KeyStoreError>;

    /// Stores `keys` under `name`, replacing what was there (an Ed25519 key
    /// stored before and absent from `keys` is removed): key rotation, or
    /// importing keys made elsewhere.
    ///
    /// # Errors
    /// [`KeyStoreError::InvalidName`], and the store's own I/O errors.
    async fn store(&self, name: &str, keys: &ActorKeys) -> Result<(), KeyStoreError>;

    /// Stores each key of `keys` whose slot under `name` is empty, keeps
    /// the keys already stored, and returns the keys now stored.
    ///
    /// Atomic per slot: when two callers race, both get the first key
    /// written, so no signature is ever made with a key that was lost.
    ///
    /// # Errors
    /// As [`KeyStore::load`] and [`KeyStore::store`].
    async fn insert_missing(
        &self,
        name: &str,
        keys: &ActorKeys,
    ) -> Result<ActorKeys, KeyStoreError>;

    /// The keys of `name`, made and persisted on first use: a 2048-bit RSA
    /// key, plus an Ed25519 key if `with_ed25519` (added to an actor that
    /// had only an RSA key).
    ///
    /// # Errors
    /// [`KeyStoreError::Ed25519Unavailable`] for `with_ed25519` without the
    /// `ed25519` feature; otherwise as [`KeyStore::insert_missing`].
    async fn load_or_generate(
        &self,
        name: &str,
        with_ed25519: bool,
    ) -> Result<ActorKeys, KeyStoreError> {
        check_key_name(name)?;
        let existing = self.load(name).await?;
        if let Some(keys) = &existing
            && (!with_ed25519 || keys.ed25519.is_some())
        {
            return Ok(keys.clone());
        }
        let ed25519 = match existing.as_ref().and_then(|k| k.ed25519.clone()) {
            Some(key) => Some(key),
            None if with_ed25519 => Some(generate_ed25519(name)?),
            None => None,
        };
        let rsa = match existing {
            Some(keys) => keys.rsa,
            None => generate_rsa_2048().await?,
        };
        self.insert_missing(name, &ActorKeys { rsa, ed25519 }).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed RSA key, so store tests need not generate one.
    pub(crate) fn rsa_fixture() -> PrivateKey {
        PrivateKey::from_pem(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/keys/rsa-2048-pkcs8.pem"
        )))
        .unwrap()
    }

    #[test]
    fn key_names() {
        check_key_name("alice").unwrap();
        check_key_name(INSTANCE_KEY_NAME).unwrap();
        for bad in ["", "../x", "a/b", "@alice", "instance@", &"x".repeat(65)] {
            match check_key_name(bad) {
                Err(KeyStoreError::InvalidName(n)) => assert_eq!(n, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        // The reserved name is not a user name.
        assert!(Paths::check_name(INSTANCE_KEY_NAME).is_err());
    }

    #[test]
    fn a_key_in_the_wrong_slot_is_corrupt() {
        let pem = to_pem(&rsa_fixture()).unwrap();
        match from_pem("bob", ED25519, &pem) {
            Err(KeyStoreError::Corrupt { name, kind, reason }) => {
                assert_eq!((name.as_str(), kind), ("bob", ED25519));
                assert_eq!(reason, "holds an rsa key");
            }
            other => panic!("{other:?}"),
        }
        match from_pem("bob", RSA, "not a key") {
            Err(KeyStoreError::Corrupt { name, kind, .. }) => {
                assert_eq!((name.as_str(), kind), ("bob", RSA));
            }
            other => panic!("{other:?}"),
        }
        let huge = "A".repeat(MAX_KEY_PEM_BYTES + 1);
        match from_pem("bob", RSA, &huge) {
            Err(KeyStoreError::Corrupt { reason, .. }) => {
                assert_eq!(reason, "16385 bytes exceed 16384");
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(any(
        feature = "client",
        feature = "delivery",
        feature = "sqlite",
        feature = "postgres"
    ))]
    #[tokio::test(flavor = "current_thread")]
    async fn rsa_generation_leaves_the_async_worker_free() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        let key = generate_rsa_2048().await.unwrap();
        assert_eq!(key.kind(), "rsa");
        // On a single-threaded runtime the other task can only have run if
        // the generation yielded the worker.
        assert!(ran.load(Ordering::SeqCst));
    }

    #[cfg(not(feature = "ed25519"))]
    #[tokio::test]
    async fn ed25519_without_the_feature_is_a_typed_error() {
        let store = MemoryKeyStore::new();
        match store.load_or_generate("alice", true).await {
            Err(KeyStoreError::Ed25519Unavailable { name }) => assert_eq!(name, "alice"),
            other => panic!("{other:?}"),
        }
    }
}
