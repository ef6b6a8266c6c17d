//! [`MigrationError`]: why a `Move` was not sent, or not believed.

use crate::fetch::FetchError;
use crate::vocab::Iri;

use super::super::error::FederationError;
use super::super::graph::GraphError;

/// Which account of a `Move` a check was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Account {
    /// The account that moves (the `Move`'s `actor` and `object`).
    Origin,
    /// The account it moves to (the `Move`'s `target`).
    Target,
}

impl Account {
    /// `origin` or `target`, as the messages name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Origin => "origin",
            Account::Target => "target",
        }
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `Move` was not sent ([`Federation::move_account`](crate::federation::Federation::move_account)),
/// or was refused on arrival ([`Migration::verify`](super::Migration::verify)).
///
/// [`MigrationError::is_refusal`] tells a refusal the sender caused (a
/// forged or inconsistent `Move`: never retry it) from a failure that may
/// pass later (a fetch that did not answer, a store that failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The activity is not a `Move`.
    #[error("{activity:?}: not a Move but {found:?}")]
    NotAMove {
        /// The activity's id.
        activity: String,
        /// Its type.
        found: String,
    },
    /// The `Move` names no `target`.
    #[error("Move {activity:?}: no target account")]
    MissingTarget {
        /// The activity's id.
        activity: String,
    },
    /// The `Move`'s `object` is not its sender: an account moves only
    /// itself.
    #[error("Move {activity:?} by {sender}: it moves {object:?}, not its sender")]
    NotTheSender {
        /// The activity's id.
        activity: String,
        /// The authenticated sender.
        sender: Iri,
        /// The account it claims to move.
        object: Option<String>,
    },
    /// The `Move` (or the move asked for) goes from an account to itself.
    #[error("Move of {origin} to itself")]
    SameAccount {
        /// The account.
        origin: Iri,
    },
    /// One of the two accounts could not be fetched from its origin (its
    /// server did not answer, or served a document at another id or from
    /// another origin).
    #[error("Move from {origin}: fetching the {account} account {iri}: {source}")]
    Fetch {
        /// Which account.
        account: Account,
        /// The IRI fetched.
        iri: Iri,
        /// The moving account.
        origin: Iri,
        /// Why (boxed: large and rare).
        source: Box<FetchError>,
    },
    /// One of the two accounts is not an actor.
    #[error("Move from {origin}: the {account} {iri} is not an actor: {reason}")]
    NotAnActor {
        /// Which account.
        account: Account,
        /// Its IRI.
        iri: Iri,
        /// The moving account.
        origin: Iri,
        /// What was served instead.
        reason: String,
    },
    /// The target does not list the origin in `alsoKnownAs`: the target's
    /// owner never agreed to be moved to (the check a forged `Move` fails).
    #[error("Move from {origin} to {target}: the target's alsoKnownAs does not name the origin")]
    NotAnAlias {
        /// The moving account.
        origin: Iri,
        /// The account it claims to move to.
        target: Iri,
    },
    /// The origin, fetched fresh, does not say `movedTo` the target.
    #[error("Move from {origin} to {target}: the origin's movedTo is {found:?}")]
    NotMovedTo {
        /// The moving account.
        origin: Iri,
        /// The account it claims to move to.
        target: Iri,
        /// The origin's `movedTo`, if any.
        found: Option<Iri>,
    },
    /// The target has itself moved to a third account: followers are not
    /// sent to an account that no longer posts (a move back, to the
    /// account the target moved to, is allowed).
    #[error("Move from {origin} to {target}: the target has itself moved to {moved_to}")]
    TargetMoved {
        /// The moving account.
        origin: Iri,
        /// The account it claims to move to.
        target: Iri,
        /// Where the target moved.
        moved_to: Iri,
    },
    /// A `Move` of this origin was already followed within the cooldown
    /// ([`MigrationConfig::with_cooldown`](super::MigrationConfig::with_cooldown)).
    #[error(
        "Move from {origin}: a move of this account was already followed less than {cooldown_secs} s ago"
    )]
    Cooldown {
        /// The moving account.
        origin: Iri,
        /// The cooldown, in seconds.
        cooldown_secs: u64,
    },
    /// A move of this account is being followed right now (another `Move`
    /// of it arrived meanwhile): not a refusal, a retry then meets the
    /// cooldown.
    #[error("Move from {origin}: another move of this account is being followed")]
    InProgress {
        /// The moving account.
        origin: Iri,
    },
    /// The account to move is not a local actor of this handle.
    #[error("{actor} is not a local actor of this server")]
    NotLocal {
        /// The actor given.
        actor: Iri,
    },
    /// The `Follow` of the target could not be addressed (its inbox could
    /// not be had): the local actor keeps following the origin.
    #[error("{follower} cannot follow {target}: {reason}")]
    FollowNotSent {
        /// The local actor.
        follower: Iri,
        /// The account moved to.
        target: Iri,
        /// Why its inbox could not be had.
        reason: String,
    },
    /// The follow graph failed.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Sending the `Update` or `Move`, or a `Follow`/`Undo`, failed.
    #[error("sending for a Move: {0}")]
    Send(#[source] Box<FederationError>),
}

impl MigrationError {
    /// Whether the sender caused this refusal (a forged, inconsistent or
    /// repeated `Move`): it will not pass on a retry. The ready-made
    /// handler's refusals are answered `403` and never retried by the
    /// inbound queue.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::NotAMove { .. }
                | Self::MissingTarget { .. }
                | Self::NotTheSender { .. }
                | Self::SameAccount { .. }
                | Self::NotAnActor { .. }
                | Self::NotAnAlias { .. }
                | Self::NotMovedTo { .. }
                | Self::TargetMoved { .. }
                | Self::Cooldown { .. }
        ) || matches!(self, Self::Fetch { source, .. }
            if matches!(**source, FetchError::NotFound { .. } | FetchError::Gone { .. }
                | FetchError::OriginMismatch { .. } | FetchError::NotAtItsId { .. }
                | FetchError::MissingId { .. } | FetchError::Blocked { .. }
                | FetchError::CrossOriginRedirect { .. }))
    }
}

impl From<FederationError> for MigrationError {
    fn from(e: FederationError) -> Self {
        MigrationError::Send(Box::new(e))
    }
}
