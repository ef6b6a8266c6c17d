//! Integration tests of `archipel::vocab`: typed ActivityStreams documents,
//! builders, extension terms, tolerant and hostile input.

mod support;

// The bookwyrm_like example's vocabulary, built on `Extended`.
#[allow(dead_code)]
#[path = "../examples/bookwyrm_like/books.rs"]
mod books;

#[path = "vocab/bookwyrm_like_roundtrip.rs"]
mod bookwyrm_like_roundtrip;

#[path = "vocab/builders.rs"]
mod builders;
#[path = "vocab/downstream_review.rs"]
mod downstream_review;
#[path = "vocab/extension_terms.rs"]
mod extension_terms;
#[path = "vocab/hostile_input.rs"]
mod hostile_input;
#[path = "vocab/moves.rs"]
mod moves;
#[path = "vocab/quotes.rs"]
mod quotes;
#[path = "vocab/tolerant_input.rs"]
mod tolerant_input;
