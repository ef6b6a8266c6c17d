//! The receiver's side: is this post a quote, or a link?

use crate::client::same_origin;
use crate::vocab::{AnyObject, Iri, Kind, Object};

use super::{QuoteError, Quotes};

/// A quote whose authorization was checked (or a self-quote).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedQuote {
    /// The quote post.
    pub quote: Iri,
    /// The quoted post.
    pub quoted: Iri,
    /// The quoted post's author.
    pub author: Iri,
    /// The authorization checked; `None` for a self-quote, which needs none.
    pub authorization: Option<Iri>,
    /// The quoted post as its origin serves it, to render.
    pub quoted_post: AnyObject,
}

/// What [`Quotes::verify`] found: show the post as a quote only for
/// [`QuoteCheck::Quote`].
#[derive(Debug)]
#[non_exhaustive]
pub enum QuoteCheck {
    /// The post quotes nothing.
    NotAQuote,
    /// Show the quote.
    Quote(VerifiedQuote),
    /// Show the quoted post as a plain link only, for this reason.
    Link {
        /// The quoted post.
        quoted: Iri,
        /// Why the quote was not believed.
        reason: QuoteError,
    },
}

impl QuoteCheck {
    /// Whether the post may be shown as a quote.
    pub fn is_quote(&self) -> bool {
        matches!(self, QuoteCheck::Quote(_))
    }
}

impl Quotes {
    /// Checks a quote post received from elsewhere (its `id` and author
    /// already believed, e.g. from a verified `Create`): see the [module
    /// docs](super) for the rules. At most two fetches, signed by the
    /// instance actor: the quoted post (the cache may answer), and the
    /// authorization (never from a cache, so a revoked one fails).
    pub async fn verify(&self, post: &Object) -> QuoteCheck {
        let Some(quoted) = post.quoted_post() else {
            return QuoteCheck::NotAQuote;
        };
        let Some(quote) = &post.id else {
            return QuoteCheck::Link {
                quoted: quoted.clone(),
                reason: QuoteError::NoId,
            };
        };
        self.verify_parts(
            quote,
            post.attributed_to_id(),
            quoted,
            None,
            post.quote_authorization.as_ref(),
        )
        .await
    }

    pub(crate) async fn verify_parts(
        &self,
        quote: &Iri,
        quote_author: Option<&Iri>,
        quoted: &Iri,
        expected_author: Option<&Iri>,
        authorization: Option<&Iri>,
    ) -> QuoteCheck {
        let link = |reason| QuoteCheck::Link {
            quoted: quoted.clone(),
            reason,
        };
        let quoted_post = match self.fetch(quoted, true).await {
            Ok(p) => p,
            Err(e) => return link(e),
        };
        let Some(author) = quoted_post
            .as_object()
            .and_then(Object::attributed_to_id)
            .cloned()
        else {
            return link(QuoteError::WrongDocument {
                iri: quoted.clone(),
                expected: "a post with attributedTo",
            });
        };
        if let Some(expected) = expected_author
            && expected != &author
        {
            return link(QuoteError::Mismatch {
                authorization: authorization.cloned().unwrap_or_else(|| quoted.clone()),
                field: "attributedTo",
                found: Some(author),
                expected: expected.clone(),
            });
        }
        let verified = |authorization: Option<Iri>, quoted_post| {
            QuoteCheck::Quote(VerifiedQuote {
                quote: quote.clone(),
                quoted: quoted.clone(),
                author: author.clone(),
                authorization,
                quoted_post,
            })
        };
        // FEP-044f: an author may always quote themselves.
        if quote_author == Some(&author) {
            return verified(None, quoted_post);
        }
        let Some(authorization) = authorization else {
            return link(QuoteError::NoAuthorization {
                quote: quote.clone(),
                quoted: quoted.clone(),
            });
        };
        if !same_origin(authorization.as_str(), author.as_str()) {
            return link(QuoteError::CrossOrigin {
                authorization: authorization.clone(),
                author: author.clone(),
            });
        }
        let doc = match self.fetch(authorization, false).await {
            Ok(d) => d,
            Err(e) => return link(e),
        };
        let Some(stamp) = doc
            .as_object()
            .filter(|_| doc.kind() == Some(Kind::QuoteAuthorization))
        else {
            return link(QuoteError::WrongDocument {
                iri: authorization.clone(),
                expected: "a QuoteAuthorization",
            });
        };
        let checks: [(&'static str, Option<&Iri>, &Iri); 3] = [
            (
                "interactingObject",
                stamp.interacting_object.as_ref(),
                quote,
            ),
            (
                "interactionTarget",
                stamp.interaction_target.as_ref(),
                quoted,
            ),
            ("attributedTo", stamp.attributed_to_id(), &author),
        ];
        for (field, found, expected) in checks {
            if found != Some(expected) {
                return link(QuoteError::Mismatch {
                    authorization: authorization.clone(),
                    field,
                    found: found.cloned(),
                    expected: expected.clone(),
                });
            }
        }
        verified(Some(authorization.clone()), quoted_post)
    }

    /// Fetches `iri` from its origin, served at its own id; `cached`
    /// allows the fetch cache to answer.
    pub(crate) async fn fetch(&self, iri: &Iri, cached: bool) -> Result<AnyObject, QuoteError> {
        let failed = |reason: String| QuoteError::Fetch {
            iri: iri.clone(),
            reason,
        };
        let url = iri.to_url().map_err(|e| failed(e.to_string()))?;
        let fetcher = self.fed.fetcher();
        let value = if cached {
            fetcher.fetch_authoritative(&url).await
        } else {
            fetcher.refetch_authoritative(&url).await
        }
        .map_err(|e| failed(e.to_string()))?;
        serde_json::from_value(value).map_err(|e| failed(e.to_string()))
    }

    /// The author of `post`, fetched from its origin.
    pub(crate) async fn fetch_author(&self, post: &Iri) -> Result<Iri, QuoteError> {
        let doc = self.fetch(post, true).await?;
        doc.as_object()
            .and_then(Object::attributed_to_id)
            .cloned()
            .ok_or_else(|| QuoteError::WrongDocument {
                iri: post.clone(),
                expected: "a post with attributedTo",
            })
    }
}
