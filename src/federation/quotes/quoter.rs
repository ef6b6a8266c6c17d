//! The quoter's side: send the `QuoteRequest`, believe the answer only
//! from the quoted author, attach the authorization once checked.

use crate::vocab::{Activity, AnyObject, Iri, Kind, Object, Reference};

use super::super::hub::Sent;
use super::super::local::LocalActor;
use super::{QuoteCheck, QuoteError, QuoteReply, Quotes};

/// Where a quote this server asked for stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteState {
    /// Asked; no answer yet: the post is a plain link.
    Pending,
    /// Authorized, and the authorization checked: the post carries it.
    Approved {
        /// The authorization's IRI.
        authorization: Iri,
    },
    /// Refused by the quoted author: the post stays a link.
    Refused,
    /// Authorized, then revoked: the post is a link again.
    Revoked,
}

/// What an answer to one of this server's quote requests changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuoteOutcome {
    /// The quote is authorized: add `quoteAuthorization` to the post
    /// ([`Quotes::attach`]) and send its `Update`.
    Approved {
        /// The quote post.
        quote: Iri,
        /// The authorization, checked.
        authorization: Iri,
    },
    /// The quote was refused: the post stays a link.
    Refused {
        /// The quote post.
        quote: Iri,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct SentRequest {
    quote: Iri,
    quoted: Iri,
    author: Iri,
    state: QuoteState,
}

impl SentRequest {
    pub(crate) fn pending(quote: Iri, quoted: Iri, author: Iri) -> Self {
        SentRequest {
            quote,
            quoted,
            author,
            state: QuoteState::Pending,
        }
    }
}

impl Quotes {
    /// Asks the quoted author's server to authorize `post`, a post of
    /// `quoter` with a `quote`: sends a `QuoteRequest` (`object` the quoted
    /// post, `instrument` the post) to the quoted post's author, found by
    /// fetching the quoted post from its origin. Until the answer, the post
    /// is a plain link ([`QuoteState::Pending`]).
    ///
    /// # Errors
    /// [`QuoteError::NotAQuote`], [`QuoteError::NoId`], the fetch's or the
    /// sending's failure.
    pub async fn request(&self, quoter: &LocalActor, post: &Object) -> Result<Sent, QuoteError> {
        let quote = post.id.clone().ok_or(QuoteError::NoId)?;
        let quoted = post
            .quoted_post()
            .cloned()
            .ok_or_else(|| QuoteError::NotAQuote {
                post: Some(quote.clone()),
            })?;
        let author = self.fetch_author(&quoted).await?;
        let id = Iri::new_unchecked(format!("{quote}{}", super::rules::REQUEST_FRAGMENT));
        let mut request = Activity::new(Kind::QuoteRequest, id.clone(), quoter.id().clone());
        request.base.ld_context = Some(crate::vocab::Context::activitystreams_with_quotes());
        request.base.to = Some(author.clone().into());
        request.object = Some(quoted.clone().into());
        let mut embedded = post.clone();
        embedded.ld_context = None;
        embedded.quote_authorization = None;
        request.instrument = Some(Reference::from(AnyObject::from(embedded)).into());
        let sent = self.fed.send(quoter, &request).await?;
        self.state()
            .sent
            .insert(id, SentRequest::pending(quote, quoted, author));
        Ok(sent)
    }

    /// Where the quote `quote` (a post of this server) stands, if this
    /// server asked for it and has not forgotten.
    pub fn state_of(&self, quote: &Iri) -> Option<QuoteState> {
        self.state()
            .sent
            .values()
            .find(|s| &s.quote == quote)
            .map(|s| s.state.clone())
    }

    /// Sets `post`'s `quoteAuthorization` from where its quote stands:
    /// the checked authorization once approved, none otherwise (the
    /// post is then a link). Returns whether the post now carries one.
    pub fn attach(&self, post: &mut Object) -> bool {
        let state = post.id.as_ref().and_then(|id| self.state_of(id));
        post.quote_authorization = match state {
            Some(QuoteState::Approved { authorization }) => Some(authorization),
            _ => None,
        };
        post.quote_authorization.is_some()
    }

    /// Handles the `Accept` or `Reject` of one of this server's quote
    /// requests from `sender`: believed only from the quoted author it was
    /// sent to; an `Accept`'s authorization is fetched and checked as any
    /// receiver would ([`Quotes::verify`]) before the quote counts as
    /// approved.
    ///
    /// # Errors
    /// [`QuoteError::UnknownRequest`], [`QuoteError::NotTheQuotedAuthor`],
    /// [`QuoteError::NoAuthorization`] for an `Accept` without `result`,
    /// or why the authorization failed its check.
    pub async fn handle_reply(
        &self,
        sender: &Iri,
        reply: &QuoteReply,
    ) -> Result<QuoteOutcome, QuoteError> {
        let kind = if reply.accepted { "Accept" } else { "Reject" };
        let sent = self
            .state()
            .sent
            .get(&reply.request)
            .cloned()
            .ok_or_else(|| QuoteError::UnknownRequest {
                request: reply.request.clone(),
            })?;
        if sender != &sent.author {
            return Err(QuoteError::NotTheQuotedAuthor {
                kind,
                request: reply.request.clone(),
                actor: sender.clone(),
                author: sent.author,
            });
        }
        let outcome = if reply.accepted {
            let authorization =
                reply
                    .authorization
                    .clone()
                    .ok_or_else(|| QuoteError::NoAuthorization {
                        quote: sent.quote.clone(),
                        quoted: sent.quoted.clone(),
                    })?;
            self.check_authorization(&sent.quote, &sent.quoted, &sent.author, &authorization)
                .await?;
            QuoteOutcome::Approved {
                quote: sent.quote.clone(),
                authorization,
            }
        } else {
            QuoteOutcome::Refused {
                quote: sent.quote.clone(),
            }
        };
        if let Some(s) = self.state().sent.get_mut(&reply.request) {
            s.state = match &outcome {
                QuoteOutcome::Approved { authorization, .. } => QuoteState::Approved {
                    authorization: authorization.clone(),
                },
                QuoteOutcome::Refused { .. } => QuoteState::Refused,
            };
        }
        Ok(outcome)
    }

    /// Handles the `Delete` by `sender` of `deleted`: when it is the
    /// authorization of one of this server's quotes, and `sender` its
    /// quoted author, the quote is revoked ([`QuoteState::Revoked`]: drop
    /// `quoteAuthorization` from the post, [`Quotes::attach`]). Returns the
    /// quote post so revoked, if any.
    pub fn handle_revocation(&self, sender: &Iri, deleted: &Iri) -> Option<Iri> {
        let mut state = self.state();
        let hit = state.sent.values().find(|s| {
            &s.author == sender
                && matches!(&s.state, QuoteState::Approved { authorization } if authorization == deleted)
        })?;
        let quote = hit.quote.clone();
        let key = Iri::new_unchecked(format!("{quote}{}", super::rules::REQUEST_FRAGMENT));
        if let Some(s) = state.sent.get_mut(&key) {
            s.state = QuoteState::Revoked;
        }
        Some(quote)
    }

    pub(crate) async fn check_authorization(
        &self,
        quote: &Iri,
        quoted: &Iri,
        author: &Iri,
        authorization: &Iri,
    ) -> Result<(), QuoteError> {
        match self
            .verify_parts(quote, None, quoted, Some(author), Some(authorization))
            .await
        {
            QuoteCheck::Quote(_) => Ok(()),
            QuoteCheck::Link { reason, .. } => Err(reason),
            QuoteCheck::NotAQuote => Err(QuoteError::NotAQuote {
                post: Some(quote.clone()),
            }),
        }
    }
}
