//! [`RelayError`]: why a relay subscription or a relay's message was
//! refused.

use http::StatusCode;

/// Why a relay subscription could not be made, or a relay's message was
/// refused. Every variant names the input at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The relay's inbox or actor is not an `http(s)` URL.
    #[error("relay {iri:?}: not an http(s) URL")]
    NotHttp {
        /// The IRI given.
        iri: String,
    },
    /// The store holds as many subscriptions as its cap.
    #[error("relay subscriptions: the cap of {cap} is reached")]
    Full {
        /// The cap.
        cap: usize,
    },
    /// The store failed.
    #[error("relay store: {0}")]
    Store(String),
    /// An `Accept` or `Reject` of a relay `Follow` from someone other than
    /// the relay.
    #[error("{kind} of relay Follow {follow:?} by {actor:?}, which is not the relay {relay:?}")]
    NotTheRelay {
        /// `Accept` or `Reject`.
        kind: &'static str,
        /// The Follow's id.
        follow: String,
        /// The sender.
        actor: String,
        /// The relay subscribed to.
        relay: String,
    },
    /// A relay announced an activity that could not be established as its
    /// actor's (altered, or unverifiable).
    #[error("activity {activity:?} announced by relay {relay:?}: {source}")]
    Unverified {
        /// The announced activity's `id`.
        activity: String,
        /// The relay.
        relay: String,
        /// Why (boxed: it is large, and rare).
        source: Box<crate::inbox::ForwardedError>,
    },
    /// A relay announced an activity by IRI whose origin could not serve it.
    #[error("activity {activity:?} announced by relay {relay:?}: fetching it failed: {reason}")]
    Fetch {
        /// The announced IRI.
        activity: String,
        /// The relay.
        relay: String,
        /// Why.
        reason: String,
    },
    /// A relay announced an activity that is malformed (no `id`, no
    /// `actor`, not decodable, or an `id` off its actor's origin).
    #[error("activity {activity:?} announced by relay {relay:?}: {reason}")]
    Malformed {
        /// The announced activity's `id`, if any.
        activity: String,
        /// The relay.
        relay: String,
        /// What is wrong.
        reason: String,
    },
}

impl RelayError {
    /// Whether the error is the sender's fault (answer `403`, never worth
    /// a retry), rather than this server's or a third server's. A spent
    /// fetch budget ([`ForwardedError::is_transient`](crate::inbox::ForwardedError::is_transient))
    /// is not: the same `Announce` is accepted later.
    pub fn is_refusal(&self) -> bool {
        match self {
            RelayError::NotTheRelay { .. } | RelayError::Malformed { .. } => true,
            RelayError::Unverified { source, .. } => !source.is_transient(),
            _ => false,
        }
    }

    /// Whether the relay should send the same message again later: this
    /// server's fetch budget for verifying it is spent for now.
    pub fn is_transient(&self) -> bool {
        matches!(self, RelayError::Unverified { source, .. } if source.is_transient())
    }

    /// The HTTP status to answer the relay with: `403` for a refusal,
    /// `503` when a fetch budget is spent (the relay retries, as it would
    /// after the inbox's own `503`), `502` when the announced activity's
    /// origin failed, `500` otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            e if e.is_refusal() => StatusCode::FORBIDDEN,
            e if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            RelayError::Fetch { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
