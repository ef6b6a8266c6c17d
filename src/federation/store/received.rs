//! [`Received`] objects and [`Reactions`] to local posts: what other
//! servers send that an application keeps (feature `sqlite`).

use std::sync::Arc;

use super::{Cap, CappedStore, CappedTable, StoreError};
use crate::federation::dispatch::{BoxError, OwnerLookup};
use crate::vocab::{AnyObject, Iri, Kind};

/// The default cap on received objects kept.
pub const DEFAULT_MAX_RECEIVED: usize = 50_000;
/// The default cap on reactions kept.
pub const DEFAULT_MAX_REACTIONS: usize = 100_000;

/// Objects received from other servers (notes, reviews), each kept with
/// the owner the dispatcher verified, at most a [`Cap::total`] of them
/// (the oldest go first). As an [`OwnerLookup`] it tells the dispatcher
/// who owns a kept object, so on a server with many users one cannot
/// update or delete another's. Cheap to clone.
///
/// ```
/// use archipel::federation::store::{CappedStore, Received};
/// use archipel::vocab::{AnyObject, Iri, Object};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let received = Received::new(&CappedStore::open_in_memory()?, 1);
/// let bob = Iri::parse("https://b.example/users/bob")?;
/// for n in 1..=2 {
///     let id = Iri::parse(format!("https://b.example/notes/{n}"))?;
///     received.put(&bob, &AnyObject::from(Object::new("Note").with_id(id)))?;
/// }
/// // The cap of one keeps the newest.
/// assert!(received.get(&Iri::parse("https://b.example/notes/1")?)?.is_none());
/// assert_eq!(received.get(&Iri::parse("https://b.example/notes/2")?)?.map(|(o, _)| o), Some(bob));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Received {
    table: CappedTable,
}

fn corrupt(id: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    }
}

impl Received {
    /// The objects in `store` (table `received`), at most `cap`.
    pub fn new(store: &CappedStore, cap: usize) -> Received {
        Received {
            table: store.table("received", Cap::total(cap)),
        }
    }

    /// Keeps `object` (one without an `id` is not kept), owned by `owner`.
    ///
    /// # Errors
    /// The store's failure.
    pub fn put(&self, owner: &Iri, object: &AnyObject) -> Result<(), StoreError> {
        let Some(id) = object.id() else {
            return Ok(());
        };
        let value = serde_json::to_string(object).map_err(|e| corrupt(id.as_str(), e))?;
        self.table.put("", id.as_str(), Some(owner), &value)
    }

    /// Replaces `object` if it is kept (an `Update`); whether it was.
    ///
    /// # Errors
    /// The store's failure.
    pub fn replace(&self, owner: &Iri, object: &AnyObject) -> Result<bool, StoreError> {
        let kept = match object.id() {
            Some(id) => self.table.get("", id.as_str())?.is_some(),
            None => false,
        };
        if kept {
            self.put(owner, object)?;
        }
        Ok(kept)
    }

    /// A kept object and its owner.
    ///
    /// # Errors
    /// The store's failure, or [`StoreError::Corrupt`] for a row that no
    /// longer decodes.
    pub fn get(&self, id: &Iri) -> Result<Option<(Iri, AnyObject)>, StoreError> {
        let Some(entry) = self.table.get("", id.as_str())? else {
            return Ok(None);
        };
        let object = serde_json::from_str(&entry.value).map_err(|e| corrupt(id.as_str(), e))?;
        Ok(entry.owner.map(|owner| (owner, object)))
    }

    /// Forgets an object (a `Delete`); whether it was kept.
    ///
    /// # Errors
    /// The store's failure.
    pub fn remove(&self, id: &Iri) -> Result<bool, StoreError> {
        self.table.remove("", id.as_str())
    }

    /// The table (for its row count).
    pub fn table(&self) -> &CappedTable {
        &self.table
    }
}

#[async_trait::async_trait]
impl OwnerLookup for Received {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        Ok(self.get(object)?.map(|(owner, _)| owner))
    }
}

/// Several [`OwnerLookup`]s as one: the first that knows the object
/// answers (received objects, then the local posts, say).
pub struct Owners(pub Vec<Arc<dyn OwnerLookup>>);

#[async_trait::async_trait]
impl OwnerLookup for Owners {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        for lookup in &self.0 {
            if let Some(owner) = lookup.owner(object).await? {
                return Ok(Some(owner));
            }
        }
        Ok(None)
    }
}

/// `Like`s and `Announce`s of objects, one per (kind, object, actor), at
/// most a [`Cap::total`] of them (the oldest go first). Count only
/// reactions to objects you keep: a peer could otherwise fill the table
/// with made-up objects and push the genuine reactions out. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reactions {
    table: CappedTable,
}

fn scope(kind: Kind, object: &Iri) -> String {
    format!("{} {object}", kind.as_str())
}

impl Reactions {
    /// The reactions in `store` (table `reactions`), at most `cap`.
    pub fn new(store: &CappedStore, cap: usize) -> Reactions {
        Reactions {
            table: store.table("reactions", Cap::total(cap)),
        }
    }

    /// Records `actor`'s reaction of `kind` to `object`.
    ///
    /// # Errors
    /// The store's failure.
    pub fn add(&self, kind: Kind, object: &Iri, actor: &Iri) -> Result<(), StoreError> {
        self.table
            .put(&scope(kind, object), actor.as_str(), Some(actor), "")
    }

    /// Removes it (an `Undo`); whether it was recorded.
    ///
    /// # Errors
    /// The store's failure.
    pub fn remove(&self, kind: Kind, object: &Iri, actor: &Iri) -> Result<bool, StoreError> {
        self.table.remove(&scope(kind, object), actor.as_str())
    }

    /// Who reacted with `kind` to `object`, oldest first.
    ///
    /// # Errors
    /// The store's failure.
    pub fn of(&self, kind: Kind, object: &Iri) -> Result<Vec<Iri>, StoreError> {
        let rows = self.table.oldest(&scope(kind, object), usize::MAX)?;
        Ok(rows.into_iter().filter_map(|e| e.owner).collect())
    }

    /// The table (for its row count).
    pub fn table(&self) -> &CappedTable {
        &self.table
    }
}
