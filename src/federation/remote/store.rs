//! [`ActorStore`]: where [`RemoteActors`](super::RemoteActors) keeps its
//! entries, and [`StoredActor`], one entry.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::{RemoteActor, RemoteError, echo};
use crate::vocab::{Actor, AnyObject, Iri};

/// One cached actor: the validated [`RemoteActor`] and the verified
/// document it came from (JSON text), which key resolution reads.
#[derive(Debug, Clone)]
pub struct StoredActor {
    pub(super) actor: RemoteActor,
    pub(super) document: Arc<str>,
}

impl StoredActor {
    /// Rebuilds an entry from a stored document and its fetch time, as a
    /// store that keeps only text (SQLite, Redis) does on reading.
    ///
    /// # Errors
    /// [`RemoteError::Store`] if the text is not JSON; the errors of
    /// [`RemoteActor::from_actor`] if it is not a valid actor.
    pub fn decode(document: &str, fetched_at: SystemTime) -> Result<StoredActor, RemoteError> {
        let value: Value = serde_json::from_str(document)
            .map_err(|e| RemoteError::Store(format!("stored actor document: {e}")))?;
        let actor = actor_of(&value, "stored actor")?;
        Ok(StoredActor {
            actor: RemoteActor::from_actor(&actor, fetched_at)?,
            document: Arc::from(document),
        })
    }

    /// The actor.
    pub fn actor(&self) -> &RemoteActor {
        &self.actor
    }
    /// The actor's IRI, the store's key.
    pub fn id(&self) -> &Iri {
        &self.actor.id
    }
    /// The verified document, JSON text.
    pub fn document(&self) -> &str {
        &self.document
    }
    /// When it was fetched.
    pub fn fetched_at(&self) -> SystemTime {
        self.actor.fetched_at
    }
}

/// Decodes `doc` as an actor.
pub(super) fn actor_of(doc: &Value, asked: &str) -> Result<Actor, RemoteError> {
    match AnyObject::from_value(doc) {
        Ok(AnyObject::Actor(actor)) => Ok(*actor),
        Ok(other) => Err(RemoteError::NotAnActor {
            id: echo(asked),
            found: echo(other.type_name().unwrap_or_default()),
        }),
        Err(e) => Err(RemoteError::NotAnActor {
            id: echo(asked),
            found: echo(&e.to_string()),
        }),
    }
}

/// A cached actor as a fan-out reads it: its id, its inboxes as the
/// document gave them, and when it was fetched
/// ([`ActorStore::recipients_many`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachedRecipient {
    /// The actor's `id`.
    pub id: Iri,
    /// Its `inbox`, as the validated actor has it.
    pub inbox: Iri,
    /// Its shared inbox (`endpoints.sharedInbox`, or a top-level
    /// `sharedInbox`), as the validated actor has it.
    pub shared_inbox: Option<Iri>,
    /// When its document was fetched.
    pub fetched_at: SystemTime,
}

impl CachedRecipient {
    /// A recipient read back from a store: what the validated actor `id`
    /// had when it was stored (a store writes these from a
    /// [`RemoteActor`], never from an unchecked document).
    pub fn new(id: Iri, inbox: Iri, shared_inbox: Option<Iri>, fetched_at: SystemTime) -> Self {
        CachedRecipient {
            id,
            inbox,
            shared_inbox,
            fetched_at,
        }
    }

    /// What `actor` is as a recipient.
    pub fn of(actor: &RemoteActor) -> Self {
        Self::new(
            actor.id().clone(),
            actor.inbox().clone(),
            actor.shared_inbox().cloned(),
            actor.fetched_at(),
        )
    }

    /// The delivery target, as [`RemoteActor::recipient`] answers it:
    /// `None` unless the inbox is an `http(s)` URL with a host.
    pub fn recipient(&self) -> Option<crate::delivery::Recipient> {
        super::actor::recipient_of(&self.id, &self.inbox, self.shared_inbox.as_ref())
    }
}

/// Where [`RemoteActors`](super::RemoteActors) keeps its entries, keyed by actor IRI.
///
/// Implementations must be bounded (a remote peer decides how many actors
/// this server meets). [`MemoryActorStore`](super::MemoryActorStore) is the default;
/// `SqliteActorStore` (feature `sqlite`) survives restarts.
#[async_trait::async_trait]
pub trait ActorStore: Send + Sync {
    /// The entry for `id`, fresh or not (freshness is the caller's call).
    async fn get(&self, id: &Iri) -> Result<Option<StoredActor>, RemoteError>;
    /// Stores `entry` under its id, replacing any older one, evicting as the
    /// store's bounds require.
    async fn put(&self, entry: StoredActor) -> Result<(), RemoteError>;
    /// Forgets `id`; whether it was there.
    async fn remove(&self, id: &Iri) -> Result<bool, RemoteError>;

    /// Where the actors `ids` receive deliveries, one answer per id, in
    /// their order, for those cached: what a fan-out needs of each
    /// follower, without decoding the whole document (a 2 KB actor takes
    /// 12 µs to decode, `benches/actor_store`, more than a shared-inbox
    /// delivery's share of everything else). The default reads
    /// [`get_many`](Self::get_many); a store that keeps documents
    /// serialized overrides it to read what the validated actor had,
    /// stored beside its document when it was put. Each answer's
    /// [`CachedRecipient::id`] must be the id asked for: an answer naming
    /// another actor is not used.
    async fn recipients_many(
        &self,
        ids: &[Iri],
    ) -> Result<Vec<Option<CachedRecipient>>, RemoteError> {
        Ok(self
            .get_many(ids)
            .await?
            .into_iter()
            .map(|entry| entry.map(|e| CachedRecipient::of(e.actor())))
            .collect())
    }

    /// The entries for `ids`, in their order, as [`get`](Self::get) answers
    /// each. A fan-out reads its followers' actors this way, many at once;
    /// a store with a cost per call (a database on blocking threads)
    /// overrides it to read them in one. The default asks `get` for each.
    async fn get_many(&self, ids: &[Iri]) -> Result<Vec<Option<StoredActor>>, RemoteError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(id).await?);
        }
        Ok(out)
    }
}
