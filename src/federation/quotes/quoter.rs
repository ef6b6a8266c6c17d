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

/// A quote request this server sent, as a
/// [`QuoteRequestStore`](super::QuoteRequestStore) keeps it: what
/// [`Quotes::handle_reply`] matches an answer against.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentQuote {
    /// The request's id (`{quote}#quote_request`).
    pub request: Iri,
    /// The quote post, of this server.
    pub quote: Iri,
    /// The quoted post.
    pub quoted: Iri,
    /// The quoted post's author: the only actor whose answer counts.
    pub author: Iri,
    /// Where it stands.
    pub state: QuoteState,
}

impl SentQuote {
    /// A request `request` for the quote `quote` of `quoted` by `author`,
    /// standing at `state` (for a
    /// [`QuoteRequestStore`](super::QuoteRequestStore) reading one back).
    pub fn new(request: Iri, quote: Iri, quoted: Iri, author: Iri, state: QuoteState) -> Self {
        SentQuote {
            request,
            quote,
            quoted,
            author,
            state,
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
    /// sending's failure; the request store's failure (nothing is sent).
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
        // Kept (durably, with a store) before it leaves, so an answer
        // arriving at once, or after a restart, finds it.
        let record = SentQuote::new(id.clone(), quote, quoted, author, QuoteState::Pending);
        self.keep_sent(record).await?;
        Ok(self.fed.send(quoter, &request).await?)
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
    /// why the authorization failed its check, or the request store's
    /// failure (the answer is then not recorded; the sender's retry is).
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
        let mut sent = sent;
        sent.state = match &outcome {
            QuoteOutcome::Approved { authorization, .. } => QuoteState::Approved {
                authorization: authorization.clone(),
            },
            QuoteOutcome::Refused { .. } => QuoteState::Refused,
        };
        self.keep_sent(sent).await?;
        Ok(outcome)
    }

    /// Handles the `Delete` by `sender` of `deleted`: when it is the
    /// authorization of one of this server's quotes, and `sender` its
    /// quoted author, the quote is revoked ([`QuoteState::Revoked`]: drop
    /// `quoteAuthorization` from the post, [`Quotes::attach`]). Returns the
    /// quote post so revoked, if any.
    ///
    /// # Errors
    /// The [`QuoteRequestStore`](super::QuoteRequestStore)'s failure (the
    /// revocation is then not recorded; the sender's retry records it).
    pub async fn handle_revocation(
        &self,
        sender: &Iri,
        deleted: &Iri,
    ) -> Result<Option<Iri>, QuoteError> {
        let hit = self
            .state()
            .sent
            .values()
            .find(|s| {
                &s.author == sender
                    && matches!(&s.state, QuoteState::Approved { authorization } if authorization == deleted)
            })
            .cloned();
        let Some(mut sent) = hit else {
            return Ok(None);
        };
        let quote = sent.quote.clone();
        sent.state = QuoteState::Revoked;
        self.keep_sent(sent).await?;
        Ok(Some(quote))
    }

    /// Records `sent` in the store (if any), then in memory.
    pub(crate) async fn keep_sent(&self, sent: SentQuote) -> Result<(), QuoteError> {
        if let Some(store) = &self.requests {
            store.put_sent(&sent, self.config.max_sent).await?;
        }
        self.state().sent.insert(sent.request.clone(), sent);
        Ok(())
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
