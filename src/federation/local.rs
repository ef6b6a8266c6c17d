//! [`LocalActor`]: one of this server's actors, with its IRIs, its keys
//! and signers, its actor document and its WebFinger JRD bound together,
//! so the key id can never drift between the signer, the delivery job and
//! the published document.

use std::sync::Arc;

use crate::signatures::Signer;
use crate::vocab::{Iri, Kind};

use super::keys::ActorKeys;
use super::paths::{Paths, PathsError};

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
    locked: bool,
    display_name: Option<String>,
    summary: Option<String>,
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
            locked: false,
            display_name: None,
            summary: None,
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
