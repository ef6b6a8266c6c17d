//! [`Kind`]: every type name of the vocabulary and the struct it decodes to.

use std::fmt;

/// The full IRI prefix of ActivityStreams terms.
const AS_NS: &str = "https://www.w3.org/ns/activitystreams#";

/// Strip the `as:` or full ActivityStreams IRI prefix from a term, so
/// `"as:Note"` and `"https://www.w3.org/ns/activitystreams#Note"` compare as
/// `"Note"`.
pub(crate) fn strip_as_prefix(t: &str) -> &str {
    t.strip_prefix("as:")
        .or_else(|| t.strip_prefix(AS_NS))
        .or_else(|| t.strip_prefix("http://www.w3.org/ns/activitystreams#"))
        .unwrap_or(t)
}

/// Which typed struct a [`Kind`] decodes into (the variant of
/// [`AnyObject`](super::AnyObject)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// [`Object`](super::Object).
    Object,
    /// [`Activity`](super::Activity), transitive or intransitive.
    Activity,
    /// [`Question`](super::Question).
    Question,
    /// [`Actor`](super::Actor).
    Actor,
    /// [`Collection`](super::Collection), ordered or not, page or not.
    Collection,
    /// [`Link`](super::Link).
    Link,
    /// [`Place`](super::Place).
    Place,
    /// [`Profile`](super::Profile).
    Profile,
    /// [`Relationship`](super::Relationship).
    Relationship,
    /// [`Tombstone`](super::Tombstone).
    Tombstone,
}

macro_rules! kinds {
    ($( $(#[$m:meta])* $v:ident = $s:literal => $cat:ident, )*) => {
        /// A type name of the vocabulary: AS2 core and extended types and the
        /// extension types real servers use (Mastodon `Hashtag`, `Emoji`,
        /// `PropertyValue`, `EmojiReact`).
        ///
        /// Documents keep their `type` as written (see
        /// [`Object::kind`](super::Object::kind)); `Kind` is for matching
        /// and building.
        ///
        /// ```
        /// use archipel::vocab::{Kind, Category};
        /// assert_eq!(Kind::from_name("as:Note"), Some(Kind::Note));
        /// assert_eq!(Kind::Follow.category(), Category::Activity);
        /// assert_eq!(Kind::Person.as_str(), "Person");
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Kind {
            $( $(#[$m])* $v, )*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$v),*];

            /// The compact type name, e.g. `"Note"`.
            pub fn as_str(self) -> &'static str {
                match self { $( Kind::$v => $s, )* }
            }

            /// The typed struct documents of this kind decode into.
            pub fn category(self) -> Category {
                match self { $( Kind::$v => Category::$cat, )* }
            }

            /// Look up a type name; accepts the compact (`Note`), `as:Note` and
            /// full-IRI spellings.
            pub fn from_name(name: &str) -> Option<Kind> {
                match strip_as_prefix(name) {
                    $( $s => Some(Kind::$v), )*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    /// `Object`, the base type.
    Object = "Object" => Object,
    /// `Link`.
    Link = "Link" => Link,
    /// `Activity`.
    Activity = "Activity" => Activity,
    /// `IntransitiveActivity`.
    IntransitiveActivity = "IntransitiveActivity" => Activity,
    /// `Collection`.
    Collection = "Collection" => Collection,
    /// `OrderedCollection`.
    OrderedCollection = "OrderedCollection" => Collection,
    /// `CollectionPage`.
    CollectionPage = "CollectionPage" => Collection,
    /// `OrderedCollectionPage`.
    OrderedCollectionPage = "OrderedCollectionPage" => Collection,
    /// `Application` actor.
    Application = "Application" => Actor,
    /// `Group` actor.
    Group = "Group" => Actor,
    /// `Organization` actor.
    Organization = "Organization" => Actor,
    /// `Person` actor.
    Person = "Person" => Actor,
    /// `Service` actor.
    Service = "Service" => Actor,
    /// `Accept`.
    Accept = "Accept" => Activity,
    /// `Add`.
    Add = "Add" => Activity,
    /// `Announce` (boost).
    Announce = "Announce" => Activity,
    /// `Arrive` (intransitive).
    Arrive = "Arrive" => Activity,
    /// `Block`.
    Block = "Block" => Activity,
    /// `Create`.
    Create = "Create" => Activity,
    /// `Delete`.
    Delete = "Delete" => Activity,
    /// `Dislike`.
    Dislike = "Dislike" => Activity,
    /// `Flag` (report).
    Flag = "Flag" => Activity,
    /// `Follow`.
    Follow = "Follow" => Activity,
    /// `Ignore`.
    Ignore = "Ignore" => Activity,
    /// `Invite`.
    Invite = "Invite" => Activity,
    /// `Join`.
    Join = "Join" => Activity,
    /// `Leave`.
    Leave = "Leave" => Activity,
    /// `Like`.
    Like = "Like" => Activity,
    /// `Listen`.
    Listen = "Listen" => Activity,
    /// `Move`.
    Move = "Move" => Activity,
    /// `Offer`.
    Offer = "Offer" => Activity,
    /// `Question` (a poll; intransitive).
    Question = "Question" => Question,
    /// `Reject`.
    Reject = "Reject" => Activity,
    /// `Read`.
    Read = "Read" => Activity,
    /// `Remove`.
    Remove = "Remove" => Activity,
    /// `TentativeReject`.
    TentativeReject = "TentativeReject" => Activity,
    /// `TentativeAccept`.
    TentativeAccept = "TentativeAccept" => Activity,
    /// `Travel` (intransitive).
    Travel = "Travel" => Activity,
    /// `Undo`.
    Undo = "Undo" => Activity,
    /// `Update`.
    Update = "Update" => Activity,
    /// `View`.
    View = "View" => Activity,
    /// `EmojiReact` (Pleroma/Misskey emoji reaction).
    EmojiReact = "EmojiReact" => Activity,
    /// `QuoteRequest` (FEP-044f): asks the quoted author's server to
    /// authorize a quote (`object` = the quoted post, `instrument` = the
    /// quote post).
    QuoteRequest = "QuoteRequest" => Activity,
    /// `Article`.
    Article = "Article" => Object,
    /// `Audio`.
    Audio = "Audio" => Object,
    /// `Document`.
    Document = "Document" => Object,
    /// `Event`.
    Event = "Event" => Object,
    /// `Image`.
    Image = "Image" => Object,
    /// `Note`.
    Note = "Note" => Object,
    /// `Page`.
    Page = "Page" => Object,
    /// `Place`.
    Place = "Place" => Place,
    /// `Profile`.
    Profile = "Profile" => Profile,
    /// `Relationship`.
    Relationship = "Relationship" => Relationship,
    /// `Tombstone`.
    Tombstone = "Tombstone" => Tombstone,
    /// `Video`.
    Video = "Video" => Object,
    /// `Mention` link.
    Mention = "Mention" => Link,
    /// `Hashtag` (`as:Hashtag`, Mastodon) link.
    Hashtag = "Hashtag" => Link,
    /// `Emoji` (`toot:Emoji`) custom emoji.
    Emoji = "Emoji" => Object,
    /// `PropertyValue` (`schema:PropertyValue`) profile field.
    PropertyValue = "PropertyValue" => Object,
    /// `QuoteAuthorization` (FEP-044f): the quoted author's server's
    /// dereferenceable stamp that a quote post was approved.
    QuoteAuthorization = "QuoteAuthorization" => Object,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
