//! [`FederationError`]: the application layer's errors in one enum, each
//! module's own error wrapped, so `?` works across the layer and into
//! [`archipel::Error`](crate::Error).

use crate::vocab::Iri;

/// Why the application layer could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// The builder was not given an HTTP client (and the `client` feature,
    /// which provides the default, is off).
    #[error("federation: no HTTP client configured (with_client, or the `client` feature)")]
    NoClient,
    /// A base URL or local name was refused.
    #[error(transparent)]
    Paths(#[from] super::paths::PathsError),
    /// The key store failed.
    #[error(transparent)]
    Keys(#[from] super::keys::KeyStoreError),
    /// The follow graph's store failed.
    #[error(transparent)]
    Graph(#[from] super::graph::GraphError),
    /// A remote actor could not be had.
    #[error(transparent)]
    Remote(#[from] super::remote::RemoteError),
    /// A client-to-server post was refused.
    #[error(transparent)]
    Outbox(#[from] super::outbox::OutboxError),
    /// The serving guard could not decide.
    #[error(transparent)]
    Visibility(#[from] super::visibility::VisibilityError),
    /// A collection request or walk failed.
    #[error(transparent)]
    Collection(#[from] super::collection::CollectionError),
    /// An inbound activity was refused by the authorization rules, or its
    /// handler failed.
    #[error(transparent)]
    Dispatch(#[from] super::dispatch::DispatchError),
    /// A remote actor could not be found from an IRI or a handle.
    #[error(transparent)]
    Lookup(#[from] super::lookup::LookupError),
    /// The post store failed.
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    /// A document was not served.
    #[error(transparent)]
    Serve(#[from] super::serve::ServeError),
    /// The default HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// Planning or queueing the delivery failed.
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// A `Move` was not sent, or not believed.
    #[error(transparent)]
    Migration(#[from] super::migration::MigrationError),
    /// A followers-synchronization header was refused, or reconciling failed.
    #[error(transparent)]
    FollowersSync(#[from] super::followers_sync::FollowersSyncError),
    /// A quote was not requested, authorized or believed.
    #[error(transparent)]
    Quotes(#[from] super::quotes::QuoteError),
    /// A relay subscription could not be made or kept.
    #[error(transparent)]
    Relay(#[from] super::relay::RelayError),
    /// A fan-out job could not be written.
    #[error(transparent)]
    Fanout(#[from] super::fanout::FanoutError),
    /// The operating system's random source failed (ids cannot be made).
    #[error("random source: {0}")]
    Random(String),
    /// A `Create` was asked for a `Link`, which has no addressing.
    #[error("a Link cannot be the object of a Create built here")]
    NotAnObject,
    /// An activity to send was not performed by the author passed with it.
    #[error("activity actor {actor:?} is not the sending actor {author}")]
    NotTheAuthor {
        /// The activity's `actor`.
        actor: Option<String>,
        /// The local actor sending it.
        author: Iri,
    },
    /// [`Federation::send_to`](super::Federation::send_to) of an activity
    /// addressed otherwise than the one its [`Audience`](super::Audience)
    /// was resolved from: another rendering must keep the same addressing,
    /// or a follower-only post could go out as a public one.
    #[error(
        "activity {activity:?} is not addressed as the activity its audience was resolved from"
    )]
    AudienceMismatch {
        /// The activity's `id`.
        activity: Option<String>,
    },
    /// `unfollow` of someone the local actor does not follow or asked to.
    #[error("{follower} has no Follow of {followee} to undo")]
    NotFollowing {
        /// The local actor.
        follower: Iri,
        /// The remote actor.
        followee: Iri,
    },
    /// `accept`/`reject` called with a local actor that is not the followee.
    #[error("{actor} is not the followee {followee}")]
    NotTheFollowee {
        /// The local actor given.
        actor: Iri,
        /// The Follow's object.
        followee: Iri,
    },
}
