//! [`RemoteActor`]: what this server keeps of a remote actor, validated
//! from its document.

use std::time::SystemTime;

use serde_json::Value;
use url::Url;

use super::{RemoteError, echo};
use crate::delivery::Recipient;
use crate::vocab::{Actor, Category, Iri, Kind};

/// The most keys kept per actor (`publicKey` and `assertionMethod`).
pub const MAX_KEYS: usize = 16;

/// The key material an actor publishes, as text (parse it with
/// [`PublicKey`](crate::signatures::PublicKey) when verifying).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyMaterial {
    /// `publicKey.publicKeyPem`: an SPKI PEM (RSA, usually).
    Pem(String),
    /// `assertionMethod[].publicKeyMultibase`: a FEP-521a Multikey.
    Multibase(String),
}

/// One key an actor publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteKey {
    /// The key's id (the `keyId` of the actor's signatures).
    pub id: Iri,
    /// The key.
    pub material: KeyMaterial,
}

/// What this server needs to know of a remote actor: where to deliver, its
/// followers collection (to recognise it in addressing) and its keys.
///
/// Built only through [`RemoteActor::from_actor`], which validates (see
/// the module docs), so every `RemoteActor` has an `http(s)` id and inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteActor {
    pub(super) id: Iri,
    pub(super) kind: Kind,
    pub(super) inbox: Iri,
    pub(super) shared_inbox: Option<Iri>,
    pub(super) followers: Option<Iri>,
    pub(super) preferred_username: Option<String>,
    pub(super) keys: Vec<RemoteKey>,
    pub(super) manually_approves_followers: bool,
    pub(super) fetched_at: SystemTime,
}

/// An `http(s)` IRI that parses as a URL (so delivery can use it).
pub(super) fn http_url(iri: &Iri) -> Option<Url> {
    if !iri.is_http() {
        return None;
    }
    iri.to_url().ok().filter(|u| u.host_str().is_some())
}

impl RemoteActor {
    /// Validates `actor` (see the module docs) and keeps what this server
    /// uses, stamped `fetched_at`.
    ///
    /// ```
    /// use archipel::federation::remote::{RemoteActor, RemoteError};
    /// use archipel::vocab::Actor;
    /// let actor: Actor = serde_json::from_str(r#"{"id": "https://b.example/users/bob",
    ///     "type": "Person", "inbox": "javascript:alert(1)"}"#)?;
    /// let err = RemoteActor::from_actor(&actor, std::time::SystemTime::now()).unwrap_err();
    /// assert!(matches!(err, RemoteError::Invalid { field: "inbox", .. }));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`RemoteError::NotAnActor`] unless the type is an actor type;
    /// [`RemoteError::Invalid`] naming the field otherwise.
    pub fn from_actor(actor: &Actor, fetched_at: SystemTime) -> Result<RemoteActor, RemoteError> {
        let id = actor.base.id.clone().unwrap_or_default();
        let invalid = |field: &'static str, value: &str| RemoteError::Invalid {
            id: echo(id.as_str()),
            field,
            value: echo(value),
        };
        let kind = actor
            .base
            .type_names()
            .find_map(Kind::from_name)
            .filter(|k| k.category() == Category::Actor)
            .ok_or_else(|| RemoteError::NotAnActor {
                id: echo(id.as_str()),
                found: echo(actor.base.type_name().unwrap_or_default()),
            })?;
        if http_url(&id).is_none() {
            return Err(invalid("id", id.as_str()));
        }
        let inbox = actor
            .inbox
            .clone()
            .filter(|i| http_url(i).is_some())
            .ok_or_else(|| invalid("inbox", actor.inbox.as_ref().map_or("", Iri::as_str)))?;
        // Mastodon also reads a top-level `sharedInbox` (older servers).
        let top_level = actor
            .base
            .extra
            .get("sharedInbox")
            .and_then(Value::as_str)
            .map(Iri::new_unchecked);
        let shared_inbox = actor.shared_inbox().cloned().or(top_level);
        if let Some(s) = &shared_inbox
            && http_url(s).is_none()
        {
            return Err(invalid("endpoints.sharedInbox", s.as_str()));
        }
        let followers = actor.followers_id().cloned();
        if let Some(f) = &followers
            && http_url(f).is_none()
        {
            return Err(invalid("followers", f.as_str()));
        }
        Ok(RemoteActor {
            keys: keys_of(actor, &id),
            id,
            kind,
            inbox,
            shared_inbox,
            followers,
            preferred_username: actor.preferred_username.clone(),
            manually_approves_followers: actor.manually_approves_followers.unwrap_or(false),
            fetched_at,
        })
    }

    /// The actor's IRI.
    pub fn id(&self) -> &Iri {
        &self.id
    }
    /// Its type (`Person`, `Service`, `Application`, `Group`, `Organization`).
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// Its personal inbox (ActivityPub §4.1).
    pub fn inbox(&self) -> &Iri {
        &self.inbox
    }
    /// Its server's shared inbox (`endpoints.sharedInbox`, ActivityPub
    /// §7.1.3), if advertised.
    pub fn shared_inbox(&self) -> Option<&Iri> {
        self.shared_inbox.as_ref()
    }
    /// Its followers collection, if published.
    pub fn followers(&self) -> Option<&Iri> {
        self.followers.as_ref()
    }
    /// Its `preferredUsername`, if any.
    pub fn preferred_username(&self) -> Option<&str> {
        self.preferred_username.as_deref()
    }
    /// The keys it publishes as its own (at most [`MAX_KEYS`]).
    pub fn keys(&self) -> &[RemoteKey] {
        &self.keys
    }
    /// Whether it approves follow requests by hand (a "locked" account).
    pub fn manually_approves_followers(&self) -> bool {
        self.manually_approves_followers
    }
    /// When the document was fetched (or received).
    pub fn fetched_at(&self) -> SystemTime {
        self.fetched_at
    }

    /// The delivery target for this actor: its inbox, shared inbox and id.
    pub fn recipient(&self) -> Option<Recipient> {
        recipient_of(&self.id, &self.inbox, self.shared_inbox.as_ref())
    }
}

/// The delivery target of an actor `id` with `inbox` and `shared_inbox`:
/// `None` unless its inbox is an `http(s)` URL with a host.
pub(super) fn recipient_of(id: &Iri, inbox: &Iri, shared_inbox: Option<&Iri>) -> Option<Recipient> {
    let mut r = Recipient::new(http_url(inbox)?);
    r.id = http_url(id);
    r.shared_inbox = shared_inbox.and_then(http_url);
    Some(r)
}

/// The keys `actor` publishes as its own.
fn keys_of(actor: &Actor, id: &Iri) -> Vec<RemoteKey> {
    let mut keys = Vec::new();
    if let Some(pk) = &actor.public_key
        && let (Some(kid), Some(pem)) = (&pk.id, &pk.public_key_pem)
        && pk.owner.as_ref().is_none_or(|o| o == id)
    {
        keys.push(RemoteKey {
            id: kid.clone(),
            material: KeyMaterial::Pem(pem.clone()),
        });
    }
    for mk in actor.assertion_method.iter().flat_map(|m| m.iter()) {
        if let (Some(kid), Some(mb)) = (&mk.id, &mk.public_key_multibase)
            && mk.controller.as_ref().is_none_or(|c| c == id)
        {
            keys.push(RemoteKey {
                id: kid.clone(),
                material: KeyMaterial::Multibase(mb.clone()),
            });
        }
    }
    keys.truncate(MAX_KEYS);
    keys
}
