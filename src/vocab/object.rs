//! [`Object`]: the properties every ActivityStreams object shares.

use serde_json::{Map, Number, Value};

use super::props::{props, standalone};
use super::{Context, DateTime, InteractionPolicy, Iri, LanguageMap, OneOrMany, Reference};

/// A list of references: the shape of most AS2 relation properties.
pub type Refs = OneOrMany<Reference>;

props! {
    /// The properties of an AS2 `Object` (AS2 Vocabulary §2, §4), plus the
    /// widely used ActivityPub and Mastodon/Misskey extensions that apply to
    /// any object.
    ///
    /// `Object` is the base of every typed struct ([`Activity`],
    /// [`Actor`], [`Collection`], ...), reachable through `base` or `Deref`.
    /// It also carries the document-level bookkeeping: [`Object::extra`]
    /// holds every property archipel does not model, *and* every modelled
    /// property whose value had a shape the typed field cannot hold (an
    /// explicit `null`, `"sensitive": "true"`, a JSON-LD value object), so
    /// the document serializes back exactly as it came.
    ///
    /// Each typed field is `None` when the property is absent or kept in
    /// `extra`; when both a field and an `extra` entry with the same key are
    /// set, the field wins on serialization.
    ///
    /// [`Activity`]: super::Activity
    /// [`Actor`]: super::Actor
    /// [`Collection`]: super::Collection
    pub struct Object {
        /// Properties not modelled here (or not representable in their typed
        /// field), kept verbatim and written back unchanged.
        pub extra: Map<String, Value>,
        ;
        /// `@context`: the JSON-LD context, kept verbatim.
        ld_context: Context = "@context",
        /// `id`: the object's global identifier.
        id: Iri = "id",
        /// `type`: one type name or several (`["Place", "geojson:Feature"]`).
        kind: OneOrMany<String> = "type",
        /// `attachment`: media and other objects attached (Mastodon: images,
        /// `PropertyValue` profile fields).
        attachment: Refs = "attachment",
        /// `attributedTo`: the author(s).
        attributed_to: Refs = "attributedTo",
        /// `audience`: the intended audience.
        audience: Refs = "audience",
        /// `to`: primary public recipients.
        to: Refs = "to",
        /// `cc`: secondary public recipients.
        cc: Refs = "cc",
        /// `bto`: private primary recipients; never delivered (see
        /// [`AnyObject::strip_private_recipients`](super::AnyObject::strip_private_recipients)).
        bto: Refs = "bto",
        /// `bcc`: private secondary recipients; never delivered.
        bcc: Refs = "bcc",
        /// `content`: the HTML (by default) content.
        content: String = "content",
        /// `contentMap`: the content per language.
        content_map: LanguageMap = "contentMap",
        /// `name`: a plain-text name or title.
        name: String = "name",
        /// `nameMap`: the name per language.
        name_map: LanguageMap = "nameMap",
        /// `summary`: a summary (Mastodon: the content warning).
        summary: String = "summary",
        /// `summaryMap`: the summary per language.
        summary_map: LanguageMap = "summaryMap",
        /// `context`: the AS2 context the object belongs to (a thread, a
        /// group); not `@context`.
        context: Refs = "context",
        /// `generator`: the application that generated the object.
        generator: Refs = "generator",
        /// `icon`: icon(s), usually `Image` objects.
        icon: Refs = "icon",
        /// `image`: image(s), usually `Image` objects (an actor's header).
        image: Refs = "image",
        /// `inReplyTo`: the object(s) this one replies to.
        in_reply_to: Refs = "inReplyTo",
        /// `location`: physical or logical place(s).
        location: Refs = "location",
        /// `preview`: a preview of the object.
        preview: Refs = "preview",
        /// `replies`: a collection of replies.
        replies: Refs = "replies",
        /// `tag`: tags: `Mention`, `Hashtag`, `Emoji` and other objects.
        tag: Refs = "tag",
        /// `url`: link(s) to representations of the object (IRI or `Link`).
        url: Refs = "url",
        /// `published`: creation time.
        published: DateTime = "published",
        /// `updated`: last update time.
        updated: DateTime = "updated",
        /// `startTime`: when the object (an event) starts.
        start_time: DateTime = "startTime",
        /// `endTime`: when the object (an event) ends.
        end_time: DateTime = "endTime",
        /// `duration`: an `xsd:duration` such as `PT2H30M`, as written.
        duration: String = "duration",
        /// `mediaType`: MIME type of `content` or of the linked resource.
        media_type: String = "mediaType",
        /// `width` in pixels (AS2 puts it on `Link`; Mastodon on `Document`).
        width: u64 = "width",
        /// `height` in pixels.
        height: u64 = "height",
        /// `source`: the source the content was rendered from (ActivityPub §3.3).
        source: Box<Source> = "source",
        /// `likes`: collection of `Like`s (ActivityPub §5.7).
        likes: Refs = "likes",
        /// `shares`: collection of `Announce`s (ActivityPub §5.8).
        shares: Refs = "shares",
        /// `sensitive` (Mastodon, `as:sensitive`): content warning flag.
        sensitive: bool = "sensitive",
        /// `quoteUrl` (Fedibird/Misskey): the quoted post.
        quote_url: Iri = "quoteUrl",
        /// `_misskey_quote` (Misskey): the quoted post.
        misskey_quote: Iri = "_misskey_quote",
        /// `quoteUri` (Fedibird; Mastodon 4.5 writes it beside `quote`): the
        /// quoted post.
        quote_uri: Iri = "quoteUri",
        /// `quote` (FEP-044f): the quoted post. Mastodon reads `quote`, then
        /// `_misskey_quote`, `quoteUrl`, `quoteUri`; see
        /// [`Object::quoted_post`].
        quote: Iri = "quote",
        /// `quoteAuthorization` (FEP-044f): on a quote post, the IRI of the
        /// `QuoteAuthorization` the quoted author's server issued for it.
        quote_authorization: Iri = "quoteAuthorization",
        /// `interactionPolicy` (GoToSocial, FEP-044f): who may quote (and
        /// otherwise interact with) this post.
        interaction_policy: Box<InteractionPolicy> = "interactionPolicy",
        /// `interactingObject` (`gts:interactingObject`): on a
        /// `QuoteAuthorization`, the quote post it authorizes.
        interacting_object: Iri = "interactingObject",
        /// `interactionTarget` (`gts:interactionTarget`): on a
        /// `QuoteAuthorization`, the quoted post.
        interaction_target: Iri = "interactionTarget",
        /// `blurhash` (`toot:blurhash`): a BlurHash placeholder of an image.
        blurhash: String = "blurhash",
        /// `focalPoint` (`toot:focalPoint`): `[x, y]` in -1.0..=1.0.
        focal_point: Vec<Number> = "focalPoint",
        /// `value` (`schema:value`) of a Mastodon `PropertyValue` profile field.
        value: String = "value",
    }
}

props! {
    /// The `source` of an object: what the author wrote before rendering
    /// (ActivityPub §3.3), e.g. Markdown.
    pub struct Source {
        /// Properties not modelled here, kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `content`: the source text.
        content: String = "content",
        /// `mediaType`: its MIME type, e.g. `text/markdown`.
        media_type: String = "mediaType",
    }
}
standalone!(Source, "a source object");

impl Object {
    /// A new object of type `kind` (e.g. `"Note"`) with the ActivityStreams
    /// `@context`.
    pub fn new(kind: impl Into<String>) -> Self {
        Object {
            ld_context: Some(Context::activitystreams()),
            kind: Some(OneOrMany::One(kind.into())),
            ..Object::default()
        }
    }

    /// Set `id` (builder style).
    pub fn with_id(mut self, id: Iri) -> Self {
        self.id = Some(id);
        self
    }

    /// Set `attributedTo` (builder style).
    pub fn with_attributed_to(mut self, actor: Iri) -> Self {
        self.attributed_to = Some(actor.into());
        self
    }

    /// Set `content` (builder style).
    pub fn with_content(mut self, html: impl Into<String>) -> Self {
        self.content = Some(html.into());
        self
    }

    /// Set `published` (builder style).
    pub fn with_published(mut self, t: DateTime) -> Self {
        self.published = Some(t);
        self
    }

    /// The IRI of the first `attributedTo` (embedded or not): the author.
    pub fn attributed_to_id(&self) -> Option<&Iri> {
        self.attributed_to.as_ref()?.first()?.id()
    }

    /// The post this object quotes, in any spelling Mastodon 4.5 reads:
    /// `quote` (FEP-044f), then `_misskey_quote`, `quoteUrl` and `quoteUri`.
    ///
    /// A quote post is shown *as a quote* only once its authorization is
    /// checked (`archipel::federation::quotes`); until then this is a link.
    pub fn quoted_post(&self) -> Option<&Iri> {
        self.quote
            .as_ref()
            .or(self.misskey_quote.as_ref())
            .or(self.quote_url.as_ref())
            .or(self.quote_uri.as_ref())
    }

    /// The type names, in document order (empty if `type` is absent or not
    /// a string/array of strings).
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.kind.iter().flat_map(|k| k.iter()).map(String::as_str)
    }

    /// Whether `type` includes `name`, comparing compact names and also
    /// accepting the `as:` and full-IRI spellings of AS2 terms
    /// (`has_type("Note")` is true for `"as:Note"`).
    pub fn has_type(&self, name: &str) -> bool {
        self.type_names()
            .any(|t| super::kind::strip_as_prefix(t) == name)
    }

    /// The first type name, as written.
    pub fn type_name(&self) -> Option<&str> {
        self.type_names().next()
    }

    /// Write every set property (typed and `extra`) into a serializer map.
    pub(crate) fn serialize_all<M: serde::ser::SerializeMap>(
        &self,
        m: &mut M,
        own: &dyn Fn(&str) -> bool,
    ) -> Result<(), M::Error> {
        self.serialize_fields(m)?;
        for (k, v) in &self.extra {
            if !self.has_field(k) && !own(k) {
                m.serialize_entry(k, v)?;
            }
        }
        Ok(())
    }
}
