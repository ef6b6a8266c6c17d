//! What the dispatcher hands a quote handler, and the rules checked
//! before: [`QuoteRequest`] (only for a post of this server, asked by the
//! quote post's own origin) and [`QuoteReply`] (only for a request a local
//! actor sent).

use crate::client::same_origin;
use crate::inbox::{Incoming, echo};
use crate::vocab::{Activity, AnyObject, Iri, Kind, Reference};

use super::super::dispatch::DispatchError;
use super::super::paths::Paths;

/// A `QuoteRequest` that passed the dispatcher's rules: `quoted` is a post
/// of this server (not an actor), and `quote` is on the sender's origin.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QuoteRequest {
    /// The activity as received.
    pub activity: Activity,
    /// Its `id`.
    pub id: Iri,
    /// Who asks (the sender, the quote post's author).
    pub quoter: Iri,
    /// The quoted post (`object`), on this server.
    pub quoted: Iri,
    /// The quote post (`instrument`).
    pub quote: Iri,
}

impl QuoteRequest {
    /// The request as embedded in the answer: `instrument` by IRI, as
    /// Mastodon writes it.
    ///
    /// An application answering a request itself embeds this in its
    /// `Accept` or `Reject`.
    pub fn embedded(&self) -> AnyObject {
        AnyObject::Activity(Box::new(self.compact()))
    }

    /// The request reduced to its ids (`id`, `actor`, `object`,
    /// `instrument` by IRI): what is kept of a request awaiting approval,
    /// instead of the sender's whole activity (an embedded quote post can
    /// be as large as an inbox body, and thousands may wait).
    pub(crate) fn compact(&self) -> Activity {
        let mut a = Activity::new(Kind::QuoteRequest, self.id.clone(), self.quoter.clone());
        a.base.ld_context = None;
        a.object = Some(self.quoted.clone().into());
        a.instrument = Some(self.quote.clone().into());
        a
    }
}

/// An `Accept` or `Reject` of a `QuoteRequest` a local actor sent; whether
/// the sender is the quoted author it went to is checked by
/// [`Quotes::handle_reply`](super::Quotes::handle_reply).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QuoteReply {
    /// The activity as received.
    pub activity: Activity,
    /// `Accept` (true) or `Reject`.
    pub accepted: bool,
    /// The request answered.
    pub request: Iri,
    /// The `result` of an `Accept`: the authorization's IRI.
    pub authorization: Option<Iri>,
}

fn malformed(kind: Kind, incoming: &Incoming, reason: &'static str) -> DispatchError {
    DispatchError::Malformed {
        kind: kind.as_str(),
        activity: echo(incoming.id.as_str()),
        reason,
    }
}

fn first(refs: Option<&crate::vocab::Refs>) -> Option<&Reference> {
    refs.and_then(|r| r.first())
}

/// The fragment of the ids of the `QuoteRequest`s this server sends
/// (`{quote post}#quote_request`), by which an answer naming the request
/// by IRI only is recognized.
pub(crate) const REQUEST_FRAGMENT: &str = "#quote_request";

/// A local `QuoteRequest` id, as minted by
/// [`Quotes::request`](super::Quotes::request).
fn is_local_request(paths: &Paths, iri: &Iri) -> bool {
    paths.is_local(iri) && iri.as_str().ends_with(REQUEST_FRAGMENT)
}

/// Whether `activity` (an `Accept` or `Reject`) answers a `QuoteRequest`:
/// embedded, as Mastodon sends it, or named by the IRI of one this server
/// sent, as some Fedify applications do.
pub(crate) fn is_quote_reply(paths: &Paths, activity: &Activity) -> bool {
    match activity.embedded_object() {
        Some(inner) => inner.has_type(Kind::QuoteRequest.as_str()),
        None => activity
            .object_id()
            .is_some_and(|iri| is_local_request(paths, iri)),
    }
}

/// The rule of a `QuoteRequest`.
pub(crate) fn authorize_request(
    paths: &Paths,
    incoming: &Incoming,
    activity: &Activity,
) -> Result<QuoteRequest, DispatchError> {
    let kind = Kind::QuoteRequest;
    let quoted = first(activity.object.as_ref())
        .and_then(Reference::id)
        .ok_or_else(|| malformed(kind, incoming, "no quoted post (object)"))?;
    if !paths.is_local(quoted) || paths.local_name(quoted).is_some() {
        return Err(malformed(
            kind,
            incoming,
            "the quoted post is not a post of this server",
        ));
    }
    let instrument = first(activity.instrument.as_ref())
        .ok_or_else(|| malformed(kind, incoming, "no quote post (instrument)"))?;
    let quote = instrument
        .id()
        .ok_or_else(|| malformed(kind, incoming, "the quote post has no id"))?;
    if !same_origin(quote.as_str(), incoming.actor.as_str()) {
        return Err(DispatchError::ForeignOrigin {
            kind: kind.as_str(),
            object: echo(quote.as_str()),
            actor: echo(incoming.actor.as_str()),
        });
    }
    // An embedded quote post must be the sender's own, quoting this post.
    if let Some(post) = instrument.as_object().and_then(AnyObject::as_object) {
        if let Some(author) = post.attributed_to_id()
            && author != &incoming.actor
        {
            return Err(DispatchError::NotOwner {
                kind: kind.as_str(),
                object: echo(quote.as_str()),
                owner: echo(author.as_str()),
                actor: echo(incoming.actor.as_str()),
            });
        }
        if post.quoted_post().is_some_and(|q| q != quoted) {
            return Err(malformed(
                kind,
                incoming,
                "the quote post quotes another post",
            ));
        }
    }
    Ok(QuoteRequest {
        activity: activity.clone(),
        id: incoming.id.clone(),
        quoter: incoming.actor.clone(),
        quoted: quoted.clone(),
        quote: quote.clone(),
    })
}

/// The rule of an `Accept`/`Reject` of a `QuoteRequest`: the request was
/// a local actor's.
pub(crate) fn authorize_reply(
    paths: &Paths,
    kind: Kind,
    incoming: &Incoming,
    activity: &Activity,
) -> Result<QuoteReply, DispatchError> {
    let authorization = first(activity.result.as_ref())
        .and_then(Reference::id)
        .cloned();
    if activity.embedded_object().is_none()
        && let Some(request) = activity.object_id()
        && is_local_request(paths, request)
    {
        return Ok(QuoteReply {
            activity: activity.clone(),
            accepted: kind == Kind::Accept,
            request: request.clone(),
            authorization,
        });
    }
    let inner = activity
        .embedded_object()
        .and_then(AnyObject::as_activity)
        .ok_or_else(|| malformed(kind, incoming, "no embedded QuoteRequest"))?;
    let request = inner
        .id
        .as_ref()
        .ok_or_else(|| malformed(kind, incoming, "the QuoteRequest has no id"))?;
    let asker = inner
        .actor_id()
        .ok_or_else(|| malformed(kind, incoming, "the QuoteRequest has no actor"))?;
    if paths.local_name(asker).is_none() {
        return Err(malformed(
            kind,
            incoming,
            "the QuoteRequest was not sent by this server",
        ));
    }
    Ok(QuoteReply {
        activity: activity.clone(),
        accepted: kind == Kind::Accept,
        request: request.clone(),
        authorization,
    })
}
