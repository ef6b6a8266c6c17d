//! The crate-wide [`Error`]: one variant per module, each wrapping that
//! module's own `thiserror` enum, so callers can match broadly (`Error::Vocab`)
//! or precisely (`VocabError::TooDeep`).

/// Any error archipel reports.
///
/// Each module has its own error enum naming the exact fault in the input;
/// this type folds them together so application code can use `?` across
/// modules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document could not be decoded into the vocabulary.
    #[error(transparent)]
    Vocab(#[from] crate::vocab::VocabError),
    /// A request could not be signed, or its signature did not verify.
    #[error(transparent)]
    Signature(#[from] crate::signatures::SignatureError),
    /// An RFC 9421 `Accept-Signature` field could not be read, or asks
    /// for a signature that cannot be made.
    #[cfg(feature = "rfc9421")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rfc9421")))]
    #[error(transparent)]
    AcceptSignature(#[from] crate::signatures::accept_signature::AcceptSignatureError),
    /// A WebFinger resource or document was invalid, or the lookup failed.
    #[error(transparent)]
    WebFinger(#[from] crate::webfinger::WebFingerError),
    /// A NodeInfo document was invalid, or discovery failed.
    #[error(transparent)]
    NodeInfo(#[from] crate::nodeinfo::NodeInfoError),
    /// An outgoing HTTP request was refused by policy or failed.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// An IRI could not be dereferenced into a trustworthy document.
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    /// An activity could not be planned, queued or delivered.
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// A host was refused by the domain policy, or a policy entry was invalid.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// An incoming activity was refused by the inbox pipeline.
    #[error(transparent)]
    Inbox(#[from] crate::inbox::InboxError),
    /// An inbox request was not admitted (rate or concurrency limit, or
    /// a blocked origin), before any verification.
    #[error(transparent)]
    Admission(#[from] crate::inbox::admission::Refused),
    /// A forwarded activity's authenticity could not be established
    /// (ActivityPub §7.1.2; [`Federation::verify_forwarded`](crate::federation::Federation::verify_forwarded)).
    #[error(transparent)]
    Forwarded(#[from] crate::inbox::ForwardedError),
    /// An accepted activity could not be stored, or read back, by the
    /// inbound queue.
    #[error(transparent)]
    Inbound(#[from] crate::inbox::queue::InboundError),
    /// An `Undo` was refused (e.g. it undoes someone else's activity).
    #[error(transparent)]
    Undo(#[from] crate::policy::follow::UndoError),
    /// The application layer ([`federation`](crate::federation)) failed.
    #[error(transparent)]
    Federation(#[from] crate::federation::FederationError),
    /// An object integrity proof could not be made, or did not verify.
    #[cfg(feature = "proof")]
    #[cfg_attr(docsrs, doc(cfg(feature = "proof")))]
    #[error(transparent)]
    Proof(#[from] crate::proof::ProofError),
    /// A Linked Data Signature could not be made, or did not verify.
    #[cfg(feature = "ld-signatures")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ld-signatures")))]
    #[error(transparent)]
    LdSignature(#[from] crate::ldsig::LdSignatureError),
    /// A metrics scrape could not be gathered or encoded.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

/// Each application-layer module's error converts through
/// [`FederationError`](crate::federation::FederationError), so `?` works
/// from any of them.
macro_rules! via_federation {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Federation(e.into())
            }
        }
    )*};
}

via_federation!(
    crate::federation::paths::PathsError,
    crate::federation::keys::KeyStoreError,
    crate::federation::graph::GraphError,
    crate::federation::remote::RemoteError,
    crate::federation::outbox::OutboxError,
    crate::federation::visibility::VisibilityError,
    crate::federation::collection::CollectionError,
    crate::federation::dispatch::DispatchError,
    crate::federation::serve::ServeError,
    crate::federation::migration::MigrationError,
);

/// `Result` with archipel's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
