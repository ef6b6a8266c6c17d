//! The ActivityStreams 2.0 / ActivityPub vocabulary: typed objects,
//! activities, actors, collections and links, tolerant of what real servers
//! send and lossless on round-trip.
//!
//! # Example
//!
//! ```
//! use archipel::vocab::{Activity, AnyObject, Iri};
//!
//! let note = AnyObject::from_slice(br#"{
//!     "@context": "https://www.w3.org/ns/activitystreams",
//!     "id": "https://b.example/notes/1", "type": "Note",
//!     "attributedTo": "https://b.example/users/bob",
//!     "to": "as:Public", "content": "<p>Hello</p>"
//! }"#)?;
//! assert!(note.is_public());
//! let author = note.as_object().and_then(|o| o.attributed_to_id()).unwrap();
//!
//! let follow = Activity::follow(
//!     Iri::parse("https://a.example/follows/1")?,
//!     Iri::parse("https://a.example/users/alice")?,
//!     author.clone(),
//! );
//! let body = serde_json::to_string(&follow).unwrap();
//! assert!(body.contains(r#""type":"Follow""#));
//! # Ok::<(), archipel::vocab::VocabError>(())
//! ```
//!
//! # Decoding
//!
//! [`AnyObject::from_slice`] decodes a document in one pass into the struct
//! its `type` selects ([`Object`], [`Activity`], [`Actor`], [`Collection`],
//! [`Link`], [`Question`], [`Place`], [`Profile`], [`Relationship`],
//! [`Tombstone`]) or [`AnyObject::Unknown`]. Input is bounded by
//! [`ParseLimits`] (size and nesting depth) and every failure is a
//! [`VocabError`].
//!
//! # Tolerance and losslessness
//!
//! * A property may be one value or an array ([`OneOrMany`]); a reference may
//!   be an IRI, an embedded object or a link ([`Reference`]).
//! * `type` may be an array; `@context` may be a string, array or object
//!   ([`Context`]); language maps are [`LanguageMap`]s.
//! * Unknown properties are kept in `extra`. So is any known property whose
//!   value has a shape its typed field cannot hold (`"sensitive": "true"`,
//!   an explicit `null`, a JSON-LD `{"@value": ...}` object): the field stays
//!   `None` and the value is written back verbatim.
//! * IRIs ([`Iri`]) and timestamps ([`DateTime`]) are kept as written and
//!   interpreted on demand.
//! * Duplicate keys: the last occurrence wins, as with `serde_json::Value`.
//!
//! The result: parsing then serializing any JSON object gives back an equal
//! `serde_json::Value`.
//!
//! # Building
//!
//! Constructors for the common activities ([`Activity::create`],
//! [`Activity::follow`], [`Activity::accept`], [`Activity::undo`], ...) and
//! [`Audience`] for addressing. Before delivery, strip `bto`/`bcc` with
//! [`AnyObject::strip_private_recipients`].
//!
//! # Extending
//!
//! [`Extended`] adds a downstream crate's own properties (e.g. BookWyrm's
//! `Review`) to [`Object`] without re-declaring its properties.

mod activity;
mod actor;
mod any;
pub mod audience;
mod collection;
pub(crate) mod decode;
mod extend;
mod extended;
mod interaction;
mod iri;
pub(crate) mod kind;
mod link;
mod object;
mod props;
mod time;
mod values;

pub use activity::Activity;
pub use actor::{Actor, Endpoints, Multikey, PublicKeyDocument};
pub use any::AnyObject;
pub use audience::{Audience, Visibility};
pub use collection::Collection;
pub use extend::{Extended, HasExtra};
pub use extended::{Place, Profile, Question, Relationship, Tombstone};
pub use interaction::{FEP_044F_NS, GOTOSOCIAL_NS, InteractionPolicy, InteractionRule};
pub use iri::Iri;
pub use kind::{Category, Kind};
pub use link::Link;
pub use object::{Object, Refs, Source};
pub use time::DateTime;
pub use values::{Context, LanguageMap, OneOrMany, Reference};

use serde::de::DeserializeSeed;

use decode::{Cx, Decoded, Seed};

/// The ActivityStreams JSON-LD context IRI.
pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// The W3C security vocabulary context IRI (for `publicKey`).
pub const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";

/// Errors of the `vocab` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VocabError {
    /// The document is larger than [`ParseLimits::max_bytes`].
    #[error("ActivityStreams document: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Objects and arrays nest deeper than [`ParseLimits::max_depth`].
    #[error("ActivityStreams document: nesting exceeds the depth limit of {limit}")]
    TooDeep {
        /// The configured limit.
        limit: u32,
    },
    /// The input is not valid JSON.
    #[error("ActivityStreams document: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
        /// What the JSON parser found wrong.
        message: String,
    },
    /// The document is valid JSON but not a JSON object.
    #[error("ActivityStreams document: expected a JSON object, found {found}")]
    NotAnObject {
        /// The JSON kind found (`array`, `string`, ...).
        found: &'static str,
    },
    /// The document decoded, but into another struct than the caller asked
    /// for (e.g. [`Activity::from_slice`] on a `Note`).
    #[error("ActivityStreams document: expected {expected}, found type {found:?}")]
    UnexpectedType {
        /// The struct asked for.
        expected: &'static str,
        /// The document's first type name (empty if none).
        found: String,
    },
    /// An IRI built with [`Iri::parse`] lacks a scheme or contains whitespace
    /// or control characters.
    #[error("invalid IRI {iri:?}: expected an absolute IRI with a scheme and no whitespace")]
    InvalidIri {
        /// The rejected string.
        iri: String,
    },
    /// [`Iri::to_url`] failed.
    #[error("IRI {iri:?} is not a valid URL: {reason}")]
    InvalidUrl {
        /// The IRI.
        iri: String,
        /// Why the URL parser rejected it.
        reason: String,
    },
}

/// Bounds applied to untrusted documents.
///
/// ```
/// use archipel::vocab::{AnyObject, ParseLimits, VocabError};
/// let limits = ParseLimits::default().with_max_bytes(16);
/// let err = AnyObject::from_slice_with(br#"{"type":"Note","content":"too long"}"#, &limits);
/// assert!(matches!(err, Err(VocabError::TooLarge { size: 36, limit: 16 })));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseLimits {
    /// Largest accepted document, in bytes. Default 1 MiB.
    pub max_bytes: usize,
    /// Deepest accepted nesting of objects and arrays (the top-level object
    /// is depth 1). Default 64; values above 127 are capped there, since the
    /// JSON parser itself stops at 128.
    pub max_depth: u32,
}

impl ParseLimits {
    /// The default `max_bytes`: 1 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
    /// The default `max_depth`: 64.
    pub const DEFAULT_MAX_DEPTH: u32 = 64;

    /// Set `max_bytes` (builder style).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Set `max_depth` (builder style).
    pub fn with_max_depth(mut self, max_depth: u32) -> Self {
        self.max_depth = max_depth;
        self
    }
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

impl AnyObject {
    /// Decode a document with the default [`ParseLimits`].
    pub fn from_slice(bytes: &[u8]) -> Result<AnyObject, VocabError> {
        Self::from_slice_with(bytes, &ParseLimits::default())
    }

    /// Decode a document within `limits`.
    ///
    /// This is the entry point for untrusted input: it never panics, and
    /// over-size, over-deep, malformed and non-object input each yield their
    /// own [`VocabError`].
    pub fn from_slice_with(bytes: &[u8], limits: &ParseLimits) -> Result<AnyObject, VocabError> {
        if bytes.len() > limits.max_bytes {
            return Err(VocabError::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            });
        }
        let depth = limits.max_depth.min(127);
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let decoded = Seed::<AnyObject>::new(Cx::new(depth))
            .deserialize(&mut de)
            .and_then(|d| de.end().map(|()| d))
            .map_err(|e| map_json_error(&e, depth))?;
        match decoded {
            Decoded::Typed(o) => Ok(o),
            Decoded::Raw(v) => Err(VocabError::NotAnObject {
                found: decode::json_kind(&v),
            }),
        }
    }

    /// Decode a JSON value that is already parsed (a document a fetcher has
    /// checked, say) without encoding it again, within the default nesting
    /// bound ([`ParseLimits::DEFAULT_MAX_DEPTH`]).
    ///
    /// ```
    /// use archipel::vocab::AnyObject;
    /// let doc = serde_json::json!({"id": "https://a.example/n/1", "type": "Note"});
    /// let note = AnyObject::from_value(&doc)?;
    /// assert_eq!(note.type_name(), Some("Note"));
    /// assert_eq!(serde_json::to_value(&note).unwrap(), doc);
    /// # Ok::<(), archipel::vocab::VocabError>(())
    /// ```
    pub fn from_value(value: &serde_json::Value) -> Result<AnyObject, VocabError> {
        let depth = ParseLimits::DEFAULT_MAX_DEPTH;
        let decoded = Seed::<AnyObject>::new(Cx::new(depth))
            .deserialize(value)
            .map_err(|e| map_json_error(&e, depth))?;
        match decoded {
            Decoded::Typed(o) => Ok(o),
            Decoded::Raw(v) => Err(VocabError::NotAnObject {
                found: decode::json_kind(&v),
            }),
        }
    }

    /// Decode a document from a string with the default [`ParseLimits`].
    pub fn from_json_str(s: &str) -> Result<AnyObject, VocabError> {
        Self::from_slice(s.as_bytes())
    }

    /// Serialize to compact JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // Serializing vocabulary types cannot fail (string keys, finite numbers).
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn map_json_error(e: &serde_json::Error, depth: u32) -> VocabError {
    let full = e.to_string();
    if full.starts_with(decode::TOO_DEEP) || full.starts_with("recursion limit exceeded") {
        return VocabError::TooDeep { limit: depth };
    }
    // serde_json appends " at line L column C"; keep the message itself.
    let message = values::json_message(e);
    VocabError::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

macro_rules! typed_from_slice {
    ($($t:ident => $v:ident, $what:literal;)*) => {$(
        impl $t {
            #[doc = concat!("Decode a document that must be ", $what, " (default limits).")]
            ///
            /// Fails with [`VocabError::UnexpectedType`] if its `type` selects
            /// another struct.
            pub fn from_slice(bytes: &[u8]) -> Result<$t, VocabError> {
                Self::from_slice_with(bytes, &ParseLimits::default())
            }

            #[doc = concat!("Decode a document that must be ", $what, ", within `limits`.")]
            pub fn from_slice_with(bytes: &[u8], limits: &ParseLimits) -> Result<$t, VocabError> {
                match AnyObject::from_slice_with(bytes, limits)? {
                    AnyObject::$v(o) => Ok(*o),
                    other => Err(VocabError::UnexpectedType {
                        expected: $what,
                        found: other.type_name().unwrap_or_default().to_owned(),
                    }),
                }
            }
        }
    )*};
}

typed_from_slice! {
    Object => Object, "an object (Note, Article, ...)";
    Activity => Activity, "an activity";
    Actor => Actor, "an actor";
    Collection => Collection, "a collection";
    Link => Link, "a link";
    Question => Question, "a question";
    Tombstone => Tombstone, "a tombstone";
}
