//! Value shapes of the vocabulary: [`OneOrMany`], [`Reference`],
//! [`LanguageMap`], [`Context`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::any::{AnyObject, AnyVisitor};
use super::decode::{Cx, Decode, Decoded, KeySeed, RawSeed, RawVisitor, Seed, to_json};
use super::iri::Iri;

/// One value or an array of values.
///
/// JSON-LD treats `"to": "x"` and `"to": ["x"]` alike; real servers send
/// both. The variant records which form came in so it is written back the
/// same way.
///
/// ```
/// use archipel::vocab::OneOrMany;
/// let mut v = OneOrMany::One(1);
/// v.push(2);
/// assert_eq!(v.as_slice(), &[1, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OneOrMany<T> {
    /// A single value (`"to": "x"`).
    One(T),
    /// An array (`"to": ["x"]`), possibly empty.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a slice, whichever form they came in.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }

    /// The values as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            OneOrMany::One(v) => std::slice::from_mut(v),
            OneOrMany::Many(v) => v,
        }
    }

    /// Iterate over the values.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.as_slice().iter()
    }

    /// The first value, if any.
    pub fn first(&self) -> Option<&T> {
        self.as_slice().first()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no values (only possible for an empty array).
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Append a value, turning a single value into an array.
    pub fn push(&mut self, v: T) {
        match self {
            OneOrMany::Many(vs) => vs.push(v),
            OneOrMany::One(_) => {
                let old = std::mem::replace(self, OneOrMany::Many(Vec::with_capacity(2)));
                if let (OneOrMany::One(first), OneOrMany::Many(vs)) = (old, &mut *self) {
                    vs.push(first);
                    vs.push(v);
                }
            }
        }
    }

    /// Keep only the values for which `f` returns true (the form becomes an
    /// array if a single value is removed).
    pub fn retain(&mut self, mut f: impl FnMut(&T) -> bool) {
        match self {
            OneOrMany::Many(vs) => vs.retain(f),
            OneOrMany::One(v) => {
                if !f(v) {
                    *self = OneOrMany::Many(Vec::new());
                }
            }
        }
    }

    /// The values as a vector.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

impl<T> From<T> for OneOrMany<T> {
    fn from(v: T) -> Self {
        OneOrMany::One(v)
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(v: Vec<T>) -> Self {
        OneOrMany::Many(v)
    }
}

impl<T> FromIterator<T> for OneOrMany<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        OneOrMany::Many(iter.into_iter().collect())
    }
}

impl<'a, T> IntoIterator for &'a OneOrMany<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OneOrMany::One(v) => v.serialize(s),
            OneOrMany::Many(vs) => {
                let mut seq = s.serialize_seq(Some(vs.len()))?;
                for v in vs {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
        }
    }
}

impl<T: Decode> Decode for OneOrMany<T> {
    type Visitor = OneOrManyVisitor<T>;
    fn visitor(cx: Cx) -> Self::Visitor {
        OneOrManyVisitor(cx, PhantomData)
    }
}

#[allow(private_bounds)]
impl<'de, T: Decode> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::decode::deserialize_strict(d)
    }
}

/// Forward the scalar `visit_*` methods to an inner visitor, mapping the
/// result with `$f`.
macro_rules! forward_scalars {
    ($inner:expr, $f:expr) => {
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            $inner(self).visit_bool(v).map($f)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            $inner(self).visit_u64(v).map($f)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            $inner(self).visit_i64(v).map($f)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            $inner(self).visit_f64(v).map($f)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            $inner(self).visit_unit().map($f)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            $inner(self).visit_none().map($f)
        }
    };
}

/// Forward `visit_str`/`visit_string` to an inner visitor.
macro_rules! forward_strs {
    ($inner:expr, $f:expr) => {
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            $inner(self).visit_str(v).map($f)
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            $inner(self).visit_string(v).map($f)
        }
    };
}

/// Visitor for [`OneOrMany`].
pub(crate) struct OneOrManyVisitor<T>(Cx, PhantomData<T>);

impl<'de, T: Decode> Visitor<'de> for OneOrManyVisitor<T> {
    type Value = Decoded<OneOrMany<T>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or an array of values")
    }
    forward_scalars!(|s: Self| T::visitor(s.0), |d: Decoded<T>| d
        .map(OneOrMany::One));
    forward_strs!(|s: Self| T::visitor(s.0), |d: Decoded<T>| d
        .map(OneOrMany::One));
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::visitor(self.0)
            .visit_map(map)
            .map(|d| d.map(OneOrMany::One))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let cx = self.0.nest()?;
        let mut typed: Vec<T> = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(d) = seq.next_element_seed(Seed::<T>::new(cx))? {
            match d {
                Decoded::Typed(t) => typed.push(t),
                Decoded::Raw(v) => {
                    // One element has a shape `T` cannot hold: keep the whole
                    // array as JSON so nothing is lost or reordered.
                    let mut raw: Vec<Value> = typed.iter().map(to_json).collect();
                    raw.push(v);
                    while let Some(v) = seq.next_element_seed(RawSeed(cx))? {
                        raw.push(v);
                    }
                    return Ok(Decoded::Raw(Value::Array(raw)));
                }
            }
        }
        Ok(Decoded::Typed(OneOrMany::Many(typed)))
    }
}

/// A plain array (used where the vocabulary fixes an array, e.g. Mastodon's
/// `focalPoint`).
impl<T: Decode> Decode for Vec<T> {
    type Visitor = VecVisitor<T>;
    fn visitor(cx: Cx) -> Self::Visitor {
        VecVisitor(cx, PhantomData)
    }
}

/// Visitor for `Vec<T>`.
pub(crate) struct VecVisitor<T>(Cx, PhantomData<T>);

impl<'de, T: Decode> Visitor<'de> for VecVisitor<T> {
    type Value = Decoded<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    forward_scalars!(|s: Self| RawVisitor(s.0), Decoded::Raw);
    forward_strs!(|s: Self| RawVisitor(s.0), Decoded::Raw);
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_map(map).map(Decoded::Raw)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        OneOrManyVisitor::<T>(self.0, PhantomData)
            .visit_seq(seq)
            .map(|d| d.map(OneOrMany::into_vec))
    }
}

/// A natural-language value keyed by BCP 47 language tag (`contentMap`,
/// `nameMap`, `summaryMap`; AS2 Core §4.7).
///
/// A `BTreeMap`, so iteration order is by tag; duplicate tags keep the last
/// value. `"und"` is the conventional tag for an unknown language.
pub type LanguageMap = BTreeMap<String, String>;

impl Decode for LanguageMap {
    type Visitor = LanguageMapVisitor;
    fn visitor(cx: Cx) -> Self::Visitor {
        LanguageMapVisitor(cx)
    }
}

/// Visitor for [`LanguageMap`].
pub(crate) struct LanguageMapVisitor(Cx);

impl<'de> Visitor<'de> for LanguageMapVisitor {
    type Value = Decoded<LanguageMap>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a language map")
    }
    forward_scalars!(|s: Self| RawVisitor(s.0), Decoded::Raw);
    forward_strs!(|s: Self| RawVisitor(s.0), Decoded::Raw);
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_seq(seq).map(Decoded::Raw)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let cx = self.0.nest()?;
        let mut out = LanguageMap::new();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            match map.next_value_seed(RawSeed(cx))? {
                Value::String(s) => {
                    out.insert(k.into_owned(), s);
                }
                other => {
                    let mut raw: serde_json::Map<String, Value> = out
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect();
                    raw.insert(k.into_owned(), other);
                    while let Some(k) = map.next_key_seed(KeySeed)? {
                        let v = map.next_value_seed(RawSeed(cx))?;
                        raw.insert(k.into_owned(), v);
                    }
                    return Ok(Decoded::Raw(Value::Object(raw)));
                }
            }
        }
        Ok(Decoded::Typed(out))
    }
}

/// A link to another object: its IRI, or the object (or [`Link`]) embedded.
///
/// AS2 allows every object-valued property to hold either; servers embed
/// actors, notes and tags freely. [`Reference::id`] gives the identifier in
/// both cases.
///
/// [`Link`]: super::Link
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// A bare IRI string.
    Iri(Iri),
    /// An embedded object, activity, actor, collection or link.
    Object(Box<AnyObject>),
}

impl Reference {
    /// The IRI: the string itself, or the embedded object's `id` (a link's
    /// `href`).
    pub fn id(&self) -> Option<&Iri> {
        match self {
            Reference::Iri(i) => Some(i),
            Reference::Object(o) => o.id(),
        }
    }

    /// The bare IRI, if this is not an embedded object.
    pub fn as_iri(&self) -> Option<&Iri> {
        match self {
            Reference::Iri(i) => Some(i),
            Reference::Object(_) => None,
        }
    }

    /// The embedded object, if any.
    pub fn as_object(&self) -> Option<&AnyObject> {
        match self {
            Reference::Iri(_) => None,
            Reference::Object(o) => Some(o),
        }
    }

    /// Whether this reference denotes `iri` (by IRI or embedded `id`).
    pub fn is(&self, iri: &str) -> bool {
        self.id().is_some_and(|i| i.as_str() == iri)
    }
}

impl From<Iri> for Reference {
    fn from(i: Iri) -> Self {
        Reference::Iri(i)
    }
}

impl From<AnyObject> for Reference {
    fn from(o: AnyObject) -> Self {
        Reference::Object(Box::new(o))
    }
}

impl From<Iri> for OneOrMany<Reference> {
    fn from(i: Iri) -> Self {
        OneOrMany::One(Reference::Iri(i))
    }
}

impl From<AnyObject> for OneOrMany<Reference> {
    fn from(o: AnyObject) -> Self {
        OneOrMany::One(Reference::Object(Box::new(o)))
    }
}

impl Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reference::Iri(i) => i.serialize(s),
            Reference::Object(o) => o.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::decode::deserialize_strict(d)
    }
}

impl Decode for Reference {
    type Visitor = ReferenceVisitor;
    fn visitor(cx: Cx) -> Self::Visitor {
        ReferenceVisitor(cx)
    }
}

/// Visitor for [`Reference`].
pub(crate) struct ReferenceVisitor(Cx);

impl<'de> Visitor<'de> for ReferenceVisitor {
    type Value = Decoded<Reference>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an IRI or an object")
    }
    forward_scalars!(|s: Self| RawVisitor(s.0), Decoded::Raw);
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Reference::Iri(Iri::new_unchecked(v))))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Decoded::Typed(Reference::Iri(Iri::new_unchecked(v))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_seq(seq).map(Decoded::Raw)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        AnyVisitor(self.0)
            .visit_map(map)
            .map(|d| d.map(|o| Reference::Object(Box::new(o))))
    }
}

/// The JSON-LD `@context` of a document, kept verbatim (string, array or
/// object).
///
/// archipel does not expand JSON-LD: it matches the compacted terms
/// ActivityPub servers actually emit. A decoded context is kept as its raw
/// JSON text, so the (often large) context costs no allocations per term
/// and serializes back byte for byte; [`Context::to_value`] parses it when
/// needed. [`Context::activitystreams`] is what builders emit.
#[derive(Debug, Clone)]
pub struct Context(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Raw(Box<RawValue>),
    Value(Value),
}

impl Context {
    /// A context from a JSON value.
    pub fn from_value(v: Value) -> Context {
        Context(Repr::Value(v))
    }

    /// `"https://www.w3.org/ns/activitystreams"`.
    pub fn activitystreams() -> Context {
        Context::from_value(Value::String(super::AS_CONTEXT.to_owned()))
    }

    /// The ActivityStreams and W3C security contexts, as Mastodon emits for
    /// actors: `["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]`.
    pub fn activitystreams_with_security() -> Context {
        Context::from_value(Value::Array(vec![
            Value::String(super::AS_CONTEXT.to_owned()),
            Value::String(super::SECURITY_CONTEXT.to_owned()),
        ]))
    }

    /// The context as a JSON value.
    pub fn to_value(&self) -> Value {
        match &self.0 {
            // A decoded raw context is valid JSON by construction.
            Repr::Raw(r) => serde_json::from_str(r.get()).unwrap_or(Value::Null),
            Repr::Value(v) => v.clone(),
        }
    }

    /// Whether the context includes `iri` as a string entry (top-level
    /// string or array element). `http://` and `https://` spellings are
    /// treated alike.
    ///
    /// ```
    /// use archipel::vocab::Context;
    /// assert!(Context::activitystreams_with_security().includes("http://www.w3.org/ns/activitystreams"));
    /// ```
    pub fn includes(&self, iri: &str) -> bool {
        fn norm(s: &str) -> &str {
            s.strip_prefix("http://")
                .or_else(|| s.strip_prefix("https://"))
                .unwrap_or(s)
        }
        let want = norm(iri);
        match self.to_value() {
            Value::String(s) => norm(&s) == want,
            Value::Array(a) => a
                .iter()
                .any(|v| v.as_str().is_some_and(|s| norm(s) == want)),
            _ => false,
        }
    }
}

impl PartialEq for Context {
    /// Compares as JSON values.
    fn eq(&self, other: &Self) -> bool {
        self.to_value() == other.to_value()
    }
}

impl Serialize for Context {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Raw(r) => r.serialize(s),
            Repr::Value(v) => v.serialize(s),
        }
    }
}

/// Maximum nesting of arrays/objects in valid JSON text.
fn json_depth(text: &str) -> u32 {
    let (mut depth, mut max, mut in_str, mut esc) = (0u32, 0u32, false, false);
    for b in text.bytes() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth = depth.saturating_add(1);
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

impl Decode for Context {
    type Visitor = ContextVisitor;
    fn visitor(cx: Cx) -> Self::Visitor {
        ContextVisitor(cx)
    }
    fn decode<'de, D: serde::Deserializer<'de>>(d: D, cx: Cx) -> Result<Decoded<Self>, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        if raw.get() == "null" {
            return Ok(Decoded::Raw(Value::Null));
        }
        // Cheap upper bound first (every bracket byte, even inside strings);
        // the exact scan runs only when the bound could pass the limit.
        let text = raw.get();
        let bound = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
        let bound = u32::try_from(bound).unwrap_or(u32::MAX);
        if cx.nest_by::<D::Error>(bound).is_err() {
            cx.nest_by::<D::Error>(json_depth(text))?;
        }
        Ok(Decoded::Typed(Context(Repr::Raw(raw))))
    }
}

/// Visitor for [`Context`] (used when a context is reached through a
/// visitor rather than a deserializer).
pub(crate) struct ContextVisitor(Cx);

impl<'de> Visitor<'de> for ContextVisitor {
    type Value = Decoded<Context>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-LD context")
    }
    forward_scalars!(|s: Self| <Value as Decode>::visitor(s.0), |d: Decoded<
        Value,
    >| d
        .map(Context::from_value));
    forward_strs!(|s: Self| <Value as Decode>::visitor(s.0), |d: Decoded<
        Value,
    >| d
        .map(Context::from_value));
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0)
            .visit_seq(seq)
            .map(|v| Decoded::Typed(Context::from_value(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0)
            .visit_map(map)
            .map(|v| Decoded::Typed(Context::from_value(v)))
    }
}
