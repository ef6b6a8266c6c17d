//! Who may quote a post: [`QuotePolicy`] (read from and written to
//! `interactionPolicy.canQuote`), the [`QuoteDecision`] it gives, and where
//! a local post's author and policy come from ([`QuoteTargets`],
//! [`PostTargets`]).

use crate::vocab::{InteractionPolicy, InteractionRule, Iri, audience::is_public_iri};

use super::super::Federation;
use super::super::dispatch::BoxError;
use super::super::local::LocalActor;
use super::super::store::Posts;

/// Who a [`QuotePolicy`] rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteAudience {
    /// Anyone (`as:Public`).
    Public,
    /// The author's followers.
    Followers,
    /// The accounts the author follows.
    Following,
    /// One actor.
    Actor(Iri),
}

/// Who may quote a post: automatically, after the author's approval, or
/// (anyone else) not at all. The author may always quote themselves.
///
/// The default names nobody: only the author may quote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuotePolicy {
    /// Approved without asking the author.
    pub automatic: Vec<QuoteAudience>,
    /// Approved once the author says so ([`Quotes::approve`](super::Quotes::approve)).
    pub manual: Vec<QuoteAudience>,
}

impl QuotePolicy {
    /// Anyone may quote, automatically (Mastodon's "anyone").
    pub fn public() -> Self {
        QuotePolicy::default().with_automatic(QuoteAudience::Public)
    }

    /// Adds an audience approved automatically.
    pub fn with_automatic(mut self, who: QuoteAudience) -> Self {
        self.automatic.push(who);
        self
    }

    /// Adds an audience approved manually.
    pub fn with_manual(mut self, who: QuoteAudience) -> Self {
        self.manual.push(who);
        self
    }

    /// Reads the `canQuote` rule of a post's or actor's `interactionPolicy`
    /// for `author`: `as:Public`, the author's followers and following
    /// collections, and actor IRIs. An absent policy or rule is the default
    /// (nobody); IRIs naming anything else (another collection) approve
    /// nobody, as Mastodon treats unsupported policies.
    pub fn from_interaction_policy(
        policy: Option<&InteractionPolicy>,
        author: &LocalActor,
    ) -> Self {
        let Some(rule) = policy.and_then(|p| p.can_quote.as_deref()) else {
            return QuotePolicy::default();
        };
        let read = |list: &Option<crate::vocab::OneOrMany<Iri>>| -> Vec<QuoteAudience> {
            let mut out = Vec::new();
            for iri in list.iter().flatten() {
                let who = if is_public_iri(iri.as_str()) {
                    QuoteAudience::Public
                } else if iri == author.followers() {
                    QuoteAudience::Followers
                } else if iri == author.following() {
                    QuoteAudience::Following
                } else if iri == author.id() {
                    // The author always may; not an audience.
                    continue;
                } else {
                    QuoteAudience::Actor(iri.clone())
                };
                if !out.contains(&who) {
                    out.push(who);
                }
            }
            out
        };
        QuotePolicy {
            automatic: read(&rule.automatic_approval),
            manual: read(&rule.manual_approval),
        }
    }

    /// The `interactionPolicy` to publish on `author`'s posts, as Mastodon
    /// writes it (the author alone when the policy names nobody).
    pub fn to_interaction_policy(&self, author: &LocalActor) -> InteractionPolicy {
        let write = |list: &[QuoteAudience]| -> Vec<Iri> {
            list.iter()
                .map(|who| match who {
                    QuoteAudience::Public => {
                        Iri::new_unchecked("https://www.w3.org/ns/activitystreams#Public")
                    }
                    QuoteAudience::Followers => author.followers().clone(),
                    QuoteAudience::Following => author.following().clone(),
                    QuoteAudience::Actor(iri) => iri.clone(),
                })
                .collect()
        };
        let mut automatic = write(&self.automatic);
        if automatic.is_empty() && self.manual.is_empty() {
            automatic.push(author.id().clone());
        }
        InteractionPolicy::can_quote(InteractionRule::new(automatic, write(&self.manual)))
    }
}

/// What the quoted author's server decided about a quote request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteDecision {
    /// Authorized at once: the authorization was issued and the `Accept`
    /// sent.
    Automatic,
    /// Pending until the author approves or refuses it.
    Manual,
    /// Refused: a `Reject` was sent.
    Refused,
}

/// A local post that may be quoted: its author and the policy that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuoteTarget {
    /// The post's local author.
    pub author: Iri,
    /// Who may quote it.
    pub policy: QuotePolicy,
}

impl QuoteTarget {
    /// A post of `author` under `policy`.
    pub fn new(author: Iri, policy: QuotePolicy) -> Self {
        QuoteTarget { author, policy }
    }
}

/// The application's posts, as far as quoting goes: who wrote a local post
/// and who may quote it.
#[async_trait::async_trait]
pub trait QuoteTargets: Send + Sync {
    /// The local post `post`, or `None` when this server has no such post
    /// (the request is then refused).
    async fn target(&self, post: &Iri) -> Result<Option<QuoteTarget>, BoxError>;
}

/// The library's post store as [`QuoteTargets`]: the post's own
/// `interactionPolicy` decides; a post that is not public or unlisted, or
/// deleted, may be quoted by its author only.
#[derive(Debug, Clone)]
pub struct PostTargets {
    posts: Posts,
    fed: Federation,
}

impl PostTargets {
    /// Reads `posts`, whose authors are `fed`'s local actors.
    pub fn new(fed: &Federation, posts: Posts) -> Self {
        PostTargets {
            posts,
            fed: fed.clone(),
        }
    }
}

#[async_trait::async_trait]
impl QuoteTargets for PostTargets {
    async fn target(&self, post: &Iri) -> Result<Option<QuoteTarget>, BoxError> {
        let Some(stored) = self.posts.get(post).await? else {
            return Ok(None);
        };
        let Some(author) = self.fed.local_by_id(&stored.author) else {
            return Ok(None);
        };
        let object = stored.object.as_object();
        let policy = match object {
            Some(o) if o.is_public() => {
                QuotePolicy::from_interaction_policy(o.interaction_policy.as_deref(), &author)
            }
            _ => QuotePolicy::default(),
        };
        Ok(Some(QuoteTarget::new(stored.author, policy)))
    }
}
