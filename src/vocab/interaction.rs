//! [`InteractionPolicy`] and [`InteractionRule`]: who may interact with a
//! post and how (GoToSocial's `interactionPolicy`, used by FEP-044f quote
//! posts and Mastodon 4.5), plus the JSON-LD context terms of quote posts.

use serde_json::{Map, Value, json};

use super::props::{props, standalone};
use super::{AS_CONTEXT, Context, Iri, OneOrMany};

props! {
    /// `interactionPolicy` of a post (or, in applications that keep one
    /// policy per author, of an actor): one [`InteractionRule`] per kind of
    /// interaction.
    ///
    /// Only `canQuote` (FEP-044f) is typed; the other rules GoToSocial
    /// publishes (`canLike`, `canReply`, `canAnnounce`) and any unknown key
    /// are kept in [`InteractionPolicy::extra`] and written back unchanged.
    ///
    /// ```
    /// use archipel::vocab::{AnyObject, Iri};
    /// let note = AnyObject::from_slice(br#"{
    ///   "id": "https://b.example/notes/1", "type": "Note",
    ///   "interactionPolicy": {"canQuote": {
    ///     "automaticApproval": "https://www.w3.org/ns/activitystreams#Public"}}
    /// }"#)?;
    /// let rule = note.as_object()
    ///     .and_then(|o| o.interaction_policy.as_ref())
    ///     .and_then(|p| p.can_quote.as_ref())
    ///     .unwrap();
    /// assert!(rule.automatic_approval.iter().flatten()
    ///     .any(|i| i == "https://www.w3.org/ns/activitystreams#Public"));
    /// # Ok::<(), archipel::vocab::VocabError>(())
    /// ```
    pub struct InteractionPolicy {
        /// Rules not modelled here (`canLike`, `canReply`, ...), kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `canQuote` (FEP-044f): who may quote the post.
        can_quote: Box<InteractionRule> = "canQuote",
    }
}
standalone!(InteractionPolicy, "an interaction policy");

props! {
    /// One rule of an [`InteractionPolicy`]: the actors (or collections, or
    /// `as:Public`) whose interaction is approved automatically, and those
    /// whose interaction waits for the author's manual approval. Anyone
    /// listed in neither is refused.
    pub struct InteractionRule {
        /// Properties not modelled here (GoToSocial's older `always` /
        /// `approvalRequired`), kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `automaticApproval`: approved without asking the author.
        automatic_approval: OneOrMany<Iri> = "automaticApproval",
        /// `manualApproval`: approved only once the author says so.
        manual_approval: OneOrMany<Iri> = "manualApproval",
    }
}
standalone!(InteractionRule, "an interaction rule");

impl InteractionPolicy {
    /// A policy with only a `canQuote` rule.
    pub fn can_quote(rule: InteractionRule) -> Self {
        InteractionPolicy {
            can_quote: Some(Box::new(rule)),
            ..InteractionPolicy::default()
        }
    }
}

impl InteractionRule {
    /// A rule approving `automatic` at once and `manual` after the author's
    /// approval (an empty list is left out of the document).
    pub fn new(automatic: Vec<Iri>, manual: Vec<Iri>) -> Self {
        let list = |v: Vec<Iri>| (!v.is_empty()).then_some(OneOrMany::Many(v));
        InteractionRule {
            automatic_approval: list(automatic),
            manual_approval: list(manual),
            ..InteractionRule::default()
        }
    }
}

/// The FEP-044f namespace (`https://w3id.org/fep/044f#`), where `quote`,
/// `quoteAuthorization`, `QuoteRequest` and `QuoteAuthorization` are
/// defined.
pub const FEP_044F_NS: &str = "https://w3id.org/fep/044f#";

/// The GoToSocial namespace (`https://gotosocial.org/ns#`), where
/// `interactionPolicy`, `canQuote`, `automaticApproval`, `manualApproval`,
/// `interactingObject` and `interactionTarget` are defined.
pub const GOTOSOCIAL_NS: &str = "https://gotosocial.org/ns#";

impl Context {
    /// The ActivityStreams context with the term definitions quote posts use,
    /// as Mastodon 4.5 writes them: `quote`, `quoteUri`, `_misskey_quote`,
    /// `quoteAuthorization`, `QuoteRequest`, `QuoteAuthorization`,
    /// `interactionPolicy` and its rules, `interactingObject` and
    /// `interactionTarget` (these two typed as IRIs, as GoToSocial's context
    /// has them, so that JSON-LD readers such as Fedify read them).
    ///
    /// ```
    /// use archipel::vocab::Context;
    /// assert!(Context::activitystreams_with_quotes().includes(archipel::vocab::AS_CONTEXT));
    /// ```
    pub fn activitystreams_with_quotes() -> Context {
        let id = |term: &str| json!({ "@id": term, "@type": "@id" });
        Context::from_value(json!([
            AS_CONTEXT,
            {
                "gts": GOTOSOCIAL_NS,
                "quote": id(&format!("{FEP_044F_NS}quote")),
                "quoteUri": "http://fedibird.com/ns#quoteUri",
                "_misskey_quote": "https://misskey-hub.net/ns#_misskey_quote",
                "quoteAuthorization": id(&format!("{FEP_044F_NS}quoteAuthorization")),
                "QuoteRequest": format!("{FEP_044F_NS}QuoteRequest"),
                "QuoteAuthorization": format!("{FEP_044F_NS}QuoteAuthorization"),
                "interactionPolicy": id("gts:interactionPolicy"),
                "canQuote": id("gts:canQuote"),
                "automaticApproval": id("gts:automaticApproval"),
                "manualApproval": id("gts:manualApproval"),
                // IRIs (`@type: @id`), as GoToSocial's own context has them:
                // Mastodon's plain `@id` makes them strings to a JSON-LD
                // reader, and Fedify then reads no quote or target at all.
                "interactingObject": id("gts:interactingObject"),
                "interactionTarget": id("gts:interactionTarget"),
            }
        ]))
    }
}
