//! [`QuoteError`]: why a quote was not requested, authorized or believed.

use crate::vocab::Iri;

/// Why a quote request, an authorization or a quote was refused, or could
/// not be handled. Every variant names the input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// The post has no `quote` (nor `_misskey_quote`, `quoteUrl`,
    /// `quoteUri`): it quotes nothing.
    #[error("{post:?} quotes no post")]
    NotAQuote {
        /// The post's `id`, if it has one.
        post: Option<Iri>,
    },
    /// The post to send or check has no `id`.
    #[error("the quote post has no id")]
    NoId,
    /// The quoted post is not a post of this server the application knows.
    #[error("{post}: not a post of this server")]
    UnknownPost {
        /// The quoted post.
        post: Iri,
    },
    /// The quote post has no `quoteAuthorization`: it stays a link.
    #[error("quote {quote} of {quoted}: no quoteAuthorization")]
    NoAuthorization {
        /// The quote post.
        quote: Iri,
        /// The quoted post.
        quoted: Iri,
    },
    /// The authorization is not served by the quoted author's server.
    #[error("authorization {authorization} is not on the quoted author {author}'s origin")]
    CrossOrigin {
        /// The authorization IRI.
        authorization: Iri,
        /// The quoted post's author.
        author: Iri,
    },
    /// Fetching the quoted post or the authorization failed (a revoked
    /// authorization answers `404`/`410`).
    #[error("fetching {iri}: {reason}")]
    Fetch {
        /// What was fetched.
        iri: Iri,
        /// Why it failed.
        reason: String,
    },
    /// The fetched document is not a `QuoteAuthorization` (or the quoted
    /// post has no author).
    #[error("{iri}: expected {expected}")]
    WrongDocument {
        /// The document fetched.
        iri: Iri,
        /// What it should have been.
        expected: &'static str,
    },
    /// The authorization authorizes another quote post, another quoted post,
    /// or was issued by someone else than the quoted author.
    #[error("authorization {authorization}: {field} is {found:?}, expected {expected}")]
    Mismatch {
        /// The authorization IRI.
        authorization: Iri,
        /// `interactingObject`, `interactionTarget` or `attributedTo`.
        field: &'static str,
        /// What it names.
        found: Option<Iri>,
        /// What it should name.
        expected: Iri,
    },
    /// A reply (`Accept`/`Reject`) or a revocation came from someone else
    /// than the quoted author the request was sent to.
    #[error("{kind} of quote request {request} by {actor}, which was sent to {author}")]
    NotTheQuotedAuthor {
        /// `Accept`, `Reject` or `Delete`.
        kind: &'static str,
        /// The request answered.
        request: Iri,
        /// Who answered.
        actor: Iri,
        /// Who the request was sent to.
        author: Iri,
    },
    /// A reply to a quote request this server did not send (or forgot).
    #[error("no quote request {request} was sent by this server")]
    UnknownRequest {
        /// The request named.
        request: Iri,
    },
    /// No pending quote request has this id (to approve or refuse).
    #[error("no pending quote request {request}")]
    NotPending {
        /// The request named.
        request: Iri,
    },
    /// No authorization has this id (to revoke or serve).
    #[error("no quote authorization {authorization}")]
    UnknownAuthorization {
        /// The authorization named.
        authorization: Iri,
    },
    /// A bounded table is full: nothing was stored.
    #[error("the {table} table is full ({cap} entries)")]
    Full {
        /// Which table.
        table: &'static str,
        /// Its cap.
        cap: usize,
    },
    /// Quoters on one host hold as many authorizations as the store allows
    /// one host: nothing was stored, and the request is answered with a
    /// `Reject`.
    #[error("quoters on {host} hold {cap} quote authorizations, the most one host may")]
    HostFull {
        /// The quoter's host.
        host: String,
        /// The per-host cap.
        cap: usize,
    },
    /// The quoted author is not a local actor this server can sign for.
    #[error("{actor}: not a loaded local actor")]
    NotLocal {
        /// The author.
        actor: Iri,
    },
    /// Building or sending the answer failed.
    #[error(transparent)]
    Federation(#[from] Box<super::super::FederationError>),
    /// The authorization store failed.
    #[error("quote authorization store: {0}")]
    Store(String),
    /// The application's post lookup failed.
    #[error("quoted post lookup of {post}: {reason}")]
    Lookup {
        /// The post looked up.
        post: Iri,
        /// Why it failed.
        reason: String,
    },
}

impl QuoteError {
    /// Whether the error is the sender's fault and final (a request for a
    /// post this server does not have, an answer from the wrong actor or
    /// naming an authorization that does not hold): the inbox answers
    /// `403`, never worth a retry. Fetch failures, full tables and this
    /// server's own failures are not.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            QuoteError::NotAQuote { .. }
                | QuoteError::NoId
                | QuoteError::UnknownPost { .. }
                | QuoteError::NoAuthorization { .. }
                | QuoteError::CrossOrigin { .. }
                | QuoteError::WrongDocument { .. }
                | QuoteError::Mismatch { .. }
                | QuoteError::NotTheQuotedAuthor { .. }
                | QuoteError::UnknownRequest { .. }
        )
    }
}

impl From<super::super::FederationError> for QuoteError {
    fn from(e: super::super::FederationError) -> Self {
        QuoteError::Federation(Box::new(e))
    }
}
