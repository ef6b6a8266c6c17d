//! The inbound pipeline: turn an incoming `POST` to an inbox into a
//! verified, typed activity, or a typed refusal with the right HTTP status.
//!
//! The steps, in order (each a small function in a submodule, so they can be
//! reused one by one):
//!
//! 1. **body size cap** — `413 Payload Too Large` past
//!    [`InboxConfig::max_body_bytes`];
//! 2. **content type** — `application/activity+json` or
//!    `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`
//!    (ActivityPub §7), else `415`;
//! 3. **signed at all** — a request without any signature header is refused
//!    at once (`401`); the body digest (`Digest`, RFC 3230, or
//!    `Content-Digest`, RFC 9530) is checked by the verifier in step 5,
//!    before any key is fetched, so the body is hashed once;
//! 4. **envelope** — `id`, `type` and `actor` must be present and at most
//!    [`InboxConfig::max_iri_bytes`] long (`400`); the
//!    actor's domain is checked against the [`DomainPolicy`] *before* any key
//!    is fetched, so a blocked server is never contacted (`403`);
//! 5. **signature** — the [`Verifier`](crate::signatures::Verifier) checks
//!    that the signature covers the digest and the digest matches the body,
//!    then the HTTP signature itself (draft-cavage-12 or RFC 9421), `401` on
//!    failure;
//!    with a public base URL ([`Inbox::with_public_base`]) every
//!    authority-bearing component (draft-cavage `host`, RFC 9421
//!    `@authority`, `@target-uri`, `@scheme`, `host`) comes from it, never
//!    from the sender's `Host` header; **without one, the `Host` header is
//!    trusted**, so a server behind a proxy or known by one name must set
//!    it; the key is fetched by [`ActorKeyResolver`] (origin, media type,
//!    owner and budget checks); a key on a blocked domain answers `403`, a
//!    spent key-fetch budget `503`, any other key refusal `401`;
//! 6. **key owner** — the verified key's owner must be the activity's
//!    `actor`, else `401` ([`InboxError::ActorMismatch`]), unless the inbox
//!    accepts forwarded activities ([`Inbox::with_forwarding`]): then the
//!    signer is the *forwarder*, its domain is checked against the policy
//!    (`403`), and step 9b must establish the content as the actor's; the
//!    activity `id` must share the actor's origin (`400`);
//! 7. **domain policy** on the key's domain (`403`);
//! 8. **typed decoding** into an [`AnyObject`] (`400` on a vocabulary
//!    error), so a malformed activity never marks its id as seen;
//! 9. **authority** — an `Update` or `Delete` of another actor
//!    ([`InboxError::ForeignActor`]) or of an object on another origin than
//!    the actor's ([`InboxError::ForeignObject`]) is refused (`403`); see
//!    [What a signature proves](#what-a-signature-proves);
//!
//!    9b. **forwarded** — only for an activity signed by someone else: an
//!    id already accepted is a duplicate at once ([`SeenStore::contains`],
//!    sparing the fetches); otherwise the
//!    [`VerifyForwarded`] establishes its [`Authenticity`] (an LD signature
//!    or an integrity proof by the actor's key, or the same content fetched
//!    from the actor's origin), else `401` ([`InboxError::Forwarded`]), or
//!    `503` when the forwarder's or the origin's fetch budget is spent;
//! 10. **dedup** by activity `id` through a [`SeenStore`]: a repeat is
//!     answered `202 Accepted` and not handed over again. The store keeps a
//!     32-byte digest per id ([`id_digest`]), not the id.
//!
//! A success is an [`Incoming`] for the application's handler; it answers
//! `202 Accepted` (ActivityPub leaves the success code open; `202` is what
//! Mastodon and most peers send).
//!
//! # What a signature proves
//!
//! A verified HTTP signature proves one thing: the key's owner, who is the
//! activity's `actor`, sent this activity, with this `id` on the actor's
//! origin. It proves nothing about anyone else: an embedded `Note` may claim
//! any `attributedTo`, an `Announce` may carry a fabricated copy of someone
//! else's post. So [`Incoming::object`] hands over an embedded object only
//! when the sender speaks for it ([`EmbeddedObject::Trusted`]), and
//! otherwise only its IRI ([`EmbeddedObject::FetchFromOrigin`]), to be
//! dereferenced at its origin (with [`Fetcher`](crate::fetch::Fetcher),
//! which checks that the document comes from where it claims) or looked up
//! in the application's own store. In the table, *on origin* means the
//! object's `id` has the scheme, host and port of the actor's IRI, and
//! *author* means: for an actor document, its `id`; for an activity, every
//! `actor` entry; for any other object, every `attributedTo` entry (at least
//! one, all equal to the actor).
//!
//! | the activity | its `object` | the inbox | [`Incoming::object`] |
//! |---|---|---|---|
//! | any | an IRI | accepts | `FetchFromOrigin(iri)` |
//! | any (`Create`, `Update`, `Announce`, `Add`, `Undo`, …) | embedded, on origin, author = actor | accepts | `Trusted(object)` |
//! | any | embedded, author missing or someone else, or off origin | accepts | `FetchFromOrigin(id)` |
//! | any | embedded without `id` (transient), author = actor | accepts | `Trusted(object)`: it exists only in this signed activity |
//! | any | embedded without `id`, author missing or someone else | accepts | `Absent`: nothing to trust or fetch |
//! | `Announce` | someone else's post, embedded | accepts | `FetchFromOrigin(id)`: the announcer is not the author |
//! | `Update`, `Delete` | an actor document other than the actor | **refuses**, `403` [`InboxError::ForeignActor`] | — |
//! | `Update`, `Delete` | anything whose `id` is off the actor's origin | **refuses**, `403` [`InboxError::ForeignObject`] | — |
//! | `Update`, `Delete` | the actor itself | accepts | `Trusted` if embedded, else `FetchFromOrigin(actor)` |
//! | `Delete` | an object on the actor's origin | accepts | `FetchFromOrigin(id)` (a `Tombstone` proves nothing) |
//!
//! **Forwarded activities** (ActivityPub §7.1.2: a reply passed on to a
//! thread's followers, a relay's repeat) are HTTP-signed by a server other
//! than the actor's, so the HTTP signature proves only who passed them on
//! ([`Incoming::forwarded_by`]). With [`Inbox::with_forwarding`] such an
//! activity is accepted when one of these holds, recorded in
//! [`Incoming::authenticity`]; the rows above then apply as if the actor
//! had sent it, since each proves the actor wrote exactly this content:
//!
//! | proof | accepts | [`Authenticity`] |
//! |---|---|---|
//! | an `RsaSignature2017` LD signature by a key whose owner is the actor | any activity | `LdSignature` |
//! | a FEP-8b32 proof by a key the actor lists in `assertionMethod`, on the id's origin | any activity | `IntegrityProof` |
//! | the activity, fetched at its `id` on the actor's origin, has the same content | any activity | `Refetched { from: id }` |
//! | the activity is not served, but its embedded object, fetched at its `id` on the actor's origin, is the same, attributed to the actor, addressed as the activity | `Create`, `Update` | `Refetched { from: object }` |
//! | the activity is not served, and its object on the actor's origin answers `404`/`410` | `Delete` | `Refetched { from: object }` |
//! | none of these (or content that differs from the origin's: [`ForwardedError::ContentMismatch`]) | **refuses**, `401` | — |
//!
//! A forwarded activity never proves that the actor *sent* it, nor when:
//! it may be replayed by anyone who holds a copy, which the dedup store
//! answers as a duplicate while it remembers the id.
//!
//! What the library cannot know is who owns an IRI on a multi-user origin:
//! `https://b.example/users/mallory` may send `Delete` of
//! `https://b.example/notes/1`, written by `https://b.example/users/bob`.
//! Before applying an `Update` or `Delete` to something you stored, check
//! [`Incoming::may_modify`] with the owner you stored for it (its
//! `attributedTo`; for an actor, the actor itself). Activity types outside
//! the vocabulary are not classified ([`EmbeddedObject::Absent`]); their
//! properties stay raw in the activity's `extra`.

pub mod admission;
mod authority;
mod envelope;
mod forwarded;
pub mod gone;
pub mod queue;
mod seen;
#[cfg(feature = "delivery")]
mod trace;
mod verify;

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

pub use authority::EmbeddedObject;
pub use forwarded::{Authenticity, ForwardedError, SIGNER_MEMBERS, VerifyForwarded, same_content};
pub use seen::{MemorySeenStore, SeenStore, id_digest};
pub(crate) use verify::HostBudget;
pub use verify::{ActorKeyResolver, VerifyRequest};

use crate::policy::DomainPolicy;
use crate::signatures::{KeyRefusal, SignatureError, Verified};
use crate::vocab::{AnyObject, Iri, VocabError};

/// Longest input echoed back inside an error message.
const ECHO_LIMIT: usize = 200;

pub(crate) fn echo(s: &str) -> String {
    match s.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or_default()),
        None => s.to_owned(),
    }
}

/// Errors of the `inbox` module: why an incoming activity was refused.
///
/// Each variant maps to one HTTP status through [`InboxError::status`], so a
/// framework adaptor can answer the sender directly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The body is larger than the configured cap (`413`).
    #[error("request body: {actual} bytes exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// The configured cap.
        limit: usize,
        /// The size received (or announced by `Content-Length`).
        actual: usize,
    },
    /// The request carries no `Content-Type` header (`415`).
    #[error("Content-Type header: missing (expected application/activity+json)")]
    MissingContentType,
    /// The `Content-Type` is not an ActivityStreams type (`415`).
    #[error(
        "Content-Type header: {found:?} is not application/activity+json or application/ld+json with the ActivityStreams profile"
    )]
    UnsupportedContentType {
        /// The value received (truncated).
        found: String,
    },
    /// The request carries no `Signature` / `Signature-Input` header (`401`).
    #[error("Signature header: missing; inbox deliveries must be signed")]
    Unsigned,
    /// The HTTP signature did not verify, its key could not be obtained, or
    /// the body does not match its signed digest (`401`).
    #[error("signature: {0}")]
    Signature(#[source] SignatureError),
    /// The body is not JSON (`400`).
    #[error("activity body: invalid JSON: {reason}")]
    InvalidJson {
        /// The parser's description.
        reason: String,
    },
    /// The `id`, `type` or `actor` is longer than
    /// [`InboxConfig::max_iri_bytes`] (`400`), checked before the signature
    /// so an overlong id is never verified, stored or echoed whole.
    #[error("activity: {property:?} is {actual} bytes long, over the {limit}-byte limit")]
    PropertyTooLong {
        /// The property name (`id`, `type` or `actor`).
        property: &'static str,
        /// The configured limit.
        limit: usize,
        /// The length received.
        actual: usize,
    },
    /// A property the inbox needs is absent or not an IRI (`400`).
    #[error("activity: missing or malformed {property:?} property")]
    MissingProperty {
        /// The property name (`id`, `type` or `actor`).
        property: &'static str,
    },
    /// The activity names several actors (`400`): only one can be
    /// verified, and the others would travel on (forwarded, stored) as if
    /// they had acted too.
    #[error("activity: {count} distinct actors; one is needed")]
    SeveralActors {
        /// How many distinct actors it names.
        count: usize,
    },
    /// The verified key belongs to someone other than the activity's `actor` (`401`).
    #[error(
        "signature: key {key_id:?} is owned by {owner:?}, but the activity's actor is {actor:?}"
    )]
    ActorMismatch {
        /// The key that signed the request.
        key_id: String,
        /// The key's owner.
        owner: String,
        /// The activity's `actor`.
        actor: String,
    },
    /// The activity `id` is on another origin than its `actor` (`400`).
    #[error("activity id {id:?} is not on the origin of its actor {actor:?}")]
    IdOriginMismatch {
        /// The activity `id`.
        id: String,
        /// The activity `actor`.
        actor: String,
    },
    /// An `Update` or `Delete` names an actor other than its sender (`403`):
    /// an actor may only update or delete itself.
    #[error("{kind} of actor {object:?} sent by {actor:?}: an actor may only {kind} itself")]
    ForeignActor {
        /// `Update` or `Delete`.
        kind: &'static str,
        /// The actor named as the `object`.
        object: String,
        /// The sender.
        actor: String,
    },
    /// An `Update` or `Delete` names an object on another origin than its
    /// sender's (`403`): no server may change what another server holds.
    #[error("{kind} of {object:?} sent by {actor:?}: the object is not on the actor's origin")]
    ForeignObject {
        /// `Update` or `Delete`.
        kind: &'static str,
        /// The object's `id`.
        object: String,
        /// The sender.
        actor: String,
    },
    /// The sender's domain is refused by the domain policy (`403`).
    #[error("domain {host:?} is blocked by this server's domain policy")]
    Blocked {
        /// The refused host.
        host: String,
    },
    /// This activity `id` was already accepted (`202`, nothing more to do).
    #[error("activity {id:?} was already received")]
    Duplicate {
        /// The repeated activity `id`.
        id: String,
    },
    /// The body is JSON but not a valid ActivityStreams document (`400`).
    #[error("activity body: {0}")]
    Vocab(#[source] VocabError),
    /// An activity signed by another server than its actor's (forwarded,
    /// ActivityPub §7.1.2) whose authenticity could not be established
    /// (`401`; `503` when our fetch budget is spent). See
    /// [`Inbox::with_forwarding`].
    #[error("{0}")]
    Forwarded(#[source] ForwardedError),
}

impl InboxError {
    /// The HTTP status to answer the sender with.
    ///
    /// ```
    /// use archipel::inbox::InboxError;
    /// use http::StatusCode;
    /// assert_eq!(InboxError::Unsigned.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(
    ///     InboxError::Duplicate { id: "https://a.example/1".into() }.status(),
    ///     StatusCode::ACCEPTED
    /// );
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MissingContentType | Self::UnsupportedContentType { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            // Our own key-fetch budget, not the sender's fault: try later.
            Self::Signature(SignatureError::KeyResolution { reason, .. })
                if reason.is_transient() =>
            {
                StatusCode::SERVICE_UNAVAILABLE
            }
            // A key on a blocked domain is refused like a blocked actor.
            Self::Signature(SignatureError::KeyResolution {
                reason: KeyRefusal::Blocked { .. },
                ..
            }) => StatusCode::FORBIDDEN,
            Self::Forwarded(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forwarded(ForwardedError::Blocked { .. }) => StatusCode::FORBIDDEN,
            Self::Unsigned
            | Self::Signature(_)
            | Self::ActorMismatch { .. }
            | Self::Forwarded(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidJson { .. }
            | Self::MissingProperty { .. }
            | Self::SeveralActors { .. }
            | Self::PropertyTooLong { .. }
            | Self::IdOriginMismatch { .. }
            | Self::Vocab(_) => StatusCode::BAD_REQUEST,
            Self::Blocked { .. } | Self::ForeignActor { .. } | Self::ForeignObject { .. } => {
                StatusCode::FORBIDDEN
            }
            Self::Duplicate { .. } => StatusCode::ACCEPTED,
        }
    }
}

/// Limits of the inbound pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InboxConfig {
    /// Largest accepted body in bytes (default 256 KiB; real activities are
    /// a few KiB, Mastodon's own cap is 1 MiB).
    pub max_body_bytes: usize,
    /// Whether the activity `id` must be on the same origin as its `actor`
    /// (default `true`; it stops a server from minting ids in another's
    /// namespace).
    pub require_same_origin_id: bool,
    /// Longest accepted `id`, `actor` and `type` value in bytes (default
    /// [`InboxConfig::DEFAULT_MAX_IRI_BYTES`]); longer is refused with
    /// [`InboxError::PropertyTooLong`] (`400`). Real ids are under 200 bytes;
    /// the cap keeps a sender from filling the dedup store and logs with
    /// ids as large as the body cap.
    pub max_iri_bytes: usize,
}

impl InboxConfig {
    /// The default [`InboxConfig::max_iri_bytes`]: 2 KiB, ten times the
    /// longest ids seen in practice.
    pub const DEFAULT_MAX_IRI_BYTES: usize = 2048;

    /// Sets [`InboxConfig::max_body_bytes`].
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`InboxConfig::require_same_origin_id`].
    pub fn with_require_same_origin_id(mut self, required: bool) -> Self {
        self.require_same_origin_id = required;
        self
    }

    /// Sets [`InboxConfig::max_iri_bytes`].
    pub fn with_max_iri_bytes(mut self, bytes: usize) -> Self {
        self.max_iri_bytes = bytes;
        self
    }
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            require_same_origin_id: true,
            max_iri_bytes: Self::DEFAULT_MAX_IRI_BYTES,
        }
    }
}

/// A verified, deduplicated, typed activity, ready for the application.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Incoming {
    /// The activity `id`, as sent.
    pub id: Iri,
    /// The first `type` value (e.g. `"Follow"`).
    pub kind: String,
    /// The `actor` IRI, as sent: the verified key's owner, or, for a
    /// forwarded activity, the actor its [`Incoming::authenticity`] vouches
    /// for.
    pub actor: Iri,
    /// What the HTTP signature check established (key, owner, dialect,
    /// algorithm): for a forwarded activity, about the forwarder.
    pub verified: Verified,
    /// How the activity was established as its actor's: its own HTTP
    /// signature, or for a forwarded one, an LD signature, an integrity
    /// proof or a re-fetch from its origin.
    pub authenticity: Authenticity,
    /// The server that passed the activity on (the HTTP signer's key
    /// owner) when it is not the actor; `None` for a direct delivery.
    pub forwarded_by: Option<Iri>,
    /// The typed document, as sent. Objects embedded in it are the
    /// sender's claims: read them through [`Incoming::object`], which hands
    /// over only those the signature vouches for.
    pub activity: AnyObject,
    /// The exact received bytes, for storage or forwarding.
    pub body: Bytes,
}

impl Incoming {
    /// The activity's (first) `object`, as far as the signature vouches for
    /// it: [`EmbeddedObject::Trusted`] when embedded and authored by the
    /// actor on the actor's origin, else its IRI to fetch from its origin
    /// (see [What a signature proves](self#what-a-signature-proves)).
    pub fn object(&self) -> EmbeddedObject<'_> {
        self.objects().next().unwrap_or(EmbeddedObject::Absent)
    }

    /// Every entry of the activity's `object` (a `Flag` may name several),
    /// each classified as [`Incoming::object`] does.
    pub fn objects(&self) -> impl Iterator<Item = EmbeddedObject<'_>> {
        self.activity
            .as_activity()
            .into_iter()
            .flat_map(authority::objects_of)
            .map(|o| authority::classify(o, self.actor.as_str()))
    }

    /// Whether the sender may `Update` or `Delete` something your server
    /// stored as owned by `stored_owner` (its `attributedTo`; for an actor,
    /// the actor itself).
    ///
    /// The inbox already refuses changes to objects on another origin; on a
    /// multi-user origin only the application knows who owns what, so call
    /// this before applying the change.
    ///
    /// ```
    /// # fn demo(incoming: &archipel::inbox::Incoming) {
    /// use archipel::vocab::Iri;
    /// let stored_owner = Iri::new_unchecked("https://b.example/users/bob");
    /// if incoming.may_modify(&stored_owner) {
    ///     // apply the Update / Delete
    /// }
    /// # }
    /// ```
    pub fn may_modify(&self, stored_owner: &Iri) -> bool {
        *stored_owner == self.actor
    }

    /// The body as a generic JSON value (re-parsed; for storage or for
    /// properties the vocabulary does not model).
    pub fn json(&self) -> Result<serde_json::Value, InboxError> {
        serde_json::from_slice(&self.body).map_err(|e| InboxError::InvalidJson {
            reason: e.to_string(),
        })
    }
}

/// The inbound pipeline: verifier, domain policy, dedup store and limits.
///
/// Build one per server and share it (it is cheap to clone); call
/// [`Inbox::receive`] for every `POST` to a personal or shared inbox.
///
/// ```no_run
/// # async fn demo(client: std::sync::Arc<dyn archipel::client::HttpClient>,
/// #               request: http::Request<bytes::Bytes>) {
/// use std::sync::Arc;
/// use archipel::inbox::{ActorKeyResolver, Inbox};
/// use archipel::policy::DomainPolicy;
/// use archipel::signatures::{Verifier, VerifyPolicy};
///
/// let policy = DomainPolicy::new();
/// policy.block("spam.example").unwrap();
/// // Keys are fetched from the signer's actor document through `client`.
/// let verifier = Verifier::new(ActorKeyResolver::new(client), VerifyPolicy::default());
/// let inbox = Inbox::new(Arc::new(verifier)).with_domain_policy(policy)
///     .with_public_base(url::Url::parse("https://social.example").unwrap());
///
/// match inbox.receive(&request).await {
///     Ok(incoming) => println!("{} {} from {}", incoming.kind, incoming.id, incoming.actor),
///     Err(refusal) => println!("answer {}: {refusal}", refusal.status()),
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Inbox {
    verifier: Arc<dyn VerifyRequest>,
    policy: DomainPolicy,
    seen: Arc<dyn SeenStore>,
    config: InboxConfig,
    public_base: Option<PublicBase>,
    forwarding: Option<Arc<dyn VerifyForwarded>>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("config", &self.config)
            .field(
                "public_base",
                &self.public_base.as_ref().map(|b| b.url.as_str()),
            )
            .field("forwarding", &self.forwarding.is_some())
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// A pipeline verifying with `verifier`, with an empty (allow-all)
    /// [`DomainPolicy`], a bounded [`MemorySeenStore`] and the default
    /// [`InboxConfig`].
    pub fn new(verifier: Arc<dyn VerifyRequest>) -> Self {
        Self {
            verifier,
            policy: DomainPolicy::new(),
            seen: Arc::new(MemorySeenStore::default()),
            config: InboxConfig::default(),
            public_base: None,
            forwarding: None,
        }
    }

    /// Accepts forwarded activities (ActivityPub §7.1.2): one HTTP-signed
    /// by a server other than its actor's is accepted when `verifier`
    /// establishes that the actor wrote it ([`Authenticity`]), instead of
    /// being refused with [`InboxError::ActorMismatch`] (the default).
    ///
    /// Every other step still applies, to the actor *and* to the forwarder:
    /// the domain policy on both, the id's origin, authority and dedup.
    pub fn with_forwarding(mut self, verifier: Arc<dyn VerifyForwarded>) -> Self {
        self.forwarding = Some(verifier);
        self
    }

    /// Whether forwarded activities are verified ([`Inbox::with_forwarding`])
    /// rather than refused.
    pub fn accepts_forwarded(&self) -> bool {
        self.forwarding.is_some()
    }

    /// Filters with `policy`: activities whose actor is on a blocked host
    /// are refused. The policy is a shared handle, so blocks added later
    /// apply at once.
    pub fn with_domain_policy(mut self, policy: DomainPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the server's public base URL (e.g. `https://social.example`), from
    /// which every request's URI *and* `Host` header are rebuilt before
    /// verification ([`rebase_uri`]), so the verifier sees this server's
    /// authority whatever the sender put in `Host`.
    ///
    /// Signatures cover the authority they were made for: draft-cavage
    /// `host`, RFC 9421 `@authority` / `@target-uri` / `host` (§2.2). Without
    /// a public base, the request's `Host` header is trusted for them, and
    /// a signature made for `evil.example/inbox` verifies here if the
    /// request says `Host: evil.example`; behind a reverse proxy, or when
    /// reached as `127.0.0.1:PORT`, it is also simply wrong. Set it in
    /// production. Only the path and query of the request are then kept.
    pub fn with_public_base(mut self, base: url::Url) -> Self {
        self.public_base = Some(PublicBase::new(base));
        self
    }

    /// Replaces the dedup store (e.g. with a database-backed one).
    pub fn with_seen_store(mut self, seen: Arc<dyn SeenStore>) -> Self {
        self.seen = seen;
        self
    }

    /// Replaces the limits.
    pub fn with_config(mut self, config: InboxConfig) -> Self {
        self.config = config;
        self
    }

    /// The limits in force.
    pub fn config(&self) -> &InboxConfig {
        &self.config
    }

    /// The signature policy of the verifier, when it tells
    /// ([`VerifyRequest::policy`]): what a refusal's `Accept-Signature`
    /// challenge asks for.
    pub fn verify_policy(&self) -> Option<&crate::signatures::VerifyPolicy> {
        self.verifier.policy()
    }

    /// The dedup store, e.g. to [`SeenStore::forget`] an id whose handling failed.
    pub fn seen_store(&self) -> &Arc<dyn SeenStore> {
        &self.seen
    }

    /// Runs the whole pipeline on one request.
    ///
    /// `request`'s URI should be absolute (scheme and authority from the
    /// server's public base URL) when RFC 9421 signatures are to be verified;
    /// When a public base URL is set ([`Inbox::with_public_base`]) the URI is
    /// rebuilt from it first ([`rebase_uri`]), whatever `Host` says.
    pub async fn receive(&self, request: &http::Request<Bytes>) -> Result<Incoming, InboxError> {
        let pipeline = async {
            match &self.public_base {
                Some(base) => {
                    let mut rebased = request.clone();
                    base.apply(&mut rebased);
                    self.run(&rebased).await
                }
                None => self.run(request).await,
            }
        };
        self.traced(request.uri().path(), pipeline).await
    }

    /// [`receive`](Self::receive) on a request the caller owns (the inbox
    /// routes): rebased in place, without the copy of its headers
    /// `receive` makes. The request is left rebased.
    #[cfg(feature = "axum")]
    pub(crate) async fn receive_in_place(
        &self,
        request: &mut http::Request<Bytes>,
    ) -> Result<Incoming, InboxError> {
        if let Some(base) = &self.public_base {
            base.apply(request);
        }
        // The span names the rebased path (the base's own path included).
        let request = &*request;
        self.traced(request.uri().path(), self.run(request)).await
    }

    /// `pipeline` inside the activity's `tracing` span (`tracing` comes
    /// with `delivery`).
    async fn traced(
        &self,
        _path: &str,
        pipeline: impl std::future::Future<Output = Result<Incoming, InboxError>>,
    ) -> Result<Incoming, InboxError> {
        #[cfg(feature = "delivery")]
        return trace::receive(_path, pipeline).await;
        #[cfg(not(feature = "delivery"))]
        pipeline.await
    }

    async fn run(&self, request: &http::Request<Bytes>) -> Result<Incoming, InboxError> {
        let body = request.body();
        check_size(request.headers(), body.len(), self.config.max_body_bytes)?;
        check_content_type(request.headers())?;
        if !has_signature(request.headers()) {
            return Err(InboxError::Unsigned);
        }
        let envelope = envelope::parse(body, self.config.max_iri_bytes)?;
        let actor_host =
            host_of(&envelope.actor).ok_or(InboxError::MissingProperty { property: "actor" })?;
        self.check_domain(&actor_host)?;
        let verified = self
            .verifier
            .verify_request(request)
            .await
            .map_err(InboxError::Signature)?;
        let owner = verified_owner(&verified);
        let forwarding = if owner == envelope.actor {
            None
        } else {
            match &self.forwarding {
                Some(forwarding) => {
                    // The forwarder answers to the domain policy too.
                    if let Some(host) = host_of(owner) {
                        self.check_domain(&host)?;
                    }
                    Some(forwarding)
                }
                None => {
                    return Err(InboxError::ActorMismatch {
                        key_id: echo(verified.key_id.as_str()),
                        owner: echo(owner),
                        actor: echo(&envelope.actor),
                    });
                }
            }
        };
        if self.config.require_same_origin_id
            && !crate::client::same_origin(&envelope.id, &envelope.actor)
        {
            return Err(InboxError::IdOriginMismatch {
                id: echo(&envelope.id),
                actor: echo(&envelope.actor),
            });
        }
        if let Some(key_host) = host_of(verified.key_id.as_str()) {
            self.check_domain(&key_host)?;
        }
        let activity = AnyObject::from_slice(body).map_err(InboxError::Vocab)?;
        authority::check(&activity, &envelope.actor)?;
        let actor = Iri::new_unchecked(envelope.actor);
        let (authenticity, forwarded_by) = match forwarding {
            None => (Authenticity::HttpSignature, None),
            Some(forwarding) => {
                // A repeat of an accepted id is a duplicate whatever its
                // content: nothing reaches the application, so it need not
                // cost fetches again.
                if self.seen.contains(&envelope.id).await {
                    return Err(InboxError::Duplicate {
                        id: echo(&envelope.id),
                    });
                }
                // Verified before the id is marked seen: a forged copy must
                // not make the genuine activity a duplicate.
                let document: serde_json::Value =
                    serde_json::from_slice(body).map_err(|e| InboxError::InvalidJson {
                        reason: e.to_string(),
                    })?;
                let how = forwarding
                    .verify_forwarded(&document, &actor, Some(&verified.owner))
                    .await
                    .map_err(InboxError::Forwarded)?;
                (how, Some(verified.owner.clone()))
            }
        };
        if !self.seen.insert_if_new(&envelope.id).await {
            return Err(InboxError::Duplicate {
                id: echo(&envelope.id),
            });
        }
        Ok(Incoming {
            id: Iri::new_unchecked(envelope.id),
            kind: envelope.kind,
            actor,
            verified,
            authenticity,
            forwarded_by,
            activity,
            body: body.clone(),
        })
    }

    fn check_domain(&self, host: &str) -> Result<(), InboxError> {
        if self.policy.allows(host) {
            Ok(())
        } else {
            Err(InboxError::Blocked { host: echo(host) })
        }
    }
}

fn verified_owner(verified: &Verified) -> &str {
    verified.owner.as_str()
}

/// Step 1: refuses a body (or an announced `Content-Length`) over `limit`.
///
/// Framework adaptors should also stop *reading* at the limit; this check
/// covers bodies that were collected elsewhere.
pub fn check_size(headers: &http::HeaderMap, len: usize, limit: usize) -> Result<(), InboxError> {
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let actual = len.max(announced);
    if actual > limit {
        return Err(InboxError::BodyTooLarge { limit, actual });
    }
    Ok(())
}

/// Step 2: refuses a request whose `Content-Type` is not ActivityStreams.
pub fn check_content_type(headers: &http::HeaderMap) -> Result<(), InboxError> {
    let value = headers
        .get(http::header::CONTENT_TYPE)
        .ok_or(InboxError::MissingContentType)?;
    let text = value
        .to_str()
        .map_err(|_| InboxError::UnsupportedContentType {
            found: "(non-ASCII value)".to_owned(),
        })?;
    if crate::media_type::is_activitystreams(text) {
        Ok(())
    } else {
        Err(InboxError::UnsupportedContentType { found: echo(text) })
    }
}

fn has_signature(headers: &http::HeaderMap) -> bool {
    headers.contains_key("signature")
        || headers.contains_key("signature-input")
        || headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Signature "))
}

/// The lowercased host of an IRI, the key of domain policies and budgets
/// (one definition, in `client::origin`, for every module).
pub(crate) use crate::client::origin::host_of;

/// Rebuilds `request`'s URI as absolute from the server's public base URL,
/// keeping only the path and query of what was received, and sets its
/// `Host` header to the base's authority.
///
/// Servers behind a proxy, or reached as `127.0.0.1:8080`, must not trust
/// the `Host` header for draft-cavage `host` or RFC 9421 `@target-uri`
/// (§2.2.2): a signature made for another server would verify. This fixes
/// the scheme and authority to what the server advertises.
///
/// ```
/// let base = url::Url::parse("https://social.example").unwrap();
/// let req = http::Request::post("/users/alice/inbox?x=1")
///     .header("host", "evil.example")
///     .body(bytes::Bytes::new())
///     .unwrap();
/// let req = archipel::inbox::rebase_uri(req, &base);
/// assert_eq!(req.uri(), "https://social.example/users/alice/inbox?x=1");
/// assert_eq!(req.headers()["host"], "social.example");
/// ```
pub fn rebase_uri(mut request: http::Request<Bytes>, base: &url::Url) -> http::Request<Bytes> {
    PublicBase::new(base.clone()).apply(&mut request);
    request
}

/// A public base URL, with what [`rebase_uri`] derives from it computed
/// once: every received request is rebased.
#[derive(Debug, Clone)]
struct PublicBase {
    url: url::Url,
    /// The base's scheme and authority as the URI's, when they parse as
    /// such (`None`: the rebased URI is built and parsed whole).
    parts: Option<(http::uri::Scheme, http::uri::Authority)>,
    /// `scheme://authority/base-path` without the trailing `/`.
    prefix: String,
    /// Whether the base has a path of its own to put before the request's.
    has_path: bool,
    /// The base's authority as a `Host` value (`None`: not a valid one).
    host: Option<http::HeaderValue>,
}

impl PublicBase {
    fn new(url: url::Url) -> PublicBase {
        let authority = crate::client::authority(&url);
        let base_path = url.path().trim_end_matches('/');
        let prefix = format!("{}://{}{}", url.scheme(), authority, base_path);
        let parts = http::uri::Scheme::try_from(url.scheme())
            .ok()
            .zip(http::uri::Authority::try_from(authority.as_str()).ok());
        let host = http::HeaderValue::from_str(&authority).ok();
        PublicBase {
            has_path: !base_path.is_empty(),
            url,
            parts,
            prefix,
            host,
        }
    }

    fn apply(&self, request: &mut http::Request<Bytes>) {
        let path_and_query = request.uri().path_and_query().cloned();
        let rebased = match (&self.parts, path_and_query) {
            // The common case, a base without a path: the request's own
            // path and query, already parsed, under the base's origin.
            (Some((scheme, authority)), Some(pq)) if !self.has_path => {
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(scheme.clone());
                parts.authority = Some(authority.clone());
                parts.path_and_query = Some(pq);
                http::Uri::from_parts(parts).ok()
            }
            (_, pq) => {
                let pq = pq.as_ref().map_or("/", http::uri::PathAndQuery::as_str);
                let mut combined = String::with_capacity(self.prefix.len() + pq.len());
                combined.push_str(&self.prefix);
                combined.push_str(pq);
                http::Uri::try_from(combined).ok()
            }
        };
        if let Some(uri) = rebased {
            *request.uri_mut() = uri;
        }
        // Every `Host` the sender sent goes; only the base's authority stays.
        match &self.host {
            Some(host) => {
                let headers = request.headers_mut();
                let mut sent = headers.get_all(http::header::HOST).iter();
                match (sent.next(), sent.next()) {
                    (Some(one), None) if one == host => {}
                    // One `Host`: replaced where it stands. (`insert` makes
                    // room for an entry before it looks for the name, which
                    // regrows a map built to its exact size: most of what
                    // rebasing cost per request.)
                    (Some(_), None) => {
                        if let Some(value) = headers.get_mut(http::header::HOST) {
                            *value = host.clone();
                        }
                    }
                    _ => {
                        headers.insert(http::header::HOST, host.clone());
                    }
                }
            }
            None => {
                request.headers_mut().remove(http::header::HOST);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rebased(base: &str, target: &str, sent: &[&str]) -> (String, Option<String>) {
        let mut request = http::Request::post(target);
        for host in sent {
            request = request.header("host", *host);
        }
        let request = rebase_uri(request.body(Bytes::new()).unwrap(), &base.parse().unwrap());
        let host = request
            .headers()
            .get_all(http::header::HOST)
            .iter()
            .map(|h| h.to_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        assert!(host.len() <= 1, "one Host at most: {host:?}");
        (request.uri().to_string(), host.into_iter().next())
    }

    #[test]
    fn a_request_is_rebased_on_the_public_base_whatever_it_names() {
        let cases = [
            // base, target, expected URI, expected Host
            (
                "https://a.example",
                "/users/x/inbox?y=1",
                "https://a.example/users/x/inbox?y=1",
                "a.example",
            ),
            (
                "https://a.example/",
                "/inbox",
                "https://a.example/inbox",
                "a.example",
            ),
            (
                "http://127.0.0.1:8080",
                "/inbox",
                "http://127.0.0.1:8080/inbox",
                "127.0.0.1:8080",
            ),
            (
                "https://a.example:8443/",
                "http://evil.example/inbox",
                "https://a.example:8443/inbox",
                "a.example:8443",
            ),
            (
                "https://a.example/social/",
                "/users/x/inbox?y",
                "https://a.example/social/users/x/inbox?y",
                "a.example",
            ),
            (
                "https://a.example/social",
                "http://evil.example:1/inbox",
                "https://a.example/social/inbox",
                "a.example",
            ),
            (
                "https://a.example/?q=1#f",
                "/inbox",
                "https://a.example/inbox",
                "a.example",
            ),
        ];
        for (base, target, uri, host) in cases {
            // No Host, the right one, another one, two of them.
            let sent: [&[&str]; 4] = [&[], &[host], &["evil.example"], &["evil.example", host]];
            for sent in sent {
                assert_eq!(
                    rebased(base, target, sent),
                    (uri.to_owned(), Some(host.to_owned())),
                    "{base} + {target} (Host {sent:?})"
                );
            }
        }
    }

    #[test]
    fn statuses_cover_every_class() {
        assert_eq!(
            InboxError::BodyTooLarge {
                limit: 1,
                actual: 2
            }
            .status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            InboxError::MissingContentType.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            InboxError::Blocked { host: "x".into() }.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            InboxError::MissingProperty { property: "id" }.status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn size_check_uses_announced_length() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_LENGTH, "5000".parse().unwrap());
        assert!(matches!(
            check_size(&h, 10, 1000),
            Err(InboxError::BodyTooLarge {
                limit: 1000,
                actual: 5000
            })
        ));
    }

    #[test]
    fn echo_truncates_long_input() {
        let long = "é".repeat(500);
        let e = echo(&long);
        assert_eq!(e.chars().count(), ECHO_LIMIT + 1);
    }
}
