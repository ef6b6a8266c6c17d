//! [`InboxLog`]: what each local actor received, and how each activity was
//! verified (feature `sqlite`).

use std::sync::Arc;

use super::{Cap, CappedStore, CappedTable, Entry, StoreError};
use crate::federation::FederationError;
use crate::federation::collection::CollectionSource;
use crate::federation::dispatch::Cx;
use crate::federation::hub::Federation;
use crate::federation::local::LocalActor;
use crate::vocab::{Activity, Iri};

/// The default cap on activities kept per local actor's inbox.
pub const DEFAULT_MAX_INBOX_PER_ACTOR: usize = 5_000;
/// The default cap on verification records (one per activity).
pub const DEFAULT_MAX_VERIFICATIONS: usize = 10_000;

/// The inboxes of local actors (ActivityPub §5.2: what they received, for
/// their owner to read) and a log of how each accepted activity was
/// verified, both bounded ([`Cap`]): remote peers grow them.
///
/// [`InboxLog::record`] files an activity for the local actors it is for
/// ([`Federation::local_recipients`]: a direct message only for its
/// addressees) and notes its signature as `"<spec> <algorithm> <key id>"`,
/// for an operator asking why an activity was accepted. Cheap to clone.
///
/// ```
/// use archipel::federation::store::{CappedStore, InboxLog};
/// # fn main() -> Result<(), archipel::federation::store::StoreError> {
/// let log = InboxLog::new(&CappedStore::open_in_memory()?, 5_000, 10_000);
/// assert_eq!(log.verification("https://b.example/activities/1")?, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InboxLog {
    inbox: CappedTable,
    verifications: CappedTable,
}

impl InboxLog {
    /// The log in `store` (tables `inbox` and `verifications`): at most
    /// `per_actor` activities per local actor, `verifications` records.
    pub fn new(store: &CappedStore, per_actor: usize, verifications: usize) -> InboxLog {
        InboxLog {
            inbox: store.table("inbox", Cap::per_scope(per_actor)),
            verifications: store.table("verifications", Cap::total(verifications)),
        }
    }

    /// Notes how `cx`'s activity was verified and files `activity` in the
    /// inboxes of the `candidates` it is for; answers them.
    ///
    /// # Errors
    /// The store's or the follow graph's failure.
    pub async fn record(
        &self,
        fed: &Federation,
        cx: &Cx,
        activity: &Activity,
        candidates: &[LocalActor],
    ) -> Result<Vec<LocalActor>, FederationError> {
        let v = cx.verified();
        let how = format!("{} {} {}", v.spec.as_str(), v.algorithm.as_str(), v.key_id);
        let id = cx.activity_id().as_str();
        self.verifications.put("", id, Some(cx.actor()), &how)?;
        let to = fed.local_recipients(cx, activity, candidates).await?;
        let value = serde_json::to_string(activity).map_err(|e| StoreError::Corrupt {
            id: id.to_owned(),
            reason: e.to_string(),
        })?;
        for me in &to {
            self.inbox
                .put(me.id().as_str(), id, Some(cx.actor()), &value)?;
        }
        Ok(to)
    }

    /// How the activity `id` was verified (`"<spec> <algorithm> <key id>"`),
    /// if its record is still kept.
    ///
    /// # Errors
    /// The store's failure.
    pub fn verification(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.verifications.get("", id)?.map(|e| e.value))
    }

    /// Up to `limit` activities of `local`'s inbox, newest first.
    ///
    /// # Errors
    /// The store's failure.
    pub fn newest(&self, local: &Iri, limit: usize) -> Result<Vec<Activity>, StoreError> {
        let rows = self.inbox.newest(local.as_str(), None, limit)?;
        Ok(rows.iter().filter_map(decode).collect())
    }

    /// `local`'s inbox as a paged collection for its owner only.
    pub fn collection(&self, local: &Iri) -> Arc<dyn CollectionSource> {
        self.inbox.owner_collection(local.as_str())
    }

    /// The inbox table (for its row count).
    pub fn inbox_table(&self) -> &CappedTable {
        &self.inbox
    }

    /// The verification table (for its row count).
    pub fn verification_table(&self) -> &CappedTable {
        &self.verifications
    }
}

fn decode(entry: &Entry) -> Option<Activity> {
    serde_json::from_str(&entry.value).ok()
}
