//! The followers and following collections of a local actor, paged
//! straight from the [`Graph`]'s range reads: a request costs one page of
//! rows and a count, never the whole list.
//!
//! Items come in the graph's [`page_order`](crate::federation::graph::page_order)
//! (by server, then IRI), so followers on one server are listed together.
//! A cursor names the last item shown, so a page keeps its place while
//! followers come and go (an offset would skip or repeat items). It is
//! opaque to readers but fits [`Cursor`]'s 128 URL-unreserved characters:
//!
//! - `a{base64url(IRI)}` for an IRI of up to 95 bytes (nearly all: a
//!   Mastodon actor IRI is about 40): the next page starts right after it;
//! - `h{base64url(first 80 bytes)}.{base64url(9 bytes of its SHA-256)}`
//!   for a longer one: the next page reads after the prefix and skips the
//!   items up to the one with that digest, scanning at most
//!   [`MAX_SKIP`] items. If the item is gone, the items after the prefix
//!   are shown again (a repeat, never a skip). Past the scan bound, inside
//!   a run of more than [`MAX_SKIP`] such items sharing their first 80
//!   bytes (a server minting long actor IRIs by the thousand), the page
//!   goes on after the whole run: the rest of that run is not listed, but
//!   every request's work stays bounded and paging always moves on.
//!
//! A cursor this code did not mint is a `400` ([`CollectionError::UnknownCursor`]),
//! never a panic.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;

use crate::federation::collection::{CollectionError, CollectionSource, Cursor, Page};
use crate::federation::graph::{Graph, GraphError};
use crate::federation::visibility::Reader;
use crate::vocab::{Iri, Reference};

/// The longest IRI a cursor carries whole (`a` + 128 base64 characters
/// would be 129; 95 bytes make 127).
const EXACT_MAX: usize = 95;
/// The bytes of a longer IRI's prefix a cursor carries.
const PREFIX_LEN: usize = 80;
/// The bytes of a longer IRI's SHA-256 a cursor carries.
const DIGEST_LEN: usize = 9;
/// The most items read past a long IRI's prefix to find where the previous
/// page ended.
pub(crate) const MAX_SKIP: usize = 1_000;
/// Rows read at once while skipping.
const SKIP_CHUNK: usize = 100;

/// Which list of the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Followers,
    Following,
}

/// The followers or following of one local actor as a collection.
pub(crate) struct FollowsSource {
    graph: Arc<dyn Graph>,
    actor: Iri,
    side: Side,
}

impl FollowsSource {
    pub(crate) fn new(graph: Arc<dyn Graph>, actor: Iri, side: Side) -> FollowsSource {
        FollowsSource { graph, actor, side }
    }

    async fn read(&self, after: Option<&Iri>, limit: usize) -> Result<Vec<Iri>, CollectionError> {
        let rows = match self.side {
            Side::Followers => self.graph.followers_page(&self.actor, after, limit).await,
            Side::Following => self.graph.following_page(&self.actor, after, limit).await,
        };
        rows.map_err(store)
    }

    /// Where the page at a long-IRI cursor starts: after the item whose
    /// digest is `digest`, found among the items after `prefix`.
    async fn resume_after(&self, prefix: &Iri, digest: &[u8]) -> Result<Iri, CollectionError> {
        let mut after = prefix.clone();
        let mut scanned = 0;
        while scanned < MAX_SKIP {
            let rows = self.read(Some(&after), SKIP_CHUNK).await?;
            let full = rows.len() == SKIP_CHUNK;
            for row in rows {
                scanned += 1;
                if !row.as_str().starts_with(prefix.as_str()) {
                    // The run sharing the prefix ended without the item:
                    // it is gone; show the run again rather than skip.
                    return Ok(prefix.clone());
                }
                if digest_of(&row) == digest {
                    return Ok(row);
                }
                after = row;
            }
            if !full {
                return Ok(prefix.clone());
            }
        }
        // A run of more than MAX_SKIP items sharing the prefix (one server
        // minting long actor IRIs by the thousand): the page goes on after
        // the whole run, a bound on this request's work and a step forward
        // for the next, at the cost of the run's unshown rest.
        Ok(Iri::new_unchecked(format!("{prefix}{}", char::MAX)))
    }
}

#[async_trait::async_trait]
impl CollectionSource for FollowsSource {
    async fn total(&self, _reader: &Reader) -> Result<u64, CollectionError> {
        let count = match self.side {
            Side::Followers => self.graph.follower_count(&self.actor).await,
            Side::Following => self.graph.following_count(&self.actor).await,
        };
        count.map_err(store)
    }

    async fn page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
        _reader: &Reader,
    ) -> Result<Page, CollectionError> {
        let limit = limit.max(1);
        let after = match cursor.map(decode).transpose()? {
            None => None,
            Some(Position::After(iri)) => Some(iri),
            Some(Position::Long { prefix, digest }) => {
                Some(self.resume_after(&prefix, &digest).await?)
            }
        };
        // One row more than shown says whether there is a next page.
        let mut rows = self.read(after.as_ref(), limit.saturating_add(1)).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = match rows.last() {
            Some(last) if more => Some(encode(last)?),
            _ => None,
        };
        let mut page = Page::new(rows.into_iter().map(Reference::Iri).collect());
        if let Some(next) = next {
            page = page.with_next(next);
        }
        Ok(page)
    }
}

/// The store's message stays out of the answer (a `500`).
fn store(e: GraphError) -> CollectionError {
    CollectionError::Source(e.to_string())
}

/// Where a cursor says the page starts.
#[derive(Debug, PartialEq, Eq)]
enum Position {
    /// Right after this item.
    After(Iri),
    /// After the item with this digest among those after this prefix.
    Long { prefix: Iri, digest: Vec<u8> },
}

fn digest_of(iri: &Iri) -> Vec<u8> {
    let digest = sha2::Sha256::digest(iri.as_str().as_bytes());
    digest.get(..DIGEST_LEN).unwrap_or_default().to_vec()
}

/// The cursor of the page after `last`.
fn encode(last: &Iri) -> Result<Cursor, CollectionError> {
    let text = last.as_str();
    if text.len() <= EXACT_MAX {
        return Cursor::new(format!("a{}", URL_SAFE_NO_PAD.encode(text)));
    }
    let mut cut = PREFIX_LEN;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = text.get(..cut).unwrap_or_default();
    Cursor::new(format!(
        "h{}.{}",
        URL_SAFE_NO_PAD.encode(prefix),
        URL_SAFE_NO_PAD.encode(digest_of(last))
    ))
}

/// Reads a cursor back; anything [`encode`] could not have minted is
/// [`CollectionError::UnknownCursor`].
fn decode(cursor: &Cursor) -> Result<Position, CollectionError> {
    let unknown = || CollectionError::UnknownCursor {
        cursor: cursor.as_str().to_owned(),
    };
    let text = |b64: &str| {
        URL_SAFE_NO_PAD
            .decode(b64)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(unknown)
    };
    let raw = cursor.as_str();
    if let Some(b64) = raw.strip_prefix('a') {
        let iri = text(b64)?;
        if iri.len() > EXACT_MAX {
            return Err(unknown());
        }
        return Ok(Position::After(Iri::new_unchecked(iri)));
    }
    let (prefix, digest) = raw
        .strip_prefix('h')
        .and_then(|rest| rest.split_once('.'))
        .ok_or_else(unknown)?;
    let prefix = text(prefix)?;
    let digest = URL_SAFE_NO_PAD.decode(digest).map_err(|_| unknown())?;
    if prefix.len() > PREFIX_LEN || digest.len() != DIGEST_LEN {
        return Err(unknown());
    }
    Ok(Position::Long {
        prefix: Iri::new_unchecked(prefix),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_fit() {
        let short = Iri::new_unchecked("https://b.example/users/bob");
        let c = encode(&short).unwrap();
        assert_eq!(decode(&c).unwrap(), Position::After(short));

        for len in [EXACT_MAX, EXACT_MAX + 1, 2_000] {
            let iri = Iri::new_unchecked(format!(
                "https://b.example/{}",
                "é".repeat(len.saturating_sub(18) / 2)
            ));
            let c = encode(&iri).unwrap();
            assert!(c.as_str().len() <= crate::federation::collection::MAX_CURSOR_LEN);
            match decode(&c).unwrap() {
                Position::After(back) => assert_eq!(back, iri),
                Position::Long { prefix, digest } => {
                    assert!(iri.as_str().starts_with(prefix.as_str()));
                    assert_eq!(digest, digest_of(&iri));
                }
            }
        }
    }

    #[test]
    fn hostile_cursors_are_unknown() {
        for raw in [
            "a",
            "x",
            "a!!",
            "h",
            "hYQ",
            "hYQ.AA",
            "h.AAAAAAAAAAAA",
            "a_-_-",
        ] {
            let Ok(c) = Cursor::new(raw) else { continue };
            assert!(
                matches!(decode(&c), Err(CollectionError::UnknownCursor { .. })),
                "{raw}"
            );
        }
    }
}
