//! The shared corpus of real Fediverse documents, through the vocabulary.

mod support;

#[path = "corpus/roundtrip.rs"]
mod roundtrip;
