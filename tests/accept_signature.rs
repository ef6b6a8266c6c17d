//! Integration tests of RFC 9421 `Accept-Signature` (RFC 9421 §5) in both
//! directions, on loopback: our delivery workers answering a strict
//! receiver's challenge (once, in the requested form, remembered per host
//! for every actor; a challenge they cannot meet falls back to the blind
//! double-knock, then a typed failure), and our inbox answering a refused
//! signature with its own policy's challenge, which an independent
//! implementation reads and meets.

mod support;

// Both files' strict peers ask for Ed25519, which `server` does not bring.
#[cfg(all(
    feature = "delivery",
    feature = "axum",
    feature = "client",
    feature = "ed25519"
))]
#[path = "accept_signature/delivery_signs_as_asked.rs"]
mod delivery_signs_as_asked;
#[cfg(all(
    feature = "delivery",
    feature = "axum",
    feature = "client",
    feature = "ed25519"
))]
#[path = "accept_signature/inbox_challenges.rs"]
mod inbox_challenges;
