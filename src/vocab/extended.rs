//! The AS2 extended types with their own properties: [`Question`],
//! [`Place`], [`Profile`], [`Relationship`], [`Tombstone`].

use serde_json::{Number, Value};

use super::object::Refs;
use super::props::props;
use super::{DateTime, Object, OneOrMany, Reference};

props! {
    /// A `Question` (AS2 Vocabulary §2, an intransitive activity) as the
    /// Fediverse uses it: a poll whose options are `Note`s in `oneOf`
    /// (single choice) or `anyOf` (multiple choice).
    pub struct Question {
        /// The object properties.
        pub base: Box<Object>,
        ;
        /// `oneOf`: options, exactly one may be chosen.
        one_of: Refs = "oneOf",
        /// `anyOf`: options, several may be chosen.
        any_of: Refs = "anyOf",
        /// `closed`: when or whether the poll closed (a date-time, a boolean
        /// or an object), kept as JSON.
        closed: Value = "closed",
        /// `votersCount` (`toot:`): number of distinct voters.
        voters_count: u64 = "votersCount",
    }
}

props! {
    /// A `Place` (AS2 Vocabulary §2): a physical or logical location.
    pub struct Place {
        /// The object properties.
        pub base: Box<Object>,
        ;
        /// `accuracy`: percentage accuracy, 0..=100.
        accuracy: Number = "accuracy",
        /// `altitude`, in `units`.
        altitude: Number = "altitude",
        /// `latitude` in decimal degrees.
        latitude: Number = "latitude",
        /// `longitude` in decimal degrees.
        longitude: Number = "longitude",
        /// `radius` around the point, in `units`.
        radius: Number = "radius",
        /// `units`: `cm`, `feet`, `inches`, `km`, `m`, `miles` or an IRI.
        units: String = "units",
    }
}

props! {
    /// A `Profile` (AS2 Vocabulary §2): content about another object.
    pub struct Profile {
        /// The object properties.
        pub base: Box<Object>,
        ;
        /// `describes`: the object this profile describes.
        describes: Reference = "describes",
    }
}

props! {
    /// A `Relationship` (AS2 Vocabulary §2): `subject` is related to
    /// `object` by `relationship`.
    pub struct Relationship {
        /// The object properties.
        pub base: Box<Object>,
        ;
        /// `subject`.
        subject: Reference = "subject",
        /// `object`.
        object: Refs = "object",
        /// `relationship`: the kind of relation (an IRI or object).
        relationship: Refs = "relationship",
    }
}

props! {
    /// A `Tombstone` (AS2 Vocabulary §2): what remains of a deleted object.
    pub struct Tombstone {
        /// The object properties.
        pub base: Box<Object>,
        ;
        /// `formerType`: the type the object had.
        former_type: OneOrMany<String> = "formerType",
        /// `deleted`: when it was deleted.
        deleted: DateTime = "deleted",
    }
}

impl Question {
    /// The poll options, from `oneOf` or `anyOf`.
    pub fn options(&self) -> &[Reference] {
        self.one_of
            .as_ref()
            .or(self.any_of.as_ref())
            .map_or(&[], |r| r.as_slice())
    }
}
