//! [`QuoteRequestStore`]: where the quote requests still waiting for an
//! answer are kept, so a restart loses neither a request awaiting its
//! author's approval nor one this server sent.

use crate::vocab::Iri;

use super::{PendingQuote, QuoteError, SentQuote};

/// Where [`Quotes`](super::Quotes) keeps the quote requests awaiting an
/// answer: the requests for this server's posts awaiting their author's
/// approval ([`PendingQuote`]) and the requests this server sent
/// ([`SentQuote`]). `Quotes` keeps both in bounded memory tables and
/// writes each change here *before* acting on it (before the request is
/// sent, before the inbox handler returns), then reads them back at start
/// ([`Quotes::with_requests`](super::Quotes::with_requests)). Without a
/// store (the default) they live in memory only, and a restart forgets
/// them. Each `put_*` is given the cap of its table: a store keeps at
/// most that many, the oldest forgotten first, as the memory tables do.
#[async_trait::async_trait]
pub trait QuoteRequestStore: Send + Sync {
    /// Keeps `pending` (replacing one with the same request id, which
    /// keeps its place), then forgets the oldest past `keep`.
    ///
    /// # Errors
    /// The store's failure: the request is then not accepted.
    async fn put_pending(&self, pending: &PendingQuote, keep: usize) -> Result<(), QuoteError>;
    /// Forgets the pending request with this id (approved or refused).
    ///
    /// # Errors
    /// The store's failure.
    async fn remove_pending(&self, request: &Iri) -> Result<(), QuoteError>;
    /// Keeps `sent`, or its new state (replacing one with the same request
    /// id, which keeps its place), then forgets the oldest past `keep`.
    ///
    /// # Errors
    /// The store's failure: the request is then not sent.
    async fn put_sent(&self, sent: &SentQuote, keep: usize) -> Result<(), QuoteError>;
    /// Every pending request, oldest first.
    ///
    /// # Errors
    /// The store's failure.
    async fn load_pending(&self) -> Result<Vec<PendingQuote>, QuoteError>;
    /// Every sent request, oldest first.
    ///
    /// # Errors
    /// The store's failure.
    async fn load_sent(&self) -> Result<Vec<SentQuote>, QuoteError>;
}
