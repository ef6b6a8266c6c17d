//! The ActivityStreams 2.0 / ActivityPub vocabulary: typed objects, activities, actors,
//! collections and links, tolerant of what real servers send and lossless on round-trip.

/// Errors of the `vocab` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VocabError {}
/// TEMP STUB
#[derive(Debug, Clone)]
pub struct AnyObject;
impl AnyObject {
    /// TEMP
    pub fn from_slice(_b: &[u8]) -> Result<Self, VocabError> { Ok(AnyObject) }
}
