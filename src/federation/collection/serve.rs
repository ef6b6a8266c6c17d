//! Serving: the collection document, its pages, the query string that
//! chooses between them, and [`VecSource`], the in-memory source.

use std::sync::Mutex;

use crate::vocab::{Collection, Iri, Kind, Object, OneOrMany, Reference};

use super::super::visibility::Reader;
use super::{
    CollectionConfig, CollectionError, CollectionSource, Cursor, DEFAULT_VEC_SOURCE_CAP,
    MAX_QUERY_LEN, Page, clip,
};

/// What a request to a collection route asks for, from its query string.
///
/// | query | request |
/// |---|---|
/// | none (or no `page`/`cursor`) | [`PageRequest::Collection`] |
/// | `page=true` | [`PageRequest::First`] |
/// | `cursor={cursor}` (with or without `page=true`) | [`PageRequest::At`] |
///
/// Other parameters are ignored. A repeated `page` or `cursor`, a `page`
/// other than `true` (an offset such as `page=2` is refused, not silently
/// read as the first page), an invalid cursor and a query over
/// [`MAX_QUERY_LEN`](super::MAX_QUERY_LEN) bytes are errors.
///
/// ```
/// use archipel::federation::collection::{Cursor, PageRequest};
/// assert_eq!(PageRequest::parse(None)?, PageRequest::Collection);
/// assert_eq!(PageRequest::parse(Some("page=true"))?, PageRequest::First);
/// assert_eq!(PageRequest::parse(Some("cursor=before-7"))?, PageRequest::At(Cursor::new("before-7")?));
/// assert!(PageRequest::parse(Some("page=2")).unwrap_err().is_bad_request());
/// # Ok::<(), archipel::federation::collection::CollectionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// The collection document itself.
    Collection,
    /// The first page: the newest items.
    First,
    /// The page at a cursor.
    At(Cursor),
}

impl PageRequest {
    /// Reads a request's query string (without the `?`).
    ///
    /// # Errors
    /// [`CollectionError::InvalidQuery`] or [`CollectionError::InvalidCursor`].
    pub fn parse(query: Option<&str>) -> Result<PageRequest, CollectionError> {
        let Some(query) = query else {
            return Ok(PageRequest::Collection);
        };
        let bad = |reason: &'static str| CollectionError::InvalidQuery {
            query: clip(query),
            reason,
        };
        if query.len() > MAX_QUERY_LEN {
            return Err(bad("longer than 1024 bytes"));
        }
        let mut page = false;
        let mut cursor = None;
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "page" => {
                    if page {
                        return Err(bad("repeats \"page\""));
                    }
                    if value != "true" {
                        return Err(bad(
                            "\"page\" must be \"true\" (pages are cursor-addressed)",
                        ));
                    }
                    page = true;
                }
                "cursor" => {
                    if cursor.is_some() {
                        return Err(bad("repeats \"cursor\""));
                    }
                    cursor = Some(Cursor::new(value.into_owned())?);
                }
                _ => {}
            }
        }
        Ok(match (cursor, page) {
            (Some(c), _) => PageRequest::At(c),
            (None, true) => PageRequest::First,
            (None, false) => PageRequest::Collection,
        })
    }
}

/// The IRI of a page of the collection `id`: `{id}?page=true` for the
/// first page, `{id}?cursor={cursor}` for the others.
pub(crate) fn page_iri(id: &Iri, cursor: Option<&Cursor>) -> Iri {
    let sep = if id.as_str().contains('?') { '&' } else { '?' };
    // A cursor is URL-unreserved characters only, so it needs no escaping
    // and the IRI stays valid whenever `id` is.
    match cursor {
        None => Iri::new_unchecked(format!("{id}{sep}page=true")),
        Some(c) => Iri::new_unchecked(format!("{id}{sep}cursor={c}")),
    }
}

/// The `OrderedCollection` document of the collection `id` holding
/// `total` items: `id`, `type`, `totalItems` and the IRI of the `first`
/// page, no items (see the module docs).
///
/// ```
/// use archipel::federation::collection::collection_document;
/// use archipel::vocab::Iri;
/// let doc = collection_document(&Iri::parse("https://a.example/users/alice/outbox")?, 7);
/// assert_eq!(serde_json::to_value(&doc)?, serde_json::json!({
///     "@context": "https://www.w3.org/ns/activitystreams",
///     "id": "https://a.example/users/alice/outbox",
///     "type": "OrderedCollection",
///     "totalItems": 7,
///     "first": "https://a.example/users/alice/outbox?page=true",
/// }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn collection_document(id: &Iri, total: u64) -> Collection {
    Collection {
        base: Box::new(Object::new(Kind::OrderedCollection.as_str()).with_id(id.clone())),
        total_items: Some(total),
        first: Some(Reference::Iri(page_iri(id, None))),
        ..Collection::default()
    }
}

/// The `OrderedCollectionPage` of the collection `id` at `cursor` (`None`:
/// the first page) holding `page`: `id`, `type`, `partOf`,
/// `orderedItems` (always an array, possibly empty), and `next`/`prev`
/// when the page has cursors for them.
pub fn page_document(id: &Iri, cursor: Option<&Cursor>, page: Page) -> Collection {
    let page_ref = |c: Cursor| Reference::Iri(page_iri(id, Some(&c)));
    Collection {
        base: Box::new(
            Object::new(Kind::OrderedCollectionPage.as_str()).with_id(page_iri(id, cursor)),
        ),
        part_of: Some(Reference::Iri(id.clone())),
        ordered_items: Some(OneOrMany::Many(page.items)),
        next: page.next.map(page_ref),
        prev: page.prev.map(page_ref),
        ..Collection::default()
    }
}

/// The document a request to the collection `id` gets: the collection or
/// one of its pages, as `query` (the request's query string, without `?`)
/// asks ([`PageRequest`]), for `reader` (who asks: the source shows them
/// only what they may see).
///
/// The source is asked for [`CollectionConfig::page_size`] items; any more
/// it returns are dropped, so the response stays bounded whatever the
/// store does. Embedded items lose their `bto`/`bcc` (at every level)
/// unless the reader is [`Reader::Owner`].
///
/// # Errors
/// [`CollectionError::InvalidQuery`] and [`CollectionError::InvalidCursor`]
/// (answer `400`, see [`CollectionError::is_bad_request`]), and whatever
/// the source returns.
pub async fn respond(
    source: &dyn CollectionSource,
    id: &Iri,
    query: Option<&str>,
    reader: &Reader,
    config: &CollectionConfig,
) -> Result<Collection, CollectionError> {
    let cursor = match PageRequest::parse(query)? {
        PageRequest::Collection => {
            return Ok(collection_document(id, source.total(reader).await?));
        }
        PageRequest::First => None,
        PageRequest::At(c) => Some(c),
    };
    let limit = config.page_size.clamp(1, super::MAX_PAGE_SIZE);
    let mut page = source.page(cursor.as_ref(), limit, reader).await?;
    page.items.truncate(limit);
    if *reader != Reader::Owner {
        // `bto`/`bcc` never leave the server, whatever the source stored.
        for item in &mut page.items {
            if let Reference::Object(object) = item {
                object
                    .strip_private_recipients()
                    .map_err(|e| CollectionError::Source(e.to_string()))?;
            }
        }
    }
    Ok(page_document(id, cursor.as_ref(), page))
}

#[derive(Debug, Default)]
struct Items {
    // Oldest first; each item with the sequence number it was pushed with,
    // which never changes and is never reused, so a cursor naming one
    // keeps its place while items are added and removed.
    rows: Vec<(u64, Reference)>,
    last_seq: u64,
}

/// An in-memory [`CollectionSource`] for tests and small servers: items in
/// the order they were pushed, served newest first, every reader seeing
/// all of them.
///
/// Cursors are `before-{n}` (items pushed before the `n`th) and `after-{n}`
/// (items pushed after it): positions in the items, not offsets, so pages
/// neither repeat nor skip items when some are added or removed between
/// two requests. It holds at most [`DEFAULT_VEC_SOURCE_CAP`] items unless
/// built with [`VecSource::with_cap`]; a collection remote peers can grow
/// (followers) must not grow without bound.
#[derive(Debug)]
pub struct VecSource {
    items: Mutex<Items>,
    cap: usize,
}

impl Default for VecSource {
    fn default() -> Self {
        VecSource::new()
    }
}

impl VecSource {
    /// An empty source holding at most [`DEFAULT_VEC_SOURCE_CAP`] items.
    pub fn new() -> VecSource {
        VecSource::with_cap(DEFAULT_VEC_SOURCE_CAP)
    }

    /// An empty source holding at most `cap` items.
    pub fn with_cap(cap: usize) -> VecSource {
        VecSource {
            items: Mutex::new(Items::default()),
            cap,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Items> {
        // The rows are consistent after every statement, so a poisoned lock
        // still guards a usable list.
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `item` as the newest.
    ///
    /// # Errors
    /// [`CollectionError::Full`] at the cap.
    pub fn push(&self, item: Reference) -> Result<(), CollectionError> {
        let mut items = self.lock();
        if items.rows.len() >= self.cap {
            return Err(CollectionError::Full { cap: self.cap });
        }
        items.last_seq += 1;
        let seq = items.last_seq;
        items.rows.push((seq, item));
        Ok(())
    }

    /// Removes every item whose IRI (or embedded `id`) is `id`; whether
    /// there was one.
    pub fn remove(&self, id: &Iri) -> bool {
        let mut items = self.lock();
        let before = items.rows.len();
        items.rows.retain(|(_, r)| r.id() != Some(id));
        items.rows.len() != before
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.lock().rows.len()
    }

    /// Whether it holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn seq_cursor(dir: &str, seq: u64) -> Result<Cursor, CollectionError> {
    Cursor::new(format!("{dir}-{seq}"))
}

/// `before-{n}` or `after-{n}`: (is_before, n).
fn parse_seq_cursor(cursor: &Cursor) -> Result<(bool, u64), CollectionError> {
    let invalid = || CollectionError::UnknownCursor {
        cursor: cursor.as_str().to_owned(),
    };
    let (before, n) = if let Some(n) = cursor.as_str().strip_prefix("before-") {
        (true, n)
    } else if let Some(n) = cursor.as_str().strip_prefix("after-") {
        (false, n)
    } else {
        return Err(invalid());
    };
    let n = n.parse::<u64>().map_err(|_| invalid())?;
    Ok((before, n))
}

#[async_trait::async_trait]
impl CollectionSource for VecSource {
    async fn total(&self, _reader: &Reader) -> Result<u64, CollectionError> {
        Ok(self.len() as u64)
    }

    async fn page(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
        _reader: &Reader,
    ) -> Result<Page, CollectionError> {
        let items = self.lock();
        let rows = &items.rows;
        let limit = limit.max(1);
        // The page is rows[start..end] (oldest first), served reversed.
        let (start, end) = match cursor.map(parse_seq_cursor).transpose()? {
            None => (rows.len().saturating_sub(limit), rows.len()),
            Some((true, n)) => {
                let end = rows.partition_point(|(seq, _)| *seq < n);
                (end.saturating_sub(limit), end)
            }
            Some((false, n)) => {
                let start = rows.partition_point(|(seq, _)| *seq <= n);
                (start, start.saturating_add(limit).min(rows.len()))
            }
        };
        let Some(slice) = rows.get(start..end) else {
            return Ok(Page::default());
        };
        let mut page = Page::new(slice.iter().rev().map(|(_, r)| r.clone()).collect());
        if let (Some((oldest, _)), Some((newest, _))) = (slice.first(), slice.last()) {
            if start > 0 {
                page.next = Some(seq_cursor("before", *oldest)?);
            }
            if end < rows.len() {
                page.prev = Some(seq_cursor("after", *newest)?);
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{MAX_CURSOR_LEN, MAX_QUERY_LEN};
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    fn outbox() -> Iri {
        iri("https://a.example/users/alice/outbox")
    }

    /// 45 items, `https://b.example/n/1` (oldest) to `/45` (newest).
    fn source45() -> VecSource {
        let s = VecSource::new();
        for n in 1..=45 {
            s.push(iri(&format!("https://b.example/n/{n}")).into())
                .unwrap();
        }
        s
    }

    fn items(from: u32, to: u32) -> Vec<String> {
        (to..=from)
            .rev()
            .map(|n| format!("https://b.example/n/{n}"))
            .collect()
    }

    async fn get(s: &VecSource, query: Option<&str>) -> serde_json::Value {
        let doc = respond(
            s,
            &outbox(),
            query,
            &Reader::Anonymous,
            &CollectionConfig::default(),
        )
        .await
        .unwrap();
        serde_json::to_value(&doc).unwrap()
    }

    #[tokio::test]
    async fn pages_never_show_bto_or_bcc_but_to_the_owner() {
        let s = VecSource::new();
        let note = crate::vocab::AnyObject::from_value(&json!({
            "id": "https://a.example/n/1", "type": "Note",
            "to": "https://b.example/u/x", "bcc": "https://c.example/u/y"
        }))
        .unwrap();
        s.push(Reference::from(note)).unwrap();
        let page = get(&s, Some("page=true")).await;
        assert_eq!(
            page["orderedItems"],
            json!([{"id": "https://a.example/n/1", "type": "Note", "to": "https://b.example/u/x"}])
        );
        let owner = respond(
            &s,
            &outbox(),
            Some("page=true"),
            &Reader::Owner,
            &CollectionConfig::default(),
        )
        .await
        .unwrap();
        let owner = serde_json::to_value(&owner).unwrap();
        assert_eq!(owner["orderedItems"][0]["bcc"], "https://c.example/u/y");
    }

    #[tokio::test]
    async fn forty_five_items_in_pages_of_twenty_exact_json() {
        let s = source45();
        let ctx = "https://www.w3.org/ns/activitystreams";
        let base = "https://a.example/users/alice/outbox";
        assert_eq!(
            get(&s, None).await,
            json!({
                "@context": ctx,
                "id": base,
                "type": "OrderedCollection",
                "totalItems": 45,
                "first": format!("{base}?page=true"),
            })
        );
        assert_eq!(
            get(&s, Some("page=true")).await,
            json!({
                "@context": ctx,
                "id": format!("{base}?page=true"),
                "type": "OrderedCollectionPage",
                "orderedItems": items(45, 26),
                "partOf": base,
                "next": format!("{base}?cursor=before-26"),
            })
        );
        assert_eq!(
            get(&s, Some("cursor=before-26")).await,
            json!({
                "@context": ctx,
                "id": format!("{base}?cursor=before-26"),
                "type": "OrderedCollectionPage",
                "orderedItems": items(25, 6),
                "partOf": base,
                "next": format!("{base}?cursor=before-6"),
                "prev": format!("{base}?cursor=after-25"),
            })
        );
        assert_eq!(
            get(&s, Some("cursor=before-6")).await,
            json!({
                "@context": ctx,
                "id": format!("{base}?cursor=before-6"),
                "type": "OrderedCollectionPage",
                "orderedItems": items(5, 1),
                "partOf": base,
                "prev": format!("{base}?cursor=after-5"),
            })
        );
        // Walking back: the page newer than the last one is the middle one.
        assert_eq!(
            get(&s, Some("cursor=after-5")).await["orderedItems"],
            json!(items(25, 6))
        );
        assert_eq!(
            get(&s, Some("cursor=after-25")).await["orderedItems"],
            json!(items(45, 26))
        );
    }

    #[tokio::test]
    async fn cursors_keep_their_place_when_items_arrive_and_leave() {
        let s = source45();
        // A reader holds the second page's cursor; five new items arrive
        // and one item of the second page is removed.
        for n in 46..=50 {
            s.push(iri(&format!("https://b.example/n/{n}")).into())
                .unwrap();
        }
        assert!(s.remove(&iri("https://b.example/n/20")));
        let page = get(&s, Some("cursor=before-26")).await;
        let mut want = items(25, 5);
        want.retain(|i| i != "https://b.example/n/20");
        assert_eq!(page["orderedItems"], json!(want));
        assert_eq!(
            page["next"],
            json!("https://a.example/users/alice/outbox?cursor=before-5")
        );
    }

    #[tokio::test]
    async fn empty_collection_and_small_page_size() {
        let s = VecSource::new();
        assert_eq!(get(&s, None).await["totalItems"], json!(0));
        let page = get(&s, Some("page=true")).await;
        assert_eq!(page["orderedItems"], json!([]));
        assert_eq!(page.get("next"), None);
        assert_eq!(page.get("prev"), None);

        let s = source45();
        let config = CollectionConfig::default().with_page_size(0);
        assert_eq!(config.page_size, 1);
        let doc = respond(
            &s,
            &outbox(),
            Some("page=true"),
            &Reader::Anonymous,
            &config,
        )
        .await
        .unwrap();
        assert_eq!(doc.all_items().len(), 1);
    }

    /// A source that ignores the limit: the served page is still bounded.
    struct Greedy;

    #[async_trait::async_trait]
    impl CollectionSource for Greedy {
        async fn total(&self, _: &Reader) -> Result<u64, CollectionError> {
            Err(CollectionError::Source("database down".into()))
        }
        async fn page(
            &self,
            _: Option<&Cursor>,
            _: usize,
            _: &Reader,
        ) -> Result<Page, CollectionError> {
            let item = Reference::Iri(iri("https://b.example/n/1"));
            Ok(Page::new(vec![item; 5000]))
        }
    }

    /// Shows signed readers one item, others none.
    struct PerReader;

    #[async_trait::async_trait]
    impl CollectionSource for PerReader {
        async fn total(&self, reader: &Reader) -> Result<u64, CollectionError> {
            Ok(u64::from(matches!(reader, Reader::Signed { .. })))
        }
        async fn page(
            &self,
            _: Option<&Cursor>,
            _: usize,
            reader: &Reader,
        ) -> Result<Page, CollectionError> {
            Ok(match reader {
                Reader::Signed { owner } => Page::new(vec![Reference::Iri(owner.clone())]),
                _ => Page::default(),
            })
        }
    }

    #[tokio::test]
    async fn the_reader_reaches_the_source() {
        let config = CollectionConfig::default();
        let bob = Reader::Signed {
            owner: iri("https://b.example/users/bob"),
        };
        let anon = &Reader::Anonymous;
        let doc = respond(&PerReader, &outbox(), None, &bob, &config)
            .await
            .unwrap();
        assert_eq!(doc.total_items, Some(1));
        let doc = respond(&PerReader, &outbox(), None, anon, &config)
            .await
            .unwrap();
        assert_eq!(doc.total_items, Some(0));
        let page = respond(&PerReader, &outbox(), Some("page=true"), &bob, &config)
            .await
            .unwrap();
        assert_eq!(
            page.all_items(),
            [Reference::Iri(iri("https://b.example/users/bob"))]
        );
        let page = respond(&PerReader, &outbox(), Some("page=true"), anon, &config)
            .await
            .unwrap();
        assert!(page.all_items().is_empty());
    }

    #[tokio::test]
    async fn a_source_returning_too_much_is_truncated_to_the_page_size() {
        let doc = respond(
            &Greedy,
            &outbox(),
            Some("page=true"),
            &Reader::Anonymous,
            &CollectionConfig::default(),
        )
        .await
        .unwrap();
        assert_eq!(doc.all_items().len(), 20);
        let err = respond(
            &Greedy,
            &outbox(),
            None,
            &Reader::Anonymous,
            &CollectionConfig::default(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CollectionError::Source(ref m) if m == "database down"));
        assert!(!err.is_bad_request());
    }

    #[test]
    fn hostile_queries_are_typed_errors() {
        let long_cursor = format!("cursor={}", "a".repeat(MAX_CURSOR_LEN + 1));
        let long_query = format!("x={}", "a".repeat(MAX_QUERY_LEN));
        for (query, want) in [
            (
                "page=2",
                "\"page\" must be \"true\" (pages are cursor-addressed)",
            ),
            ("page=true&page=true", "repeats \"page\""),
            ("cursor=a&cursor=b", "repeats \"cursor\""),
            (long_query.as_str(), "longer than 1024 bytes"),
        ] {
            match PageRequest::parse(Some(query)) {
                Err(CollectionError::InvalidQuery { reason, .. }) => {
                    assert_eq!(reason, want, "{query}")
                }
                other => panic!("{query}: {other:?}"),
            }
        }
        for query in [
            "cursor=",
            "cursor=a%20b",
            "cursor=%00",
            "cursor=%FF%FE",
            "cursor=a/b",
            "cursor=a%3Fb",
            "cursor=\u{e9}",
            long_cursor.as_str(),
        ] {
            let err = PageRequest::parse(Some(query)).unwrap_err();
            assert!(
                matches!(err, CollectionError::InvalidCursor { .. }),
                "{query}: {err:?}"
            );
            assert!(err.is_bad_request());
        }
        // Tolerated: other parameters, percent-encoded unreserved characters,
        // an empty query, stray separators.
        assert_eq!(
            PageRequest::parse(Some("x=1&cursor=%61b&&")).unwrap(),
            PageRequest::At(Cursor::new("ab").unwrap())
        );
        assert_eq!(
            PageRequest::parse(Some("")).unwrap(),
            PageRequest::Collection
        );
        assert_eq!(
            PageRequest::parse(Some("=&=&page=true")).unwrap(),
            PageRequest::First
        );
    }

    #[tokio::test]
    async fn cursors_the_vec_source_never_minted() {
        let s = source45();
        for cursor in [
            "x",
            "before-",
            "before-x",
            "after--1",
            "before-99999999999999999999999",
        ] {
            let err = s
                .page(Some(&Cursor::new(cursor).unwrap()), 20, &Reader::Anonymous)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, CollectionError::UnknownCursor { cursor: c } if c == cursor),
                "{cursor}: {err:?}"
            );
            assert!(err.is_bad_request());
        }
        // Well-formed but out of range: empty pages, no panic.
        for cursor in ["before-0", "after-45", "after-18446744073709551615"] {
            let page = s
                .page(Some(&Cursor::new(cursor).unwrap()), 20, &Reader::Anonymous)
                .await
                .unwrap();
            assert_eq!(page, Page::default(), "{cursor}");
        }
    }

    #[test]
    fn the_vec_source_is_bounded() {
        let s = VecSource::with_cap(2);
        s.push(iri("https://b.example/1").into()).unwrap();
        s.push(iri("https://b.example/2").into()).unwrap();
        assert!(matches!(
            s.push(iri("https://b.example/3").into()),
            Err(CollectionError::Full { cap: 2 })
        ));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn page_iris_respect_an_existing_query() {
        let id = iri("https://a.example/c?user=1");
        assert_eq!(
            page_iri(&id, None).as_str(),
            "https://a.example/c?user=1&page=true"
        );
        assert_eq!(
            page_iri(&id, Some(&Cursor::new("k").unwrap())).as_str(),
            "https://a.example/c?user=1&cursor=k"
        );
    }
}
