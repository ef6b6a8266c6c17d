//! Traversal: [`CollectionWalker`], a bounded pull-stream over the items of
//! a remote collection.

use std::collections::{HashSet, VecDeque};

use url::Url;

use crate::fetch::Fetcher;
use crate::vocab::{AnyObject, Collection, Iri, Reference};

use super::{CollectionError, DEFAULT_MAX_ITEMS, DEFAULT_MAX_PAGES, clip};

/// Walks a remote `Collection` or `OrderedCollection` item by item: the
/// collection's inline `items`/`orderedItems`, then its `first` page, then
/// each page's `next`, until a page has no `next`.
///
/// Pages are fetched through the given [`Fetcher`], so they are signed when
/// it is ([`Fetcher::signed`], which servers in authorized-fetch mode
/// require), pass its domain policy and its origin checks. On top of those:
///
/// - every page (each IRI followed, and each page's `id`) must be on the
///   origin of the collection: a page elsewhere is refused with
///   [`CollectionError::CrossOrigin`] before it is fetched;
/// - a page met twice ends the walk with [`CollectionError::PageCycle`];
/// - at most [`DEFAULT_MAX_PAGES`] documents (the collection itself
///   included) are read and at most [`DEFAULT_MAX_ITEMS`] items yielded
///   ([`with_max_pages`](Self::with_max_pages),
///   [`with_max_items`](Self::with_max_items)); a collection that goes on
///   past a limit ends with [`CollectionError::TooManyPages`] or
///   [`CollectionError::TooManyItems`], so a truncated walk is never
///   mistaken for a complete one.
///
/// Embedded pages (`"first": {...}`) are read without a fetch, and the
/// types `Collection`, `OrderedCollection`, `CollectionPage` and
/// `OrderedCollectionPage` are accepted alike, items given as an array or
/// as a single value. The first error ends the walk: `next` then returns
/// `None`.
///
/// Items are yielded as they are written: an IRI, or an embedded object
/// whose content has only the collection's authority (a collection on one
/// server can embed an object claiming another server's `id`; fetch the
/// IRI when that matters).
///
/// ```no_run
/// # async fn demo(fetcher: archipel::fetch::Fetcher) -> Result<(), Box<dyn std::error::Error>> {
/// use archipel::federation::collection::CollectionWalker;
/// use archipel::vocab::Iri;
///
/// let followers = Iri::parse("https://b.example/users/bob/followers")?;
/// let mut walk = CollectionWalker::new(fetcher, followers).with_max_items(1000);
/// while let Some(item) = walk.next().await {
///     println!("{:?}", item?.id());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CollectionWalker {
    fetcher: Fetcher,
    collection: Iri,
    max_pages: usize,
    max_items: usize,
    origin: Option<url::Origin>,
    /// The page to read next; the collection itself before the start.
    pending: Option<Reference>,
    started: bool,
    done: bool,
    buffer: VecDeque<Reference>,
    /// Page IRIs and ids read so far (at most two per page read).
    seen: HashSet<String>,
    pages: usize,
    yielded: usize,
}

impl CollectionWalker {
    /// A walk over the collection at `collection`, with the default limits.
    pub fn new(fetcher: Fetcher, collection: Iri) -> CollectionWalker {
        CollectionWalker {
            fetcher,
            pending: Some(Reference::Iri(collection.clone())),
            collection,
            max_pages: DEFAULT_MAX_PAGES,
            max_items: DEFAULT_MAX_ITEMS,
            origin: None,
            started: false,
            done: false,
            buffer: VecDeque::new(),
            seen: HashSet::new(),
            pages: 0,
            yielded: 0,
        }
    }

    /// A walk over a collection already in hand: embedded in a document
    /// the caller fetched and verified (a post's `replies`, with its first
    /// page inline, as Mastodon sends it). Its inline items and embedded
    /// pages carry that document's authority; pages fetched from there on
    /// must be on the origin of the collection's `id`.
    ///
    /// # Errors
    /// [`CollectionError::InvalidIri`] when the collection has no `http(s)`
    /// `id` (there would be no origin to hold its pages to).
    pub fn embedded(
        fetcher: Fetcher,
        collection: Collection,
    ) -> Result<CollectionWalker, CollectionError> {
        let id = collection.id.clone().unwrap_or_default();
        if !id.is_http() {
            return Err(CollectionError::InvalidIri {
                iri: clip(id.as_str()),
            });
        }
        let mut walker = CollectionWalker::new(fetcher, id);
        walker.pending = Some(Reference::Object(Box::new(AnyObject::Collection(
            Box::new(collection),
        ))));
        Ok(walker)
    }

    /// Reads at most `n` documents, the collection itself included
    /// (default [`DEFAULT_MAX_PAGES`]).
    pub fn with_max_pages(mut self, n: usize) -> CollectionWalker {
        self.max_pages = n;
        self
    }

    /// Yields at most `n` items (default [`DEFAULT_MAX_ITEMS`]).
    pub fn with_max_items(mut self, n: usize) -> CollectionWalker {
        self.max_items = n;
        self
    }

    /// How many documents were read so far, the collection included.
    pub fn pages_read(&self) -> usize {
        self.pages
    }

    /// The next item, an error that ends the walk, or `None` at the end.
    pub async fn next(&mut self) -> Option<Result<Reference, CollectionError>> {
        if self.done {
            return None;
        }
        match self.advance().await {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                self.buffer.clear();
                Some(Err(e))
            }
        }
    }

    async fn advance(&mut self) -> Result<Option<Reference>, CollectionError> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                if self.yielded >= self.max_items {
                    return Err(CollectionError::TooManyItems {
                        limit: self.max_items,
                    });
                }
                self.yielded += 1;
                return Ok(Some(item));
            }
            let Some(next) = self.pending.take() else {
                return Ok(None);
            };
            if self.pages >= self.max_pages {
                return Err(CollectionError::TooManyPages {
                    limit: self.max_pages,
                });
            }
            let page = self.read(next).await?;
            self.pages += 1;
            // One item past the budget is kept, to tell a collection that
            // ends exactly at the limit from one that goes on.
            let room = self
                .max_items
                .saturating_sub(self.yielded)
                .saturating_add(1);
            self.buffer
                .extend(page.all_items().iter().take(room).cloned());
            self.pending = if self.started {
                page.next
            } else {
                // The collection leads to its first page; a walk started
                // at a page goes on from there.
                page.first.or(page.next)
            };
            self.started = true;
        }
    }

    /// Reads one page: fetched when given by IRI, as is when embedded.
    async fn read(&mut self, page: Reference) -> Result<Collection, CollectionError> {
        match page {
            Reference::Iri(iri) => {
                let url = self.check_page(&iri)?;
                let doc = self.fetcher.fetch_value(&url).await?;
                let found =
                    AnyObject::from_value(&doc).map_err(|source| CollectionError::Vocab {
                        iri: clip(iri.as_str()),
                        source,
                    })?;
                // The fetcher checked the id against the URL finally
                // fetched; a redirect may have left the collection's origin.
                if let Some(id) = found.id()
                    && !same_resource(id, &url)
                {
                    self.check_page(id)?;
                }
                as_collection(found, &iri)
            }
            Reference::Object(found) => {
                if let Some(id) = found.id() {
                    self.check_page(id)?;
                }
                let label = found
                    .id()
                    .cloned()
                    .unwrap_or_else(|| Iri::new_unchecked("(embedded page)"));
                as_collection(*found, &label)
            }
        }
    }

    /// The page's URL, if it is on the collection's origin and not yet read.
    fn check_page(&mut self, page: &Iri) -> Result<Url, CollectionError> {
        let url = page
            .to_url()
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| CollectionError::InvalidIri {
                iri: clip(page.as_str()),
            })?;
        let origin = match &self.origin {
            Some(o) => o,
            None => self.origin.insert(url.origin()),
        };
        if url.origin() != *origin {
            return Err(CollectionError::CrossOrigin {
                page: clip(page.as_str()),
                collection: clip(self.collection.as_str()),
            });
        }
        let mut key = url.clone();
        key.set_fragment(None);
        if !self.seen.insert(key.into()) {
            return Err(CollectionError::PageCycle {
                page: clip(page.as_str()),
            });
        }
        Ok(url)
    }
}

/// Whether `id` names the page at `url` (fragments aside, as the URL
/// parser normalizes case and default ports).
fn same_resource(id: &Iri, url: &Url) -> bool {
    id.to_url().is_ok_and(|mut id| {
        let mut url = url.clone();
        id.set_fragment(None);
        url.set_fragment(None);
        id == url
    })
}

fn as_collection(found: AnyObject, iri: &Iri) -> Result<Collection, CollectionError> {
    match found {
        AnyObject::Collection(c) => Ok(*c),
        other => Err(CollectionError::NotACollection {
            iri: clip(iri.as_str()),
            found: other.type_name().unwrap_or("").to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use serde_json::{Value, json};

    use super::*;
    use crate::client::{ClientError, FinalUrl, HttpClient};
    use crate::fetch::FetchError;

    /// A fake web: documents by URL, and the URLs asked for.
    #[derive(Default)]
    struct Site {
        docs: Mutex<HashMap<String, (Bytes, Option<Url>)>>,
        asked: Mutex<Vec<String>>,
    }

    impl Site {
        fn put(&self, url: &str, doc: Value) {
            self.put_raw(url, doc.to_string().into(), None);
        }
        fn put_raw(&self, url: &str, body: Bytes, final_url: Option<&str>) {
            let final_url = final_url.map(|u| Url::parse(u).unwrap());
            self.docs
                .lock()
                .unwrap()
                .insert(url.to_owned(), (body, final_url));
        }
        fn asked(&self) -> Vec<String> {
            self.asked.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl HttpClient for Site {
        async fn execute(
            &self,
            req: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, ClientError> {
            let url = req.uri().to_string();
            self.asked.lock().unwrap().push(url.clone());
            let found = self.docs.lock().unwrap().get(&url).cloned();
            let Some((body, final_url)) = found else {
                return Ok(http::Response::builder()
                    .status(404)
                    .body(Bytes::new())
                    .unwrap());
            };
            let mut resp = http::Response::builder()
                .header("content-type", "application/activity+json")
                .body(body)
                .unwrap();
            if let Some(f) = final_url {
                resp.extensions_mut().insert(FinalUrl(f));
            }
            Ok(resp)
        }
    }

    const C: &str = "https://b.example/c";

    fn walker(site: &Arc<Site>) -> CollectionWalker {
        let fetcher = Fetcher::new(site.clone());
        CollectionWalker::new(fetcher, Iri::parse(C).unwrap())
    }

    /// Drains the walk: the item ids, then the error that ended it.
    async fn drain(w: &mut CollectionWalker) -> (Vec<String>, Option<CollectionError>) {
        let mut items = Vec::new();
        let mut bound = 0;
        while let Some(next) = w.next().await {
            bound += 1;
            assert!(bound < 100_000, "the walk does not end");
            match next {
                Ok(r) => items.push(r.id().map(|i| i.to_string()).unwrap_or_default()),
                Err(e) => {
                    assert!(w.next().await.is_none(), "an error ends the walk");
                    return (items, Some(e));
                }
            }
        }
        (items, None)
    }

    /// A collection of `pages` pages of two items each, by IRI.
    fn chain(site: &Site, pages: usize) {
        site.put(
            C,
            json!({"id": C, "type": "OrderedCollection", "first": format!("{C}?p=1")}),
        );
        for p in 1..=pages {
            let mut page = json!({
                "id": format!("{C}?p={p}"), "type": "OrderedCollectionPage", "partOf": C,
                "orderedItems": [format!("https://x.example/{p}a"), format!("https://x.example/{p}b")],
            });
            if p < pages {
                page["next"] = json!(format!("{C}?p={}", p + 1));
            }
            site.put(&format!("{C}?p={p}"), page);
        }
    }

    fn chain_items(pages: usize) -> Vec<String> {
        (1..=pages)
            .flat_map(|p| {
                [
                    format!("https://x.example/{p}a"),
                    format!("https://x.example/{p}b"),
                ]
            })
            .collect()
    }

    #[tokio::test]
    async fn inline_items_embedded_first_page_and_a_single_item() {
        let site = Arc::new(Site::default());
        site.put(
            C,
            json!({
                "id": C, "type": "Collection", "totalItems": 4,
                "items": ["https://x.example/1", {"id": "https://x.example/2", "type": "Note"}],
                "first": {
                    "id": format!("{C}?page=1"), "type": "CollectionPage",
                    "items": "https://x.example/3",
                    "next": format!("{C}?page=2"),
                },
            }),
        );
        site.put(
            &format!("{C}?page=2"),
            json!({"id": format!("{C}?page=2"), "type": "OrderedCollectionPage",
                   "orderedItems": [{"type": "Link", "href": "https://x.example/4"}]}),
        );
        let mut w = walker(&site);
        let (items, err) = drain(&mut w).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            items,
            [
                "https://x.example/1",
                "https://x.example/2",
                "https://x.example/3",
                "https://x.example/4"
            ]
        );
        assert_eq!(w.pages_read(), 3);
        // The embedded page was not fetched.
        assert_eq!(site.asked(), [C.to_owned(), format!("{C}?page=2")]);
    }

    #[tokio::test]
    async fn an_embedded_collection_is_walked_from_its_inline_page() {
        let site = Arc::new(Site::default());
        site.put(
            &format!("{C}?page=2"),
            json!({"id": format!("{C}?page=2"), "type": "CollectionPage", "items": ["https://x.example/2"]}),
        );
        let replies: Collection = serde_json::from_value(json!({
            "id": C, "type": "Collection",
            "first": {"type": "CollectionPage", "items": ["https://x.example/1"], "next": format!("{C}?page=2")},
        }))
        .unwrap();
        let mut w = CollectionWalker::embedded(Fetcher::new(site.clone()), replies).unwrap();
        let (items, err) = drain(&mut w).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(items, ["https://x.example/1", "https://x.example/2"]);
        assert_eq!(site.asked(), [format!("{C}?page=2")]);

        let anonymous: Collection =
            serde_json::from_value(json!({"type": "Collection", "items": ["https://x.example/1"]}))
                .unwrap();
        let err = CollectionWalker::embedded(Fetcher::new(site.clone()), anonymous).unwrap_err();
        assert!(
            matches!(&err, CollectionError::InvalidIri { iri } if iri.is_empty()),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn item_limit_ends_with_an_error_only_when_more_items_follow() {
        let site = Arc::new(Site::default());
        chain(&site, 3);
        let (items, err) = drain(&mut walker(&site).with_max_items(6)).await;
        assert_eq!(items, chain_items(3));
        assert!(err.is_none(), "{err:?}");

        let (items, err) = drain(&mut walker(&site).with_max_items(3)).await;
        assert_eq!(items, chain_items(3)[..3]);
        assert!(
            matches!(err, Some(CollectionError::TooManyItems { limit: 3 })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn page_limit_counts_the_collection_and_fetches_no_further() {
        let site = Arc::new(Site::default());
        chain(&site, 3);
        let mut w = walker(&site).with_max_pages(3);
        let (items, err) = drain(&mut w).await;
        assert_eq!(items, chain_items(2));
        assert!(
            matches!(err, Some(CollectionError::TooManyPages { limit: 3 })),
            "{err:?}"
        );
        assert_eq!(
            site.asked(),
            [C.to_owned(), format!("{C}?p=1"), format!("{C}?p=2")]
        );
        assert_eq!(w.pages_read(), 3);
    }

    #[tokio::test]
    async fn a_page_cycle_stops_the_walk() {
        let site = Arc::new(Site::default());
        chain(&site, 2);
        // Page 2 leads back to page 1 (same page, other spelling).
        site.put(
            &format!("{C}?p=2"),
            json!({"id": format!("{C}?p=2"), "type": "OrderedCollectionPage",
                   "orderedItems": ["https://x.example/2a"], "next": "https://B.EXAMPLE:443/c?p=1#x"}),
        );
        let (items, err) = drain(&mut walker(&site)).await;
        assert_eq!(
            items,
            [
                "https://x.example/1a",
                "https://x.example/1b",
                "https://x.example/2a"
            ]
        );
        match err {
            Some(CollectionError::PageCycle { page }) => {
                assert_eq!(page, "https://B.EXAMPLE:443/c?p=1#x")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(site.asked().len(), 3);
    }

    #[tokio::test]
    async fn a_next_page_on_another_origin_is_refused_unfetched() {
        let site = Arc::new(Site::default());
        chain(&site, 1);
        for evil in [
            "https://evil.example/c?p=2",
            "http://b.example/c?p=2",
            "https://b.example:8443/c?p=2",
        ] {
            site.put(
                &format!("{C}?p=1"),
                json!({"id": format!("{C}?p=1"), "type": "OrderedCollectionPage",
                       "orderedItems": ["https://x.example/1a"], "next": evil}),
            );
            let (items, err) = drain(&mut walker(&site)).await;
            assert_eq!(items, ["https://x.example/1a"]);
            match err {
                Some(CollectionError::CrossOrigin { page, collection }) => {
                    assert_eq!((page.as_str(), collection.as_str()), (evil, C));
                }
                other => panic!("{evil}: {other:?}"),
            }
            assert!(!site.asked().iter().any(|u| u.contains("p=2")), "{evil}");
        }
    }

    #[tokio::test]
    async fn an_embedded_or_redirected_page_on_another_origin_is_refused() {
        let site = Arc::new(Site::default());
        site.put(
            C,
            json!({"id": C, "type": "OrderedCollection",
                   "first": {"id": "https://evil.example/p1", "type": "OrderedCollectionPage",
                             "orderedItems": ["https://x.example/1"]}}),
        );
        let (items, err) = drain(&mut walker(&site)).await;
        assert!(items.is_empty());
        assert!(
            matches!(&err, Some(CollectionError::CrossOrigin { page, .. }) if page == "https://evil.example/p1"),
            "{err:?}"
        );

        // The first page redirects to another origin, whose document the
        // fetcher accepts (its id matches where it was served from).
        chain(&site, 1);
        site.put_raw(
            &format!("{C}?p=1"),
            json!({"id": "https://evil.example/p1", "type": "OrderedCollectionPage",
                   "orderedItems": ["https://x.example/1"]})
            .to_string()
            .into(),
            Some("https://evil.example/p1"),
        );
        let (items, err) = drain(&mut walker(&site)).await;
        assert!(items.is_empty());
        assert!(
            matches!(&err, Some(CollectionError::CrossOrigin { page, .. }) if page == "https://evil.example/p1"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn garbage_pages_are_typed_errors() {
        let site = Arc::new(Site::default());
        chain(&site, 1);
        let page = format!("{C}?p=1");

        site.put_raw(&page, Bytes::from_static(b"<html>not json"), None);
        let (items, err) = drain(&mut walker(&site)).await;
        assert!(items.is_empty());
        assert!(
            matches!(
                err,
                Some(CollectionError::Fetch(FetchError::InvalidJson { .. }))
            ),
            "{err:?}"
        );

        site.put(&page, json!({"id": page, "type": "Note", "content": "hi"}));
        let (_, err) = drain(&mut walker(&site)).await;
        assert!(
            matches!(&err, Some(CollectionError::NotACollection { found, .. }) if found == "Note"),
            "{err:?}"
        );

        // Nested past the vocabulary's depth limit (64), within JSON's (128).
        let mut deep = json!("https://x.example/1");
        for _ in 0..100 {
            deep = json!([deep]);
        }
        site.put(
            &page,
            json!({"id": page, "type": "OrderedCollectionPage", "orderedItems": deep}),
        );
        let (_, err) = drain(&mut walker(&site)).await;
        assert!(
            matches!(
                err,
                Some(CollectionError::Vocab {
                    source: crate::vocab::VocabError::TooDeep { limit: 64 },
                    ..
                })
            ),
            "{err:?}"
        );

        // A missing page, and a collection IRI that is not http(s).
        site.put(
            C,
            json!({"id": C, "type": "OrderedCollection", "first": format!("{C}?gone")}),
        );
        let (_, err) = drain(&mut walker(&site)).await;
        assert!(
            matches!(
                err,
                Some(CollectionError::Fetch(FetchError::NotFound { .. }))
            ),
            "{err:?}"
        );
        let fetcher = Fetcher::new(site.clone());
        let mut w = CollectionWalker::new(fetcher, Iri::new_unchecked("urn:x:1"));
        let (_, err) = drain(&mut w).await;
        assert!(
            matches!(&err, Some(CollectionError::InvalidIri { iri }) if iri == "urn:x:1"),
            "{err:?}"
        );
    }
}
