//! Paged collections (ActivityPub §5, AS2 Core §5), served and traversed.
//!
//! **Serving.** A server's followers, following, outbox and liked
//! collections are served as an `OrderedCollection` that carries only
//! `totalItems` and the IRI of its `first` page, never items inline: the
//! collection document is what other servers fetch for counts, and the
//! items a reader may see depend on who reads (a followers-only post is not
//! in an anonymous reader's outbox page). Each `OrderedCollectionPage`
//! lists its `orderedItems` newest first, with `partOf`, `next` (older
//! items) and `prev` (newer items).
//!
//! | document | IRI |
//! |---|---|
//! | the collection | `{collection}` |
//! | its first page (the newest items) | `{collection}?page=true` |
//! | any other page | `{collection}?cursor={cursor}` |
//!
//! Pages are addressed by an opaque [`Cursor`] the application's store
//! understands ("items older than X"), never by an offset: with offsets a
//! reader walking page 2 after new items arrived sees items of page 1
//! again, and one walking after a removal skips an item. A cursor names a
//! position in the items themselves, so it keeps its meaning while the
//! collection changes. No `last` page is advertised, as a cursor-paged
//! collection has no stable last page.
//!
//! The application implements [`CollectionSource`] once per collection
//! over its database (or uses [`VecSource`]); [`respond`] turns a request's
//! query string into the document to serve, and, with the `axum` feature,
//! `serve_collection` (feature `axum`) into an axum response.
//!
//! **Bounds.** Pages hold [`DEFAULT_PAGE_SIZE`] items (at most
//! [`MAX_PAGE_SIZE`], see [`CollectionConfig::with_page_size`]); a cursor
//! is 1 to [`MAX_CURSOR_LEN`] URL-unreserved characters; the query string
//! is at most [`MAX_QUERY_LEN`] bytes. Anything else is a typed
//! [`CollectionError`] that the route answers with `400 Bad Request`.
//!
//! **Traversal.** [`CollectionWalker`] walks a remote collection as a
//! bounded pull-stream of items: the collection, then `first`, then each
//! `next`, through a [`Fetcher`](crate::fetch::Fetcher) (signed when the
//! fetcher is), refusing pages on another origin than the collection and
//! stopping at a page cycle, past [`DEFAULT_MAX_PAGES`] pages or past
//! [`DEFAULT_MAX_ITEMS`] items.
//!
//! ```
//! # tokio_test_block_on(async {
//! use archipel::federation::collection::{respond, CollectionConfig, VecSource};
//! use archipel::federation::visibility::Reader;
//! use archipel::vocab::Iri;
//!
//! let followers = VecSource::new();
//! for n in 1..=3 {
//!     followers.push(Iri::parse(format!("https://b.example/users/{n}"))?.into())?;
//! }
//! let id = Iri::parse("https://a.example/users/alice/followers")?;
//! let config = CollectionConfig::default().with_page_size(2);
//!
//! // The collection: the count and the first page's IRI.
//! let doc = respond(&followers, &id, None, &Reader::Anonymous, &config).await?;
//! assert_eq!(doc.total_items, Some(3));
//! let first = doc.first.as_ref().and_then(|f| f.id()).unwrap();
//! assert_eq!(first.as_str(), "https://a.example/users/alice/followers?page=true");
//!
//! // The first page: the two newest followers, and where the older ones are.
//! let page = respond(&followers, &id, Some("page=true"), &Reader::Anonymous, &config).await?;
//! let items: Vec<&str> = page.all_items().iter().filter_map(|i| i.id()).map(|i| i.as_str()).collect();
//! assert_eq!(items, ["https://b.example/users/3", "https://b.example/users/2"]);
//! let next = page.next.as_ref().and_then(|n| n.id()).unwrap();
//! assert_eq!(next.as_str(), "https://a.example/users/alice/followers?cursor=before-2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use crate::fetch::FetchError;
use crate::vocab::{Reference, VocabError};

use super::visibility::Reader;

#[cfg(feature = "axum")]
mod axum;
mod serve;
mod traverse;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use self::axum::{serve_collection, serve_collection_with};
pub use serve::{PageRequest, VecSource, collection_document, page_document, respond};
pub use traverse::CollectionWalker;

/// Items per page unless configured otherwise ([`CollectionConfig`]).
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page size [`CollectionConfig::with_page_size`] accepts.
pub const MAX_PAGE_SIZE: usize = 100;
/// The longest cursor accepted, in bytes.
pub const MAX_CURSOR_LEN: usize = 128;
/// The longest query string a collection route reads, in bytes.
pub const MAX_QUERY_LEN: usize = 1024;
/// Pages a [`CollectionWalker`] fetches at most unless configured otherwise.
pub const DEFAULT_MAX_PAGES: usize = 50;
/// Items a [`CollectionWalker`] yields at most unless configured otherwise.
pub const DEFAULT_MAX_ITEMS: usize = 10_000;
/// Items a [`VecSource`] holds at most unless configured otherwise.
pub const DEFAULT_VEC_SOURCE_CAP: usize = 100_000;

/// Why a collection could not be served or walked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectionError {
    /// A cursor is empty, longer than [`MAX_CURSOR_LEN`], or has characters
    /// outside `[A-Za-z0-9._~-]`. Served as `400`.
    #[error("collection cursor {cursor:?} must be 1 to 128 of [A-Za-z0-9._~-]")]
    InvalidCursor {
        /// The cursor received (at most its first 140 characters).
        cursor: String,
    },
    /// A well-formed cursor that names no position in the collection (the
    /// source never minted it). Served as `400`.
    #[error("collection cursor {cursor:?} names no position in this collection")]
    UnknownCursor {
        /// The cursor received.
        cursor: String,
    },
    /// The query string is too long, repeats a parameter, or has a `page`
    /// other than `true`. Served as `400`.
    #[error("collection query {query:?}: {reason}")]
    InvalidQuery {
        /// The query received (at most its first 140 characters).
        query: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The application's store failed; the message says how. Served as
    /// `500`, without the message.
    #[error("collection store: {0}")]
    Source(String),
    /// A [`VecSource`] is at its cap.
    #[error("collection is at its cap of {cap} items")]
    Full {
        /// The cap.
        cap: usize,
    },
    /// A collection or page IRI is not an `http(s)` URL.
    #[error("collection IRI {iri:?} is not an http(s) URL")]
    InvalidIri {
        /// The IRI.
        iri: String,
    },
    /// A page is on another origin than the collection it belongs to.
    #[error("collection page {page:?} is not on the origin of the collection {collection:?}")]
    CrossOrigin {
        /// The page's IRI (or the `id` it claims).
        page: String,
        /// The collection's IRI.
        collection: String,
    },
    /// The document fetched is not a collection or collection page.
    #[error("{iri:?} is not a collection or collection page (type {found:?})")]
    NotACollection {
        /// The IRI fetched.
        iri: String,
        /// Its first type name (empty if none).
        found: String,
    },
    /// A page's `next` (or the collection's `first`) leads back to a page
    /// already walked.
    #[error("collection page {page:?} was already walked (a page cycle)")]
    PageCycle {
        /// The page met a second time.
        page: String,
    },
    /// The walk needed more pages than its limit.
    #[error("collection has more than {limit} pages")]
    TooManyPages {
        /// The limit.
        limit: usize,
    },
    /// The collection has more items than the walk's limit.
    #[error("collection has more than {limit} items")]
    TooManyItems {
        /// The limit.
        limit: usize,
    },
    /// A page could not be fetched or failed the fetcher's checks.
    #[error("fetching a collection page: {0}")]
    Fetch(#[from] FetchError),
    /// A page does not decode into the vocabulary.
    #[error("collection page {iri:?}: {source}")]
    Vocab {
        /// The page's IRI.
        iri: String,
        /// The vocabulary's error.
        source: VocabError,
    },
}

impl CollectionError {
    /// Whether the fault is the request's (a cursor or query string the
    /// server refuses: `400 Bad Request`) rather than the server's.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            CollectionError::InvalidCursor { .. }
                | CollectionError::UnknownCursor { .. }
                | CollectionError::InvalidQuery { .. }
        )
    }
}

/// Keeps at most `n` characters of hostile input for an error message.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(140).collect()
}

/// An opaque position in a collection, minted by the application's
/// [`CollectionSource`] ("items older than X") and carried in page IRIs.
///
/// Only URL-unreserved characters (`[A-Za-z0-9._~-]`, RFC 3986 §2.3) are
/// allowed, 1 to [`MAX_CURSOR_LEN`] of them, so a cursor goes into an IRI
/// unescaped and a hostile one is refused before the store sees it.
///
/// ```
/// use archipel::federation::collection::{Cursor, CollectionError};
/// assert_eq!(Cursor::new("before-2026-12-01.42")?.as_str(), "before-2026-12-01.42");
/// assert!(matches!(Cursor::new("a b"), Err(CollectionError::InvalidCursor { .. })));
/// # Ok::<(), CollectionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// Checks and wraps a cursor.
    ///
    /// # Errors
    /// [`CollectionError::InvalidCursor`].
    pub fn new(cursor: impl Into<String>) -> Result<Cursor, CollectionError> {
        let cursor = cursor.into();
        let ok = !cursor.is_empty()
            && cursor.len() <= MAX_CURSOR_LEN
            && cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'));
        if ok {
            Ok(Cursor(cursor))
        } else {
            Err(CollectionError::InvalidCursor {
                cursor: clip(&cursor),
            })
        }
    }

    /// The cursor's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of items, as a [`CollectionSource`] returns it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The items, newest first (ActivityPub §5.1: outboxes and other
    /// ordered collections list the most recent first); IRIs or embedded
    /// objects. At most the `limit` asked for; extra items are dropped.
    pub items: Vec<Reference>,
    /// The cursor of the page of older items, if there are any.
    pub next: Option<Cursor>,
    /// The cursor of the page of newer items, if there are any.
    pub prev: Option<Cursor>,
}

impl Page {
    /// A page of `items` with neither `next` nor `prev`.
    pub fn new(items: Vec<Reference>) -> Page {
        Page {
            items,
            next: None,
            prev: None,
        }
    }

    /// Sets the cursor of the older items (builder style).
    pub fn with_next(mut self, next: Cursor) -> Page {
        self.next = Some(next);
        self
    }

    /// Sets the cursor of the newer items (builder style).
    pub fn with_prev(mut self, prev: Cursor) -> Page {
        self.prev = Some(prev);
        self
    }
}

/// One collection's items, kept by the application (its database).
///
/// `reader` is who asks ([`Reader`]: anonymous, the verified signer of
/// the GET, or the owner), so a store can show each reader only what
/// they may see: an outbox leaves out followers-only posts for strangers
/// ([`ReadGuard::filter`](super::visibility::ReadGuard::filter) decides
/// it per item; filter in the store's query, or fetch more rows than
/// `limit` and filter, so pages stay full). `totalItems` and pages should
/// agree on it. A collection its owner hides (a private follower list)
/// answers its count and empty pages.
///
/// A cursor this source minted comes back unchanged in later requests; one
/// it did not mint (a reader can send any string that passes [`Cursor`]'s
/// checks) must give an empty page or [`CollectionError::UnknownCursor`],
/// never a panic.
#[async_trait::async_trait]
pub trait CollectionSource: Send + Sync {
    /// How many items `reader` may see (`totalItems`).
    async fn total(&self, reader: &Reader) -> Result<u64, CollectionError>;

    /// At most `limit` items visible to `reader`, newest first: the newest
    /// ones when `cursor` is `None`, else those at `cursor`.
    async fn page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
        reader: &Reader,
    ) -> Result<Page, CollectionError>;
}

/// How a collection is served: the page size.
///
/// ```
/// use archipel::federation::collection::{CollectionConfig, MAX_PAGE_SIZE};
/// assert_eq!(CollectionConfig::default().page_size, 20);
/// assert_eq!(CollectionConfig::default().with_page_size(1000).page_size, MAX_PAGE_SIZE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectionConfig {
    /// Items per page: [`DEFAULT_PAGE_SIZE`], 1 to [`MAX_PAGE_SIZE`].
    pub page_size: usize,
}

impl Default for CollectionConfig {
    fn default() -> Self {
        CollectionConfig {
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl CollectionConfig {
    /// Sets the page size, clamped to 1..=[`MAX_PAGE_SIZE`] (a page of
    /// thousands of embedded objects is a response no peer should have to
    /// read).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.clamp(1, MAX_PAGE_SIZE);
        self
    }
}
