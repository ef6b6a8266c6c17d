//! The stored fuzz inputs, replayed on stable so CI keeps every fixed crash
//! fixed.

mod support;

#[path = "fuzz_replay/delivery.rs"]
mod delivery;
#[path = "fuzz_replay/followers_sync.rs"]
mod followers_sync;
#[path = "fuzz_replay/inbox.rs"]
mod inbox;
#[path = "fuzz_replay/signatures.rs"]
mod signatures;
#[path = "fuzz_replay/vocab.rs"]
mod vocab;
#[path = "fuzz_replay/webfinger.rs"]
mod webfinger;
