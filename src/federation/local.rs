//! [`LocalActor`]: one of this server's actors, with its IRIs, its keys
//! and signers, its actor document and its WebFinger JRD bound together,
//! so the key id can never drift between the signer, the delivery job and
//! the published document.
//!
//! The decision made here is what an actor publishes, and to whom:
//! [`LocalActor::document`] is the full actor (ActivityPub §4.1) with its
//! RSA key as `publicKey` and, with an Ed25519 key, an FEP-521a
//! `Multikey` in `assertionMethod`; [`LocalActor::key_document`] is the
//! subset a server in secure ("authorized fetch") mode still gives an
//! unsigned request, enough to verify the actor's signatures and nothing
//! more; [`LocalActor::jrd`] is its WebFinger answer (RFC 7033 §4.4).
//! Keys come from a [`KeyStore`], made and persisted on first use.
//!
//! ```
//! use archipel::federation::{LocalActor, Paths};
//! use archipel::federation::keys::MemoryKeyStore;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let paths = Paths::new("https://books.example".parse()?)?;
//! let store = MemoryKeyStore::new();
//! let alice = LocalActor::load(&paths, "alice", &store, false)
//!     .await?
//!     .with_display_name("Alice");
//! let json = serde_json::to_value(alice.document())?;
//! assert_eq!(json["id"], "https://books.example/users/alice");
//! assert_eq!(json["publicKey"]["id"], "https://books.example/users/alice#main-key");
//! assert_eq!(json["endpoints"]["sharedInbox"], "https://books.example/inbox");
//! assert_eq!(
//!     alice.jrd(&paths).subject.as_deref(),
//!     Some("acct:alice@books.example")
//! );
//! # Ok(()) }
//! ```

use std::sync::Arc;

use crate::signatures::Signer;
use crate::vocab::{Iri, Kind};

use super::keys::{ActorKeys, INSTANCE_KEY_NAME, KeyStore, KeyStoreError};
use super::paths::{Paths, PathsError};

mod document;

/// One of this server's actors.
#[derive(Clone)]
pub struct LocalActor {
    name: String,
    kind: Kind,
    id: Iri,
    inbox: Iri,
    outbox: Iri,
    followers: Iri,
    following: Iri,
    liked: Iri,
    shared_inbox: Iri,
    key_id: Iri,
    signer: Arc<Signer>,
    ed25519_key_id: Option<Iri>,
    ed25519_signer: Option<Arc<Signer>>,
    keys: ActorKeys,
    /// `publicKeyPem`, encoded once.
    public_key_pem: String,
    /// `publicKeyMultibase` of the Ed25519 key, encoded once.
    ed25519_multibase: Option<String>,
    locked: bool,
    display_name: Option<String>,
    summary: Option<String>,
    /// `alsoKnownAs`: the accounts this one is also (a `Move` to it from
    /// one of them is believed only if it is listed here).
    also_known_as: Vec<Iri>,
    /// `movedTo`: the account this one moved to.
    moved_to: Option<Iri>,
}

impl std::fmt::Debug for LocalActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalActor")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("locked", &self.locked)
            .finish_non_exhaustive()
    }
}

impl LocalActor {
    /// A `Person` named `name` under `paths`, signing with `keys`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`] for a name outside `[A-Za-z0-9_.-]{1,64}`.
    pub fn person(paths: &Paths, name: &str, keys: ActorKeys) -> Result<LocalActor, PathsError> {
        let id = paths.actor(name)?;
        Ok(Self::build(
            name,
            Kind::Person,
            id.clone(),
            paths.inbox(name)?,
            paths.outbox(name)?,
            paths.followers(name)?,
            paths.following(name)?,
            paths.liked(name)?,
            paths.shared_inbox(),
            keys,
        ))
    }

    /// The instance actor: an `Application` at `/actor`, named after the
    /// server's authority, whose key signs the server's own GETs (key
    /// fetches, [`Fetcher`](crate::fetch::Fetcher)), as Mastodon's does.
    pub fn instance(paths: &Paths, keys: ActorKeys) -> LocalActor {
        let id = paths.instance_actor();
        let sub = |tail: &str| Iri::new_unchecked(format!("{id}/{tail}"));
        Self::build(
            &paths.authority(),
            Kind::Application,
            id.clone(),
            paths.instance_inbox(),
            sub("outbox"),
            sub("followers"),
            sub("following"),
            sub("liked"),
            paths.shared_inbox(),
            keys,
        )
        .locked(true)
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        name: &str,
        kind: Kind,
        id: Iri,
        inbox: Iri,
        outbox: Iri,
        followers: Iri,
        following: Iri,
        liked: Iri,
        shared_inbox: Iri,
        keys: ActorKeys,
    ) -> LocalActor {
        let key_id = Iri::new_unchecked(format!("{id}#main-key"));
        let signer = Arc::new(Signer::new(key_id.as_str(), keys.rsa.clone()));
        let (ed25519_key_id, ed25519_signer) = match &keys.ed25519 {
            Some(key) => {
                let kid = Iri::new_unchecked(format!("{id}#ed25519-key"));
                let s = Arc::new(Signer::new(kid.as_str(), key.clone()));
                (Some(kid), Some(s))
            }
            None => (None, None),
        };
        let public_key_pem = keys.rsa.public_key().to_spki_pem();
        // Encoding an Ed25519 key as multibase has no failure path; the
        // `Result` covers RSA encodings.
        let ed25519_multibase = keys
            .ed25519
            .as_ref()
            .and_then(|k| k.public_key().to_multibase().ok());
        LocalActor {
            name: name.to_owned(),
            kind,
            id,
            inbox,
            outbox,
            followers,
            following,
            liked,
            shared_inbox,
            key_id,
            signer,
            ed25519_key_id,
            ed25519_signer,
            keys,
            public_key_pem,
            ed25519_multibase,
            locked: false,
            display_name: None,
            summary: None,
            also_known_as: Vec::new(),
            moved_to: None,
        }
    }

    /// Follow requests need approval (`manuallyApprovesFollowers`), builder style.
    pub fn locked(mut self, locked: bool) -> LocalActor {
        self.locked = locked;
        self
    }

    /// The display `name`, builder style.
    pub fn with_display_name(mut self, name: impl Into<String>) -> LocalActor {
        self.display_name = Some(name.into());
        self
    }

    /// The `summary` (HTML), builder style.
    pub fn with_summary(mut self, html: impl Into<String>) -> LocalActor {
        self.summary = Some(html.into());
        self
    }

    /// The accounts this one is also known as (`alsoKnownAs`), builder
    /// style: before an account elsewhere may move here, it must be listed,
    /// since servers receiving its `Move` check this list
    /// ([`migration`](super::migration)). Replaces the list.
    pub fn with_also_known_as(mut self, aliases: Vec<Iri>) -> LocalActor {
        self.also_known_as = aliases;
        self
    }

    /// The account this one moved to (`movedTo`), builder style; `None`
    /// clears it. [`Federation::move_account`](super::Federation::move_account)
    /// sets it before the `Move` leaves.
    pub fn with_moved_to(mut self, target: Option<Iri>) -> LocalActor {
        self.moved_to = target;
        self
    }

    /// The accounts this one is also known as (`alsoKnownAs`).
    pub fn also_known_as(&self) -> &[Iri] {
        &self.also_known_as
    }

    /// The account this one moved to (`movedTo`), if it moved.
    pub fn moved_to(&self) -> Option<&Iri> {
        self.moved_to.as_ref()
    }

    /// The local name (`preferredUsername`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The actor type (`Person`, or `Application` for the instance actor).
    pub fn kind(&self) -> &Kind {
        &self.kind
    }
    /// The actor's IRI.
    pub fn id(&self) -> &Iri {
        &self.id
    }
    /// Its inbox.
    pub fn inbox(&self) -> &Iri {
        &self.inbox
    }
    /// Its outbox.
    pub fn outbox(&self) -> &Iri {
        &self.outbox
    }
    /// Its followers collection (also an audience).
    pub fn followers(&self) -> &Iri {
        &self.followers
    }
    /// Its following collection.
    pub fn following(&self) -> &Iri {
        &self.following
    }
    /// Its liked collection.
    pub fn liked(&self) -> &Iri {
        &self.liked
    }
    /// The server's shared inbox (`endpoints.sharedInbox`).
    pub fn shared_inbox(&self) -> &Iri {
        &self.shared_inbox
    }
    /// The RSA key's id (`{id}#main-key`), the `keyId` of every signature.
    pub fn key_id(&self) -> &Iri {
        &self.key_id
    }
    /// The signer for the RSA key.
    pub fn signer(&self) -> &Arc<Signer> {
        &self.signer
    }
    /// The Ed25519 key's id (`{id}#ed25519-key`), if it has one.
    pub fn ed25519_key_id(&self) -> Option<&Iri> {
        self.ed25519_key_id.as_ref()
    }
    /// The signer for the Ed25519 key, if it has one.
    pub fn ed25519_signer(&self) -> Option<&Arc<Signer>> {
        self.ed25519_signer.as_ref()
    }
    /// The private keys.
    pub fn keys(&self) -> &ActorKeys {
        &self.keys
    }
    /// Whether follow requests need approval.
    pub fn is_locked(&self) -> bool {
        self.locked
    }
    /// The display name, if set.
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }
    /// The summary, if set.
    pub fn summary(&self) -> Option<&str> {
        self.summary.as_deref()
    }
}

impl LocalActor {
    /// The `Person` named `name` under `paths`, with its keys from `store`,
    /// made and persisted there on first use (plus an Ed25519 key if
    /// `with_ed25519`).
    ///
    /// # Errors
    /// [`KeyStoreError::InvalidName`] for a name outside
    /// `[A-Za-z0-9_.-]{1,64}`; otherwise as
    /// [`KeyStore::load_or_generate`].
    pub async fn load(
        paths: &Paths,
        name: &str,
        store: &dyn KeyStore,
        with_ed25519: bool,
    ) -> Result<LocalActor, KeyStoreError> {
        // The store would accept the instance actor's reserved name; a
        // person must have a user name.
        let invalid = |e: PathsError| match e {
            PathsError::InvalidName(n) => KeyStoreError::InvalidName(n),
            other => KeyStoreError::InvalidName(other.to_string()),
        };
        Paths::check_name(name).map_err(invalid)?;
        let keys = store.load_or_generate(name, with_ed25519).await?;
        LocalActor::person(paths, name, keys).map_err(invalid)
    }

    /// The instance actor ([`LocalActor::instance`]), with its keys from
    /// `store` under [`INSTANCE_KEY_NAME`], made on first use.
    ///
    /// # Errors
    /// As [`KeyStore::load_or_generate`].
    pub async fn load_instance(
        paths: &Paths,
        store: &dyn KeyStore,
        with_ed25519: bool,
    ) -> Result<LocalActor, KeyStoreError> {
        let keys = store
            .load_or_generate(INSTANCE_KEY_NAME, with_ed25519)
            .await?;
        Ok(LocalActor::instance(paths, keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::keys::MemoryKeyStore;

    fn paths() -> Paths {
        Paths::new("https://h.example".parse().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn load_makes_keys_once_and_refuses_the_reserved_name() {
        let store = MemoryKeyStore::new();
        // A person cannot be loaded under the instance actor's key name.
        match LocalActor::load(&paths(), INSTANCE_KEY_NAME, &store, false).await {
            Err(KeyStoreError::InvalidName(n)) => assert_eq!(n, INSTANCE_KEY_NAME),
            other => panic!("{other:?}"),
        }
        // ... and the refusal came before the store was asked to make a key.
        assert!(store.load(INSTANCE_KEY_NAME).await.unwrap().is_none());
        let a = LocalActor::load(&paths(), "alice", &store, false)
            .await
            .unwrap();
        let again = LocalActor::load(&paths(), "alice", &store, false)
            .await
            .unwrap();
        assert_eq!(
            a.document().public_key.unwrap().public_key_pem,
            again.document().public_key.unwrap().public_key_pem
        );
        let instance = LocalActor::load_instance(&paths(), &store, false)
            .await
            .unwrap();
        assert_eq!(instance.id().as_str(), "https://h.example/actor");
        assert_ne!(instance.keys().rsa.public_key(), a.keys().rsa.public_key());
    }
}
