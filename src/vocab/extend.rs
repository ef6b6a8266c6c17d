//! [`Extended`]: downstream types built on the vocabulary's structs.

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    Activity, Actor, AnyObject, Collection, Link, Object, Place, Profile, Question, Relationship,
    Tombstone,
};

/// A vocabulary struct whose unmodelled properties live in an `extra` map.
pub trait HasExtra {
    /// The unmodelled properties.
    fn extra(&self) -> &Map<String, Value>;
    /// The unmodelled properties, mutably.
    fn extra_mut(&mut self) -> &mut Map<String, Value>;
}

macro_rules! has_extra {
    ($($t:ty => $($path:ident).+;)*) => {$(
        impl HasExtra for $t {
            fn extra(&self) -> &Map<String, Value> {
                &self.$($path).+
            }
            fn extra_mut(&mut self) -> &mut Map<String, Value> {
                &mut self.$($path).+
            }
        }
    )*};
}

has_extra! {
    Object => extra;
    Link => extra;
    Activity => base.extra;
    Actor => base.extra;
    Collection => base.extra;
    Question => base.extra;
    Place => base.extra;
    Profile => base.extra;
    Relationship => base.extra;
    Tombstone => base.extra;
}

/// A vocabulary struct `B` plus a downstream crate's own properties `E`.
///
/// `E` is an ordinary serde struct holding only the new properties; every
/// property of `B` is reused, not re-declared. Round-trips stay lossless:
/// on decode, `E` is read from `B`'s `extra` and each property `E`
/// reproduces exactly is removed from `extra`; properties `E` does not know,
/// or cannot reproduce exactly, stay in `extra` (and win on serialization).
///
/// Rules for `E`: give optional fields
/// `#[serde(default, skip_serializing_if = "Option::is_none")]` so absent
/// properties stay absent. If `E` fails to decode (a property with an
/// unexpected shape), `ext` is `E::default()` and everything stays in
/// `extra`: decoding never fails because of an extension.
///
/// ```
/// use archipel::vocab::{AnyObject, Extended, Object};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// struct ReviewProps {
///     #[serde(default, skip_serializing_if = "Option::is_none")]
///     in_reply_to_book: Option<String>,
///     #[serde(default, skip_serializing_if = "Option::is_none")]
///     rating: Option<f64>,
/// }
/// type Review = Extended<Object, ReviewProps>;
///
/// let doc = br#"{"type":"Review","name":"Good","rating":4.5,"inReplyToBook":"https://b.example/book/1"}"#;
/// let any = AnyObject::from_slice(doc)?;
/// assert!(any.has_type("Review"));
/// let review = Review::from_base(any.into_object());
/// assert_eq!(review.ext.rating, Some(4.5));
/// assert_eq!(review.name.as_deref(), Some("Good"));
/// assert_eq!(serde_json::to_value(&review).unwrap(), serde_json::from_slice::<serde_json::Value>(doc).unwrap());
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extended<B, E> {
    /// The vocabulary struct (its `extra` holds what neither models).
    pub base: B,
    /// The extension properties.
    pub ext: E,
}

impl<B: HasExtra, E: Serialize + DeserializeOwned + Default> Extended<B, E> {
    /// Combine a base and extension properties (for building).
    pub fn new(base: B, ext: E) -> Self {
        Extended { base, ext }
    }

    /// Read `E` out of `base`'s `extra` (see the type docs for the rules).
    pub fn from_base(mut base: B) -> Self {
        let extra = base.extra_mut();
        let ext = match E::deserialize(&Value::Object(extra.clone())) {
            Ok(ext) => ext,
            Err(_) => {
                return Extended {
                    base,
                    ext: E::default(),
                };
            }
        };
        if let Ok(Value::Object(written)) = serde_json::to_value(&ext) {
            for (k, v) in written {
                if extra.get(&k) == Some(&v) {
                    extra.remove(&k);
                }
            }
        }
        Extended { base, ext }
    }
}

impl<E: Serialize + DeserializeOwned + Default> Extended<Object, E> {
    /// Flatten any decoded document into the object properties and read `E`
    /// from the rest (see [`AnyObject::into_object`]).
    pub fn from_any(any: AnyObject) -> Self {
        Self::from_base(any.into_object())
    }
}

impl<B: Serialize, E: Serialize> Serialize for Extended<B, E> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut out = match serde_json::to_value(&self.base).map_err(S::Error::custom)? {
            Value::Object(m) => m,
            _ => {
                return Err(S::Error::custom(
                    "Extended: base did not serialize to a JSON object",
                ));
            }
        };
        match serde_json::to_value(&self.ext).map_err(S::Error::custom)? {
            Value::Object(m) => {
                for (k, v) in m {
                    out.entry(k).or_insert(v);
                }
            }
            Value::Null => {}
            _ => {
                return Err(S::Error::custom(
                    "Extended: extension did not serialize to a JSON object",
                ));
            }
        }
        out.serialize(s)
    }
}

impl<'de, B, E> Deserialize<'de> for Extended<B, E>
where
    B: HasExtra + Deserialize<'de>,
    E: Serialize + DeserializeOwned + Default,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        B::deserialize(d).map(Self::from_base)
    }
}

impl<B, E> Deref for Extended<B, E> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.base
    }
}

impl<B, E> DerefMut for Extended<B, E> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.base
    }
}
