//! Lenient, single-pass decoding machinery shared by every vocabulary type.
//!
//! Each value type decodes through a [`Visitor`] that accepts every JSON
//! shape: shapes it can represent come back as [`Decoded::Typed`], anything
//! else as [`Decoded::Raw`] so the owning struct can keep it verbatim in its
//! `extra` map. Nesting depth is counted here so over-deep input fails with a
//! recognisable error instead of exhausting the stack.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Marker put at the start of the custom error raised when input nests
/// deeper than the configured limit; `vocab::map_json_error` turns it back
/// into `VocabError::TooDeep`.
pub(crate) const TOO_DEEP: &str = "archipel-vocab: nesting limit exceeded";

/// Decoding context: the current nesting depth and the limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cx {
    depth: u32,
    limit: u32,
}

impl Cx {
    pub(crate) fn new(limit: u32) -> Self {
        Cx { depth: 0, limit }
    }

    /// One level deeper; fails once the limit is passed.
    pub(crate) fn nest<E: de::Error>(self) -> Result<Cx, E> {
        self.nest_by(1)
    }

    /// `levels` deeper; fails once the limit is passed.
    pub(crate) fn nest_by<E: de::Error>(self, levels: u32) -> Result<Cx, E> {
        let depth = self.depth.saturating_add(levels);
        if depth > self.limit {
            Err(E::custom(TOO_DEEP))
        } else {
            Ok(Cx { depth, ..self })
        }
    }
}

/// The outcome of decoding one property value.
#[derive(Debug)]
pub(crate) enum Decoded<T> {
    /// The value had the expected shape.
    Typed(T),
    /// The value had another shape and is kept as JSON.
    Raw(Value),
}

impl<T> Decoded<T> {
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Typed(t) => Decoded::Typed(f(t)),
            Decoded::Raw(v) => Decoded::Raw(v),
        }
    }
}

/// A vocabulary value that decodes leniently.
pub(crate) trait Decode: Sized + serde::Serialize {
    /// The visitor producing `Decoded<Self>`.
    type Visitor: for<'de> Visitor<'de, Value = Decoded<Self>>;
    /// A visitor at context `cx`.
    fn visitor(cx: Cx) -> Self::Visitor;
    /// Decode from a deserializer (types that need more than a visitor
    /// override this).
    fn decode<'de, D: de::Deserializer<'de>>(d: D, cx: Cx) -> Result<Decoded<Self>, D::Error> {
        d.deserialize_any(Self::visitor(cx))
    }
}

/// A [`DeserializeSeed`] decoding a `T` at context `cx`.
pub(crate) struct Seed<T>(pub(crate) Cx, pub(crate) PhantomData<T>);

impl<T> Seed<T> {
    pub(crate) fn new(cx: Cx) -> Self {
        Seed(cx, PhantomData)
    }
}

impl<'de, T: Decode> DeserializeSeed<'de> for Seed<T> {
    type Value = Decoded<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::decode(d, self.0)
    }
}

// ---------------------------------------------------------------------------
// Raw JSON with a depth limit.

/// Decodes any JSON value into a [`Value`], counting depth.
#[derive(Clone, Copy)]
pub(crate) struct RawSeed(pub(crate) Cx);

impl<'de> DeserializeSeed<'de> for RawSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(RawVisitor(self.0))
    }
}

/// Visitor behind [`RawSeed`].
#[derive(Clone, Copy)]
pub(crate) struct RawVisitor(pub(crate) Cx);

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let cx = self.0.nest()?;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(RawSeed(cx))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let cx = self.0.nest()?;
        let mut out = Map::new();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            let v = map.next_value_seed(RawSeed(cx))?;
            out.insert(k.into_owned(), v);
        }
        Ok(Value::Object(out))
    }
}

// ---------------------------------------------------------------------------
// Map keys, borrowed when the input allows it.

/// A map key: borrowed from the input when it has no escapes.
pub(crate) enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
    pub(crate) fn into_owned(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }
}

/// Seed decoding a [`Key`].
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v))
    }
}

/// Store a decoded property: typed into `slot`, raw into `extra` under `key`.
///
/// Duplicate keys resolve to the last occurrence, like `serde_json::Value`.
pub(crate) fn store<T>(
    slot: &mut Option<T>,
    key: &str,
    d: Decoded<T>,
    extra: &mut Map<String, Value>,
) {
    match d {
        Decoded::Typed(v) => {
            *slot = Some(v);
            if !extra.is_empty() {
                extra.remove(key);
            }
        }
        Decoded::Raw(v) => {
            *slot = None;
            extra.insert(key.to_owned(), v);
        }
    }
}

/// Move a typed value back into `extra` as JSON (used for properties that do
/// not belong to the struct a document finally lands in).
pub(crate) fn drain<T: serde::Serialize>(
    slot: &mut Option<T>,
    key: &str,
    extra: &mut Map<String, Value>,
) {
    if let Some(v) = slot.take() {
        // Serializing vocabulary types into a `Value` cannot fail: every map
        // key is a string and every number is finite.
        if let Ok(v) = serde_json::to_value(v) {
            extra.insert(key.to_owned(), v);
        }
    }
}

// ---------------------------------------------------------------------------
// Leaf values: strings, booleans, numbers.

/// A scalar vocabulary value built from one JSON scalar.
pub(crate) trait Leaf: Sized {
    /// What the value is, for messages.
    const WHAT: &'static str;
    fn from_string(_v: String) -> Result<Self, String> {
        Err(_v)
    }
    fn from_bool(_v: bool) -> Option<Self> {
        None
    }
    fn from_u64(_v: u64) -> Option<Self> {
        None
    }
    fn from_i64(_v: i64) -> Option<Self> {
        None
    }
    fn from_f64(_v: f64) -> Option<Self> {
        None
    }
}

/// Visitor for any [`Leaf`].
pub(crate) struct LeafVisitor<T>(pub(crate) Cx, pub(crate) PhantomData<T>);

impl<'de, T: Leaf> Visitor<'de> for LeafVisitor<T> {
    type Value = Decoded<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(T::from_bool(v).map_or(Decoded::Raw(Value::Bool(v)), Decoded::Typed))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(T::from_u64(v).map_or_else(|| Decoded::Raw(Value::from(v)), Decoded::Typed))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(T::from_i64(v).map_or_else(|| Decoded::Raw(Value::from(v)), Decoded::Typed))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(T::from_f64(v).map_or_else(
            || Decoded::Raw(RawVisitor(self.0).visit_f64::<E>(v).unwrap_or(Value::Null)),
            Decoded::Typed,
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.visit_string(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(match T::from_string(v) {
            Ok(t) => Decoded::Typed(t),
            Err(v) => Decoded::Raw(Value::String(v)),
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_seq(seq).map(Decoded::Raw)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_map(map).map(Decoded::Raw)
    }
}

macro_rules! leaf_decode {
    ($($t:ty),*) => {$(
        impl $crate::vocab::decode::Decode for $t {
            type Visitor = $crate::vocab::decode::LeafVisitor<$t>;
            fn visitor(cx: $crate::vocab::decode::Cx) -> Self::Visitor {
                $crate::vocab::decode::LeafVisitor(cx, std::marker::PhantomData)
            }
        }
    )*};
}
pub(crate) use leaf_decode;

impl Leaf for String {
    const WHAT: &'static str = "a string";
    fn from_string(v: String) -> Result<Self, String> {
        Ok(v)
    }
}

impl Leaf for bool {
    const WHAT: &'static str = "a boolean";
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
}

impl Leaf for u64 {
    const WHAT: &'static str = "a non-negative integer";
    fn from_u64(v: u64) -> Option<Self> {
        Some(v)
    }
}

impl Leaf for Number {
    const WHAT: &'static str = "a number";
    fn from_u64(v: u64) -> Option<Self> {
        Some(Number::from(v))
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(Number::from(v))
    }
    fn from_f64(v: f64) -> Option<Self> {
        Number::from_f64(v)
    }
}

leaf_decode!(String, bool, u64, Number);

/// Any JSON value, kept as is (for properties whose range is a union the
/// vocabulary does not model, such as `Question.closed`).
impl Decode for Value {
    type Visitor = AnyValueVisitor;
    fn visitor(cx: Cx) -> Self::Visitor {
        AnyValueVisitor(cx)
    }
}

/// Visitor decoding any JSON into a typed [`Value`].
pub(crate) struct AnyValueVisitor(Cx);

impl<'de> Visitor<'de> for AnyValueVisitor {
    type Value = Decoded<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Value::Bool(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Value::from(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        RawVisitor(self.0).visit_f64(v).map(Decoded::Typed)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        // An explicit null stays raw so that `None` keeps meaning "absent".
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_seq(seq).map(Decoded::Typed)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_map(map).map(Decoded::Typed)
    }
}

/// Convert a typed value back to JSON (cannot fail for vocabulary types).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A struct decoded from a JSON object with its own `extra` map.
pub(crate) trait Standalone: Default + Decode {
    const WHAT: &'static str;
    fn decode_own<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        cx: Cx,
    ) -> Result<bool, A::Error>;
    fn extra_mut(&mut self) -> &mut Map<String, Value>;
}

/// Visitor for [`Standalone`] structs.
pub(crate) struct StandaloneVisitor<T>(pub(crate) Cx, pub(crate) PhantomData<T>);

impl<'de, T: Standalone> Visitor<'de> for StandaloneVisitor<T> {
    type Value = Decoded<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::WHAT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let cx = self.0.nest()?;
        let mut out = T::default();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            if !out.decode_own(k.as_str(), &mut map, cx)? {
                let v = map.next_value_seed(RawSeed(cx))?;
                out.extra_mut().insert(k.into_owned(), v);
            }
        }
        Ok(Decoded::Typed(out))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Bool(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::from(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        RawVisitor(self.0).visit_f64(v).map(Decoded::Raw)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_seq(seq).map(Decoded::Raw)
    }
}

/// `Deserialize` for a lenient type through its `Decode` visitor: a raw
/// (wrong-shaped) top-level value is an error, since there is no owner to
/// keep it.
pub(crate) fn deserialize_strict<'de, D: de::Deserializer<'de>, T: Decode>(
    d: D,
) -> Result<T, D::Error> {
    match d.deserialize_any(T::visitor(Cx::new(
        crate::vocab::ParseLimits::DEFAULT_MAX_DEPTH,
    )))? {
        Decoded::Typed(t) => Ok(t),
        Decoded::Raw(v) => Err(de::Error::custom(format_args!(
            "unexpected JSON {} for a vocabulary value",
            json_kind(&v)
        ))),
    }
}

/// The JSON kind of a value, for messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A boxed value (for rarely used, larger properties kept out of line).
impl<T: Decode> Decode for Box<T> {
    type Visitor = BoxVisitor<T>;
    fn visitor(cx: Cx) -> Self::Visitor {
        BoxVisitor(cx, PhantomData)
    }
}

/// Visitor for `Box<T>`: `T`'s visitor, boxed.
pub(crate) struct BoxVisitor<T>(Cx, PhantomData<T>);

impl<'de, T: Decode> Visitor<'de> for BoxVisitor<T> {
    type Value = Decoded<Box<T>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        T::visitor(self.0).expecting(f)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_bool(v).map(|d| d.map(Box::new))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_u64(v).map(|d| d.map(Box::new))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_i64(v).map(|d| d.map(Box::new))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_f64(v).map(|d| d.map(Box::new))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_str(v).map(|d| d.map(Box::new))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_string(v).map(|d| d.map(Box::new))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_unit().map(|d| d.map(Box::new))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        T::visitor(self.0).visit_none().map(|d| d.map(Box::new))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::visitor(self.0).visit_seq(seq).map(|d| d.map(Box::new))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::visitor(self.0).visit_map(map).map(|d| d.map(Box::new))
    }
}
