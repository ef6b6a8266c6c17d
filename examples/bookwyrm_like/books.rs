//! The book vocabulary: BookWyrm-style types declared on top of archipel's
//! `Object` and `Collection` with `Extended`, their JSON-LD context, one
//! dispatch function, and the plain `Article`/`Note` rendering for servers
//! that do not know these types.
//!
//! Each type is a vocabulary struct plus a small serde struct holding only
//! the new properties: `name`, `content`, `attributedTo`, `to`, `published`…
//! come from `Object`, reached through `Deref` (`review.name`).

use archipel::vocab::{AnyObject, Collection, Context, Extended, Iri, Object, VocabError};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The namespace of the book terms (a stable IRI naming the vocabulary;
/// nothing is fetched from it).
pub const NS: &str = "https://bookwyrm-like.example/ns#";

/// `@context` of every rich document: ActivityStreams plus the book terms.
pub fn context() -> Context {
    Context::from_value(json!([
        "https://www.w3.org/ns/activitystreams",
        {
            "bw": NS,
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "Edition": "bw:Edition",
            "Work": "bw:Work",
            "Author": "bw:Author",
            "Review": "bw:Review",
            "Rating": "bw:Rating",
            "Comment": "bw:Comment",
            "Quotation": "bw:Quotation",
            "Shelf": "bw:Shelf",
            "ShelfItem": "bw:ShelfItem",
            "title": "bw:title",
            "subtitle": "bw:subtitle",
            "isbn13": "bw:isbn13",
            "born": "bw:born",
            "died": "bw:died",
            "bio": "bw:bio",
            "quote": "bw:quote",
            "position": {"@id": "bw:position", "@type": "xsd:integer"},
            "rating": {"@id": "bw:rating", "@type": "xsd:decimal"},
            "inReplyToBook": {"@id": "bw:inReplyToBook", "@type": "@id"},
            "authors": {"@id": "bw:authors", "@type": "@id"},
            "work": {"@id": "bw:work", "@type": "@id"},
            "editions": {"@id": "bw:editions", "@type": "@id"},
            "book": {"@id": "bw:book", "@type": "@id"},
            "owner": {"@id": "bw:owner", "@type": "@id"}
        }
    ]))
}

/// Properties of an `Edition` (a published book).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditionProps {
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The subtitle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// `Author` IRIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Iri>,
    /// The `Work` this is an edition of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<Iri>,
    /// ISBN-13.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isbn13: Option<String>,
}

/// Properties of a `Work` (the book in the abstract, across editions).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkProps {
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Author` IRIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Iri>,
    /// `Edition` IRIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub editions: Vec<Iri>,
}

/// Properties of an `Author` (the name is `Object::name`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorProps {
    /// Birth date, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born: Option<String>,
    /// Death date, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub died: Option<String>,
    /// A short biography.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
}

/// Properties of a `Review` or a `Rating` (the review title is `Object::name`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewProps {
    /// The `Edition` reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to_book: Option<Iri>,
    /// Stars, 0 to 5 (halves allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
}

/// Properties of a `Comment` on a book.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentProps {
    /// The `Edition` commented on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to_book: Option<Iri>,
}

/// Properties of a `Quotation` from a book.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotationProps {
    /// The `Edition` quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to_book: Option<Iri>,
    /// The quoted text (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// The page it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

/// Properties of a `ShelfItem`: a book placed on a shelf.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShelfItemProps {
    /// The `Edition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<Iri>,
}

/// Properties of a `Shelf` (an `OrderedCollection` of books).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShelfProps {
    /// The reader whose shelf it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Iri>,
}

/// A published book.
pub type Edition = Extended<Object, EditionProps>;
/// A book across its editions.
pub type Work = Extended<Object, WorkProps>;
/// A book's author.
pub type Author = Extended<Object, AuthorProps>;
/// A titled review with an optional star rating.
pub type Review = Extended<Object, ReviewProps>;
/// A star rating without text.
pub type Rating = Extended<Object, ReviewProps>;
/// A comment on a book.
pub type Comment = Extended<Object, CommentProps>;
/// A quotation from a book.
pub type Quotation = Extended<Object, QuotationProps>;
/// A book on a shelf (the object of `Add`/`Remove`).
pub type ShelfItem = Extended<Object, ShelfItemProps>;
/// A reader's shelf: a `Collection` with an owner.
pub type Shelf = Extended<Collection, ShelfProps>;

/// Any document, dispatched on `type`: the book types first, then whatever
/// the vocabulary decodes.
#[derive(Debug, Clone)]
pub enum BookObject {
    /// `Edition`.
    Edition(Box<Edition>),
    /// `Work`.
    Work(Box<Work>),
    /// `Author`.
    Author(Box<Author>),
    /// `Review`.
    Review(Box<Review>),
    /// `Rating`.
    Rating(Box<Rating>),
    /// `Comment`.
    Comment(Box<Comment>),
    /// `Quotation`.
    Quotation(Box<Quotation>),
    /// `ShelfItem`.
    ShelfItem(Box<ShelfItem>),
    /// `Shelf`.
    Shelf(Box<Shelf>),
    /// Anything else (`Note`, `Create`, an unknown type…).
    Other(AnyObject),
}

impl BookObject {
    /// Decodes a document from bytes (bounded and checked by archipel).
    pub fn from_slice(bytes: &[u8]) -> Result<BookObject, VocabError> {
        Ok(Self::from_any(AnyObject::from_slice(bytes)?))
    }

    /// Dispatches an already decoded document (e.g. the `object` of an
    /// incoming `Create`).
    pub fn from_any(any: AnyObject) -> BookObject {
        let Some(kind) = any.type_name().map(str::to_owned) else {
            return BookObject::Other(any);
        };
        match kind.as_str() {
            "Edition" => BookObject::Edition(Box::new(Edition::from_any(any))),
            "Work" => BookObject::Work(Box::new(Work::from_any(any))),
            "Author" => BookObject::Author(Box::new(Author::from_any(any))),
            "Review" => BookObject::Review(Box::new(Review::from_any(any))),
            "Rating" => BookObject::Rating(Box::new(Rating::from_any(any))),
            "Comment" => BookObject::Comment(Box::new(Comment::from_any(any))),
            "Quotation" => BookObject::Quotation(Box::new(Quotation::from_any(any))),
            "ShelfItem" => BookObject::ShelfItem(Box::new(ShelfItem::from_any(any))),
            // A shelf keeps its collection properties: decode it as one.
            "Shelf" => match serde_json::to_value(&any).and_then(serde_json::from_value) {
                Ok(shelf) => BookObject::Shelf(Box::new(shelf)),
                Err(_) => BookObject::Other(any),
            },
            _ => BookObject::Other(any),
        }
    }
}

impl BookObject {
    /// A one-line description, for logs.
    pub fn summary(&self) -> String {
        let title = |t: &Option<String>| t.clone().unwrap_or_default();
        let book = |b: &Option<Iri>| b.as_ref().map(Iri::to_string).unwrap_or_default();
        match self {
            BookObject::Edition(e) => format!("Edition {:?}", title(&e.ext.title)),
            BookObject::Work(w) => format!("Work {:?}", title(&w.ext.title)),
            BookObject::Author(a) => format!("Author {:?}", title(&a.name)),
            BookObject::Review(r) => format!(
                "Review of {} ({:?} stars)",
                book(&r.ext.in_reply_to_book),
                r.ext.rating
            ),
            BookObject::Rating(r) => format!(
                "Rating of {} ({:?} stars)",
                book(&r.ext.in_reply_to_book),
                r.ext.rating
            ),
            BookObject::Comment(c) => format!("Comment on {}", book(&c.ext.in_reply_to_book)),
            BookObject::Quotation(q) => format!(
                "Quotation from {} (p. {:?})",
                book(&q.ext.in_reply_to_book),
                q.ext.position
            ),
            BookObject::ShelfItem(i) => format!("ShelfItem {}", book(&i.ext.book)),
            BookObject::Shelf(s) => {
                format!("Shelf {:?} of {}", title(&s.base.name), book(&s.ext.owner))
            }
            BookObject::Other(o) => o.type_name().unwrap_or("untyped").to_owned(),
        }
    }
}

/// A reader's status about a book, in its rich form.
#[derive(Debug, Clone)]
pub enum BookStatus {
    /// A review.
    Review(Review),
    /// A rating.
    Rating(Rating),
    /// A comment.
    Comment(Comment),
    /// A quotation.
    Quotation(Quotation),
}

impl BookStatus {
    /// The status's object properties.
    pub fn object(&self) -> &Object {
        match self {
            BookStatus::Review(s) | BookStatus::Rating(s) => s,
            BookStatus::Comment(s) => s,
            BookStatus::Quotation(s) => s,
        }
    }

    /// The edition the status is about.
    pub fn book(&self) -> Option<&Iri> {
        match self {
            BookStatus::Review(s) | BookStatus::Rating(s) => s.ext.in_reply_to_book.as_ref(),
            BookStatus::Comment(s) => s.ext.in_reply_to_book.as_ref(),
            BookStatus::Quotation(s) => s.ext.in_reply_to_book.as_ref(),
        }
    }

    /// The status a decoded document holds, if it is one of the book
    /// statuses (an incoming `Create`'s object, a stored status).
    pub fn from_any(any: AnyObject) -> Option<BookStatus> {
        Some(match BookObject::from_any(any) {
            BookObject::Review(s) => BookStatus::Review(*s),
            BookObject::Rating(s) => BookStatus::Rating(*s),
            BookObject::Comment(s) => BookStatus::Comment(*s),
            BookObject::Quotation(s) => BookStatus::Quotation(*s),
            _ => return None,
        })
    }

    /// The plain form for everyone else: an `Article` for a review, a
    /// `Note` otherwise, with the book's title and link in the content and
    /// the rating as text. Same `id`, author and addressing as the rich form.
    pub fn plain(&self, book_title: &str) -> AnyObject {
        let o = self.object();
        let (kind, lead) = match self {
            BookStatus::Review(s) => {
                let stars = s.ext.rating.map(stars).unwrap_or_default();
                ("Article", format!("<p>Review of {{book}}{stars}</p>"))
            }
            BookStatus::Rating(s) => {
                let stars = s.ext.rating.map(stars).unwrap_or_default();
                ("Note", format!("<p>Rated {{book}}{stars}</p>"))
            }
            BookStatus::Comment(_) => ("Note", "<p>On {book}:</p>".to_owned()),
            BookStatus::Quotation(s) => {
                let at = s
                    .ext
                    .position
                    .map(|p| format!(" (p. {p})"))
                    .unwrap_or_default();
                let quote = s.ext.quote.as_deref().unwrap_or_default();
                (
                    "Note",
                    format!("<blockquote>{quote}</blockquote><p>— {{book}}{at}</p>"),
                )
            }
        };
        let link = match self.book() {
            Some(iri) => format!("<a href=\"{iri}\">{}</a>", escape(book_title)),
            None => escape(book_title),
        };
        let lead = lead.replace("{book}", &format!("<i>{link}</i>"));
        let mut plain = Object::new(kind);
        plain.id.clone_from(&o.id);
        plain.attributed_to.clone_from(&o.attributed_to);
        plain.to.clone_from(&o.to);
        plain.cc.clone_from(&o.cc);
        plain.published.clone_from(&o.published);
        plain.name.clone_from(&o.name);
        plain.content = Some(format!(
            "{lead}{}",
            o.content.as_deref().unwrap_or_default()
        ));
        // Mastodon links `url` as the original post.
        plain.url = o.id.clone().map(Into::into);
        plain.ld_context = None;
        AnyObject::from(plain)
    }
}

/// A rating as text: `": ★★★★☆ (4/5)"`.
pub fn stars(rating: f64) -> String {
    let full = rating.clamp(0.0, 5.0).floor() as usize;
    format!(
        ": {}{} ({rating}/5)",
        "★".repeat(full),
        "☆".repeat(5 - full)
    )
}

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
