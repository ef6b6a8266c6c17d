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
        let authority = crate::client::authority(inbox);
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
    /// computed once per server (`by_host` keeps them, by the inbox's
    /// lower-case authority, for the caller's next batch). A graph failure
    /// leaves the header out (the next delivery carries it): delivery is
    /// never held up by it.
    pub(crate) async fn with_sync_headers(
        &self,
        author: &Iri,
        mut new: NewActivity,
        by_host: &mut BTreeMap<String, Option<String>>,
    ) -> NewActivity {
        for inbox in new.inboxes.clone() {
            let host = crate::client::authority(&inbox);
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use crate::delivery::{ClaimRequest, MemoryQueue, Timestamp};
    use crate::federation::Federation;
    use crate::federation::followers_sync::{FollowersDigest, SyncHeader};
    use crate::federation::remote::StoredActor;
    use crate::vocab::{AnyObject, Audience, Iri, Object};

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    /// alice has followers on b.example (bob, bea, sharing an inbox) and
    /// on c.example (cid); every delivery job of a post to her followers
    /// carries the digest of her followers on that job's server.
    async fn jobs_carry_the_digest_per_server(fed: Federation) {
        let alice = fed.actor("alice").await.unwrap();
        for (id, shared) in [
            ("https://b.example/users/bob", "https://b.example/inbox"),
            ("https://b.example/users/bea", "https://b.example/inbox"),
            ("https://c.example/users/cid", "https://c.example/inbox"),
        ] {
            let doc = serde_json::json!({"id": id, "type": "Person",
                "inbox": format!("{id}/inbox"), "endpoints": {"sharedInbox": shared}});
            let doc = StoredActor::decode(&doc.to_string(), SystemTime::now()).unwrap();
            fed.actors().store().put(doc).await.unwrap();
            fed.graph()
                .add_follower(alice.id(), &iri(id))
                .await
                .unwrap();
        }
        let mut note = Object::new("Note").with_content("hi");
        Audience::followers_only(alice.followers().clone()).apply(&mut note);
        let create = fed.create(&alice, AnyObject::from(note)).unwrap();
        fed.send(&alice, &create).await.unwrap();
        while fed.expand_fanout().await.unwrap().is_some() {}
        let now = Timestamp::from_system_time(SystemTime::now());
        let claimed = fed
            .queue()
            .claim(&ClaimRequest {
                now,
                limit: 10,
                lease_for: Duration::from_secs(60),
                per_host_limit: 10,
                busy: Default::default(),
                paused: Default::default(),
            })
            .await
            .unwrap();
        let mut seen: Vec<(String, FollowersDigest)> = claimed
            .iter()
            .map(|c| {
                let value = c.job.collection_sync.as_deref().unwrap();
                let header = SyncHeader::parse(value).unwrap();
                assert_eq!(&header.collection_id, alice.followers());
                (c.job.inbox.to_string(), header.digest)
            })
            .collect();
        seen.sort_by(|x, y| x.0.cmp(&y.0));
        let on_b = FollowersDigest::of([
            &iri("https://b.example/users/bob"),
            &iri("https://b.example/users/bea"),
        ]);
        let on_c = FollowersDigest::of([&iri("https://c.example/users/cid")]);
        assert_eq!(
            seen,
            vec![
                ("https://b.example/inbox".to_owned(), on_b),
                ("https://c.example/inbox".to_owned(), on_c),
            ]
        );
    }

    #[tokio::test]
    async fn fanned_out_jobs_carry_the_digest_per_server() {
        let fed = Federation::builder("https://a.example".parse().unwrap())
            .build()
            .await
            .unwrap();
        jobs_carry_the_digest_per_server(fed).await;
    }

    #[tokio::test]
    async fn eagerly_queued_jobs_carry_the_digest_per_server() {
        // A delivery queue of the application's and no fan-out queue:
        // posts to followers are queued at once.
        let fed = Federation::builder("https://a.example".parse().unwrap())
            .with_queue(Arc::new(MemoryQueue::new()))
            .build()
            .await
            .unwrap();
        jobs_carry_the_digest_per_server(fed).await;
    }

    #[tokio::test]
    async fn no_header_past_the_cap_or_when_off() {
        use crate::federation::followers_sync::FollowersSyncConfig;
        let inbox = url::Url::parse("https://b.example/inbox").unwrap();
        for (config, want) in [
            (FollowersSyncConfig::default().with_max_items(1), false),
            (FollowersSyncConfig::default().with_enabled(false), false),
            (FollowersSyncConfig::default().with_max_items(2), true),
        ] {
            let fed = Federation::builder("https://a.example".parse().unwrap())
                .with_followers_sync(config)
                .build()
                .await
                .unwrap();
            let alice = fed.actor("alice").await.unwrap();
            for f in ["https://b.example/users/bob", "https://b.example/users/bea"] {
                fed.graph().add_follower(alice.id(), &iri(f)).await.unwrap();
            }
            let header = fed.followers_sync_header(alice.id(), &inbox).await.unwrap();
            assert_eq!(header.is_some(), want);
        }
        // Not a local actor: no header.
        let fed = Federation::builder("https://a.example".parse().unwrap())
            .build()
            .await
            .unwrap();
        let remote = iri("https://z.example/users/zed");
        assert_eq!(fed.followers_sync_header(&remote, &inbox).await, Ok(None));
    }
}
