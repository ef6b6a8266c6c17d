//! [`Posts`] as the routes and the dispatcher ask for it: one outbox page
//! per reader, the objects to serve, and the owner of a post.

use std::sync::Arc;

use super::{ListQuery, MAX_OUTBOX_SCAN, Posts};
use crate::federation::collection::{CollectionError, CollectionSource, Cursor, Page};
use crate::federation::dispatch::{BoxError, OwnerLookup};
use crate::federation::local::LocalActor;
use crate::federation::visibility::{Access, Reader};
use crate::vocab::{Iri, Reference};

/// The prefix of the cursors this store mints.
const BEFORE: &str = "before-";

/// The sequence number a cursor names; one this store never minted is
/// refused (a `400`, never a panic or an empty answer that hides the fault).
pub(super) fn before(cursor: Option<&Cursor>) -> Result<Option<u64>, CollectionError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    cursor
        .as_str()
        .strip_prefix(BEFORE)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| CollectionError::UnknownCursor {
            cursor: cursor.as_str().to_owned(),
        })
}

pub(super) fn cursor_at(seq: u64) -> Result<Cursor, CollectionError> {
    Cursor::new(format!("{BEFORE}{seq}"))
}

fn failed(e: impl std::fmt::Display) -> CollectionError {
    CollectionError::Source(e.to_string())
}

/// One outbox page (see [`Posts::outbox_page`]).
pub(super) async fn page(
    posts: &Posts,
    author: &LocalActor,
    cursor: Option<&Cursor>,
    limit: usize,
    reader: &Reader,
) -> Result<Page, CollectionError> {
    let mut before = before(cursor)?;
    let want = limit.saturating_add(1);
    // The owner sees everything and an anonymous reader the public rows:
    // the store's query filters, one read is the page.
    if matches!(reader, Reader::Owner | Reader::Anonymous) {
        let mut query = ListQuery::new(before, want);
        if *reader == Reader::Anonymous {
            query = query.public_only();
        }
        let rows = posts.store.list(author.id(), query).await.map_err(failed)?;
        let more = rows.len() > limit;
        let shown: Vec<_> = rows.into_iter().take(limit).collect();
        let mut page = Page::new(
            shown
                .iter()
                .map(|p| Reference::from(p.document.clone()))
                .collect(),
        );
        if more && let Some(last) = shown.last() {
            page = page.with_next(cursor_at(last.seq)?);
        }
        return Ok(page);
    }
    // A signed reader: the guard decides row by row. Read in batches,
    // at most `MAX_OUTBOX_SCAN` rows beyond the page.
    let budget = limit.saturating_add(MAX_OUTBOX_SCAN);
    let mut read = 0usize;
    let mut items = Vec::new();
    let mut last_read = None;
    let mut last_shown = None;
    let mut exhausted = false;
    while items.len() < want && read < budget {
        let batch = want.min(budget - read);
        let rows = posts
            .store
            .list(author.id(), ListQuery::new(before, batch))
            .await
            .map_err(failed)?;
        exhausted = rows.len() < batch;
        for post in rows {
            read += 1;
            last_read = Some(post.seq);
            before = Some(post.seq);
            let Some(object) = post.document.as_object() else {
                continue;
            };
            let access = posts
                .guard
                .check(author, object, reader)
                .await
                .map_err(failed)?;
            if access == Access::Allow {
                if items.len() == limit {
                    // One more visible row: there is a next page.
                    items.push(post);
                    break;
                }
                last_shown = Some(post.seq);
                items.push(post);
            }
        }
        if exhausted {
            break;
        }
    }
    let more = items.len() > limit;
    items.truncate(limit);
    let mut page = Page::new(
        items
            .into_iter()
            .map(|p| Reference::from(p.document))
            .collect(),
    );
    // A full page continues after its last item; a page cut short by the
    // scan bound continues after the last row read.
    let next = match (more, exhausted) {
        (true, _) => last_shown,
        (false, false) => last_read,
        (false, true) => None,
    };
    if let Some(seq) = next {
        page = page.with_next(cursor_at(seq)?);
    }
    Ok(page)
}

/// One local actor's outbox, as a collection.
struct Outbox {
    posts: Posts,
    author: LocalActor,
}

#[async_trait::async_trait]
impl CollectionSource for Outbox {
    async fn total(&self, reader: &Reader) -> Result<u64, CollectionError> {
        self.posts.outbox_total(&self.author, reader).await
    }

    async fn page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
        reader: &Reader,
    ) -> Result<Page, CollectionError> {
        page(&self.posts, &self.author, cursor, limit, reader).await
    }
}

impl Posts {
    /// `author`'s outbox as a collection source, filtered per reader.
    pub fn outbox(&self, author: &LocalActor) -> Arc<dyn CollectionSource> {
        Arc::new(Outbox {
            posts: self.clone(),
            author: author.clone(),
        })
    }
}

/// The stored author owns a post, deleted or not, so only they may update
/// or delete it by IRI.
#[async_trait::async_trait]
impl OwnerLookup for Posts {
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
        Ok(self.store.owner(object).await?)
    }

    /// A post stored public or unlisted.
    async fn distributable(&self, object: &Iri) -> Result<bool, BoxError> {
        Ok(self.store.get(object).await?.is_some_and(|p| {
            matches!(
                p.visibility,
                crate::vocab::Visibility::Public | crate::vocab::Visibility::Unlisted
            )
        }))
    }
}

#[cfg(feature = "axum")]
#[async_trait::async_trait]
impl crate::federation::routes::ObjectSource for Posts {
    async fn object(&self, id: &Iri) -> Option<crate::federation::serve::StoredObject> {
        // A store failure is a 404 here: the route has no error to give.
        self.get(id).await.ok().flatten()
    }
}

#[cfg(feature = "axum")]
#[async_trait::async_trait]
impl crate::federation::routes::OutboxSource for Posts {
    async fn outbox(&self, actor: &LocalActor) -> Option<Arc<dyn CollectionSource>> {
        Some(Posts::outbox(self, actor))
    }
}
