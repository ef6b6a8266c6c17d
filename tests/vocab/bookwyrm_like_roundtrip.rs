//! Every type of the `bookwyrm_like` example's vocabulary decodes through
//! its own dispatch, exposes its typed properties, keeps properties it does
//! not know, and serializes back to exactly the input; the plain rendering
//! carries no custom terms.

use crate::books;

use archipel::vocab::Iri;
use books::{BookObject, BookStatus};
use serde_json::{Value, json};

const BOOK: &str = "https://books.example/book/1";
const MOUSE: &str = "https://books.example/user/mouse";

/// Decodes `doc` (with an unknown property added), checks it kept that
/// property and re-serializes to the same JSON; returns the decoded value.
fn roundtrip(doc: Value) -> BookObject {
    roundtrip_keeping(doc, &[])
}

/// [`roundtrip`], where the typed extension cannot reproduce the `kept`
/// properties exactly (so they also stay, verbatim, in `extra`).
fn roundtrip_keeping(mut doc: Value, kept: &[&str]) -> BookObject {
    doc["@context"] = books::context().to_value();
    doc["futureTerm"] = json!({"nested": [1, 2]});
    let decoded = BookObject::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let (extra, back) = match &decoded {
        BookObject::Edition(x) => (&x.extra, serde_json::to_value(x).unwrap()),
        BookObject::Work(x) => (&x.extra, serde_json::to_value(x).unwrap()),
        BookObject::Author(x) => (&x.extra, serde_json::to_value(x).unwrap()),
        BookObject::Review(x) | BookObject::Rating(x) => {
            (&x.extra, serde_json::to_value(x).unwrap())
        }
        BookObject::Comment(x) => (&x.extra, serde_json::to_value(x).unwrap()),
        BookObject::Quotation(x) => (&x.extra, serde_json::to_value(x).unwrap()),
        BookObject::ShelfItem(x) => (&x.extra, serde_json::to_value(x).unwrap()),
        BookObject::Shelf(x) => (&x.base.base.extra, serde_json::to_value(x).unwrap()),
        BookObject::Other(o) => panic!("not dispatched: {:?}", o.type_name()),
    };
    // Only the unknown property (and `kept`) is left unmodelled.
    let mut expected: Vec<&str> = kept.iter().copied().chain(["futureTerm"]).collect();
    expected.sort_unstable();
    assert_eq!(
        extra.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(back, doc);
    decoded
}

#[test]
fn edition_work_and_author() {
    let BookObject::Edition(e) = roundtrip(json!({
        "id": BOOK, "type": "Edition", "title": "Dune", "subtitle": "A novel",
        "authors": ["https://books.example/author/2"], "work": "https://books.example/works/3",
        "isbn13": "9780441013593"
    })) else {
        panic!()
    };
    assert_eq!(e.ext.title.as_deref(), Some("Dune"));
    assert_eq!(e.ext.isbn13.as_deref(), Some("9780441013593"));
    assert_eq!(
        e.ext.authors,
        vec![Iri::parse("https://books.example/author/2").unwrap()]
    );
    assert_eq!(
        e.ext.work.as_ref().unwrap().as_str(),
        "https://books.example/works/3"
    );

    let BookObject::Work(w) = roundtrip(json!({
        "id": "https://books.example/works/3", "type": "Work", "title": "Dune",
        "editions": [BOOK]
    })) else {
        panic!()
    };
    assert_eq!(w.ext.editions.len(), 1);
    assert_eq!(w.ext.title.as_deref(), Some("Dune"));

    let BookObject::Author(a) = roundtrip(json!({
        "id": "https://books.example/author/2", "type": "Author", "name": "Frank Herbert",
        "born": "1920-10-08", "died": "1986-02-11", "bio": "<p>Writer.</p>"
    })) else {
        panic!()
    };
    assert_eq!(a.name.as_deref(), Some("Frank Herbert"));
    assert_eq!(a.ext.born.as_deref(), Some("1920-10-08"));
    assert_eq!(a.ext.died.as_deref(), Some("1986-02-11"));
}

#[test]
fn review_rating_comment_quotation() {
    let BookObject::Review(r) = roundtrip(json!({
        "id": "https://books.example/status/1", "type": "Review", "attributedTo": MOUSE,
        "name": "Sand", "content": "<p>Much sand.</p>", "rating": 3.5, "inReplyToBook": BOOK,
        "to": ["https://www.w3.org/ns/activitystreams#Public"]
    })) else {
        panic!()
    };
    assert_eq!((r.name.as_deref(), r.ext.rating), (Some("Sand"), Some(3.5)));
    assert_eq!(r.ext.in_reply_to_book.as_ref().unwrap().as_str(), BOOK);

    // An integer rating is read as 5.0 but written back as sent (`5`): the
    // exact value stays in `extra`, which wins on serialization.
    let BookObject::Rating(r) = roundtrip_keeping(
        json!({
            "id": "https://books.example/status/2", "type": "Rating", "rating": 5, "inReplyToBook": BOOK
        }),
        &["rating"],
    ) else {
        panic!()
    };
    assert_eq!(r.ext.rating, Some(5.0));
    assert_eq!(r.extra["rating"], json!(5));

    let BookObject::Comment(c) = roundtrip(json!({
        "id": "https://books.example/status/3", "type": "Comment", "content": "<p>Page 40.</p>",
        "inReplyToBook": BOOK
    })) else {
        panic!()
    };
    assert_eq!(c.ext.in_reply_to_book.as_ref().unwrap().as_str(), BOOK);

    let BookObject::Quotation(q) = roundtrip(json!({
        "id": "https://books.example/status/4", "type": "Quotation", "content": "<p>So true.</p>",
        "quote": "<p>Fear is the mind-killer.</p>", "position": 8, "inReplyToBook": BOOK
    })) else {
        panic!()
    };
    assert_eq!(
        q.ext.quote.as_deref(),
        Some("<p>Fear is the mind-killer.</p>")
    );
    assert_eq!(q.ext.position, Some(8));
}

#[test]
fn shelf_and_shelf_item() {
    let BookObject::ShelfItem(i) = roundtrip(json!({"type": "ShelfItem", "book": BOOK})) else {
        panic!()
    };
    assert_eq!(i.ext.book.as_ref().unwrap().as_str(), BOOK);

    let BookObject::Shelf(s) = roundtrip(json!({
        "id": format!("{MOUSE}/shelf/read"), "type": "Shelf", "name": "read",
        "totalItems": 1, "items": [BOOK], "owner": MOUSE
    })) else {
        panic!()
    };
    // Collection properties stay typed alongside the extension's.
    assert_eq!(s.total_items, Some(1));
    assert_eq!(s.ext.owner.as_ref().unwrap().as_str(), MOUSE);
}

#[test]
fn a_wrongly_shaped_custom_property_is_kept_not_lost() {
    let doc = json!({"type": "Review", "rating": "five stars", "inReplyToBook": BOOK});
    let BookObject::Review(r) = BookObject::from_slice(doc.to_string().as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(r.ext.rating, None);
    assert_eq!(r.extra["rating"], "five stars");
    assert_eq!(serde_json::to_value(&*r).unwrap(), doc);
}

#[test]
fn plain_rendering_is_an_article_or_note_without_custom_terms() {
    let doc = json!({
        "id": "https://books.example/status/4", "type": "Quotation", "attributedTo": MOUSE,
        "content": "<p>So true.</p>", "quote": "<p>Fear.</p>", "position": 8, "inReplyToBook": BOOK,
        "to": ["https://www.w3.org/ns/activitystreams#Public"]
    });
    let BookObject::Quotation(q) = BookObject::from_slice(doc.to_string().as_bytes()).unwrap()
    else {
        panic!()
    };
    let plain = serde_json::to_value(BookStatus::Quotation(*q).plain("Dune <1965>")).unwrap();
    assert_eq!(
        plain,
        json!({
            "id": "https://books.example/status/4", "type": "Note", "attributedTo": MOUSE,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "url": "https://books.example/status/4",
            "content": format!("<blockquote><p>Fear.</p></blockquote><p>— <i><a href=\"{BOOK}\">Dune &lt;1965&gt;</a></i> (p. 8)</p><p>So true.</p>")
        })
    );
}

#[test]
fn plain_rating_and_comment_are_notes_with_the_book_in_text() {
    let rating = json!({"id": "https://books.example/status/5", "type": "Rating", "rating": 3, "inReplyToBook": BOOK});
    let BookObject::Rating(r) = BookObject::from_slice(rating.to_string().as_bytes()).unwrap()
    else {
        panic!()
    };
    let plain = serde_json::to_value(BookStatus::Rating(*r).plain("Dune")).unwrap();
    assert_eq!(plain["type"], "Note");
    assert_eq!(
        plain["content"],
        format!("<p>Rated <i><a href=\"{BOOK}\">Dune</a></i>: ★★★☆☆ (3/5)</p>")
    );

    let comment = json!({"id": "https://books.example/status/6", "type": "Comment", "content": "<p>Slow start.</p>", "inReplyToBook": BOOK});
    let BookObject::Comment(c) = BookObject::from_slice(comment.to_string().as_bytes()).unwrap()
    else {
        panic!()
    };
    let plain = serde_json::to_value(BookStatus::Comment(*c).plain("Dune")).unwrap();
    assert_eq!(plain["type"], "Note");
    assert_eq!(
        plain["content"],
        format!("<p>On <i><a href=\"{BOOK}\">Dune</a></i>:</p><p>Slow start.</p>")
    );
    assert_eq!(plain.get("inReplyToBook"), None);
}
