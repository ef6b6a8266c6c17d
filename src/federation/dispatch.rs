//! [`Dispatcher`]: typed inbound dispatch. The application registers one
//! async handler per activity type; the dispatcher checks who may do what
//! *before* calling it, so a handler only ever sees an authorized activity
//! with typed values, and no application code matches on type strings.
//!
//! # The rules (run before any handler; a refusal never reaches one)
//!
//! | activity | allowed when | bookkeeping in the [`Graph`] | the handler gets |
//! |---|---|---|---|
//! | `Follow` | its object is an actor of this server (`/users/{name}`, [`Paths::local_name`]) that exists ([`Dispatcher::with_local_actor_check`]) | none: consent is the application's (call [`Graph::add_follower`] when it accepts) | [`Follow`] |
//! | `Accept`, `Reject` | they answer a `Follow` this server sent *to the sender* ([`Graph::sent_follow`], by id, or for an embedded Follow by the pair follower/followee) | `Accept`: [`Graph::add_following`], then [`Graph::forget_sent_follow`]; `Reject`: [`Graph::forget_sent_follow`], [`Graph::remove_following`] | [`FollowReply`] |
//! | `Undo` | the undone activity was performed by the sender: its embedded `actor` (if any) is the sender, and its id is the sender's (see below) | `Undo` of an embedded `Follow` of a local actor: [`Graph::remove_follower`] | [`Undo`] |
//! | `Create` | its object is authored by the sender (`attributedTo`; an actor document is its own author), and not stored as someone else's | none | [`WithObject`] |
//! | `Update` | as `Create`, and the sender owns what it updates (see below) | none | [`WithObject`] |
//! | `Delete` | the sender deletes itself, or something it owns (see below) | none | [`Delete`] |
//! | `Block` | always | of a local actor: neither follows the other any more ([`Graph::remove_follower`], [`Graph::remove_following`]), a pending Follow between them is forgotten | the [`Activity`] |
//! | `Move` | its object is the sender (an account moves only itself) | none: [`Dispatcher::with_migration`] checks both accounts, fetched fresh, then moves the local follows ([`migration`](super::migration)) | the [`Activity`] |
//! | `QuoteRequest` | its `object` is a post of this server (not an actor), its `instrument` (the quote post) is on the sender's origin and, if embedded, the sender's and quoting that post | none: [`Quotes`](super::quotes::Quotes) decides from the post's policy | [`QuoteRequest`] |
//! | `Accept`, `Reject` of an embedded `QuoteRequest` | the request's `actor` is a local actor (that the sender is the quoted author it went to, [`Quotes::handle_reply`](super::quotes::Quotes::handle_reply) checks) | none | [`QuoteReply`] |
//! | `Like`, `Announce`, `Flag` | always (the inbox verified the sender) | none | the [`Activity`] |
//! | anything else, and an `Accept`/`Reject` of an embedded non-Follow | always | none | the [`AnyObject`], in [`Dispatcher::on_other`] |
//!
//! Where an activity has several objects, the rules and the handler take
//! the first. An `Undo` that names its activity by IRI only cannot be
//! recognized as the `Undo` of a `Follow` ([`Undo::kind`] is `None`): the
//! application removes the follower it recorded under that IRI.
//!
//! **Objects.** The handler of a `Create` or `Update` gets the object as far
//! as it can be believed ([What a signature proves](crate::inbox#what-a-signature-proves)):
//! the embedded copy when the signature vouches for it, else the copy its
//! origin serves, fetched with the dispatcher's [`Fetcher`]
//! ([`Fetcher::fetch_authoritative`]: served at its own id, which must be
//! the IRI named), whose author must then be the sender. Without a fetcher
//! ([`Dispatcher::with_fetcher`]) such an activity is refused
//! ([`DispatchError::NoFetcher`]). An embedded copy that names another
//! author is refused at once, without a fetch.
//!
//! **Ownership of an IRI.** Who owns `https://b.example/notes/1` only the
//! application knows. With an [`OwnerLookup`]
//! ([`Dispatcher::with_owner_lookup`]) the owner it stored decides
//! ([`Incoming::may_modify`]). Without one, or when it does not know the
//! object, the rule is Mastodon's: the object must be on the sender's
//! origin. On a server with many users that lets one user of an origin
//! delete or undo another's object by IRI: install a lookup if that matters,
//! and answer an actor IRI with the actor itself.
//!
//! **Unhandled types.** An activity without a handler goes to
//! [`Dispatcher::on_other`] if set, else it is ignored
//! ([`Dispatched::Ignored`]): servers send many types, none is an error.
//! The bookkeeping of `Accept`, `Reject`, `Undo` and `Block` is done even when no
//! handler is registered ([`Dispatched::Recorded`]). A handler's error does
//! not undo the bookkeeping done before it.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "ed25519")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use archipel::federation::dispatch::Dispatcher;
//! use archipel::federation::{MemoryGraph, Paths};
//! # use archipel::inbox::Inbox;
//! # use archipel::signatures::{MemoryKeyResolver, PrivateKey, Signer, Verifier, VerifyPolicy};
//! # let bob_key = PrivateKey::generate_ed25519()?;
//! # let mut keys = MemoryKeyResolver::new();
//! # keys.insert("https://b.example/users/bob#key", bob_key.public_key(), "https://b.example/users/bob");
//! # let inbox = Inbox::new(Arc::new(Verifier::new(keys, VerifyPolicy::default())))
//! #     .with_public_base("https://books.example".parse()?);
//! # let body = r#"{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow",
//! #   "id":"https://b.example/follows/1","actor":"https://b.example/users/bob",
//! #   "object":"https://books.example/users/alice"}"#;
//! # let mut request = http::Request::post("https://books.example/users/alice/inbox")
//! #     .header("content-type", "application/activity+json")
//! #     .header("host", "books.example")
//! #     .body(bytes::Bytes::from(body))?;
//! # Signer::new("https://b.example/users/bob#key", bob_key).sign(&mut request)?;
//!
//! let graph = Arc::new(MemoryGraph::new());
//! let followers = graph.clone();
//! let dispatcher = Dispatcher::new(Paths::new("https://books.example".parse()?)?, graph.clone())
//!     .on_follow(move |cx, follow| {
//!         let followers = followers.clone();
//!         async move {
//!             // Only a Follow of an actor of this server gets here.
//!             followers.add_follower(&follow.followee, cx.actor()).await?;
//!             Ok(())
//!         }
//!     })
//!     .on_create(|cx, create| async move {
//!         // `create.object` is authored by `cx.actor()`: store it.
//!         println!("{} wrote {:?}", cx.actor(), create.object.id());
//!         Ok(())
//!     });
//!
//! // For every POST to an inbox: verify, then dispatch.
//! let incoming = inbox.receive(&request).await?;
//! let status = match dispatcher.dispatch(incoming).await {
//!     Ok(_) => http::StatusCode::ACCEPTED,
//!     Err(refusal) => refusal.status(),
//! };
//! assert_eq!(status, http::StatusCode::ACCEPTED);
//! # use archipel::federation::Graph;
//! # let alice = "https://books.example/users/alice".parse()?;
//! # let bob = "https://b.example/users/bob".parse()?;
//! # assert!(graph.is_follower(&alice, &bob).await?);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "ed25519"))]
//! # fn main() {}
//! ```

mod error;
mod handlers;
mod rules;
#[cfg(test)]
mod tests;

pub use error::DispatchError;
pub use handlers::{Cx, Delete, Follow, FollowReply, Undo, WithObject};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::fetch::Fetcher;
use crate::inbox::Incoming;
use crate::vocab::{Activity, AnyObject, Iri, Kind};

use super::graph::{Graph, SentFollow};
use super::paths::Paths;
use super::quotes::{QuoteReply, QuoteRequest};

/// The error a handler or a lookup returns: any error type, boxed (`?`
/// converts into it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler returns.
pub type HandlerResult = Result<(), BoxError>;

/// A handler that also gets the application's shared state: each call
/// receives its own clone of `state` (an `Arc`, so a pointer copy), which
/// the handler's future can own across its awaits.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use archipel::federation::dispatch::{Cx, WithObject, with_state};
///
/// struct App { creates: AtomicUsize }
/// let app = Arc::new(App { creates: AtomicUsize::new(0) });
/// let on_create = with_state(&app, |app: Arc<App>, _cx: Cx, _create: WithObject| async move {
///     app.creates.fetch_add(1, Ordering::Relaxed);
///     Ok(())
/// });
/// // `on_create` is what `Dispatcher::on_create` takes.
/// # let _ = on_create;
/// ```
pub fn with_state<S, T, F, Fut>(
    state: &Arc<S>,
    handler: F,
) -> impl Fn(Cx, T) -> Fut + Send + Sync + 'static
where
    S: Send + Sync + 'static + ?Sized,
    F: Fn(Arc<S>, Cx, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let state = state.clone();
    move |cx, value| handler(state.clone(), cx, value)
}

type BoxFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;
type Handler<T> = Arc<dyn Fn(Cx, T) -> BoxFuture + Send + Sync>;

/// The most local actors a [`Cx`] lists (addressing is attacker-chosen;
/// the body cap already bounds it, this bounds the copy).
pub const MAX_LOCAL_ACTORS: usize = 256;

/// What [`Dispatcher::dispatch`] did with an authorized activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dispatched {
    /// A handler ran (the type's own, or [`Dispatcher::on_other`]).
    Handled,
    /// No handler is registered, but the bookkeeping of an `Accept`,
    /// `Reject`, `Undo` or `Block` was done.
    Recorded,
    /// No handler is registered and there was nothing to record.
    Ignored,
}

/// Who owns an object the application stored, for the rules that let only
/// the owner undo, update or delete it by IRI.
///
/// ```
/// use archipel::federation::dispatch::{BoxError, OwnerLookup};
/// use archipel::vocab::Iri;
///
/// struct Notes; // the application's store
///
/// #[async_trait::async_trait]
/// impl OwnerLookup for Notes {
///     async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError> {
///         // SELECT attributed_to FROM notes WHERE id = $1 (an actor owns itself)
///         Ok(None)
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait OwnerLookup: Send + Sync {
    /// The stored owner of `object` (its `attributedTo`; the `actor` of an
    /// activity; an actor itself), or `None` when the application does not
    /// hold it (the same-origin rule then decides).
    async fn owner(&self, object: &Iri) -> Result<Option<Iri>, BoxError>;

    /// Whether activities about `object`, a local object this lookup
    /// holds, may be passed on to its owner's followers
    /// ([`Federation::forward`](super::Federation::forward)): it is public
    /// or unlisted, as Mastodon forwards only for those. The default,
    /// `false`, passes nothing on: forwarding a reply to a followers-only
    /// or direct post would tell people outside its audience that it
    /// exists, and what was said to it. (`store::Posts` answers from the
    /// visibility it stored.)
    async fn distributable(&self, object: &Iri) -> Result<bool, BoxError> {
        let _ = object;
        Ok(false)
    }
}

#[derive(Clone, Default)]
struct Handlers {
    follow: Option<Handler<Follow>>,
    accept: Option<Handler<FollowReply>>,
    reject: Option<Handler<FollowReply>>,
    undo: Option<Handler<Undo>>,
    create: Option<Handler<WithObject>>,
    update: Option<Handler<WithObject>>,
    delete: Option<Handler<Delete>>,
    like: Option<Handler<Activity>>,
    announce: Option<Handler<Activity>>,
    block: Option<Handler<Activity>>,
    move_: Option<Handler<Activity>>,
    flag: Option<Handler<Activity>>,
    quote_request: Option<Handler<QuoteRequest>>,
    quote_reply: Option<Handler<QuoteReply>>,
    other: Option<Handler<AnyObject>>,
}

fn boxed<T, F, Fut>(handler: F) -> Handler<T>
where
    F: Fn(Cx, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |cx, value| Box::pin(handler(cx, value)))
}

type LocalCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The registry of inbound handlers, and the rules run before them (see
/// the [module documentation](self)).
///
/// Build one per server, register handlers with the `on_*` methods (each a
/// plain `|cx, value| async move { .. }` closure), and call
/// [`Dispatcher::dispatch`] with every [`Incoming`] the inbox accepts.
/// Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    paths: Paths,
    graph: Arc<dyn Graph>,
    fetcher: Option<Fetcher>,
    owners: Option<Arc<dyn OwnerLookup>>,
    local_exists: Option<LocalCheck>,
    handlers: Handlers,
    every: Option<Handler<Activity>>,
    /// Relay subscriptions, handled before the rules ([`Dispatcher::with_relays`]).
    pub(crate) relays: Option<super::hub::Federation>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("paths", &self.paths)
            .field("fetcher", &self.fetcher)
            .field("owner_lookup", &self.owners.is_some())
            .field("local_actor_check", &self.local_exists.is_some())
            .field("on_every", &self.every.is_some())
            .finish_non_exhaustive()
    }
}

macro_rules! on {
    ($(#[$doc:meta])* $method:ident, $slot:ident, $value:ty) => {
        $(#[$doc])*
        pub fn $method<F, Fut>(mut self, handler: F) -> Self
        where
            F: Fn(Cx, $value) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = HandlerResult> + Send + 'static,
        {
            self.handlers.$slot = Some(boxed(handler));
            self
        }
    };
}

impl Dispatcher {
    /// A dispatcher for the server laid out by `paths`, keeping follow
    /// relationships in `graph`, with no handler, no fetcher, no owner
    /// lookup and every `/users/{name}` taken to exist.
    pub fn new(paths: Paths, graph: Arc<dyn Graph>) -> Dispatcher {
        Dispatcher {
            paths,
            graph,
            fetcher: None,
            owners: None,
            local_exists: None,
            handlers: Handlers::default(),
            every: None,
            relays: None,
        }
    }

    /// Fetches objects the signature does not vouch for from their origin
    /// (sign it with the instance actor's key for servers in authorized
    /// fetch mode). Without one, such a `Create` or `Update` is refused
    /// ([`DispatchError::NoFetcher`]).
    pub fn with_fetcher(mut self, fetcher: Fetcher) -> Dispatcher {
        self.fetcher = Some(fetcher);
        self
    }

    /// Asks `lookup` who owns an object before an `Undo`, `Update` or
    /// `Delete` of it; without one the object must be on the sender's origin.
    pub fn with_owner_lookup(mut self, lookup: Arc<dyn OwnerLookup>) -> Dispatcher {
        self.owners = Some(lookup);
        self
    }

    /// Says whether the local actor `name` exists, for `Follow`s (a quick,
    /// in-memory check; a per-user inbox route can also answer `404` before
    /// dispatch). Without it every well-formed `/users/{name}` is taken to
    /// exist.
    pub fn with_local_actor_check(
        mut self,
        exists: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Dispatcher {
        self.local_exists = Some(Arc::new(exists));
        self
    }

    on!(
        /// Handles an authorized `Follow` of a local actor (ActivityPub
        /// §7.5): answer it with an `Accept` or `Reject`, and record an
        /// accepted follower with [`Graph::add_follower`].
        on_follow, follow, Follow
    );
    on!(
        /// Handles an `Accept` of a `Follow` this server sent (ActivityPub
        /// §7.6); the [`Graph`] already records the local actor as following.
        on_accept, accept, FollowReply
    );
    on!(
        /// Handles a `Reject` of a `Follow` this server sent (ActivityPub
        /// §7.7); the [`Graph`] has already forgotten it.
        on_reject, reject, FollowReply
    );
    on!(
        /// Handles an `Undo` of the sender's own activity (ActivityPub
        /// §7.10); an undone `Follow` is already removed from the [`Graph`].
        on_undo, undo, Undo
    );
    on!(
        /// Handles a `Create` (ActivityPub §7.2) with its object, authored by
        /// the sender.
        on_create, create, WithObject
    );
    on!(
        /// Handles an `Update` (ActivityPub §7.3) with the new object, owned
        /// by the sender.
        on_update, update, WithObject
    );
    on!(
        /// Handles a `Delete` (ActivityPub §7.4) of the sender itself or of
        /// something it owns.
        on_delete, delete, Delete
    );
    on!(
        /// Handles a `Like` (ActivityPub §7.8).
        on_like, like, Activity
    );
    on!(
        /// Handles an `Announce` (ActivityPub §7.11). Its object is someone
        /// else's: fetch it from its origin before showing it.
        on_announce, announce, Activity
    );
    on!(
        /// Handles a `Block` (ActivityPub §7.9) by the sender; when it blocks
        /// a local actor the [`Graph`] no longer has them follow each other.
        /// Never forward or show it to the blocked actor.
        on_block, block, Activity
    );
    on!(
        /// Handles a `Move` of the sender's own account (its `object` is the
        /// sender, else it is refused). Check both accounts before moving
        /// followers: [`Migration::handle`](super::migration::Migration::handle)
        /// does, and [`Dispatcher::with_migration`] registers it.
        on_move, move_, Activity
    );
    on!(
        /// Handles a `Flag` (a report; Mastodon sends the reported actor, then
        /// statuses, as `object`).
        on_flag, flag, Activity
    );
    on!(
        /// Handles a `QuoteRequest` (FEP-044f) for a post of this server, its
        /// quote post on the sender's origin; [`Quotes::handle_request`](super::quotes::Quotes::handle_request)
        /// decides and answers ([`Dispatcher::with_quotes`] registers it).
        on_quote_request, quote_request, QuoteRequest
    );
    on!(
        /// Handles the `Accept` or `Reject` of a `QuoteRequest` a local actor
        /// sent (embedded, as Mastodon sends it);
        /// [`Quotes::handle_reply`](super::quotes::Quotes::handle_reply)
        /// believes it only from the quoted author.
        on_quote_reply, quote_reply, QuoteReply
    );
    on!(
        /// Handles every activity whose type has no handler of its own, and
        /// types outside the vocabulary, as decoded (unknown properties in
        /// `extra`). The rules of its type still run first.
        on_other, other, AnyObject
    );

    /// Runs `observer` for every activity that passed the rules, before its
    /// type's handler: to log it, or file it in the inboxes it is for,
    /// once for all types. It gets a copy of the activity as received.
    ///
    /// A refused activity never reaches it, nor does one ignored without
    /// its rules running (a `Follow`, `Create`, `Update`, `Delete` or `Move`
    /// when neither its handler nor [`Dispatcher::on_other`] is set), nor a
    /// non-activity object. Its error is the handler's: the type's handler
    /// is then not called.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use archipel::federation::dispatch::Dispatcher;
    /// # use archipel::federation::{MemoryGraph, Paths};
    /// # let paths = Paths::new("https://a.example".parse().unwrap()).unwrap();
    /// let dispatcher = Dispatcher::new(paths, Arc::new(MemoryGraph::new()))
    ///     .on_every(|cx, activity| async move {
    ///         eprintln!("{} from {}", activity.type_name().unwrap_or("?"), cx.actor());
    ///         Ok(())
    ///     });
    /// ```
    pub fn on_every<F, Fut>(mut self, observer: F) -> Self
    where
        F: Fn(Cx, Activity) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.every = Some(boxed(observer));
        self
    }

    /// Checks the rules for `incoming`'s type, does the bookkeeping, and
    /// calls its handler (see the [module documentation](self)).
    ///
    /// # Errors
    /// A [`DispatchError`] naming the refusal; answer the sender with
    /// [`DispatchError::status`]. A refused activity reached no handler.
    pub async fn dispatch(&self, incoming: Incoming) -> Result<Dispatched, DispatchError> {
        let incoming = match &self.relays {
            Some(fed) => match super::relay::intercept(fed, incoming).await? {
                Some(incoming) => incoming,
                None => return Ok(Dispatched::Recorded),
            },
            None => incoming,
        };
        let route = self.authorize(&incoming).await?;
        let cx = Cx::new(&incoming, &self.paths);
        let type_name = incoming.kind;
        let activity = match incoming.activity {
            AnyObject::Activity(activity) => *activity,
            other => return self.other(cx, &type_name, other).await,
        };
        if let (Some(every), false) = (&self.every, matches!(route, Route::Ignore)) {
            every(cx.clone(), activity.clone())
                .await
                .map_err(|source| handler_error(&type_name, source))?;
        }
        let h = &self.handlers;
        let call = Call {
            dispatcher: self,
            cx,
            type_name: &type_name,
        };
        match route {
            Route::Ignore => Ok(Dispatched::Ignored),
            Route::Other => call.run(&None::<Handler<Activity>>, activity, |a| a).await,
            Route::Follow { followee, name } => {
                call.run(&h.follow, activity, |activity| Follow {
                    activity,
                    followee,
                    name,
                })
                .await
            }
            Route::Reply { accept, follow } => {
                let slot = if accept { &h.accept } else { &h.reject };
                call.run(slot, activity, |activity| FollowReply { activity, follow })
                    .await
                    .map(recorded)
            }
            Route::Undo {
                undone,
                kind,
                object,
            } => call
                .run(&h.undo, activity, |activity| Undo {
                    activity,
                    undone,
                    kind,
                    object,
                })
                .await
                .map(recorded),
            Route::Write { create, object } => {
                let slot = if create { &h.create } else { &h.update };
                call.run(slot, activity, |activity| WithObject { activity, object })
                    .await
            }
            Route::Delete { object, is_actor } => {
                call.run(&h.delete, activity, |activity| Delete {
                    activity,
                    object,
                    is_actor,
                })
                .await
            }
            Route::QuoteRequest(request) => call.run(&h.quote_request, activity, |_| request).await,
            Route::QuoteReply(reply) => call.run(&h.quote_reply, activity, |_| reply).await,
            Route::Plain { kind, severed } => {
                let slot = match kind {
                    Kind::Like => &h.like,
                    Kind::Announce => &h.announce,
                    Kind::Block => &h.block,
                    Kind::Move => &h.move_,
                    _ => &h.flag,
                };
                let done = call.run(slot, activity, |a| a).await?;
                Ok(if severed { recorded(done) } else { done })
            }
        }
    }

    /// The rules and the bookkeeping: where `incoming` goes, with the values
    /// its handler gets, or why it is refused.
    async fn authorize(&self, incoming: &Incoming) -> Result<Route, DispatchError> {
        let h = &self.handlers;
        let listened = |specific: bool| specific || h.other.is_some();
        let Some(activity) = incoming.activity.as_activity() else {
            return Ok(Route::Other);
        };
        Ok(match incoming.activity.kind() {
            Some(Kind::Follow) if listened(h.follow.is_some()) => {
                let (followee, name) = self.authorize_follow(incoming, activity)?;
                Route::Follow { followee, name }
            }
            // Before the Follow replies: an Accept naming one of this server's
            // quote requests by IRI is not an answer to a Follow.
            Some(k @ (Kind::Accept | Kind::Reject))
                if listened(h.quote_reply.is_some())
                    && super::quotes::rules::is_quote_reply(&self.paths, activity) =>
            {
                Route::QuoteReply(super::quotes::rules::authorize_reply(
                    &self.paths,
                    k,
                    incoming,
                    activity,
                )?)
            }
            Some(k @ (Kind::Accept | Kind::Reject)) if is_follow_reply(activity) => {
                let follow = self.authorize_reply(k, incoming, activity).await?;
                if k == Kind::Accept {
                    self.graph
                        .add_following(&follow.follower, &follow.followee)
                        .await?;
                    self.graph.forget_sent_follow(&follow.id).await?;
                } else {
                    self.graph.forget_sent_follow(&follow.id).await?;
                    self.graph
                        .remove_following(&follow.follower, &follow.followee)
                        .await?;
                }
                Route::Reply {
                    accept: k == Kind::Accept,
                    follow,
                }
            }
            Some(Kind::Undo) => {
                let (undone, kind, object) = self.authorize_undo(incoming, activity).await?;
                if kind == Some(Kind::Follow)
                    && let Some(followee) = &object
                    && self.paths.local_name(followee).is_some()
                {
                    self.graph
                        .remove_follower(followee, &incoming.actor)
                        .await?;
                }
                Route::Undo {
                    undone,
                    kind,
                    object,
                }
            }
            Some(Kind::Create) if listened(h.create.is_some()) => Route::Write {
                create: true,
                object: self.authorize_write(Kind::Create, incoming).await?,
            },
            Some(Kind::Update) if listened(h.update.is_some()) => Route::Write {
                create: false,
                object: self.authorize_write(Kind::Update, incoming).await?,
            },
            Some(Kind::Delete) if listened(h.delete.is_some()) => {
                let (object, is_actor) = self.authorize_delete(incoming, activity).await?;
                Route::Delete { object, is_actor }
            }
            Some(Kind::Block) => {
                let blocked = activity
                    .object_id()
                    .filter(|b| self.paths.local_name(b).is_some());
                if let Some(blocked) = blocked {
                    self.sever(blocked, &incoming.actor).await?;
                }
                Route::Plain {
                    kind: Kind::Block,
                    severed: blocked.is_some(),
                }
            }
            Some(Kind::Move) if listened(h.move_.is_some()) => {
                self.authorize_move(incoming, activity)?;
                Route::Plain {
                    kind: Kind::Move,
                    severed: false,
                }
            }
            Some(Kind::QuoteRequest) if listened(h.quote_request.is_some()) => Route::QuoteRequest(
                super::quotes::rules::authorize_request(&self.paths, incoming, activity)?,
            ),
            Some(kind @ (Kind::Like | Kind::Announce | Kind::Flag)) => Route::Plain {
                kind,
                severed: false,
            },
            Some(Kind::Follow | Kind::Create | Kind::Update | Kind::Delete | Kind::Move) => {
                Route::Ignore
            }
            _ => Route::Other,
        })
    }

    /// The bookkeeping of a `Block` of the local actor `local` by `remote`:
    /// neither follows the other any more, and a pending Follow between
    /// them is forgotten.
    async fn sever(&self, local: &Iri, remote: &Iri) -> Result<(), DispatchError> {
        self.graph.remove_follower(local, remote).await?;
        self.graph.remove_following(local, remote).await?;
        if let Some(pending) = self.graph.sent_follow_between(local, remote).await? {
            self.graph.forget_sent_follow(&pending.id).await?;
        }
        Ok(())
    }

    async fn other(
        &self,
        cx: Cx,
        type_name: &str,
        object: AnyObject,
    ) -> Result<Dispatched, DispatchError> {
        let Some(handler) = &self.handlers.other else {
            return Ok(Dispatched::Ignored);
        };
        handler(cx, object)
            .await
            .map_err(|source| handler_error(type_name, source))?;
        Ok(Dispatched::Handled)
    }
}

/// Where an authorized activity goes, with what its rules established.
enum Route {
    /// Nobody listens and there is nothing to record.
    Ignore,
    /// To `on_other`, as received.
    Other,
    Follow {
        followee: Iri,
        name: String,
    },
    Reply {
        accept: bool,
        follow: SentFollow,
    },
    Undo {
        undone: Iri,
        kind: Option<Kind>,
        object: Option<Iri>,
    },
    Write {
        create: bool,
        object: AnyObject,
    },
    Delete {
        object: Iri,
        is_actor: bool,
    },
    /// A `QuoteRequest` after its rule.
    QuoteRequest(QuoteRequest),
    /// An `Accept`/`Reject` of a local actor's `QuoteRequest`.
    QuoteReply(QuoteReply),
    /// A type without rules (or `Block`, `Move` after theirs); `severed`
    /// when a `Block` changed the graph.
    Plain {
        kind: Kind,
        severed: bool,
    },
}

/// One handler call: the activity moves into the handler's value, or, with
/// no handler for its type, back into an [`AnyObject`] for `on_other`.
struct Call<'a> {
    dispatcher: &'a Dispatcher,
    cx: Cx,
    type_name: &'a str,
}

impl Call<'_> {
    async fn run<T>(
        self,
        slot: &Option<Handler<T>>,
        activity: Activity,
        value: impl FnOnce(Activity) -> T,
    ) -> Result<Dispatched, DispatchError> {
        match slot {
            Some(handler) => {
                handler(self.cx, value(activity))
                    .await
                    .map_err(|source| handler_error(self.type_name, source))?;
                Ok(Dispatched::Handled)
            }
            None => {
                let object = AnyObject::Activity(Box::new(activity));
                self.dispatcher.other(self.cx, self.type_name, object).await
            }
        }
    }
}

/// After bookkeeping, nobody listening is `Recorded`, not `Ignored`.
fn recorded(done: Dispatched) -> Dispatched {
    match done {
        Dispatched::Ignored => Dispatched::Recorded,
        done => done,
    }
}

fn handler_error(type_name: &str, source: BoxError) -> DispatchError {
    DispatchError::Handler {
        kind: crate::inbox::echo(type_name),
        source,
    }
}

/// Whether an `Accept` / `Reject` answers a `Follow`: its object is a
/// `Follow` when embedded; an IRI-only object is taken to name one (it
/// must then be a Follow this server sent). An `Accept` of anything else
/// (an `Invite`, a quote request) goes to [`Dispatcher::on_other`].
fn is_follow_reply(activity: &Activity) -> bool {
    match activity.embedded_object() {
        Some(inner) => inner.has_type("Follow"),
        None => true,
    }
}
