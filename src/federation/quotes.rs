//! Consent-respecting quote posts (FEP-044f), as Mastodon 4.5 speaks them:
//! a quote is shown *as a quote* only when the quoted author's server
//! authorized it.
//!
//! # The decisions it makes
//!
//! **Quoted side** ([`Quotes::handle_request`]). A `QuoteRequest` reaches
//! [`Dispatcher::on_quote_request`](super::dispatch::Dispatcher::on_quote_request)
//! only when its `object` is a post of this server and its `instrument`
//! (the quote post) is on the sender's origin. The post's author and
//! [`QuotePolicy`] come from the application ([`QuoteTargets`]; for the
//! library's [`Posts`](super::store::Posts), the post's own `interactionPolicy`). The policy
//! gives a typed [`QuoteDecision`]:
//! [`Automatic`](QuoteDecision::Automatic) issues a dereferenceable
//! [`QuoteAuthorization`] (kept in a bounded [`AuthorizationStore`],
//! served by [`Routes::with_quotes`](super::routes::Routes::with_quotes)
//! at `/users/{name}/quote_authorizations/{id}`) and sends an `Accept`
//! whose `result` is it; [`Manual`](QuoteDecision::Manual) keeps the
//! request pending (bounded) until [`Quotes::approve`] or
//! [`Quotes::refuse`]; [`Refused`](QuoteDecision::Refused) sends a
//! `Reject`. **The safe default**: a post without a policy, and a post
//! that is not public or unlisted, may be quoted by its author only
//! ([`QuotePolicy::default`]). [`Quotes::revoke`] deletes an authorization
//! (it is no longer served) and sends its `Delete`.
//!
//! **Quoter's side** ([`Quotes::request`]). A post with `quote` is sent as
//! a `QuoteRequest` to the quoted author, and stays a plain link (no
//! `quoteAuthorization`) until the author's `Accept` arrives
//! ([`Quotes::handle_reply`]): the authorization it names is then fetched
//! and checked exactly as a receiver would ([`Quotes::verify`]) before
//! [`Quotes::attach`] adds it to the post. A `Reject`, or a `Delete` of the
//! authorization ([`Quotes::handle_revocation`]), leaves the post a link.
//!
//! **Receiver's side** ([`Quotes::verify`]). A quote post is a
//! [`QuoteCheck::Quote`] only when its author is the quoted author (a
//! self-quote), or its `quoteAuthorization` is on the quoted author's
//! origin, fetched from there now (never from a cache: a revoked one
//! must fail), is a `QuoteAuthorization`, names this quote as its
//! `interactingObject` and the quoted post as its `interactionTarget`,
//! and is `attributedTo` the quoted post's author (the quoted post itself
//! fetched from its origin). Anything else is a [`QuoteCheck::Link`] with
//! the typed reason.
//!
//! **Bounds.** Authorizations: [`DEFAULT_MAX_AUTHORIZATIONS`] (a new one
//! past it is refused, never an old one dropped), of which quoters on one
//! host hold at most [`DEFAULT_MAX_AUTHORIZATIONS_PER_HOST`], and
//! requests pending approval from one host at most
//! [`DEFAULT_MAX_PENDING_PER_HOST`] (a request past either is answered
//! with a `Reject`), in memory by default, in
//! SQLite with `SqliteAuthorizations` (feature `sqlite`) so they survive a
//! restart ([`Quotes::with_store`]). Pending requests and
//! sent requests: [`DEFAULT_MAX_PENDING`] and [`DEFAULT_MAX_SENT`], the
//! oldest forgotten first (a late answer to a forgotten request is
//! ignored), in memory by default; with a [`QuoteRequestStore`]
//! (`SqliteQuoteRequests`, feature `sqlite`; [`Quotes::with_requests`])
//! each is written there before the request is sent or the inbox handler
//! returns, and read back at start, so a restart loses neither a request
//! awaiting approval nor the one a late `Accept` answers. At most one
//! fetch of the quoted post and one of the authorization per check.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use archipel::federation::Federation;
//! use archipel::federation::quotes::{QuoteAudience, QuoteDecision, QuotePolicy, QuoteTarget, Quotes};
//! use archipel::vocab::Iri;
//! let fed = Federation::builder("https://a.example".parse()?).build().await?;
//! let alice = fed.actor("alice").await?;
//! let quotes = Quotes::new(&fed);
//! let bob = Iri::parse("https://b.example/users/bob")?;
//!
//! // Without a policy, only alice may quote alice.
//! let post = QuoteTarget::new(alice.id().clone(), QuotePolicy::default());
//! assert_eq!(quotes.decide(&post, &bob).await?, QuoteDecision::Refused);
//! assert_eq!(quotes.decide(&post, alice.id()).await?, QuoteDecision::Automatic);
//!
//! // Anyone, after alice approves.
//! let post = QuoteTarget::new(
//!     alice.id().clone(),
//!     QuotePolicy::default().with_manual(QuoteAudience::Public),
//! );
//! assert_eq!(quotes.decide(&post, &bob).await?, QuoteDecision::Manual);
//! # Ok(()) }
//! ```

mod error;
mod policy;
mod quoter;
mod requests;
pub(crate) mod rules;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_requests;
mod store;
#[cfg(test)]
mod tests;
mod verify;

pub use error::QuoteError;
pub use policy::{
    PostTargets, QuoteAudience, QuoteDecision, QuotePolicy, QuoteTarget, QuoteTargets,
};
pub use quoter::{QuoteOutcome, QuoteState, SentQuote};
pub use requests::QuoteRequestStore;
pub use rules::{QuoteReply, QuoteRequest};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteAuthorizations;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite_requests::SqliteQuoteRequests;
pub use store::{
    AuthorizationStore, DEFAULT_MAX_AUTHORIZATIONS, DEFAULT_MAX_AUTHORIZATIONS_PER_HOST,
    MemoryAuthorizations, QuoteAuthorization,
};
pub use verify::{QuoteCheck, VerifiedQuote};

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Response;

use crate::vocab::{Activity, AnyObject, Iri, Kind, Reference};

use super::dispatch::Dispatcher;
use super::hub::{Federation, Sent};
use super::local::LocalActor;
use super::paths::Paths;

/// The default of [`QuotesConfig::max_pending`]: requests awaiting manual
/// approval.
pub const DEFAULT_MAX_PENDING: usize = 10_000;
/// The default of [`QuotesConfig::max_pending_per_host`]: requests
/// awaiting manual approval from quoters on one host, 500 (5% of
/// [`DEFAULT_MAX_PENDING`]). Past it a new request from that host is
/// answered with a `Reject`, so one server cannot push every other
/// server's requests out of the table (the oldest are forgotten first).
pub const DEFAULT_MAX_PENDING_PER_HOST: usize = 500;
/// The default of [`QuotesConfig::max_sent`]: quote requests this server
/// sent and awaits an answer to.
pub const DEFAULT_MAX_SENT: usize = 10_000;
/// The route suffix of authorizations under a local actor.
pub const AUTHORIZATIONS_SUFFIX: &str = "quote_authorizations";

/// The bounds of [`Quotes`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QuotesConfig {
    /// Requests awaiting manual approval kept (the oldest forgotten
    /// first). Default [`DEFAULT_MAX_PENDING`].
    pub max_pending: usize,
    /// Requests awaiting manual approval kept from quoters on one host;
    /// a further one is refused. Default [`DEFAULT_MAX_PENDING_PER_HOST`].
    pub max_pending_per_host: usize,
    /// Sent requests awaiting an answer kept. Default [`DEFAULT_MAX_SENT`].
    pub max_sent: usize,
}

impl Default for QuotesConfig {
    fn default() -> Self {
        QuotesConfig {
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_per_host: DEFAULT_MAX_PENDING_PER_HOST,
            max_sent: DEFAULT_MAX_SENT,
        }
    }
}

impl QuotesConfig {
    /// Sets [`QuotesConfig::max_pending`] (at least one).
    pub fn with_max_pending(mut self, n: usize) -> Self {
        self.max_pending = n.max(1);
        self
    }

    /// Sets [`QuotesConfig::max_pending_per_host`] (at least one).
    pub fn with_max_pending_per_host(mut self, n: usize) -> Self {
        self.max_pending_per_host = n.max(1);
        self
    }

    /// Sets [`QuotesConfig::max_sent`] (at least one).
    pub fn with_max_sent(mut self, n: usize) -> Self {
        self.max_sent = n.max(1);
        self
    }
}

/// A quote request waiting for its author's approval.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PendingQuote {
    /// The request (its `id` is what [`Quotes::approve`] takes).
    pub request: QuoteRequest,
    /// The quoted post's local author.
    pub author: Iri,
}

impl PendingQuote {
    /// `request`, for a post of `author` (for a [`QuoteRequestStore`]
    /// reading one back).
    pub fn new(request: QuoteRequest, author: Iri) -> Self {
        PendingQuote { request, author }
    }
}

/// FEP-044f quote posts for one [`Federation`] (see the [module
/// docs](self)). Cheap to clone; clones share their state.
#[derive(Clone)]
pub struct Quotes {
    fed: Federation,
    targets: Option<Arc<dyn QuoteTargets>>,
    store: Arc<dyn AuthorizationStore>,
    requests: Option<Arc<dyn QuoteRequestStore>>,
    config: QuotesConfig,
    state: Arc<Mutex<State>>,
}

pub(crate) struct State {
    pending: store::PendingTable,
    pub(crate) sent: store::Bounded<SentQuote>,
}

impl std::fmt::Debug for Quotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quotes")
            .field("targets", &self.targets.is_some())
            .finish_non_exhaustive()
    }
}

impl Quotes {
    /// Quote posts for `fed`, with an in-memory authorization store and
    /// the default bounds; no local post can be quoted until
    /// [`Quotes::with_targets`] says which posts exist.
    pub fn new(fed: &Federation) -> Quotes {
        Quotes::with_config(fed, QuotesConfig::default())
    }

    /// As [`Quotes::new`], with other bounds.
    pub fn with_config(fed: &Federation, config: QuotesConfig) -> Quotes {
        Quotes {
            fed: fed.clone(),
            targets: None,
            store: Arc::new(MemoryAuthorizations::default()),
            requests: None,
            config: config.clone(),
            state: Arc::new(Mutex::new(State {
                pending: store::PendingTable::new(config.max_pending),
                sent: store::Bounded::new(config.max_sent),
            })),
        }
    }

    /// Where the quoted posts' authors and policies come from.
    pub fn with_targets(mut self, targets: Arc<dyn QuoteTargets>) -> Quotes {
        self.targets = Some(targets);
        self
    }

    /// Keeps issued authorizations in `store` (a durable one survives a
    /// restart; the default is in memory).
    pub fn with_store(mut self, store: Arc<dyn AuthorizationStore>) -> Quotes {
        self.store = store;
        self
    }

    /// Keeps the requests awaiting an answer (pending approval, sent) in
    /// `store` too, so they survive a restart (the default is memory
    /// only), and reads back the ones it holds, oldest first, within
    /// [`QuotesConfig`]'s caps. Call it once, before serving.
    ///
    /// # Errors
    /// The store's failure to read them.
    pub async fn with_requests(
        mut self,
        store: Arc<dyn QuoteRequestStore>,
    ) -> Result<Quotes, QuoteError> {
        let pending = store.load_pending().await?;
        let sent = store.load_sent().await?;
        {
            let mut state = self.state();
            for p in pending {
                state.pending.insert(p, false);
            }
            for s in sent {
                state.sent.insert(s.request.clone(), s);
            }
        }
        self.requests = Some(store);
        Ok(self)
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Each update is a single insert or remove: a poisoned lock still
        // holds consistent tables.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The [`QuoteDecision`] for `quoter` quoting a post `target` (no
    /// side effect): the author always, then the automatic audiences, then
    /// the manual ones; anyone else is refused.
    ///
    /// # Errors
    /// [`QuoteError::Federation`] if the follow graph cannot be read.
    pub async fn decide(
        &self,
        target: &QuoteTarget,
        quoter: &Iri,
    ) -> Result<QuoteDecision, QuoteError> {
        if quoter == &target.author {
            return Ok(QuoteDecision::Automatic);
        }
        if self
            .matches(&target.policy.automatic, &target.author, quoter)
            .await?
        {
            return Ok(QuoteDecision::Automatic);
        }
        if self
            .matches(&target.policy.manual, &target.author, quoter)
            .await?
        {
            return Ok(QuoteDecision::Manual);
        }
        Ok(QuoteDecision::Refused)
    }

    async fn matches(
        &self,
        audiences: &[QuoteAudience],
        author: &Iri,
        quoter: &Iri,
    ) -> Result<bool, QuoteError> {
        let graph = self.fed.graph();
        for who in audiences {
            let hit = match who {
                QuoteAudience::Public => true,
                QuoteAudience::Actor(iri) => iri == quoter,
                QuoteAudience::Followers => graph
                    .is_follower(author, quoter)
                    .await
                    .map_err(super::FederationError::from)?,
                QuoteAudience::Following => self.follows(author, quoter).await?,
            };
            if hit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    // Read a page of the author's following, not the whole list.
    async fn follows(&self, author: &Iri, quoter: &Iri) -> Result<bool, QuoteError> {
        super::migration::follows(self.fed.graph().as_ref(), author, quoter)
            .await
            .map_err(|e| QuoteError::from(super::FederationError::from(e)))
    }

    /// Handles a `QuoteRequest` the dispatcher authorized: decides from the
    /// quoted post's policy, then issues the authorization and sends the
    /// `Accept`, keeps the request pending, or sends the `Reject`.
    ///
    /// # Errors
    /// [`QuoteError::UnknownPost`] when the application knows no such
    /// post (nothing is sent: the sender learns nothing about it);
    /// [`QuoteError::Full`] when a bounded table is full; the sending's
    /// failure. A request from a host whose quoters already hold their
    /// share of the authorizations ([`QuoteError::HostFull`]) or of the
    /// pending requests ([`QuotesConfig::max_pending_per_host`]) is
    /// answered with a `Reject`: [`QuoteDecision::Refused`].
    pub async fn handle_request(&self, request: QuoteRequest) -> Result<QuoteDecision, QuoteError> {
        let target = self.target(&request.quoted).await?;
        let decision = self.decide(&target, &request.quoter).await?;
        match decision {
            QuoteDecision::Automatic => match self.authorize(&target.author, &request).await {
                Ok(_) => {}
                Err(QuoteError::HostFull { .. }) => {
                    self.send_reject(&target.author, &request).await?;
                    return Ok(QuoteDecision::Refused);
                }
                Err(e) => return Err(e),
            },
            QuoteDecision::Manual => {
                // The host's place is taken before the request is stored.
                let host = store::quoter_host(&request.quoter);
                let reserved = self.state().pending.reserve(
                    &request.id,
                    &host,
                    self.config.max_pending_per_host,
                );
                let Some(reserved) = reserved else {
                    self.send_reject(&target.author, &request).await?;
                    return Ok(QuoteDecision::Refused);
                };
                // Kept by its ids only: a remote peer's requests must not
                // make the pending table (memory and store) hold their
                // whole bodies.
                let mut request = request;
                request.activity = request.compact();
                let pending = PendingQuote::new(request, target.author);
                // Durable before the inbox answers: nothing accepted is lost.
                if let Some(store) = &self.requests
                    && let Err(e) = store.put_pending(&pending, self.config.max_pending).await
                {
                    if reserved {
                        self.state().pending.unreserve(&host);
                    }
                    return Err(e);
                }
                self.state().pending.insert(pending, reserved);
            }
            QuoteDecision::Refused => {
                self.send_reject(&target.author, &request).await?;
            }
        }
        Ok(decision)
    }

    async fn target(&self, post: &Iri) -> Result<QuoteTarget, QuoteError> {
        let unknown = || QuoteError::UnknownPost { post: post.clone() };
        let Some(targets) = &self.targets else {
            return Err(unknown());
        };
        let target = targets.target(post).await.map_err(|e| QuoteError::Lookup {
            post: post.clone(),
            reason: e.to_string(),
        })?;
        target.ok_or_else(unknown)
    }

    /// The requests of `author`'s posts awaiting approval (at most
    /// [`QuotesConfig::max_pending`] in all).
    pub fn pending(&self, author: &Iri) -> Vec<PendingQuote> {
        self.state()
            .pending
            .values()
            .filter(|p| &p.author == author)
            .cloned()
            .collect()
    }

    /// Approves a pending request for a post of `by`: issues the
    /// authorization and sends the `Accept`. Only the quoted post's author
    /// decides: a request for someone else's post is not pending for `by`.
    ///
    /// # Errors
    /// [`QuoteError::NotPending`] if no such request waits for `by`; as
    /// [`Quotes::handle_request`].
    pub async fn approve(
        &self,
        by: &LocalActor,
        request: &Iri,
    ) -> Result<QuoteAuthorization, QuoteError> {
        let pending = self.pending_request(by, request)?;
        let auth = self.authorize(&pending.author, &pending.request).await?;
        self.forget_pending(request).await?;
        Ok(auth)
    }

    /// Refuses a pending request for a post of `by`: sends the `Reject`.
    ///
    /// # Errors
    /// [`QuoteError::NotPending`] if no such request waits for `by`; the
    /// sending's failure.
    pub async fn refuse(&self, by: &LocalActor, request: &Iri) -> Result<Sent, QuoteError> {
        let pending = self.pending_request(by, request)?;
        let sent = self.send_reject(&pending.author, &pending.request).await?;
        self.forget_pending(request).await?;
        Ok(sent)
    }

    fn pending_request(&self, by: &LocalActor, request: &Iri) -> Result<PendingQuote, QuoteError> {
        self.state()
            .pending
            .get(request)
            .filter(|p| &p.author == by.id())
            .cloned()
            .ok_or_else(|| QuoteError::NotPending {
                request: request.clone(),
            })
    }

    // Forgotten only once answered: a failed answer leaves it pending,
    // to approve or refuse again.
    async fn forget_pending(&self, request: &Iri) -> Result<(), QuoteError> {
        if let Some(store) = &self.requests {
            store.remove_pending(request).await?;
        }
        self.state().pending.remove(request);
        Ok(())
    }

    fn local(&self, author: &Iri) -> Result<LocalActor, QuoteError> {
        self.fed
            .local_by_id(author)
            .ok_or_else(|| QuoteError::NotLocal {
                actor: author.clone(),
            })
    }

    async fn authorize(
        &self,
        author: &Iri,
        request: &QuoteRequest,
    ) -> Result<QuoteAuthorization, QuoteError> {
        let actor = self.local(author)?;
        let random = Paths::new_id().map_err(|e| super::FederationError::Random(e.to_string()))?;
        let id = Iri::new_unchecked(format!("{}/{AUTHORIZATIONS_SUFFIX}/{random}", actor.id()));
        let auth = self
            .store
            .insert(QuoteAuthorization {
                id,
                author: author.clone(),
                quote: request.quote.clone(),
                target: request.quoted.clone(),
                quoter: request.quoter.clone(),
                request: request.id.clone(),
            })
            .await?;
        let mut accept = Activity::new(
            Kind::Accept,
            Iri::new_unchecked(format!("{}#accept", auth.id)),
            author.clone(),
        );
        accept.base.to = Some(request.quoter.clone().into());
        accept.object = Some(Reference::from(request.embedded()).into());
        accept.result = Some(auth.id.clone().into());
        self.fed.send(&actor, &accept).await?;
        Ok(auth)
    }

    async fn send_reject(&self, author: &Iri, request: &QuoteRequest) -> Result<Sent, QuoteError> {
        let actor = self.local(author)?;
        let mut reject = Activity::new(Kind::Reject, self.fed.new_activity_id()?, author.clone());
        reject.base.to = Some(request.quoter.clone().into());
        reject.object = Some(Reference::from(request.embedded()).into());
        Ok(self.fed.send(&actor, &reject).await?)
    }

    /// Revokes an authorization: it is no longer served (so every check
    /// of the quote fails from now on), and its `Delete` goes to the
    /// quoter's server.
    ///
    /// Only the quoted author (`by`) revokes their authorizations.
    ///
    /// # Errors
    /// [`QuoteError::UnknownAuthorization`] if `by` issued none with this
    /// id; the sending's failure.
    pub async fn revoke(
        &self,
        by: &LocalActor,
        authorization: &Iri,
    ) -> Result<QuoteAuthorization, QuoteError> {
        let unknown = || QuoteError::UnknownAuthorization {
            authorization: authorization.clone(),
        };
        match self.store.get(authorization).await? {
            Some(auth) if &auth.author == by.id() => {}
            _ => return Err(unknown()),
        }
        let auth = self.store.remove(authorization).await?.ok_or_else(|| {
            QuoteError::UnknownAuthorization {
                authorization: authorization.clone(),
            }
        })?;
        let actor = self.local(&auth.author)?;
        let mut delete = Activity::new(
            Kind::Delete,
            Iri::new_unchecked(format!("{}#delete", auth.id)),
            auth.author.clone(),
        );
        delete.base.to =
            Some(Iri::new_unchecked("https://www.w3.org/ns/activitystreams#Public").into());
        delete.base.cc = Some(auth.quoter.clone().into());
        delete.object = Some(auth.id.clone().into());
        self.fed.send(&actor, &delete).await?;
        Ok(auth)
    }

    /// The authorization with this id, if issued and not revoked.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn authorization(&self, id: &Iri) -> Result<Option<QuoteAuthorization>, QuoteError> {
        self.store.get(id).await
    }

    /// Serves `GET /users/{name}/quote_authorizations/{id}`: the
    /// authorization document, public (anyone checking the quote must read
    /// it), or `404` when unknown or revoked.
    pub async fn serve(&self, name: &str, id: &str) -> Response<Bytes> {
        let not_found = || {
            let mut r = Response::new(Bytes::from_static(b"no such quote authorization"));
            *r.status_mut() = http::StatusCode::NOT_FOUND;
            r
        };
        let Some(actor) = self.fed.local(name) else {
            return not_found();
        };
        if Paths::check_name(id).is_err() {
            return not_found();
        }
        let iri = Iri::new_unchecked(format!("{}/{AUTHORIZATIONS_SUFFIX}/{id}", actor.id()));
        match self.store.get(&iri).await {
            // The IRI is under this actor: only its own authorizations match.
            Ok(Some(auth)) => super::serve::activity_json(&AnyObject::from(auth.to_object())),
            _ => not_found(),
        }
    }
}

impl Dispatcher {
    /// Handles quote posts with `quotes`: `QuoteRequest`s decided by
    /// policy ([`Quotes::handle_request`]), and the `Accept`/`Reject` of
    /// this server's requests ([`Quotes::handle_reply`]). An application
    /// that must hear of the outcome (to notify, or to `Update` the quote
    /// post) registers its own handlers calling the same methods.
    ///
    /// A revocation arrives as a `Delete` of the authorization, and the
    /// dispatcher has one `Delete` handler, the application's: call
    /// [`Quotes::handle_revocation`] from it (as `minimal_server` does),
    /// or a revoked quote stays approved here.
    pub fn with_quotes(self, quotes: &Quotes) -> Dispatcher {
        let (q1, q2) = (quotes.clone(), quotes.clone());
        self.on_quote_request(move |_cx, request| {
            let quotes = q1.clone();
            async move {
                quotes.handle_request(request).await?;
                Ok(())
            }
        })
        .on_quote_reply(move |cx, reply| {
            let quotes = q2.clone();
            async move {
                quotes.handle_reply(cx.actor(), &reply).await?;
                Ok(())
            }
        })
    }
}
