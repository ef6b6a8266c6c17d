//! Integration tests of `archipel::vocab`: typed ActivityStreams documents,
//! builders, extension terms, tolerant and hostile input.

mod support;

#[path = "vocab/builders.rs"]
mod builders;
#[path = "vocab/downstream_review.rs"]
mod downstream_review;
#[path = "vocab/extension_terms.rs"]
mod extension_terms;
#[path = "vocab/hostile_input.rs"]
mod hostile_input;
#[path = "vocab/tolerant_input.rs"]
mod tolerant_input;
