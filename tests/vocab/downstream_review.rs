//! A downstream crate declares BookWyrm's `Review` (an `Article` with
//! `inReplyToBook` and `rating`) without re-declaring any Object property,
//! dispatches on its own type names and round-trips losslessly.

use archipel::vocab::{AnyObject, Extended, Iri, Object, VocabError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_reply_to_book: Option<Iri>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rating: Option<f64>,
}

type Review = Extended<Object, ReviewProps>;

/// The downstream crate's own dispatch: its types first, then the vocabulary.
#[derive(Debug)]
enum BookObject {
    Review(Box<Review>),
    Other(AnyObject),
}

fn parse(bytes: &[u8]) -> Result<BookObject, VocabError> {
    let any = AnyObject::from_slice(bytes)?;
    Ok(if any.has_type("Review") {
        BookObject::Review(Box::new(Review::from_any(any)))
    } else {
        BookObject::Other(any)
    })
}

fn review_doc() -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://book.example/user/mouse/review/7",
        "type": "Review",
        "attributedTo": "https://book.example/user/mouse",
        "name": "A good book",
        "content": "<p>Read it twice.</p>",
        "inReplyToBook": "https://book.example/book/42",
        "rating": 4.5,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "sensitive": false,
        "published": "2024-02-01T10:00:00Z",
        "tag": []
    })
}

#[test]
fn review_is_dispatched_and_typed() {
    let bytes = serde_json::to_vec(&review_doc()).unwrap();
    let BookObject::Review(review) = parse(&bytes).unwrap() else {
        panic!("not a review")
    };
    assert_eq!(review.ext.rating, Some(4.5));
    assert_eq!(
        review.ext.in_reply_to_book.as_ref().unwrap(),
        "https://book.example/book/42"
    );
    // Object properties come from the vocabulary, through Deref.
    assert_eq!(review.name.as_deref(), Some("A good book"));
    assert_eq!(
        review
            .attributed_to
            .as_ref()
            .unwrap()
            .first()
            .unwrap()
            .id()
            .unwrap(),
        "https://book.example/user/mouse"
    );
    assert!(review.is_public());
    // The extension's properties are no longer in extra.
    assert!(review.extra.is_empty(), "{:?}", review.extra);
    assert_eq!(serde_json::to_value(&*review).unwrap(), review_doc());
}

#[test]
fn other_documents_fall_through() {
    let BookObject::Other(o) = parse(br#"{"type":"Note","content":"x"}"#).unwrap() else {
        panic!()
    };
    assert_eq!(o.type_name(), Some("Note"));
}

#[test]
fn review_deserializes_directly_and_keeps_unknown_props() {
    let mut doc = review_doc();
    doc["bookwyrmExtra"] = json!({"k": 1});
    let review: Review = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(review.ext.rating, Some(4.5));
    assert_eq!(review.extra["bookwyrmExtra"], json!({"k": 1}));
    assert_eq!(serde_json::to_value(&review).unwrap(), doc);
}

#[test]
fn untypable_extension_values_stay_in_extra() {
    let mut doc = review_doc();
    doc["rating"] = json!("five");
    let review =
        Review::from_any(AnyObject::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap());
    assert_eq!(review.ext, ReviewProps::default());
    assert_eq!(review.extra["rating"], json!("five"));
    assert_eq!(serde_json::to_value(&review).unwrap(), doc);
}

#[test]
fn built_reviews_serialize_with_their_props() {
    let review = Review::new(
        Object::new("Review").with_content("<p>ok</p>"),
        ReviewProps {
            in_reply_to_book: Some(Iri::parse("https://book.example/book/1").unwrap()),
            rating: Some(3.0),
        },
    );
    assert_eq!(
        serde_json::to_value(&review).unwrap(),
        json!({"@context": "https://www.w3.org/ns/activitystreams", "type": "Review", "content": "<p>ok</p>", "inReplyToBook": "https://book.example/book/1", "rating": 3.0})
    );
}
