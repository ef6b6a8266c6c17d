//! [`DispatchError`]: why an activity was refused, with the HTTP status to
//! answer.

use http::StatusCode;

use crate::fetch::FetchError;

use super::super::graph::GraphError;
use super::BoxError;

/// Why an activity was refused before reaching its handler, or why its
/// handling failed. Each variant names the offending input and maps to an
/// HTTP status through [`DispatchError::status`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The activity lacks what its type needs (`400`).
    #[error("{kind} {activity:?}: {reason}")]
    Malformed {
        /// The activity type.
        kind: &'static str,
        /// The activity id.
        activity: String,
        /// What is missing or wrong.
        reason: &'static str,
    },
    /// The sender undoes, updates, deletes or creates something owned by
    /// someone else (`403`).
    #[error("{kind} of {object:?} by {actor:?}: it belongs to {owner:?}")]
    NotOwner {
        /// The activity type.
        kind: &'static str,
        /// The object's IRI.
        object: String,
        /// Its owner (stored, declared, or fetched).
        owner: String,
        /// The sender.
        actor: String,
    },
    /// The sender undoes, updates or deletes, by IRI, something on another
    /// origin, and no stored owner says otherwise (`403`).
    #[error("{kind} of {object:?} by {actor:?}: the object is not on the sender's origin")]
    ForeignOrigin {
        /// The activity type.
        kind: &'static str,
        /// The object's IRI.
        object: String,
        /// The sender.
        actor: String,
    },
    /// An `Accept` or `Reject` of a `Follow` this server never sent (or
    /// already settled) (`403`).
    #[error("{kind} by {actor:?} of {follow:?}: no such Follow was sent by this server")]
    UnknownFollow {
        /// `Accept` or `Reject`.
        kind: &'static str,
        /// The Follow named.
        follow: String,
        /// The sender.
        actor: String,
    },
    /// An `Accept` or `Reject` of a `Follow` sent to someone else (`403`).
    #[error("{kind} by {actor:?} of Follow {follow:?}, which was sent to {followee:?}")]
    WrongFollowee {
        /// `Accept` or `Reject`.
        kind: &'static str,
        /// The Follow's id.
        follow: String,
        /// Whom it was sent to.
        followee: String,
        /// The sender.
        actor: String,
    },
    /// A `Follow` of something that is not an actor of this server (`403`).
    #[error("Follow of {object:?}: not an actor of this server")]
    NotLocal {
        /// The object of the Follow.
        object: String,
    },
    /// A `Follow` of a local actor that does not exist (`404`).
    #[error("Follow of {object:?}: no such actor on this server")]
    NoSuchActor {
        /// The object of the Follow.
        object: String,
    },
    /// The object must be fetched from its origin, and no [`Fetcher`](crate::fetch::Fetcher) is
    /// configured (`403`: the claim cannot be checked).
    #[error(
        "{kind} of {object:?}: the embedded copy is not vouched for by the signature and no fetcher is configured to take it from its origin"
    )]
    NoFetcher {
        /// The activity type.
        kind: &'static str,
        /// The object's IRI.
        object: String,
    },
    /// Fetching the object from its origin failed (`502`).
    #[error("{kind} of {object:?}: fetching it from its origin failed: {source}")]
    Fetch {
        /// The activity type.
        kind: &'static str,
        /// The object's IRI.
        object: String,
        /// Why (boxed: it is large, and rare).
        source: Box<FetchError>,
    },
    /// The origin served another object than the one named (`502`).
    #[error("{kind} of {object:?}: its origin served {fetched:?} instead")]
    FetchedOther {
        /// The activity type.
        kind: &'static str,
        /// The IRI named in the activity.
        object: String,
        /// The id of what was served.
        fetched: String,
    },
    /// The follow graph failed (`500`).
    #[error("follow graph: {0}")]
    Graph(#[from] GraphError),
    /// The application's [`OwnerLookup`](super::OwnerLookup) failed (`500`).
    #[error("owner lookup of {object:?}: {source}")]
    OwnerLookup {
        /// The object looked up.
        object: String,
        /// Why.
        source: BoxError,
    },
    /// The application's handler failed (`500`).
    #[error("{kind} handler: {source}")]
    Handler {
        /// The activity type as written.
        kind: String,
        /// The handler's error.
        source: BoxError,
    },
}

impl DispatchError {
    /// The HTTP status to answer the sender with: `400` malformed, `403`
    /// not authorized, `404` no such local actor, `502` the origin fetch
    /// failed, `500` this server's store or handler failed.
    ///
    /// ```
    /// use archipel::federation::dispatch::DispatchError;
    /// use http::StatusCode;
    /// let e = DispatchError::NotLocal { object: "https://elsewhere.example/users/x".into() };
    /// assert_eq!(e.status(), StatusCode::FORBIDDEN);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed { .. } => StatusCode::BAD_REQUEST,
            Self::NotOwner { .. }
            | Self::ForeignOrigin { .. }
            | Self::UnknownFollow { .. }
            | Self::WrongFollowee { .. }
            | Self::NotLocal { .. }
            | Self::NoFetcher { .. } => StatusCode::FORBIDDEN,
            // A Move the ready-made handler refused (forged, inconsistent):
            // the sender's fault, never worth a retry.
            Self::Handler { source, .. }
                if source
                    .downcast_ref::<super::super::migration::MigrationError>()
                    .is_some_and(|e| e.is_refusal()) =>
            {
                StatusCode::FORBIDDEN
            }
            // A quote request or answer the quote handler refused.
            Self::Handler { source, .. }
                if source
                    .downcast_ref::<super::super::quotes::QuoteError>()
                    .is_some_and(|e| e.is_refusal()) =>
            {
                StatusCode::FORBIDDEN
            }
            // A relay's message the relay step refused, or its origin failed.
            Self::Handler { source, .. }
                if let Some(e) = source.downcast_ref::<super::super::relay::RelayError>() =>
            {
                e.status()
            }
            Self::NoSuchActor { .. } => StatusCode::NOT_FOUND,
            Self::Fetch { .. } | Self::FetchedOther { .. } => StatusCode::BAD_GATEWAY,
            Self::Graph(_) | Self::OwnerLookup { .. } | Self::Handler { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}
