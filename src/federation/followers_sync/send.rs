//! The sending side: the header a delivery to one server carries.

use std::collections::BTreeMap;

use url::Url;

use super::{FollowersDigest, PARTIAL_COLLECTION_SUFFIX, SyncHeader};
use crate::delivery::NewActivity;
use crate::federation::graph::GraphError;
use crate::federation::hub::Federation;
use crate::vocab::Iri;

/// Followers read per graph call while computing a digest.
const PAGE: usize = 1_000;

impl Federation {
    /// The `Collection-Synchronization` header a delivery of `author`'s
    /// activity to `inbox` carries (FEP-8fcf): the digest of `author`'s
    /// followers on `inbox`'s server (`host[:port]`), as Mastodon computes
    /// it from the inbox URL, and the URL of the partial collection
    /// listing them.
    ///
    /// `None` when synchronization is off, when `author` is not a local
    /// actor of this server, or when it has more than
    /// [`FollowersSyncConfig::max_items`](super::FollowersSyncConfig::max_items)
    /// followers there (a digest the partial collection could not back).
    /// Memory is bounded by one page of the graph whatever the count.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use archipel::federation::{Federation, Graph};
    /// use archipel::federation::followers_sync::FollowersDigest;
    /// use archipel::vocab::Iri;
    /// let fed = Federation::builder("https://a.example".parse()?).build().await?;
    /// let alice = fed.actor("alice").await?;
    /// let bob = Iri::parse("https://b.example/users/bob")?;
    /// fed.graph().add_follower(alice.id(), &bob).await?;
    /// let inbox = url::Url::parse("https://b.example/inbox")?;
    /// let header = fed.followers_sync_header(alice.id(), &inbox).await?.unwrap();
    /// assert_eq!(header.digest, FollowersDigest::of([&bob]));
    /// assert_eq!(header.url.as_str(), "https://a.example/users/alice/followers_synchronization");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`GraphError`] when the follow graph fails.
    pub async fn followers_sync_header(
        &self,
        author: &Iri,
        inbox: &Url,
    ) -> Result<Option<SyncHeader>, GraphError> {
        let config = &self.inner.followers_sync.config;
        if !config.enabled {
            return Ok(None);
        }
        let Some((collection_id, url)) = self.partial_collection_of(author) else {
            return Ok(None);
        };
        let authority = crate::client::authority(inbox).to_ascii_lowercase();
        let mut digest = FollowersDigest::default();
        let mut after: Option<Iri> = None;
        let mut seen = 0usize;
        loop {
            let page = self
                .graph()
                .followers_on_host(author, &authority, after.as_ref(), PAGE)
                .await?;
            seen = seen.saturating_add(page.len());
            if seen > config.max_items {
                return Ok(None);
            }
            for f in &page {
                digest.add(f);
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.clone()),
                _ => break,
            }
        }
        Ok(Some(SyncHeader {
            collection_id,
            url,
            digest,
        }))
    }

    /// `new` with `author`'s header (FEP-8fcf) for each of its inboxes,
    /// computed once per server. A graph failure leaves the header out
    /// (the next delivery carries it): delivery is never held up by it.
    pub(crate) async fn with_sync_headers(
        &self,
        author: &Iri,
        mut new: NewActivity,
    ) -> NewActivity {
        let mut by_host: BTreeMap<String, Option<String>> = BTreeMap::new();
        for inbox in new.inboxes.clone() {
            let host = crate::client::authority(&inbox).to_ascii_lowercase();
            if !by_host.contains_key(&host) {
                let header = self
                    .followers_sync_header(author, &inbox)
                    .await
                    .ok()
                    .flatten()
                    .map(|h| h.to_header_value());
                by_host.insert(host.clone(), header);
            }
            if let Some(Some(value)) = by_host.get(&host) {
                new = new.with_collection_sync(inbox, value.clone());
            }
        }
        new
    }

    /// The followers collection and the partial collection of the local
    /// actor `author`, if it is one.
    pub(super) fn partial_collection_of(&self, author: &Iri) -> Option<(Iri, Iri)> {
        let name = self.paths().local_name(author)?;
        let followers = self.paths().followers(name).ok()?;
        let url = Iri::parse(format!("{author}/{PARTIAL_COLLECTION_SUFFIX}")).ok()?;
        Some((followers, url))
    }
}
