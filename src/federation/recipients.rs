//! Addressing → recipients: who an outgoing activity goes to, as
//! [`delivery::Recipient`](Recipient)s (inbox and shared inbox) for remote
//! actors and as IRIs for local ones.
//!
//! # What it decides
//!
//! [`RecipientResolver::resolve`] reads every IRI in `to`, `bto`, `cc`,
//! `bcc` and `audience` of the activity, and of its embedded object when the
//! activity is a `Create` (in case the caller did not copy the addressing
//! up), in that order, and:
//!
//! * `Public`, in any spelling, is never a target (ActivityPub §5.6: it is
//!   not an actor and has no inbox);
//! * the author itself is skipped;
//! * **the author's followers collection** expands to the author's accepted
//!   followers from the [`Graph`], each resolved like a named actor;
//! * a **local actor** ([`Paths::local_name`]) goes to [`Resolved::local`],
//!   for local delivery, never over HTTP; any other local IRI (another
//!   actor's collection, an object) is [`Unresolved::LocalNotActor`];
//! * any other IRI is resolved through the [`RemoteActors`] cache as an actor;
//!   its shared inbox is kept, so delivery's plan sends once per server;
//! * **a remote collection** (the followers of the person replied to, a
//!   group's members) is not expanded: [`Unresolved::Collection`]. This
//!   server cannot enumerate another server's followers (the collection is
//!   often hidden or paged to a few items) and must not pretend to; the
//!   server that owns it is the one that forwards (ActivityPub §7.1.2).
//!
//! Failures are per IRI ([`Resolved::unresolved`]) and never abort the whole
//! resolution. Duplicates are removed (the same IRI twice, a follower also
//! named in `cc`, two spellings of one actor). At most
//! [`DEFAULT_MAX_RECIPIENTS`] targets are resolved
//! ([`RecipientResolver::with_max_recipients`]); the rest are counted in
//! [`Resolved::skipped`]. Cache misses are fetched
//! [`DEFAULT_CONCURRENCY`] at a time
//! ([`RecipientResolver::with_concurrency`]).
//!
//! `bto` and `bcc` recipients are included here: they are delivered to.
//! Removing those properties from the body before it leaves is delivery's
//! job ([`DeliveryPlan`](crate::delivery::DeliveryPlan)).
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use archipel::client::{ClientError, HttpClient};
//! use archipel::federation::keys::ActorKeys;
//! use archipel::federation::recipients::RecipientResolver;
//! use archipel::federation::remote::{MemoryActorStore, RemoteActors};
//! use archipel::federation::{Graph, LocalActor, MemoryGraph, Paths};
//! use archipel::fetch::Fetcher;
//! use archipel::vocab::{Activity, AnyObject, Audience, Iri, Object};
//! use bytes::Bytes;
//!
//! /// Serves Bob's actor document (a real server would use `ReqwestClient`).
//! struct Bob;
//! #[async_trait::async_trait]
//! impl HttpClient for Bob {
//!     async fn execute(&self, _req: http::Request<Bytes>)
//!         -> Result<http::Response<Bytes>, ClientError> {
//!         Ok(http::Response::builder()
//!             .header("content-type", "application/activity+json")
//!             .body(Bytes::from_static(br#"{"id": "https://b.example/users/bob",
//!                 "type": "Person", "inbox": "https://b.example/users/bob/inbox",
//!                 "endpoints": {"sharedInbox": "https://b.example/inbox"}}"#))
//!             .unwrap())
//!     }
//! }
//!
//! let paths = Paths::new("https://a.example".parse()?)?;
//! let alice = LocalActor::person(&paths, "alice", ActorKeys::generate("alice", false)?)?;
//! let graph = MemoryGraph::new();
//! let bob = Iri::parse("https://b.example/users/bob")?;
//! graph.add_follower(alice.id(), &bob).await?;
//! let remote = RemoteActors::new(Fetcher::new(Arc::new(Bob)), Arc::new(MemoryActorStore::new()));
//!
//! let mut note = Object::new("Note").with_content("hello");
//! Audience::public(alice.followers().clone()).apply(&mut note);
//! let create = Activity::create(paths.activity("1")?, alice.id().clone(), AnyObject::from(note))
//!     .with_to(vec![Iri::parse("as:Public")?])
//!     .with_cc(vec![alice.followers().clone()]);
//!
//! let resolved = RecipientResolver::new(&graph, &remote, &paths)
//!     .resolve(&create, &alice)
//!     .await;
//! assert_eq!(resolved.recipients.len(), 1);
//! assert_eq!(resolved.recipients[0].shared_inbox.as_ref().unwrap().as_str(), "https://b.example/inbox");
//! assert!(resolved.unresolved.is_empty());
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;

use crate::delivery::Recipient;
use crate::vocab::audience::is_public_iri;
use crate::vocab::{Activity, Category, Iri, Kind, Object};

use super::graph::{Graph, GraphError};
use super::local::LocalActor;
use super::paths::Paths;
use super::remote::{RemoteActors, RemoteError};

mod join;
pub(crate) use join::join_all;
#[cfg(test)]
mod tests;

/// The default cap on targets resolved per activity.
pub const DEFAULT_MAX_RECIPIENTS: usize = 50_000;
/// The default number of cache misses fetched at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Actors read from the cache in one store call.
const READ_BATCH: usize = 256;

/// Why an addressed IRI has no recipient.
#[derive(Debug)]
#[non_exhaustive]
pub enum Unresolved {
    /// A remote collection: not expanded (see the module docs).
    Collection,
    /// A local IRI that is not a local actor (another actor's collection,
    /// an object).
    LocalNotActor,
    /// The remote actor could not be had (fetch failure, invalid document).
    Remote(RemoteError),
    /// The follow graph failed while expanding the author's followers.
    Graph(GraphError),
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unresolved::Collection => {
                f.write_str("collection: another server's collection is not expanded")
            }
            Unresolved::LocalNotActor => f.write_str("local IRI that is not a local actor"),
            Unresolved::Remote(e) => write!(f, "remote actor: {e}"),
            Unresolved::Graph(e) => write!(f, "followers: {e}"),
        }
    }
}

/// The outcome of [`RecipientResolver::resolve`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Resolved {
    /// Remote actors to deliver to, in addressing order, one per actor.
    pub recipients: Vec<Recipient>,
    /// Local actors addressed, for local delivery.
    pub local: Vec<Iri>,
    /// Addressed IRIs without a recipient, and why.
    pub unresolved: Vec<(Iri, Unresolved)>,
    /// Targets left out past the cap
    /// ([`RecipientResolver::with_max_recipients`]).
    pub skipped: usize,
}

/// The IRIs an activity addresses, in order (`to`, `bto`, `cc`, `bcc`,
/// `audience`, then the same of its embedded object for a `Create`),
/// without duplicates and without `Public`.
///
/// ```
/// use archipel::federation::recipients::addressees;
/// use archipel::vocab::{Activity, Iri};
/// let follow = Activity::follow(Iri::parse("https://a.example/f/1")?,
///     Iri::parse("https://a.example/users/alice")?, Iri::parse("https://b.example/users/bob")?)
///     .with_to(vec![Iri::parse("https://b.example/users/bob")?, Iri::parse("as:Public")?]);
/// assert_eq!(addressees(&follow), vec![Iri::parse("https://b.example/users/bob")?]);
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
pub fn addressees(activity: &Activity) -> Vec<Iri> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut read = |o: &Object| {
        for refs in [&o.to, &o.bto, &o.cc, &o.bcc, &o.audience]
            .into_iter()
            .flatten()
        {
            for iri in refs.iter().filter_map(|r| r.id()) {
                if !is_public_iri(iri.as_str()) && seen.insert(iri.clone()) {
                    out.push(iri.clone());
                }
            }
        }
    };
    read(&activity.base);
    if activity.base.has_type("Create")
        && let Some(object) = activity.embedded_object().and_then(|o| o.as_object())
    {
        read(object);
    }
    out
}

/// Resolves an activity's addressing into recipients (see the module docs).
pub struct RecipientResolver<'a> {
    graph: &'a dyn Graph,
    remote: &'a RemoteActors,
    paths: &'a Paths,
    max_recipients: usize,
    concurrency: usize,
    expand_followers: bool,
}

impl fmt::Debug for RecipientResolver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipientResolver")
            .field("paths", self.paths)
            .field("max_recipients", &self.max_recipients)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// Where one target goes, before any fetch.
enum Target {
    Local(Iri),
    Remote(Iri),
    Unresolved(Iri, Unresolved),
}

impl<'a> RecipientResolver<'a> {
    /// A resolver reading followers from `graph`, remote actors through
    /// `remote`, and recognising local IRIs with `paths`.
    pub fn new(graph: &'a dyn Graph, remote: &'a RemoteActors, paths: &'a Paths) -> Self {
        RecipientResolver {
            graph,
            remote,
            paths,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            concurrency: DEFAULT_CONCURRENCY,
            expand_followers: true,
        }
    }

    /// At most `n` targets (recipients, local actors and unresolved IRIs
    /// together) per activity; default [`DEFAULT_MAX_RECIPIENTS`].
    #[must_use]
    pub fn with_max_recipients(mut self, n: usize) -> Self {
        self.max_recipients = n;
        self
    }

    /// At most `n` (at least one) remote actors fetched at once; default
    /// [`DEFAULT_CONCURRENCY`].
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Leaves the author's followers collection out of the resolution (no
    /// graph read): the two-stage fan-out resolves the named addressees
    /// now and expands the followers later, in batches.
    #[must_use]
    pub(crate) fn without_followers(mut self) -> Self {
        self.expand_followers = false;
        self
    }

    /// The recipients of `activity`, written by `author`.
    pub async fn resolve(&self, activity: &Activity, author: &LocalActor) -> Resolved {
        let mut resolved = Resolved::default();
        let mut seen: HashSet<Iri> = HashSet::new();
        let mut targets = Vec::new();
        let mut push = |iri: Iri, target: Target, resolved: &mut Resolved| {
            if !seen.insert(iri) {
                return;
            }
            if targets.len() >= self.max_recipients {
                resolved.skipped += 1;
            } else {
                targets.push(target);
            }
        };
        for iri in addressees(activity) {
            if iri == *author.id() {
                continue;
            }
            if iri == *author.followers() {
                if !self.expand_followers {
                    continue;
                }
                match self.graph.followers(author.id()).await {
                    Ok(followers) => {
                        for f in followers {
                            if f != *author.id() {
                                let t = self.classify(f.clone());
                                push(f, t, &mut resolved);
                            }
                        }
                    }
                    Err(e) => {
                        let t = Target::Unresolved(iri.clone(), Unresolved::Graph(e));
                        push(iri, t, &mut resolved);
                    }
                }
                continue;
            }
            let t = self.classify(iri.clone());
            push(iri, t, &mut resolved);
        }

        let mut remote = Vec::new();
        for t in targets {
            match t {
                Target::Local(iri) => resolved.local.push(iri),
                Target::Unresolved(iri, why) => resolved.unresolved.push((iri, why)),
                Target::Remote(iri) => remote.push(iri),
            }
        }
        self.resolve_remote(&remote, &mut resolved).await;
        resolved
    }

    /// Resolves `iris` (followers read from the graph, one batch of a
    /// fan-out) as [`RecipientResolver::resolve`] resolves the author's
    /// followers: the author skipped, local actors to
    /// [`Resolved::local`], the rest through the cache.
    pub(crate) async fn resolve_followers(&self, iris: Vec<Iri>, author: &Iri) -> Resolved {
        let mut resolved = Resolved::default();
        let mut remote = Vec::new();
        for iri in iris {
            if iri == *author {
                continue;
            }
            match self.classify(iri) {
                Target::Local(iri) => resolved.local.push(iri),
                Target::Unresolved(iri, why) => resolved.unresolved.push((iri, why)),
                Target::Remote(iri) => remote.push(iri),
            }
        }
        self.resolve_remote(&remote, &mut resolved).await;
        resolved
    }

    /// Fetches (or reads from the cache) the actors `remote`, a few at a
    /// time, into `resolved`.
    async fn resolve_remote(&self, remote: &[Iri], resolved: &mut Resolved) {
        let mut actors = HashSet::new();
        // Read from the cache many at a time (a fan-out batch is mostly
        // cached followers); what must be fetched goes `concurrency` at a time.
        for chunk in remote.chunks(READ_BATCH) {
            let fetched = self.remote.recipients_many(chunk, self.concurrency).await;
            for (iri, result) in chunk.iter().zip(fetched) {
                match result {
                    Ok(actor) => {
                        // Two spellings of one actor deliver once.
                        if !actors.insert(actor.id.clone()) {
                            continue;
                        }
                        match actor.recipient() {
                            Some(r) => resolved.recipients.push(r),
                            None => resolved.unresolved.push((
                                iri.clone(),
                                Unresolved::Remote(RemoteError::Invalid {
                                    id: actor.id.to_string(),
                                    field: "inbox",
                                    value: actor.inbox.to_string(),
                                }),
                            )),
                        }
                    }
                    Err(RemoteError::NotAnActor { found, .. }) if is_collection(&found) => {
                        resolved
                            .unresolved
                            .push((iri.clone(), Unresolved::Collection));
                    }
                    Err(e) => resolved
                        .unresolved
                        .push((iri.clone(), Unresolved::Remote(e))),
                }
            }
        }
    }

    fn classify(&self, iri: Iri) -> Target {
        if self.paths.local_name(&iri).is_some() {
            Target::Local(iri)
        } else if self.paths.is_local(&iri) {
            Target::Unresolved(iri, Unresolved::LocalNotActor)
        } else {
            Target::Remote(iri)
        }
    }
}

fn is_collection(type_name: &str) -> bool {
    Kind::from_name(type_name).is_some_and(|k| k.category() == Category::Collection)
}
