//! [`Link`]: `Link`, `Mention` and Mastodon's `Hashtag`.

use serde_json::{Map, Value};

use super::object::Refs;
use super::props::props;
use super::{Context, Iri, LanguageMap, OneOrMany};

props! {
    /// An AS2 `Link` (AS2 Vocabulary §2) and its subtypes `Mention` and
    /// `Hashtag`: a reference to a resource by `href`, with metadata.
    ///
    /// ```
    /// use archipel::vocab::{AnyObject, Link};
    /// let doc = br#"{"type":"Mention","href":"https://b.example/users/bob","name":"@bob@b.example"}"#;
    /// let AnyObject::Link(m) = AnyObject::from_slice(doc)? else { panic!() };
    /// assert_eq!(m.href.as_ref().map(|h| h.as_str()), Some("https://b.example/users/bob"));
    /// # Ok::<(), archipel::vocab::VocabError>(())
    /// ```
    pub struct Link {
        /// Properties not modelled here, kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `@context`, kept verbatim.
        ld_context: Context = "@context",
        /// `id`.
        id: Iri = "id",
        /// `type`: `Link`, `Mention`, `Hashtag`, ...
        kind: OneOrMany<String> = "type",
        /// `href`: the target (may be relative, e.g. `/tags/rust`, in the wild).
        href: Iri = "href",
        /// `rel`: link relation(s) (RFC 5988).
        rel: OneOrMany<String> = "rel",
        /// `mediaType` of the target.
        media_type: String = "mediaType",
        /// `name`: display text (`@bob@b.example`, `#rust`).
        name: String = "name",
        /// `nameMap`: display text per language.
        name_map: LanguageMap = "nameMap",
        /// `hreflang`: language of the target.
        hreflang: String = "hreflang",
        /// `height` in pixels.
        height: u64 = "height",
        /// `width` in pixels.
        width: u64 = "width",
        /// `preview`.
        preview: Refs = "preview",
    }
}

impl Link {
    /// A `Mention` of the actor at `href` with display `name`.
    pub fn mention(href: Iri, name: impl Into<String>) -> Self {
        Link {
            kind: Some(OneOrMany::One("Mention".to_owned())),
            href: Some(href),
            name: Some(name.into()),
            ..Link::default()
        }
    }

    /// A Mastodon `Hashtag` linking to `href`, named `#tag`.
    pub fn hashtag(href: Iri, name: impl Into<String>) -> Self {
        Link {
            kind: Some(OneOrMany::One("Hashtag".to_owned())),
            href: Some(href),
            name: Some(name.into()),
            ..Link::default()
        }
    }

    /// Whether `type` includes `name` (see [`Object::has_type`](super::Object::has_type)).
    pub fn has_type(&self, name: &str) -> bool {
        self.kind
            .iter()
            .flat_map(|k| k.iter())
            .any(|t| super::kind::strip_as_prefix(t) == name)
    }
}
