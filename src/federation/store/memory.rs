//! [`MemoryPosts`]: the post store in memory, for tests and servers
//! without a data directory.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{Counts, ListQuery, NewPost, PostStore, StoreError, StoredPost, carried, is_public};
use crate::vocab::{Iri, Visibility};

/// A [`PostStore`] in memory: lost on restart. Each author's listed posts
/// are indexed by sequence number, so a page reads only its own rows, and
/// the counts are kept as posts come and go.
#[derive(Debug, Default)]
pub struct MemoryPosts {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last: u64,
    rows: HashMap<Iri, Row>,
    by_seq: HashMap<u64, Iri>,
    /// Per author: the listed, not deleted posts, and the public ones.
    listed: HashMap<Iri, [BTreeSet<u64>; 2]>,
    /// Per object: the activities carrying it.
    carriers: HashMap<Iri, Vec<Iri>>,
    counts: HashMap<Iri, Counts>,
}

#[derive(Debug)]
struct Row {
    seq: u64,
    author: Iri,
    /// `None` once deleted (a tombstone).
    post: Option<(crate::vocab::AnyObject, Visibility)>,
    listed: bool,
}

impl MemoryPosts {
    /// An empty store.
    pub fn new() -> MemoryPosts {
        MemoryPosts::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    /// Takes a listed, live row out of the listing and the counts.
    fn unlist(&mut self, id: &Iri) {
        let Some(row) = self.rows.get(id) else { return };
        let (Some((_, visibility)), true) = (&row.post, row.listed) else {
            return;
        };
        let (seq, author, visibility) = (row.seq, row.author.clone(), *visibility);
        if let Some([all, public]) = self.listed.get_mut(&author) {
            all.remove(&seq);
            public.remove(&seq);
        }
        if let Some(c) = self.counts.get_mut(&author) {
            let n = c.of_mut(visibility);
            *n = n.saturating_sub(1);
        }
    }

    fn enlist(&mut self, author: &Iri, seq: u64, visibility: Visibility) {
        let [all, public] = self.listed.entry(author.clone()).or_default();
        all.insert(seq);
        if is_public(visibility) {
            public.insert(seq);
        }
        let n = self.counts.entry(author.clone()).or_default();
        let n = n.of_mut(visibility);
        *n = n.saturating_add(1);
    }
}

#[async_trait::async_trait]
impl PostStore for MemoryPosts {
    async fn put(&self, post: NewPost) -> Result<u64, StoreError> {
        let Some(id) = post.document.id().cloned() else {
            return Err(StoreError::NoId {
                kind: post.document.type_name().unwrap_or_default().to_owned(),
            });
        };
        let mut inner = self.lock();
        let seq = match inner.rows.get(&id) {
            Some(row) if row.post.is_none() => return Err(StoreError::Deleted { id }),
            Some(row) => row.seq,
            None => {
                inner.last += 1;
                inner.last
            }
        };
        inner.unlist(&id);
        if let Some(object) = carried(&post.document) {
            let list = inner.carriers.entry(object.clone()).or_default();
            if !list.contains(&id) {
                list.push(id.clone());
            }
        }
        if post.listed {
            inner.enlist(&post.author, seq, post.visibility);
        }
        inner.by_seq.insert(seq, id.clone());
        inner.rows.insert(
            id,
            Row {
                seq,
                author: post.author,
                post: Some((post.document, post.visibility)),
                listed: post.listed,
            },
        );
        Ok(seq)
    }

    async fn get(&self, id: &Iri) -> Result<Option<StoredPost>, StoreError> {
        let inner = self.lock();
        Ok(inner.rows.get(id).and_then(|row| {
            let (document, visibility) = row.post.as_ref()?;
            Some(StoredPost {
                seq: row.seq,
                document: document.clone(),
                author: row.author.clone(),
                visibility: *visibility,
            })
        }))
    }

    async fn owner(&self, id: &Iri) -> Result<Option<Iri>, StoreError> {
        Ok(self.lock().rows.get(id).map(|r| r.author.clone()))
    }

    async fn delete(&self, id: &Iri) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        // The post itself, and the author's activities carrying it (a
        // Create, an Update).
        let Some(author) = inner.rows.get(id).map(|r| r.author.clone()) else {
            return Ok(0);
        };
        let carriers: Vec<Iri> = inner
            .carriers
            .get(id)
            .into_iter()
            .flatten()
            .filter(|c| inner.rows.get(*c).is_some_and(|r| r.author == author))
            .cloned()
            .collect();
        let mut marked = 0;
        for target in std::iter::once(id.clone()).chain(carriers) {
            inner.unlist(&target);
            if let Some(row) = inner.rows.get_mut(&target)
                && row.post.take().is_some()
            {
                marked += 1;
            }
        }
        Ok(marked)
    }

    async fn list(&self, author: &Iri, query: ListQuery) -> Result<Vec<StoredPost>, StoreError> {
        let inner = self.lock();
        let Some([all, public]) = inner.listed.get(author) else {
            return Ok(Vec::new());
        };
        let set = if query.public_only { public } else { all };
        let before = query.before.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for seq in set.range(..before).rev().take(query.limit) {
            let row = inner.by_seq.get(seq).and_then(|id| inner.rows.get(id));
            if let Some(Row {
                post: Some((document, visibility)),
                ..
            }) = row
            {
                out.push(StoredPost {
                    seq: *seq,
                    document: document.clone(),
                    author: author.clone(),
                    visibility: *visibility,
                });
            }
        }
        Ok(out)
    }

    async fn count(&self, author: Option<&Iri>) -> Result<Counts, StoreError> {
        let inner = self.lock();
        Ok(match author {
            Some(a) => inner.counts.get(a).copied().unwrap_or_default(),
            None => inner.counts.values().fold(Counts::default(), |mut sum, c| {
                sum.public = sum.public.saturating_add(c.public);
                sum.unlisted = sum.unlisted.saturating_add(c.unlisted);
                sum.followers = sum.followers.saturating_add(c.followers);
                sum.direct = sum.direct.saturating_add(c.direct);
                sum
            }),
        })
    }
}
