//! Integration tests of `archipel::webfinger` and `archipel::nodeinfo`:
//! resolving and answering WebFinger, NodeInfo discovery, and the shared
//! corpus of real documents.

mod support;

#[path = "webfinger/corpus_roundtrip.rs"]
mod corpus_roundtrip;
#[path = "webfinger/nodeinfo_discovery.rs"]
mod nodeinfo_discovery;
#[path = "webfinger/resolve.rs"]
mod resolve;
#[path = "webfinger/respond.rs"]
mod respond;
