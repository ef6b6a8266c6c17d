//! [`Federation`]: the one handle a server holds. It binds the URL layout,
//! the instance actor and the local actors' keys, the signed fetcher, the
//! remote actor cache, the inbox and the delivery queue, so that each
//! decision below is made once:
//!
//! - **Which key signs.** Deliveries are signed with the author's own key
//!   (its key id is stored with each job and looked up in the local actors
//!   this handle loaded); every GET the server makes (key fetches, object
//!   fetches, collection walks) is signed by the instance actor, as
//!   Mastodon does, so servers that require signed fetches answer.
//! - **Where keys come from.** Local actors' keys are made on first use and
//!   persisted in the [`KeyStore`] before they sign anything; a remote
//!   actor's key is fetched from its actor document (never from the
//!   signature's word), through the bounded [`RemoteActors`] cache.
//! - **Who gets an activity.** [`Federation::send`] resolves the recipients
//!   from the activity's addressing ([`recipients`](super::recipients)),
//!   plans the delivery (one body, digested once, `bto`/`bcc` stripped,
//!   shared inboxes deduplicated) and persists the jobs before any request.
//!
//! ```
//! use archipel::federation::Federation;
//! use archipel::vocab::{Activity, AnyObject, Audience, Object};
//! # use std::sync::Arc;
//! # #[derive(Debug)] struct NoNetwork;
//! # #[async_trait::async_trait]
//! # impl archipel::client::HttpClient for NoNetwork {
//! #     async fn execute(&self, _: http::Request<bytes::Bytes>) -> Result<http::Response<bytes::Bytes>, archipel::client::ClientError> {
//! #         Err(archipel::client::ClientError::Connect { host: "any".into(), reason: "no network in this example".into() })
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fed = Federation::builder("https://books.example".parse()?)
//!     .with_client(Arc::new(NoNetwork))
//!     .build()
//!     .await?;
//! let alice = fed.actor("alice").await?; // keys made on first use
//! assert_eq!(alice.key_id().as_str(), "https://books.example/users/alice#main-key");
//!
//! // A followers-only note: with no followers yet, nothing to send.
//! let mut note = Object::new("Note").with_content("Hello, followers");
//! Audience::followers_only(alice.followers().clone()).apply(&mut note);
//! let create = fed.create(&alice, AnyObject::from(note))?;
//! let sent = fed.send(&alice, &create).await?;
//! assert!(sent.jobs.is_empty());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use url::Url;

use super::error::FederationError;
use super::fanout::FanoutConfig;
use super::graph::{Graph, MemoryGraph};
use super::keys::{KeyStore, MemoryKeyStore};
use super::local::LocalActor;
use super::paths::Paths;
use super::recipients::{RecipientResolver, Unresolved};
use super::remote::{ActorStore, MemoryActorStore, RemoteActors};
use crate::client::HttpClient;
use crate::delivery::{
    DeliveryError, DeliveryPlan, DeliveryQueue, JobId, MemoryQueue, NewActivity, PlanOptions,
    Recipient, SkipReason, Timestamp,
};
use crate::fetch::Fetcher;
use crate::inbox::{ActorKeyResolver, Inbox, MemorySeenStore, VerifyRequest};
use crate::policy::DomainPolicy;
use crate::signatures::{Signer, Verifier, VerifyPolicy};
use crate::vocab::{Activity, AnyObject, Iri, Kind, Reference, Visibility};

/// What [`Federation::send`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Sent {
    /// The `id` of the activity sent (a C2S client answers it in
    /// `Location`; an application keeps it to undo the activity later).
    pub activity: Option<Iri>,
    /// The delivery jobs persisted, one per inbox (empty when the delivery
    /// went to a fan-out job: see [`Sent::fanout`]), and the job of a
    /// public post to the accepted relays ([`relay`](super::relay)).
    pub jobs: Vec<JobId>,
    /// The fan-out job written for an activity addressed to the author's
    /// followers (in [`Federation::fanout_queue`]): workers expand it into
    /// delivery jobs later, in batches ([`fanout`](super::fanout)). The
    /// named recipients go with it, so one inbox gets the activity once.
    pub fanout: Option<JobId>,
    /// Local actors the activity was addressed to (deliver them locally;
    /// no HTTP request is made to this server).
    pub local: Vec<Iri>,
    /// Addressees that could not be resolved to an inbox, and why.
    pub unresolved: Vec<(Iri, Unresolved)>,
    /// Recipients left out past the resolver's cap.
    pub over_cap: usize,
    /// Inboxes the plan skipped (blocked domains, `Public`, local hosts).
    pub skipped: Vec<(Url, SkipReason)>,
}

/// Who an activity goes to, resolved by [`Federation::audience`] from its
/// addressing; sent with [`Federation::send_to`]. An application cannot
/// build one itself, only narrow one ([`Audience::split`]), so what it
/// sends never reaches anyone the addressing did not name.
#[derive(Debug)]
pub struct Audience {
    author: Iri,
    addressing: Addressing,
    recipients: Vec<Recipient>,
    local: Vec<Iri>,
    unresolved: Vec<(Iri, Unresolved)>,
    over_cap: usize,
}

impl Audience {
    /// The remote recipients, one per actor, in addressing order.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// Splits the remote recipients in two: those `first` keeps, and the
    /// rest. The first part carries what is not about remote recipients
    /// (local addressees, unresolved ones, the count left out past the
    /// cap), so that a [`Sent`] reports each once.
    pub fn split(self, mut first: impl FnMut(&Recipient) -> bool) -> (Audience, Audience) {
        let (kept, rest) = self.recipients.into_iter().partition(|r| first(r));
        let other = Audience {
            author: self.author.clone(),
            addressing: self.addressing.clone(),
            recipients: rest,
            local: Vec::new(),
            unresolved: Vec::new(),
            over_cap: 0,
        };
        let this = Audience {
            recipients: kept,
            ..self
        };
        (this, other)
    }
}

/// What [`Federation::send_to`] compares between renderings: the IRIs the
/// activity addresses (its embedded object's included) and how public the
/// activity and its embedded object are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Addressing {
    addressees: Vec<Iri>,
    visibility: Visibility,
    object_visibility: Option<Visibility>,
}

impl Addressing {
    fn of(activity: &Activity, author: &LocalActor) -> Addressing {
        let followers = Some(author.followers());
        let mut addressees = super::recipients::addressees(activity);
        // Order is a rendering detail; the set is what matters.
        addressees.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Addressing {
            addressees,
            visibility: activity.visibility(followers),
            object_visibility: activity
                .embedded_object()
                .and_then(AnyObject::as_object)
                .map(|o| o.visibility(followers)),
        }
    }
}

/// Builds a [`Federation`] (see [`Federation::builder`]).
pub struct FederationBuilder {
    base: Url,
    client: Option<Arc<dyn HttpClient>>,
    keys: Option<Arc<dyn KeyStore>>,
    graph: Option<Arc<dyn Graph>>,
    queue: Option<Arc<dyn DeliveryQueue>>,
    actor_store: Option<Arc<dyn ActorStore>>,
    domains: Option<DomainPolicy>,
    authorized_fetch: bool,
    ed25519: bool,
    plan: Option<PlanOptions>,
    fanout_queue: Option<Arc<dyn DeliveryQueue>>,
    fanout_config: FanoutConfig,
    followers_sync: super::followers_sync::FollowersSyncConfig,
    admission: Option<crate::inbox::admission::AdmissionConfig>,
    inbound: Option<Arc<dyn DeliveryQueue>>,
    gone_actor: Option<crate::inbox::gone::GoneActorHook>,
    object_signing: super::outbox::ObjectSigning,
    relays: Option<Arc<dyn super::relay::RelayStore>>,
}

impl std::fmt::Debug for FederationBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationBuilder")
            .field("base", &self.base.as_str())
            .field("authorized_fetch", &self.authorized_fetch)
            .finish_non_exhaustive()
    }
}

impl FederationBuilder {
    /// The HTTP client for every request (fetches and deliveries). With
    /// the `client` feature, the default is a `ReqwestClient`
    /// with the default [`FetchPolicy`](crate::client::FetchPolicy) (no
    /// private addresses).
    pub fn with_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.client = Some(client);
        self
    }

    /// Where local actors' keys are kept (default: in memory, lost on exit;
    /// use a [`FileKeyStore`](super::keys::FileKeyStore) or a SQLite store
    /// for a real server).
    pub fn with_key_store(mut self, keys: Arc<dyn KeyStore>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The follow relationships (default: [`MemoryGraph`]).
    pub fn with_graph(mut self, graph: Arc<dyn Graph>) -> Self {
        self.graph = Some(graph);
        self
    }

    /// The delivery queue (default: [`MemoryQueue`]).
    ///
    /// Given a delivery queue but no fan-out queue
    /// ([`with_fanout_queue`](Self::with_fanout_queue)), posts to followers
    /// are resolved and queued here at once, as [`Federation::send_to`]
    /// does, rather than kept as a fan-out job in memory where a restart
    /// would lose them: a durable delivery queue is never undermined by a
    /// forgotten second one.
    pub fn with_queue(mut self, queue: Arc<dyn DeliveryQueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Where remote actor documents are cached (default: [`MemoryActorStore`]).
    pub fn with_actor_store(mut self, store: Arc<dyn ActorStore>) -> Self {
        self.actor_store = Some(store);
        self
    }

    /// The domain policy, applied everywhere: the inbox, the fetcher, key
    /// resolution, delivery planning and the serving of documents.
    pub fn with_domain_policy(mut self, policy: DomainPolicy) -> Self {
        self.domains = Some(policy);
        self
    }

    /// Authorized-fetch mode (Mastodon's secure mode): actor and object
    /// documents only go to signed requests, except what Mastodon still
    /// serves unsigned (an actor's public-key subset, and the instance
    /// actor). Default off.
    pub fn with_authorized_fetch(mut self, on: bool) -> Self {
        self.authorized_fetch = on;
        self
    }

    /// Gives each local actor an Ed25519 key too, published as an FEP-521a
    /// `Multikey` (needs the `ed25519` or `aws-lc-rs` feature). Default off.
    pub fn with_ed25519(mut self, on: bool) -> Self {
        self.ed25519 = on;
        self
    }

    /// Delivery planning options (default: this server's host is local,
    /// shared inboxes used, the domain policy applied).
    pub fn with_plan_options(mut self, options: PlanOptions) -> Self {
        self.plan = Some(options);
        self
    }

    /// The inbox's admission limits (default: on, with
    /// [`AdmissionConfig::default`](crate::inbox::admission::AdmissionConfig)):
    /// per-origin and per-address rates and a concurrency limit, checked
    /// before any key fetch; [`AdmissionConfig::disabled`](crate::inbox::admission::AdmissionConfig::disabled)
    /// turns them off.
    pub fn with_admission(mut self, config: crate::inbox::admission::AdmissionConfig) -> Self {
        self.admission = Some(config);
        self
    }

    /// Processes inbound activities later: each verified activity is
    /// stored in `queue` (a queue of its own, not the delivery queue) and
    /// answered `202` at once; [`Federation::start_inbound`] runs the
    /// handlers (see [`inbox::queue`](crate::inbox::queue)). Default: none,
    /// the inbox route runs the handler before answering.
    pub fn with_inbound_queue(mut self, queue: Arc<dyn DeliveryQueue>) -> Self {
        self.inbound = Some(queue);
        self
    }

    /// Receives the confirmed self-deletes of actors whose key can no
    /// longer be fetched (`404`/`410`), which no signature can vouch for
    /// (see [`inbox::gone`](crate::inbox::gone)). Default: none, such a
    /// `Delete` is refused `401` without any further fetch.
    ///
    /// It is set here rather than on a [`Dispatcher`](super::dispatch::Dispatcher):
    /// handlers there get a [`Cx`](super::dispatch::Cx) whose actor the
    /// signature verified, which a gone actor never is.
    pub fn on_gone_actor<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(crate::inbox::gone::GoneActor) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), crate::inbox::gone::HookError>>
            + Send
            + 'static,
    {
        self.gone_actor = Some(Arc::new(move |gone| Box::pin(hook(gone))));
        self
    }

    /// The fan-out queue: where [`Federation::send`] writes the one job
    /// that expands an activity to the author's followers (default:
    /// [`MemoryQueue`], lost on exit; a server gives it a durable queue of
    /// its own, apart from the delivery queue). See [`fanout`](super::fanout).
    /// Without it, a handle given its own delivery queue
    /// ([`with_queue`](Self::with_queue)) does not fan out in two stages.
    pub fn with_fanout_queue(mut self, queue: Arc<dyn DeliveryQueue>) -> Self {
        self.fanout_queue = Some(queue);
        self
    }

    /// Tuning of the expansion workers (default [`FanoutConfig::default`]:
    /// batches of [`DEFAULT_BATCH`](super::fanout::DEFAULT_BATCH) followers).
    pub fn with_fanout_config(mut self, config: FanoutConfig) -> Self {
        self.fanout_config = config;
        self
    }

    /// Followers synchronization (FEP-8fcf; see
    /// [`followers_sync`](super::followers_sync)): on by default, with
    /// [`FollowersSyncConfig::default`](super::followers_sync::FollowersSyncConfig::default)'s
    /// bounds.
    pub fn with_followers_sync(
        mut self,
        config: super::followers_sync::FollowersSyncConfig,
    ) -> Self {
        self.followers_sync = config;
        self
    }

    /// The signatures attached to local actors' public activities before
    /// they are stored and delivered, so that they can be forwarded and
    /// relayed (default: none; see [`ObjectSigning`](super::outbox::ObjectSigning)).
    pub fn with_object_signing(mut self, signing: super::outbox::ObjectSigning) -> Self {
        self.object_signing = signing;
        self
    }

    /// Where relay subscriptions are kept (default: [`MemoryRelays`](super::relay::MemoryRelays),
    /// lost on exit). See [`relay`](super::relay).
    pub fn with_relay_store(mut self, store: Arc<dyn super::relay::RelayStore>) -> Self {
        self.relays = Some(store);
        self
    }

    /// Builds the handle: loads (or makes) the instance actor's key.
    ///
    /// # Errors
    /// [`FederationError::NoClient`], [`FederationError::Paths`] for a bad
    /// base URL, [`FederationError::Keys`] if the instance key cannot be
    /// loaded or stored.
    pub async fn build(self) -> Result<Federation, FederationError> {
        let paths = Paths::new(self.base)?;
        let client = match self.client {
            Some(c) => c,
            None => default_client()?,
        };
        let keys = self
            .keys
            .unwrap_or_else(|| Arc::new(MemoryKeyStore::new()) as Arc<dyn KeyStore>);
        let instance = LocalActor::load_instance(&paths, keys.as_ref(), self.ed25519).await?;
        let instance_signer = instance.signer().clone();

        let mut fetcher = Fetcher::new(client.clone()).signed(instance_signer.clone());
        if let Some(d) = &self.domains {
            fetcher = fetcher.with_domain_policy(d.clone());
        }
        let store = self
            .actor_store
            .unwrap_or_else(|| Arc::new(MemoryActorStore::new()) as Arc<dyn ActorStore>);
        let actors = RemoteActors::new(fetcher.clone(), store);
        // Key resolution reads actor documents through the same bounded
        // cache as recipient resolution.
        let mut resolver =
            ActorKeyResolver::from_fetcher(fetcher.clone().cache(actors.fetch_cache()))
                .with_signer(instance_signer);
        if let Some(d) = &self.domains {
            resolver = resolver.with_domain_policy(d.clone());
        }
        let verify_policy = VerifyPolicy::default().with_public_base(paths.base().clone());
        let verifier: Arc<dyn VerifyRequest> = Arc::new(Verifier::new(resolver, verify_policy));
        // Forwarded activities are believed on the actor's LD signature or
        // proof, or the origin's copy (`forwarding`); LD keys share the
        // actor cache, and the signed fetcher, with HTTP signature keys.
        let mut ld_keys =
            ActorKeyResolver::from_fetcher(fetcher.clone().cache(actors.fetch_cache()));
        if let Some(d) = &self.domains {
            ld_keys = ld_keys.with_domain_policy(d.clone());
        }
        // Accepted relays' forwards are charged to the relay budget.
        let relays = self
            .relays
            .unwrap_or_else(|| Arc::new(super::relay::MemoryRelays::new()));
        let relay_actors = Arc::new(super::forwarding::RelayActors::default());
        relay_actors.replace(&relays.all().await?);
        let forwarded: Arc<dyn crate::inbox::VerifyForwarded> = Arc::new(
            super::forwarding::ForwardedVerifier::new(fetcher.clone())
                .with_key_resolver(Arc::new(ld_keys))
                .with_relay_actors(relay_actors.clone()),
        );
        let mut inbox = Inbox::new(verifier.clone())
            .with_public_base(paths.base().clone())
            .with_seen_store(Arc::new(MemorySeenStore::default()))
            .with_forwarding(forwarded.clone());
        if let Some(d) = &self.domains {
            inbox = inbox.with_domain_policy(d.clone());
        }
        let mut plan = self
            .plan
            .unwrap_or_else(|| PlanOptions::default().with_local_hosts([paths.authority()]));
        if let Some(d) = &self.domains {
            plan = plan.with_domain_policy(d.clone());
        }
        let mut admission =
            crate::inbox::admission::Admission::new(self.admission.unwrap_or_default());
        if let Some(d) = &self.domains {
            admission = admission.with_domain_policy(d.clone());
        }
        let signers = Arc::new(LocalSigners::default());
        signers.insert(&instance);
        Ok(Federation {
            inner: Arc::new(Inner {
                paths,
                instance,
                keys,
                graph: self
                    .graph
                    .unwrap_or_else(|| Arc::new(MemoryGraph::new()) as Arc<dyn Graph>),
                client,
                fetcher,
                actors,
                verifier,
                inbox,
                forwarded,
                admission,
                inbound: self.inbound.map(crate::inbox::queue::InboundQueue::new),
                gone_actor: self.gone_actor,
                queue: self
                    .queue
                    .clone()
                    .unwrap_or_else(|| Arc::new(MemoryQueue::new()) as Arc<dyn DeliveryQueue>),
                locals: RwLock::new(HashMap::new()),
                signers,
                domains: self.domains,
                authorized_fetch: self.authorized_fetch,
                ed25519: self.ed25519,
                object_signing: self.object_signing,
                relays,
                relay_actors,
                forwards: crate::inbox::MemorySeenStore::new(
                    super::forwarding::FORWARDS_REMEMBERED,
                ),
                plan,
                // A delivery queue of the application's (maybe durable) with
                // no fan-out queue: fan-out jobs kept in memory would be lost
                // at a restart, so posts to followers are queued eagerly.
                eager_fanout: self.fanout_queue.is_none() && self.queue.is_some(),
                fanout: self
                    .fanout_queue
                    .unwrap_or_else(|| Arc::new(MemoryQueue::new()) as Arc<dyn DeliveryQueue>),
                fanout_config: self.fanout_config,
                fanout_counters: Arc::default(),
                followers_sync: Arc::new(super::followers_sync::SyncState::new(
                    self.followers_sync,
                )),
                #[cfg(feature = "delivery")]
                fanout_workers: tokio::sync::Mutex::new(None),
                #[cfg(feature = "delivery")]
                workers: tokio::sync::Mutex::new(None),
                #[cfg(feature = "delivery")]
                inbound_workers: tokio::sync::Mutex::new(None),
            }),
        })
    }
}

#[cfg(feature = "client")]
fn default_client() -> Result<Arc<dyn HttpClient>, FederationError> {
    let client = crate::client::ReqwestClient::new(crate::client::FetchPolicy::default())?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "client"))]
fn default_client() -> Result<Arc<dyn HttpClient>, FederationError> {
    Err(FederationError::NoClient)
}

/// The signers of the local actors this handle has loaded, by key id: the
/// delivery worker's `SignerSource` (feature `delivery`). A job whose key id is not here (an
/// actor not loaded since a restart) cannot be signed yet: it is retried
/// within the retry budget, so load every local actor with
/// [`Federation::actor`] at start-up.
#[derive(Debug, Default)]
pub struct LocalSigners(RwLock<HashMap<String, Signer>>);

impl LocalSigners {
    fn insert(&self, actor: &LocalActor) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert(
            actor.key_id().as_str().to_owned(),
            actor.signer().as_ref().clone(),
        );
        if let Some(s) = actor.ed25519_signer() {
            map.insert(s.key_id().to_owned(), s.as_ref().clone());
        }
    }
}

impl LocalSigners {
    /// The signer for `key_id`, if a loaded local actor holds that key.
    pub fn get(&self, key_id: &Iri) -> Option<Signer> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id.as_str())
            .cloned()
    }
}

#[cfg(feature = "delivery")]
impl crate::delivery::SignerSource for LocalSigners {
    fn signer(&self, key_id: &Iri) -> Option<Signer> {
        self.get(key_id)
    }
}

#[cfg(feature = "delivery")]
impl crate::delivery::SignerSource for Arc<LocalSigners> {
    fn signer(&self, key_id: &Iri) -> Option<Signer> {
        self.get(key_id)
    }
}

pub(crate) struct Inner {
    pub(crate) paths: Paths,
    pub(crate) instance: LocalActor,
    keys: Arc<dyn KeyStore>,
    pub(crate) graph: Arc<dyn Graph>,
    pub(crate) client: Arc<dyn HttpClient>,
    pub(crate) fetcher: Fetcher,
    pub(crate) actors: RemoteActors,
    pub(crate) verifier: Arc<dyn VerifyRequest>,
    pub(crate) inbox: Inbox,
    pub(crate) forwarded: Arc<dyn crate::inbox::VerifyForwarded>,
    pub(crate) admission: crate::inbox::admission::Admission,
    pub(crate) inbound: Option<crate::inbox::queue::InboundQueue>,
    // Read by the axum routes.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) gone_actor: Option<crate::inbox::gone::GoneActorHook>,
    pub(crate) queue: Arc<dyn DeliveryQueue>,
    locals: RwLock<HashMap<String, LocalActor>>,
    pub(crate) signers: Arc<LocalSigners>,
    pub(crate) domains: Option<DomainPolicy>,
    pub(crate) authorized_fetch: bool,
    ed25519: bool,
    pub(crate) object_signing: super::outbox::ObjectSigning,
    pub(crate) relays: Arc<dyn super::relay::RelayStore>,
    /// The accepted relays' actors, shared with the forwarded verifier.
    pub(crate) relay_actors: Arc<super::forwarding::RelayActors>,
    /// What `forward` already passed on (`owner activity`), so a retried
    /// handler does not send it twice: the inbox's bounded dedup set.
    pub(crate) forwards: crate::inbox::MemorySeenStore,
    plan: PlanOptions,
    pub(crate) fanout: Arc<dyn DeliveryQueue>,
    /// Posts to followers skip the fan-out queue (see
    /// [`FederationBuilder::with_queue`]).
    pub(crate) eager_fanout: bool,
    pub(crate) fanout_config: FanoutConfig,
    pub(crate) fanout_counters: Arc<super::fanout::Counters>,
    pub(crate) followers_sync: Arc<super::followers_sync::SyncState>,
    #[cfg(feature = "delivery")]
    pub(crate) fanout_workers: tokio::sync::Mutex<Option<super::fanout::FanoutWorkers>>,
    #[cfg(feature = "delivery")]
    pub(crate) workers: tokio::sync::Mutex<Option<crate::delivery::Workers>>,
    #[cfg(feature = "delivery")]
    inbound_workers: tokio::sync::Mutex<Option<crate::inbox::queue::InboundWorkers>>,
}

/// The application layer's handle (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Federation {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field("base", &self.inner.paths.base().as_str())
            .field("authorized_fetch", &self.inner.authorized_fetch)
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// Starts building a handle for the server at `base`
    /// (`https://host`, or `https://host/prefix`).
    pub fn builder(base: Url) -> FederationBuilder {
        FederationBuilder {
            base,
            client: None,
            keys: None,
            graph: None,
            queue: None,
            actor_store: None,
            domains: None,
            authorized_fetch: false,
            ed25519: false,
            plan: None,
            fanout_queue: None,
            fanout_config: FanoutConfig::default(),
            followers_sync: Default::default(),
            admission: None,
            inbound: None,
            gone_actor: None,
            object_signing: Default::default(),
            relays: None,
        }
    }

    /// The local actor `name`, its keys loaded from the key store or made
    /// (and persisted) on first use. Call it for each of the server's users
    /// at start-up: only loaded actors are served and can sign deliveries.
    ///
    /// Never call it with a name taken from a request without checking the
    /// name is one of your users: it creates keys.
    ///
    /// # Errors
    /// [`FederationError::Paths`] for a name outside `[A-Za-z0-9_.-]{1,64}`,
    /// [`FederationError::Keys`] if the store fails.
    pub async fn actor(&self, name: &str) -> Result<LocalActor, FederationError> {
        if let Some(a) = self.local(name) {
            return Ok(a);
        }
        let actor = LocalActor::load(
            &self.inner.paths,
            name,
            self.inner.keys.as_ref(),
            self.inner.ed25519,
        )
        .await?;
        self.register(actor.clone());
        Ok(actor)
    }

    /// Registers a local actor built elsewhere (a display name, a locked
    /// account): it replaces the one loaded under the same name.
    pub fn register(&self, actor: LocalActor) {
        self.inner.signers.insert(&actor);
        self.inner
            .locals
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(actor.name().to_owned(), actor);
    }

    /// A local actor already loaded, by name; never creates one.
    pub fn local(&self, name: &str) -> Option<LocalActor> {
        self.inner
            .locals
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every local actor loaded (or registered) so far, the instance actor
    /// aside, in no particular order: as many as the application loaded.
    pub fn loaded_actors(&self) -> Vec<LocalActor> {
        let locals = self.inner.locals.read().unwrap_or_else(|e| e.into_inner());
        locals.values().cloned().collect()
    }

    /// The loaded local actor with this IRI, if any.
    pub fn local_by_id(&self, id: &Iri) -> Option<LocalActor> {
        if *id == *self.inner.instance.id() {
            return Some(self.inner.instance.clone());
        }
        self.inner.paths.local_name(id).and_then(|n| self.local(n))
    }

    /// A [`Dispatcher`](super::dispatch::Dispatcher) for this server: its
    /// URL layout, follow graph and signed fetcher (an embedded object the
    /// signature cannot vouch for is fetched from its origin), and Follows
    /// accepted only for loaded local actors. Register handlers on it, then
    /// call [`Dispatcher::dispatch`](super::dispatch::Dispatcher::dispatch)
    /// with each activity [`Federation::inbox`] accepts (the `axum`
    /// feature's `Federation::router` does both).
    pub fn dispatcher(&self) -> super::dispatch::Dispatcher {
        let fed = self.clone();
        super::dispatch::Dispatcher::new(self.paths().clone(), self.graph().clone())
            .with_fetcher(self.fetcher().clone())
            .with_local_actor_check(move |name| fed.local(name).is_some())
            .with_relays(self)
    }

    /// The instance actor (`/actor`), whose key signs every GET.
    pub fn instance_actor(&self) -> &LocalActor {
        &self.inner.instance
    }

    /// The URL layout.
    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    /// The fetcher: signed by the instance actor, with the domain policy.
    pub fn fetcher(&self) -> &Fetcher {
        &self.inner.fetcher
    }

    /// The HTTP client every request goes through.
    pub fn client(&self) -> &Arc<dyn HttpClient> {
        &self.inner.client
    }

    /// The remote actor cache.
    pub fn actors(&self) -> &RemoteActors {
        &self.inner.actors
    }

    /// The follow relationships.
    pub fn graph(&self) -> &Arc<dyn Graph> {
        &self.inner.graph
    }

    /// The inbox pipeline (verification, key ownership, domain policy,
    /// deduplication), shared by every inbox route.
    pub fn inbox(&self) -> &Inbox {
        &self.inner.inbox
    }

    /// The inbox routes' admission gate, checked before the body is read or
    /// any key fetched (see [`admission`](crate::inbox::admission)); its
    /// [`stats`](crate::inbox::admission::Admission::stats) are the
    /// inbound counters an operator watches.
    pub fn admission(&self) -> &crate::inbox::admission::Admission {
        &self.inner.admission
    }

    /// The inbound queue, if one was set
    /// ([`FederationBuilder::with_inbound_queue`]).
    pub fn inbound(&self) -> Option<&crate::inbox::queue::InboundQueue> {
        self.inner.inbound.as_ref()
    }

    /// Starts the inbound workers on the inbound queue, running
    /// `dispatcher`'s handlers (pass the dispatcher the routes got).
    /// Returns `false`, starting nothing, when the handle has no inbound
    /// queue (the routes then dispatch before answering).
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn start_inbound(
        &self,
        dispatcher: super::dispatch::Dispatcher,
        config: crate::inbox::queue::InboundConfig,
    ) -> bool {
        let Some(queue) = self.inner.inbound.clone() else {
            return false;
        };
        let workers = crate::inbox::queue::InboundWorkers::start(queue, dispatcher, config);
        if let Some(old) = self.inner.inbound_workers.lock().await.replace(workers) {
            old.shutdown().await;
        }
        true
    }

    /// Stops the inbound workers (in-flight handlers finish within the
    /// configured grace; the rest are released to the queue), if they run.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn stop_inbound(&self) -> Option<crate::inbox::queue::InboundStopped> {
        let workers = self.inner.inbound_workers.lock().await.take()?;
        Some(workers.shutdown().await)
    }

    /// The request verifier (the instance actor signs its key fetches).
    pub fn verifier(&self) -> &Arc<dyn VerifyRequest> {
        &self.inner.verifier
    }

    /// The delivery queue.
    pub fn queue(&self) -> &Arc<dyn DeliveryQueue> {
        &self.inner.queue
    }

    /// The signers of loaded local actors, for a delivery worker pool.
    pub fn signers(&self) -> Arc<LocalSigners> {
        self.inner.signers.clone()
    }

    /// The domain policy, if one was set.
    pub fn domain_policy(&self) -> Option<&DomainPolicy> {
        self.inner.domains.as_ref()
    }

    /// Whether documents go only to signed requests.
    pub fn authorized_fetch(&self) -> bool {
        self.inner.authorized_fetch
    }

    /// A fresh IRI for an activity (`/activities/{random}`).
    ///
    /// # Errors
    /// [`FederationError::Random`] if the OS random source fails.
    pub fn new_activity_id(&self) -> Result<Iri, FederationError> {
        let id = Paths::new_id().map_err(|e| FederationError::Random(e.to_string()))?;
        Ok(self.inner.paths.activity(&id)?)
    }

    /// A fresh IRI for an object (`/objects/{random}`).
    ///
    /// # Errors
    /// [`FederationError::Random`] if the OS random source fails.
    pub fn new_object_id(&self) -> Result<Iri, FederationError> {
        let id = Paths::new_id().map_err(|e| FederationError::Random(e.to_string()))?;
        Ok(self.inner.paths.object(&id)?)
    }

    /// A `Create` of `object` by `author`: the object gets an id if it has
    /// none and `attributedTo` the author; its addressing (`to`, `cc`,
    /// `bto`, `bcc`, `audience`) is copied onto the activity, as
    /// ActivityPub §6.2 asks.
    ///
    /// # Errors
    /// [`FederationError::Random`] if ids cannot be made.
    pub fn create(
        &self,
        author: &LocalActor,
        object: AnyObject,
    ) -> Result<Activity, FederationError> {
        let mut object = object;
        let Some(base) = object.as_object_mut() else {
            return Err(FederationError::NotAnObject);
        };
        if base.id.is_none() {
            base.id = Some(self.new_object_id()?);
        }
        base.attributed_to = Some(author.id().clone().into());
        let to = base.to.clone();
        let cc = base.cc.clone();
        let bto = base.bto.clone();
        let bcc = base.bcc.clone();
        let audience = base.audience.clone();
        let mut create = Activity::new(Kind::Create, self.new_activity_id()?, author.id().clone());
        create.to = to;
        create.cc = cc;
        create.bto = bto;
        create.bcc = bcc;
        create.audience = audience;
        create.object = Some(Reference::from(object).into());
        Ok(create)
    }

    /// Fan-out in one call: resolves the recipients of `activity` from its
    /// addressing (the author's followers collection → their inboxes, named
    /// actors → their inboxes through the cache, `Public` never), plans the
    /// delivery (`bto`/`bcc` stripped from the body, shared inboxes used)
    /// and persists it, signed later with `author`'s key.
    ///
    /// An activity addressed to the author's followers costs the poster
    /// one write, whatever the follower count: the named addressees are
    /// resolved now, and one fan-out job ([`Sent::fanout`]) is written for
    /// the expansion workers ([`Federation::start_fanout`]), which enqueue
    /// the followers' deliveries in batches ([`fanout`](super::fanout)).
    /// Any other activity is planned and queued at once, one job per
    /// inbox ([`Sent::jobs`]).
    ///
    /// # Errors
    /// [`FederationError::NotTheAuthor`] if the activity's `actor` is not
    /// `author`; [`FederationError::Delivery`] if the plan or the queue
    /// fails. An addressee that cannot be resolved is reported in
    /// [`Sent::unresolved`], not as an error (a follower that cannot be,
    /// in the expansion's
    /// [`FanoutStats::unresolved`](super::fanout::FanoutStats::unresolved)).
    pub async fn send(
        &self,
        author: &LocalActor,
        activity: &Activity,
    ) -> Result<Sent, FederationError> {
        let signed = super::outbox::signed_copy(&self.inner.object_signing, author, activity)
            .map_err(super::outbox::OutboxError::from)?;
        let activity = signed.as_ref().unwrap_or(activity);
        let mut sent = if !self.inner.eager_fanout
            && super::recipients::addressees(activity).contains(author.followers())
        {
            self.send_fanout(author, activity).await?
        } else {
            let audience = self.audience(author, activity).await?;
            self.send_to(author, activity, audience).await?
        };
        // Public posts also go to the accepted relays (see `relay`).
        sent.jobs
            .extend(self.send_to_relays(author, activity).await?);
        Ok(sent)
    }

    /// The first half of [`Federation::send`]: who `activity` goes to,
    /// resolved from its addressing exactly as `send` does, for an
    /// application that renders the same activity differently for some
    /// recipients (a richer vocabulary for servers that understand it, a
    /// plain `Note` for the rest). Split it with [`Audience::split`], then
    /// [`Federation::send_to`] each part with its rendering.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use archipel::federation::Federation;
    /// use archipel::vocab::{AnyObject, Object};
    /// let fed = Federation::builder("https://books.example".parse()?).build().await?;
    /// let mouse = fed.actor("mouse").await?;
    /// let review = fed.create(&mouse, AnyObject::from(Object::new("Review")))?;
    /// let audience = fed.audience(&mouse, &review).await?;
    /// // Nobody follows mouse yet and nobody is named: nothing to send.
    /// assert!(audience.recipients().is_empty());
    /// let (rich, plain) = audience.split(|_| true);
    /// assert!(fed.send_to(&mouse, &review, rich).await?.jobs.is_empty());
    /// assert!(plain.recipients().is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`FederationError::NotTheAuthor`] if the activity's `actor` is not
    /// `author`.
    pub async fn audience(
        &self,
        author: &LocalActor,
        activity: &Activity,
    ) -> Result<Audience, FederationError> {
        if activity.actor_id() != Some(author.id()) {
            return Err(FederationError::NotTheAuthor {
                actor: activity.actor_id().map(|a| a.as_str().to_owned()),
                author: author.id().clone(),
            });
        }
        // The author must be able to sign what is queued.
        if self.local_by_id(author.id()).is_none() {
            self.register(author.clone());
        }
        let resolved = RecipientResolver::new(
            self.inner.graph.as_ref(),
            &self.inner.actors,
            &self.inner.paths,
        )
        .resolve(activity, author)
        .await;
        Ok(Audience {
            author: author.id().clone(),
            addressing: Addressing::of(activity, author),
            recipients: resolved.recipients,
            local: resolved.local,
            unresolved: resolved.unresolved,
            over_cap: resolved.skipped,
        })
    }

    /// The second half of [`Federation::send`]: plans the delivery of
    /// `activity` to `audience` (`bto`/`bcc` stripped from the body,
    /// shared inboxes used) and persists one job per inbox, signed later
    /// with `author`'s key, waking the workers.
    ///
    /// The audience can only come from [`Federation::audience`] (or a
    /// [`Audience::split`] of one), and `activity` must be addressed
    /// exactly as the activity it was resolved from (the same addressees
    /// and the same visibility, its embedded object's included), so a
    /// second rendering cannot widen who receives a post, or turn a
    /// followers-only post into a public one on arrival.
    ///
    /// # Errors
    /// [`FederationError::NotTheAuthor`] if `activity` or `audience` is
    /// not `author`'s; [`FederationError::AudienceMismatch`] if the
    /// addressing differs; [`FederationError::Delivery`] if the plan or the
    /// queue fails.
    pub async fn send_to(
        &self,
        author: &LocalActor,
        activity: &Activity,
        audience: Audience,
    ) -> Result<Sent, FederationError> {
        if activity.actor_id() != Some(author.id()) || &audience.author != author.id() {
            return Err(FederationError::NotTheAuthor {
                actor: activity.actor_id().map(|a| a.as_str().to_owned()),
                author: author.id().clone(),
            });
        }
        if Addressing::of(activity, author) != audience.addressing {
            return Err(FederationError::AudienceMismatch {
                activity: activity.id.as_ref().map(|i| i.as_str().to_owned()),
            });
        }
        if self.local_by_id(author.id()).is_none() {
            self.register(author.clone());
        }
        let signed = super::outbox::signed_copy(&self.inner.object_signing, author, activity)
            .map_err(super::outbox::OutboxError::from)?;
        let activity = signed.as_ref().unwrap_or(activity);
        let mut sent = Sent {
            activity: activity.id.clone(),
            local: audience.local,
            unresolved: audience.unresolved,
            over_cap: audience.over_cap,
            skipped: Vec::new(),
            jobs: Vec::new(),
            fanout: None,
        };
        if audience.recipients.is_empty() {
            return Ok(sent);
        }
        let plan = DeliveryPlan::new(activity, audience.recipients, &self.inner.plan)?;
        sent.skipped = plan.skipped().to_vec();
        if plan.inboxes().is_empty() {
            return Ok(sent);
        }
        let mut job = NewActivity::from_plan(&plan, author.key_id().clone());
        // To followers: each server's followers-synchronization header.
        if super::recipients::addressees(activity).contains(author.followers()) {
            job = self
                .with_sync_headers(author.id(), job, &mut Default::default())
                .await;
        }
        sent.jobs = self.enqueue(job).await?;
        Ok(sent)
    }

    /// The client-to-server outbox for this server's URL layout
    /// (ActivityPub §6): prepares what a local actor's client posts.
    pub fn outbox(&self) -> super::outbox::Outbox {
        super::outbox::Outbox::new(self.inner.paths.clone()).with_signing(self.inner.object_signing)
    }

    /// Sends what the outbox prepared: [`Federation::send`] of its
    /// delivery form, the only form that still names the `bto`/`bcc`
    /// recipients (they receive it; the body they receive does not name
    /// them).
    ///
    /// # Errors
    /// As [`Federation::send`].
    pub async fn publish(
        &self,
        author: &LocalActor,
        posted: &super::outbox::Posted,
    ) -> Result<Sent, FederationError> {
        self.send(author, posted.delivery().unredacted()).await
    }

    /// The delivery planning options (local hosts, domain policy).
    pub(crate) fn plan_options(&self) -> &PlanOptions {
        &self.inner.plan
    }

    /// Persists delivery jobs, waking the worker pool if it runs.
    pub(crate) async fn enqueue(&self, job: NewActivity) -> Result<Vec<JobId>, DeliveryError> {
        #[cfg(feature = "delivery")]
        if let Some(workers) = self.inner.workers.lock().await.as_ref() {
            return workers.enqueue(job).await;
        }
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        self.inner.queue.enqueue_activity(job, now).await
    }

    /// Starts the delivery worker pool on the handle's queue, signing with
    /// the loaded local actors' keys ([`LocalSigners`]) and sending through
    /// the handle's client, and the fan-out expansion workers
    /// ([`Federation::start_fanout`]). Later [`Federation::send`]s wake them.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn start_delivery(&self, config: crate::delivery::WorkerConfig) {
        let delivery = crate::delivery::SignedDelivery::new(
            ClientRef(self.inner.client.clone()),
            self.inner.signers.clone(),
        );
        let workers =
            crate::delivery::Workers::start(self.inner.queue.clone(), Arc::new(delivery), config);
        *self.inner.workers.lock().await = Some(workers);
        self.start_fanout().await;
    }

    /// Stops the fan-out expansion (each worker finishes and checkpoints
    /// its batch), then the worker pool (in-flight attempts finish, within
    /// the configured grace), if it runs.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn stop_delivery(&self) -> Option<crate::delivery::Stopped> {
        self.stop_fanout().await;
        let workers = self.inner.workers.lock().await.take()?;
        Some(workers.shutdown().await)
    }

    /// The delivery report of the running pool (sent, failed, per host),
    /// if it runs.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn delivery_report(&self) -> Option<crate::delivery::DeliveryReport> {
        self.inner.workers.lock().await.as_ref().map(|w| w.report())
    }

    /// The operator's view of delivery ([`Workers::status`](crate::delivery::Workers::status)):
    /// backlog and its oldest age, hosts dead, paused, failing or healthy
    /// with their next attempt and last error, recent failures, attempts by
    /// outcome and their latency; `None` when the pool does not run.
    ///
    /// # Errors
    /// When the queue cannot count its jobs.
    #[cfg(feature = "delivery")]
    #[cfg_attr(docsrs, doc(cfg(feature = "delivery")))]
    pub async fn delivery_status(
        &self,
    ) -> Result<Option<crate::delivery::DeliveryStatus>, FederationError> {
        match self.inner.workers.lock().await.as_ref() {
            Some(workers) => Ok(Some(workers.status().await?)),
            None => Ok(None),
        }
    }
}

/// `SignedDelivery` takes its client by value; this shares the handle's.
#[cfg(feature = "delivery")]
#[derive(Clone)]
struct ClientRef(Arc<dyn HttpClient>);

#[cfg(feature = "delivery")]
#[async_trait::async_trait]
impl HttpClient for ClientRef {
    async fn execute(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, crate::client::ClientError> {
        self.0.execute(request).await
    }
}

#[cfg(test)]
mod tests;
