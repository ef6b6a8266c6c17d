//! [`AnyObject`]: decode any document in one pass and dispatch on `type`.
//!
//! Decoding fills one property bag: the [`Object`] properties inline and the
//! properties of each typed struct in lazily allocated groups. The `type`
//! key may come anywhere in the document; once the whole object is read,
//! [`Kind`] picks the struct, and properties that do not belong to it move
//! into `extra` as JSON, so nothing is lost and nothing is parsed twice.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::decode::{Cx, Decode, Decoded, KeySeed, RawSeed, RawVisitor};
use super::{
    Activity, Actor, Category, Collection, Iri, Kind, Link, Object, Place, Profile, Question,
    Relationship, Tombstone,
};

/// Any vocabulary document, decoded into the struct its `type` calls for.
///
/// The first `type` name archipel knows decides (`["Place",
/// "geojson:Feature"]` is a [`Place`]); documents without a known type land
/// in [`AnyObject::Unknown`] with every property kept.
///
/// ```
/// use archipel::vocab::AnyObject;
/// let doc = br#"{"@context":"https://www.w3.org/ns/activitystreams",
///   "type":"Note","id":"https://a.example/notes/1","content":"hi","to":"as:Public"}"#;
/// let note = AnyObject::from_slice(doc)?;
/// assert!(matches!(note, AnyObject::Object(_)));
/// assert_eq!(note.type_name(), Some("Note"));
/// assert!(note.is_public());
/// // Serializes back to the same JSON value.
/// let back: serde_json::Value = serde_json::to_value(&note).unwrap();
/// assert_eq!(back, serde_json::from_slice::<serde_json::Value>(doc).unwrap());
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnyObject {
    /// `Object`, `Note`, `Article`, `Image`, `Document`, `Emoji`, ...
    Object(Box<Object>),
    /// Any activity type.
    Activity(Box<Activity>),
    /// `Question` (poll).
    Question(Box<Question>),
    /// `Person`, `Service`, `Application`, `Group`, `Organization`.
    Actor(Box<Actor>),
    /// Collections and collection pages.
    Collection(Box<Collection>),
    /// `Link`, `Mention`, `Hashtag`.
    Link(Box<Link>),
    /// `Place`.
    Place(Box<Place>),
    /// `Profile`.
    Profile(Box<Profile>),
    /// `Relationship`.
    Relationship(Box<Relationship>),
    /// `Tombstone`.
    Tombstone(Box<Tombstone>),
    /// A document whose `type` is missing or not in the vocabulary. Object
    /// properties are typed; everything else is in `extra`, so the whole
    /// document is kept and serializes back unchanged. Downstream types
    /// start from here (see [`Extended`](super::Extended)).
    Unknown(Box<Object>),
}

/// The property bag a map decodes into before dispatch.
#[derive(Default)]
pub(crate) struct Bag {
    object: Box<Object>,
    extra: Map<String, Value>,
    activity: Option<Box<Activity>>,
    actor: Option<Box<Actor>>,
    collection: Option<Box<Collection>>,
    link: Option<Box<Link>>,
    question: Option<Box<Question>>,
    place: Option<Box<Place>>,
    profile: Option<Box<Profile>>,
    relationship: Option<Box<Relationship>>,
    tombstone: Option<Box<Tombstone>>,
}

macro_rules! group {
    ($bag:ident . $g:ident : $t:ty, $key:expr, $map:expr, $cx:expr) => {
        if <$t>::owns($key) {
            $bag.$g
                .get_or_insert_default()
                .decode_field($key, $map, $cx, &mut $bag.extra)?;
            continue;
        }
    };
}

/// Visitor filling a [`Bag`] from a JSON object.
pub(crate) struct BagVisitor(pub(crate) Cx);

impl<'de> Visitor<'de> for BagVisitor {
    type Value = Bag;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ActivityStreams object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bag, A::Error> {
        let cx = self.0.nest()?;
        let mut bag = Bag::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let k = key.as_str();
            if bag.object.decode_field(k, &mut map, cx, &mut bag.extra)? {
                continue;
            }
            group!(bag.activity: Activity, k, &mut map, cx);
            group!(bag.actor: Actor, k, &mut map, cx);
            group!(bag.collection: Collection, k, &mut map, cx);
            group!(bag.link: Link, k, &mut map, cx);
            group!(bag.question: Question, k, &mut map, cx);
            group!(bag.place: Place, k, &mut map, cx);
            group!(bag.profile: Profile, k, &mut map, cx);
            group!(bag.relationship: Relationship, k, &mut map, cx);
            group!(bag.tombstone: Tombstone, k, &mut map, cx);
            let v = map.next_value_seed(RawSeed(cx))?;
            bag.extra.insert(key.into_owned(), v);
        }
        Ok(bag)
    }
}

impl Bag {
    /// The category the `type` names select, if any.
    fn category(&self) -> Option<Category> {
        self.object
            .type_names()
            .find_map(Kind::from_name)
            .map(Kind::category)
    }

    /// Move every group except `keep` into `extra` and attach `extra` to
    /// the object.
    fn finish(mut self, keep: Option<Category>) -> Bag {
        let extra = &mut self.extra;
        macro_rules! drain {
            ($g:ident, $c:ident) => {
                if keep != Some(Category::$c) {
                    if let Some(mut g) = self.$g.take() {
                        g.drain_fields(extra);
                    }
                }
            };
        }
        if keep == Some(Category::Relationship) {
            // `object` was decoded into the activity group; it belongs here.
            if let Some(o) = self.activity.as_mut().and_then(|a| a.object.take()) {
                self.relationship.get_or_insert_default().object = Some(o);
            }
        }
        drain!(activity, Activity);
        drain!(actor, Actor);
        drain!(collection, Collection);
        drain!(link, Link);
        drain!(question, Question);
        drain!(place, Place);
        drain!(profile, Profile);
        drain!(relationship, Relationship);
        drain!(tombstone, Tombstone);
        self.object.extra = std::mem::take(&mut self.extra);
        self
    }

    pub(crate) fn into_object(self) -> Box<Object> {
        self.finish(Some(Category::Object)).object
    }

    pub(crate) fn into_link(self) -> Box<Link> {
        let bag = self.finish(Some(Category::Link));
        let mut link = bag.link.unwrap_or_default();
        let mut o = bag.object;
        link.ld_context = o.ld_context.take();
        link.id = o.id.take();
        link.kind = o.kind.take();
        link.media_type = o.media_type.take();
        link.name = o.name.take();
        link.name_map = o.name_map.take();
        link.height = o.height.take();
        link.width = o.width.take();
        link.preview = o.preview.take();
        let mut extra = std::mem::take(&mut o.extra);
        o.drain_fields(&mut extra);
        link.extra = extra;
        link
    }

    pub(crate) fn into_any(self) -> AnyObject {
        macro_rules! typed {
            ($g:ident, $c:ident) => {{
                let bag = self.finish(Some(Category::$c));
                let mut b = bag.$g.unwrap_or_default();
                b.base = bag.object;
                AnyObject::$c(b)
            }};
        }
        match self.category() {
            Some(Category::Object) => AnyObject::Object(self.into_object()),
            Some(Category::Link) => AnyObject::Link(self.into_link()),
            Some(Category::Activity) => typed!(activity, Activity),
            Some(Category::Actor) => typed!(actor, Actor),
            Some(Category::Collection) => typed!(collection, Collection),
            Some(Category::Question) => typed!(question, Question),
            Some(Category::Place) => typed!(place, Place),
            Some(Category::Profile) => typed!(profile, Profile),
            Some(Category::Relationship) => typed!(relationship, Relationship),
            Some(Category::Tombstone) => typed!(tombstone, Tombstone),
            None => AnyObject::Unknown(self.finish(None).object),
        }
    }
}

/// Visitor decoding an [`AnyObject`] (maps) or keeping any other shape raw.
pub(crate) struct AnyVisitor(pub(crate) Cx);

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Decoded<AnyObject>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ActivityStreams object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        BagVisitor(self.0)
            .visit_map(map)
            .map(|b| Decoded::Typed(b.into_any()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        RawVisitor(self.0).visit_seq(seq).map(Decoded::Raw)
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Bool(v)))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::from(v)))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::from(v)))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        RawVisitor(self.0).visit_f64(v).map(Decoded::Raw)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::String(v.to_owned())))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::String(v)))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Decoded::Raw(Value::Null))
    }
}

impl Decode for AnyObject {
    type Visitor = AnyVisitor;
    fn visitor(cx: Cx) -> Self::Visitor {
        AnyVisitor(cx)
    }
}

/// Decode a bag from a deserializer (for the `Deserialize` impls).
pub(crate) fn deserialize_bag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Bag, D::Error> {
    d.deserialize_map(BagVisitor(Cx::new(super::ParseLimits::DEFAULT_MAX_DEPTH)))
}

impl<'de> Deserialize<'de> for AnyObject {
    /// Decodes with the default depth limit; prefer
    /// [`AnyObject::from_slice_with`] for untrusted input, which also
    /// bounds the size and reports typed errors.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_bag(d).map(Bag::into_any)
    }
}

impl Serialize for AnyObject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnyObject::Object(o) | AnyObject::Unknown(o) => o.serialize(s),
            AnyObject::Activity(o) => o.serialize(s),
            AnyObject::Question(o) => o.serialize(s),
            AnyObject::Actor(o) => o.serialize(s),
            AnyObject::Collection(o) => o.serialize(s),
            AnyObject::Link(o) => o.serialize(s),
            AnyObject::Place(o) => o.serialize(s),
            AnyObject::Profile(o) => o.serialize(s),
            AnyObject::Relationship(o) => o.serialize(s),
            AnyObject::Tombstone(o) => o.serialize(s),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.serialize_all(&mut m, &|_| false)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Object {
    /// Decodes any JSON object into the object properties, whatever its
    /// `type`; properties of other structs go to `extra`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_bag(d).map(|b| *b.into_object())
    }
}

impl Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.serialize_fields(&mut m)?;
        for (k, v) in &self.extra {
            if !self.has_field(k) {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Link {
    /// Decodes any JSON object as a link, whatever its `type`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_bag(d).map(|b| *b.into_link())
    }
}

/// Serialize/Deserialize/Deref for the structs built on [`Object`].
macro_rules! subtype {
    ($($t:ident => $c:ident),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(None)?;
                self.base.serialize_all(&mut m, &|k| self.has_field(k))?;
                self.serialize_fields(&mut m)?;
                m.end()
            }
        }

        impl<'de> Deserialize<'de> for $t {
            /// Decodes any JSON object into this struct, whatever its
            /// `type`; properties of other structs go to `extra`.
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bag = deserialize_bag(d)?.finish(Some(Category::$t));
                let mut b = bag.$c.map(|b| *b).unwrap_or_default();
                b.base = bag.object;
                Ok(b)
            }
        }

        impl Deref for $t {
            type Target = Object;
            fn deref(&self) -> &Object {
                &self.base
            }
        }

        impl DerefMut for $t {
            fn deref_mut(&mut self) -> &mut Object {
                &mut self.base
            }
        }

        impl From<$t> for AnyObject {
            fn from(v: $t) -> Self {
                AnyObject::$t(Box::new(v))
            }
        }
    )*};
}

subtype! {
    Activity => activity,
    Actor => actor,
    Collection => collection,
    Question => question,
    Place => place,
    Profile => profile,
    Relationship => relationship,
    Tombstone => tombstone,
}

impl From<Object> for AnyObject {
    /// Wraps the object as [`AnyObject::Object`] if its type is an object
    /// type of the vocabulary, else as [`AnyObject::Unknown`].
    fn from(o: Object) -> Self {
        let known = o
            .type_names()
            .find_map(Kind::from_name)
            .is_some_and(|k| k.category() == Category::Object);
        if known {
            AnyObject::Object(Box::new(o))
        } else {
            AnyObject::Unknown(Box::new(o))
        }
    }
}

impl From<Link> for AnyObject {
    fn from(l: Link) -> Self {
        AnyObject::Link(Box::new(l))
    }
}

impl AnyObject {
    /// The object properties, for every variant except [`AnyObject::Link`].
    pub fn as_object(&self) -> Option<&Object> {
        Some(match self {
            AnyObject::Object(o) | AnyObject::Unknown(o) => o,
            AnyObject::Activity(o) => &o.base,
            AnyObject::Question(o) => &o.base,
            AnyObject::Actor(o) => &o.base,
            AnyObject::Collection(o) => &o.base,
            AnyObject::Place(o) => &o.base,
            AnyObject::Profile(o) => &o.base,
            AnyObject::Relationship(o) => &o.base,
            AnyObject::Tombstone(o) => &o.base,
            AnyObject::Link(_) => return None,
        })
    }

    /// Mutable access to the object properties (not for links).
    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        Some(match self {
            AnyObject::Object(o) | AnyObject::Unknown(o) => o,
            AnyObject::Activity(o) => &mut o.base,
            AnyObject::Question(o) => &mut o.base,
            AnyObject::Actor(o) => &mut o.base,
            AnyObject::Collection(o) => &mut o.base,
            AnyObject::Place(o) => &mut o.base,
            AnyObject::Profile(o) => &mut o.base,
            AnyObject::Relationship(o) => &mut o.base,
            AnyObject::Tombstone(o) => &mut o.base,
            AnyObject::Link(_) => return None,
        })
    }

    /// The `id` (a link's `href` if it has no `id`).
    pub fn id(&self) -> Option<&Iri> {
        match self {
            AnyObject::Link(l) => l.id.as_ref().or(l.href.as_ref()),
            other => other.as_object().and_then(|o| o.id.as_ref()),
        }
    }

    /// The type names, as written.
    pub fn type_names(&self) -> Vec<&str> {
        let kind = match self {
            AnyObject::Link(l) => l.kind.as_ref(),
            other => other.as_object().and_then(|o| o.kind.as_ref()),
        };
        kind.map(|k| k.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The first type name, as written.
    pub fn type_name(&self) -> Option<&str> {
        match self {
            AnyObject::Link(l) => l.kind.as_ref()?.first().map(String::as_str),
            other => other.as_object()?.type_name(),
        }
    }

    /// The first type name that is in the vocabulary.
    pub fn kind(&self) -> Option<Kind> {
        self.type_names().into_iter().find_map(Kind::from_name)
    }

    /// Whether `type` includes `name` (`as:` and full-IRI spellings accepted).
    pub fn has_type(&self, name: &str) -> bool {
        self.type_names()
            .into_iter()
            .any(|t| super::kind::strip_as_prefix(t) == name)
    }

    /// The activity, if this is one.
    pub fn as_activity(&self) -> Option<&Activity> {
        match self {
            AnyObject::Activity(a) => Some(a),
            _ => None,
        }
    }

    /// The actor, if this is one.
    pub fn as_actor(&self) -> Option<&Actor> {
        match self {
            AnyObject::Actor(a) => Some(a),
            _ => None,
        }
    }

    /// The collection, if this is one.
    pub fn as_collection(&self) -> Option<&Collection> {
        match self {
            AnyObject::Collection(a) => Some(a),
            _ => None,
        }
    }

    /// Flatten into an [`Object`]: the struct-specific properties move into
    /// `extra` (a link's `href`, `rel`, `hreflang` too).
    ///
    /// This is the starting point for downstream types: see
    /// [`Extended`](super::Extended).
    pub fn into_object(self) -> Object {
        macro_rules! flat {
            ($o:ident) => {{
                let mut o = *$o;
                let mut extra = std::mem::take(&mut o.base.extra);
                o.drain_fields(&mut extra);
                let mut base = o.base;
                base.extra = extra;
                *base
            }};
        }
        match self {
            AnyObject::Object(o) | AnyObject::Unknown(o) => *o,
            AnyObject::Activity(o) => flat!(o),
            AnyObject::Question(o) => flat!(o),
            AnyObject::Actor(o) => flat!(o),
            AnyObject::Collection(o) => flat!(o),
            AnyObject::Place(o) => flat!(o),
            AnyObject::Profile(o) => flat!(o),
            AnyObject::Relationship(o) => flat!(o),
            AnyObject::Tombstone(o) => flat!(o),
            AnyObject::Link(l) => {
                let mut l = *l;
                let mut o = Object {
                    ld_context: l.ld_context.take(),
                    id: l.id.take(),
                    kind: l.kind.take(),
                    media_type: l.media_type.take(),
                    name: l.name.take(),
                    name_map: l.name_map.take(),
                    height: l.height.take(),
                    width: l.width.take(),
                    preview: l.preview.take(),
                    ..Object::default()
                };
                let mut extra = std::mem::take(&mut l.extra);
                l.drain_fields(&mut extra);
                o.extra = extra;
                o
            }
        }
    }

    /// Removes `bto` and `bcc` here and in every embedded object, under
    /// any property, in every spelling (ActivityPub §6: they must never be
    /// delivered, and a server should not store or serve them either).
    ///
    /// It works on the serialized form with
    /// [`strip_hidden_audience`](super::audience::strip_hidden_audience)
    /// and decodes the result again, so nothing nested escapes it (an
    /// `attachment`'s or a `tag`'s own audience included). Fails only if
    /// the object nests deeper than [`ParseLimits`](super::ParseLimits)'
    /// default depth.
    ///
    /// ```
    /// use archipel::vocab::AnyObject;
    /// let mut create = AnyObject::from_value(&serde_json::json!({
    ///     "id": "https://a.example/c/1", "type": "Create", "bcc": ["https://b.example/u/x"],
    ///     "object": {"type": "Note", "attachment": {"type": "Note", "bto": "https://b.example/u/y"}}
    /// }))?;
    /// create.strip_private_recipients()?;
    /// let json = serde_json::to_string(&create).unwrap();
    /// assert!(!json.contains("bcc") && !json.contains("bto"));
    /// # Ok::<(), archipel::vocab::VocabError>(())
    /// ```
    pub fn strip_private_recipients(&mut self) -> Result<(), super::VocabError> {
        let mut value = serde_json::to_value(&*self).map_err(|e| super::VocabError::Json {
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        super::audience::strip_hidden_audience(&mut value);
        *self = AnyObject::from_value(&value)?;
        Ok(())
    }
}
