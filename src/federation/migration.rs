//! Account migration: an account tells its followers it moved (`Move`),
//! and their servers follow the new account for them, as Mastodon does.
//!
//! # The decision it makes
//!
//! **Sending** ([`Federation::move_account`]). The target account must
//! already name the moving one in its `alsoKnownAs` (fetched fresh from
//! its origin, or read from this server when it is local): a `Move` no
//! receiver would believe is never sent. Then the local actor's `movedTo`
//! is set (its document shows it from now on), and an `Update` of the
//! actor and the `Move` (`actor` and `object` the account, `target` the
//! new one, as Mastodon sends it) go to its followers.
//!
//! **Receiving** ([`Migration::verify`]). The dispatcher's rule runs first:
//! a `Move`'s `object` must be its sender (an account moves only itself).
//! The `Move` is then believed only when the two accounts agree, each
//! read from its own origin *now*, never from the actor cache (a cached
//! document may predate the move or the alias): the target's
//! `alsoKnownAs` names the origin, and the origin's `movedTo` names the
//! target. Both fetches are signed by the instance actor, origin-checked
//! and require the document to be served at its own id
//! ([`Fetcher::refetch_authoritative`](crate::fetch::Fetcher::refetch_authoritative)).
//! A target that has itself moved on to a third account is refused
//! (its new followers would follow an account that no longer posts; a
//! move back to the origin is allowed). Every refusal is a typed
//! [`MigrationError`] naming what failed, and is final
//! ([`MigrationError::is_refusal`]).
//!
//! **Following along** ([`Migration::follow_along`]). For each local actor
//! that follows the origin: a `Follow` of the target (recorded as sent,
//! so only the target's `Accept` makes it "following"), then an `Undo` of
//! the `Follow` of the origin, which the graph forgets. A `Follow` that
//! cannot be addressed leaves the local actor following the origin
//! ([`MigrationError::FollowNotSent`]): a move never loses a follow. The
//! candidates are the local actors the handle has loaded, each checked
//! with one page read of its following ([`Graph::following_page`], from
//! just before the origin), not the whole list. Bounded work: at most
//! [`MigrationConfig::max_follows`] local actors per `Move`, and an
//! origin whose move was followed is not followed again for
//! [`MigrationConfig::cooldown`] (7 days, as Mastodon and GoToSocial do),
//! in a table of at most [`MigrationConfig::remembered`] origins. A `Move`
//! of an origin no local actor follows is answered before anything is
//! fetched ([`Migration::handle`]); a second `Move` of an origin whose move
//! is being followed waits its turn ([`MigrationError::InProgress`], not a
//! refusal), so two Moves to two targets cannot both be followed; a `Move`
//! whose every follow failed is not remembered, and stays retryable.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use archipel::federation::Federation;
//! use archipel::federation::migration::{Migration, MigrationError};
//! use archipel::vocab::{Activity, Iri, Kind};
//! let fed = Federation::builder("https://a.example".parse()?).build().await?;
//! let alice = fed.actor("alice").await?;
//!
//! // An account cannot move to itself: refused before anything is fetched.
//! let refused = fed.move_account(&alice, alice.id()).await;
//! assert!(matches!(refused, Err(MigrationError::SameAccount { .. })));
//!
//! // Receiving: bob cannot move carol's account; refused before any fetch.
//! let bob = Iri::parse("https://b.example/users/bob")?;
//! let mut forged = Activity::new(Kind::Move, Iri::parse("https://b.example/moves/1")?, bob.clone());
//! forged.object = Some(Iri::parse("https://b.example/users/carol")?.into());
//! forged.target = Some(Iri::parse("https://c.example/users/bob")?.into());
//! let migration = Migration::new(&fed);
//! let refused = migration.verify(&bob, &forged).await.unwrap_err();
//! assert!(matches!(refused, MigrationError::NotTheSender { .. }));
//! assert!(refused.is_refusal());
//! # Ok(()) }
//! ```

mod error;
mod send;
#[cfg(test)]
mod tests;

pub use error::{Account, MigrationError};
pub use send::Moved;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::inbox::echo;
use crate::vocab::{Activity, Actor, AnyObject, Iri, Kind};

use super::dispatch::{Cx, Dispatcher, HandlerResult};
use super::graph::{Graph, GraphError, page_order};
use super::hub::Federation;
use super::local::LocalActor;

/// The default of [`MigrationConfig::max_follows`]: local actors moved per
/// `Move`.
pub const DEFAULT_MAX_FOLLOWS: usize = 1_000;
/// The default of [`MigrationConfig::cooldown`]: 7 days, as Mastodon and
/// GoToSocial wait before following another move of the same account.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default of [`MigrationConfig::remembered`]: origins whose move
/// was followed, kept for the cooldown.
pub const DEFAULT_REMEMBERED: usize = 10_000;

/// How many followed accounts one page read returns while looking for
/// the origin in a local actor's following.
const PAGE: usize = 64;

/// The bounds of [`Migration`] (see the [module docs](self)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MigrationConfig {
    /// At most this many local actors follow along per `Move`; the rest
    /// are counted in [`FollowedAlong::over_cap`]. Default
    /// [`DEFAULT_MAX_FOLLOWS`].
    pub max_follows: usize,
    /// A `Move` of an origin whose move was followed less than this long
    /// ago is refused ([`MigrationError::Cooldown`]). Default
    /// [`DEFAULT_COOLDOWN`]; zero turns it off.
    pub cooldown: Duration,
    /// At most this many origins are remembered for the cooldown (the
    /// oldest forgotten first). Default [`DEFAULT_REMEMBERED`].
    pub remembered: usize,
}

impl Default for MigrationConfig {
    fn default() -> Self {
        MigrationConfig {
            max_follows: DEFAULT_MAX_FOLLOWS,
            cooldown: DEFAULT_COOLDOWN,
            remembered: DEFAULT_REMEMBERED,
        }
    }
}

impl MigrationConfig {
    /// Sets [`MigrationConfig::max_follows`] (at least one).
    pub fn with_max_follows(mut self, n: usize) -> Self {
        self.max_follows = n.max(1);
        self
    }

    /// Sets [`MigrationConfig::cooldown`].
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Sets [`MigrationConfig::remembered`] (at least one).
    pub fn with_remembered(mut self, n: usize) -> Self {
        self.remembered = n.max(1);
        self
    }
}

/// A `Move` both accounts agree on, from [`Migration::verify`]: only that
/// check makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedMove {
    /// The account that moved (the sender).
    pub origin: Iri,
    /// The account it moved to.
    pub target: Iri,
    /// The `Move`'s id, if it had one.
    pub activity: Option<Iri>,
}

/// What [`Migration::follow_along`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct FollowedAlong {
    /// Local actors that now follow the target (a `Follow` sent, awaiting
    /// its `Accept`) and no longer the origin.
    pub moved: Vec<Iri>,
    /// Local actors that already followed (or had asked to follow) the
    /// target: they only stopped following the origin.
    pub already_following: Vec<Iri>,
    /// Local actors whose follow could not be moved, and why (they
    /// still follow the origin).
    pub failed: Vec<(Iri, MigrationError)>,
    /// Local followers of the origin left out past
    /// [`MigrationConfig::max_follows`].
    pub over_cap: usize,
}

/// The receiving side of account migration: verifies `Move`s and moves
/// the local follows of the origin to the target (see the
/// [module docs](self)). Cheap to clone; clones share the cooldown table,
/// so keep one per server.
#[derive(Clone)]
pub struct Migration {
    fed: Federation,
    config: MigrationConfig,
    recent: Arc<Mutex<Recent>>,
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Origins whose move was followed, and when (bounded, oldest first out).
#[derive(Default)]
struct Recent {
    at: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
    /// Origins whose move is being followed now.
    moving: std::collections::HashSet<String>,
}

/// An origin's move being followed: released when dropped.
struct Claim {
    recent: Arc<Mutex<Recent>>,
    origin: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.moving.remove(&self.origin);
    }
}

impl Migration {
    /// The receiving side for `fed`'s server, with [`MigrationConfig::default`].
    pub fn new(fed: &Federation) -> Migration {
        Migration {
            fed: fed.clone(),
            config: MigrationConfig::default(),
            recent: Arc::default(),
        }
    }

    /// Replaces the bounds, builder style.
    pub fn with_config(mut self, config: MigrationConfig) -> Migration {
        self.config = config;
        self
    }

    /// The bounds in use.
    pub fn config(&self) -> &MigrationConfig {
        &self.config
    }

    /// Checks a `Move` received from `sender` (the authenticated actor):
    /// its `object` is the sender, it names a `target` other than the
    /// sender, the target (fetched fresh) lists the sender in
    /// `alsoKnownAs` and has not moved on to a third account, and the
    /// sender (fetched fresh) says `movedTo` the target. On success the
    /// actor cache forgets both accounts, so the next read sees them as
    /// they are now.
    ///
    /// # Errors
    /// The [`MigrationError`] naming the first check that failed.
    pub async fn verify(
        &self,
        sender: &Iri,
        activity: &Activity,
    ) -> Result<VerifiedMove, MigrationError> {
        let id = || echo(activity.id.as_ref().map_or("", Iri::as_str));
        if !activity.has_type(Kind::Move.as_str()) {
            return Err(MigrationError::NotAMove {
                activity: id(),
                found: echo(activity.type_name().unwrap_or("")),
            });
        }
        if activity.object_id() != Some(sender) || activity.actor_id() != Some(sender) {
            return Err(MigrationError::NotTheSender {
                activity: id(),
                sender: sender.clone(),
                object: activity.object_id().map(|o| echo(o.as_str())),
            });
        }
        let target = activity
            .target
            .as_ref()
            .and_then(|t| t.first())
            .and_then(|t| t.id())
            .ok_or_else(|| MigrationError::MissingTarget { activity: id() })?;
        if target == sender {
            return Err(MigrationError::SameAccount {
                origin: sender.clone(),
            });
        }
        // The target first: a forged Move names a target its sender does
        // not control, and fails here.
        let target_doc = fresh_actor(&self.fed, Account::Target, target, sender).await?;
        check_alias(&target_doc, sender, target)?;
        let origin_doc = fresh_actor(&self.fed, Account::Origin, sender, sender).await?;
        if origin_doc.moved_to.as_ref() != Some(target) {
            return Err(MigrationError::NotMovedTo {
                origin: sender.clone(),
                target: target.clone(),
                found: origin_doc.moved_to.clone(),
            });
        }
        // Cached copies predate the move: the next read fetches them again.
        // A cache that cannot forget only delays a profile update.
        let _ = self.fed.actors().invalidate(sender).await;
        let _ = self.fed.actors().invalidate(target).await;
        Ok(VerifiedMove {
            origin: sender.clone(),
            target: target.clone(),
            activity: activity.id.clone(),
        })
    }

    /// Moves the follows of `verified.origin` by the local actors among
    /// `candidates` to `verified.target`: each follows the target (a
    /// `Follow` recorded as sent; directly recorded when the target is a
    /// local actor too) and stops following the origin (an `Undo` of its
    /// `Follow`). A failure for one local actor is reported in
    /// [`FollowedAlong::failed`] and does not stop the others.
    ///
    /// # Errors
    /// [`MigrationError::Cooldown`] when a move of this origin was
    /// followed within the cooldown; [`MigrationError::Graph`] when the
    /// follow graph cannot be read.
    pub async fn follow_along(
        &self,
        verified: &VerifiedMove,
        candidates: &[LocalActor],
    ) -> Result<FollowedAlong, MigrationError> {
        // The cooldown and the claim in one step: two Moves of one origin
        // (to two targets) cannot both be followed.
        let _claim = self.claim(&verified.origin)?;
        let graph = self.fed.graph().as_ref();
        let mut done = FollowedAlong::default();
        let mut seen: std::collections::HashSet<&Iri> = std::collections::HashSet::new();
        for me in candidates {
            let id = me.id();
            if *id == verified.target || *id == verified.origin || !seen.insert(id) {
                continue;
            }
            if !follows(graph, id, &verified.origin).await? {
                continue;
            }
            if done.moved.len() + done.already_following.len() + done.failed.len()
                >= self.config.max_follows
            {
                done.over_cap += 1;
                continue;
            }
            match self.move_follow(me, verified).await {
                Ok(true) => done.moved.push(id.clone()),
                Ok(false) => done.already_following.push(id.clone()),
                Err(e) => done.failed.push((id.clone(), e)),
            }
        }
        // Remembered once follows were moved: a Move whose every follow
        // failed (or that concerned no local actor) stays retryable, and
        // moves concerning no local actor cannot push real entries out of
        // the bounded table.
        if !(done.moved.is_empty() && done.already_following.is_empty() && done.over_cap == 0) {
            self.remember(&verified.origin);
        }
        Ok(done)
    }

    /// [`Migration::verify`], then [`Migration::follow_along`] for every
    /// local actor the handle has loaded ([`Federation::loaded_actors`]):
    /// what the ready-made handler does. A `Move` of an origin still in
    /// its cooldown is refused before anything is fetched.
    ///
    /// # Errors
    /// As [`Migration::verify`] and [`Migration::follow_along`].
    pub async fn handle(
        &self,
        cx: &Cx,
        activity: &Activity,
    ) -> Result<FollowedAlong, MigrationError> {
        self.check_cooldown(cx.actor())?;
        // Nobody here follows the origin: nothing to move, and nothing is
        // fetched on the sender's behalf.
        if self
            .fed
            .graph()
            .local_followers_of(cx.actor(), 1)
            .await?
            .is_empty()
        {
            return Ok(FollowedAlong::default());
        }
        let verified = self.verify(cx.actor(), activity).await?;
        self.follow_along(&verified, &self.fed.loaded_actors())
            .await
    }

    /// A handler for [`Dispatcher::on_move`] running [`Migration::handle`];
    /// a refusal fails the handler with the [`MigrationError`], which the
    /// dispatcher answers `403` (never retried by the inbound queue).
    pub fn handler(
        &self,
    ) -> impl Fn(Cx, Activity) -> Pin<Box<dyn Future<Output = HandlerResult> + Send>>
    + Send
    + Sync
    + 'static {
        let migration = self.clone();
        move |cx, activity| {
            let migration = migration.clone();
            Box::pin(async move {
                migration.handle(&cx, &activity).await?;
                Ok(())
            })
        }
    }

    fn check_cooldown(&self, origin: &Iri) -> Result<(), MigrationError> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        self.cooldown_of(&recent, origin)
    }

    /// [`MigrationError::Cooldown`] if a move of `origin` was followed
    /// within the cooldown, as `recent` says.
    fn cooldown_of(&self, recent: &Recent, origin: &Iri) -> Result<(), MigrationError> {
        match recent.at.get(origin.as_str()) {
            Some(at) if at.elapsed() < self.config.cooldown => Err(MigrationError::Cooldown {
                origin: origin.clone(),
                cooldown_secs: self.config.cooldown.as_secs(),
            }),
            _ => Ok(()),
        }
    }

    /// Checks the cooldown of `origin` and claims its move, in one step.
    fn claim(&self, origin: &Iri) -> Result<Claim, MigrationError> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        self.cooldown_of(&recent, origin)?;
        if !recent.moving.insert(origin.as_str().to_owned()) {
            return Err(MigrationError::InProgress {
                origin: origin.clone(),
            });
        }
        Ok(Claim {
            recent: self.recent.clone(),
            origin: origin.as_str().to_owned(),
        })
    }

    fn remember(&self, origin: &Iri) {
        if self.config.cooldown.is_zero() {
            return;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        recent.at.insert(origin.as_str().to_owned(), now);
        recent.order.push_back((origin.as_str().to_owned(), now));
        while recent.order.len() > self.config.remembered {
            let Some((old, at)) = recent.order.pop_front() else {
                break;
            };
            // Only the newest entry of an origin stands for it.
            if recent.at.get(&old) == Some(&at) {
                recent.at.remove(&old);
            }
        }
    }

    /// One local actor's follow: the target, then no longer the origin.
    /// `true` when a new follow of the target was made.
    async fn move_follow(
        &self,
        me: &LocalActor,
        verified: &VerifiedMove,
    ) -> Result<bool, MigrationError> {
        let graph = self.fed.graph();
        let target = &verified.target;
        let already = follows(graph.as_ref(), me.id(), target).await?
            || graph.sent_follow_between(me.id(), target).await?.is_some();
        if !already {
            if self.fed.local_by_id(target).is_some() {
                // No request leaves this server for a local target: both
                // sides of the follow are recorded here.
                graph.add_follower(target, me.id()).await?;
                graph.add_following(me.id(), target).await?;
            } else {
                let sent = self.fed.follow(me, target).await?;
                if let Some((_, why)) = sent.unresolved.iter().find(|(iri, _)| iri == target) {
                    // The Follow never left: forget it, keep the origin.
                    if let Some(pending) = graph.sent_follow_between(me.id(), target).await? {
                        graph.forget_sent_follow(&pending.id).await?;
                    }
                    return Err(MigrationError::FollowNotSent {
                        follower: me.id().clone(),
                        target: target.clone(),
                        reason: why.to_string(),
                    });
                }
            }
        }
        self.fed.unfollow(me, &verified.origin).await?;
        Ok(!already)
    }
}

impl Dispatcher {
    /// Registers `migration`'s ready-made `Move` handler
    /// ([`Migration::handler`]): a verified `Move` moves the local follows
    /// of its sender to its target (see [`migration`](super::migration)).
    pub fn with_migration(self, migration: &Migration) -> Dispatcher {
        self.on_move(migration.handler())
    }
}

/// The actor `iri` as it is now: a local actor's document, or fetched
/// from its origin without the cache, served at its own id.
pub(super) async fn fresh_actor(
    fed: &Federation,
    account: Account,
    iri: &Iri,
    origin: &Iri,
) -> Result<Actor, MigrationError> {
    if let Some(local) = fed.local_by_id(iri) {
        return Ok(local.document());
    }
    let not_actor = |reason: String| MigrationError::NotAnActor {
        account,
        iri: iri.clone(),
        origin: origin.clone(),
        reason,
    };
    let url = iri.to_url().map_err(|e| not_actor(e.to_string()))?;
    let doc = fed
        .fetcher()
        .refetch_authoritative(&url)
        .await
        .map_err(|source| MigrationError::Fetch {
            account,
            iri: iri.clone(),
            origin: origin.clone(),
            source: Box::new(source),
        })?;
    let actor = match AnyObject::from_value(&doc) {
        Ok(AnyObject::Actor(actor)) => *actor,
        Ok(other) => {
            let found = echo(other.type_name().unwrap_or(""));
            return Err(not_actor(format!("type {found:?}")));
        }
        Err(e) => return Err(not_actor(e.to_string())),
    };
    if actor.base.id.as_ref() != Some(iri) {
        let served = echo(actor.base.id.as_ref().map_or("", Iri::as_str));
        return Err(not_actor(format!("served as {served:?}")));
    }
    Ok(actor)
}

/// The target's `alsoKnownAs` must name the origin, and the target must
/// not have moved on to a third account.
pub(super) fn check_alias(
    target_doc: &Actor,
    origin: &Iri,
    target: &Iri,
) -> Result<(), MigrationError> {
    let named = target_doc
        .also_known_as
        .as_ref()
        .is_some_and(|aliases| aliases.iter().any(|a| a == origin));
    if !named {
        return Err(MigrationError::NotAnAlias {
            origin: origin.clone(),
            target: target.clone(),
        });
    }
    match &target_doc.moved_to {
        Some(moved_to) if moved_to != origin => Err(MigrationError::TargetMoved {
            origin: origin.clone(),
            target: target.clone(),
            moved_to: moved_to.clone(),
        }),
        _ => Ok(()),
    }
}

/// Whether `local` follows `remote`, read from its following a page at a
/// time starting just before `remote` in [`page_order`], so the answer
/// costs a page, not the whole list.
pub(crate) async fn follows(
    graph: &dyn Graph,
    local: &Iri,
    remote: &Iri,
) -> Result<bool, GraphError> {
    let wanted = page_order(remote);
    // A proper prefix of `remote` sorts before it (same or shorter
    // authority, shorter string): the first page starts at most a few
    // rows before it.
    let text = remote.as_str();
    let mut after = text
        .char_indices()
        .last()
        .map(|(i, _)| Iri::new_unchecked(&text[..i]));
    loop {
        let page = graph.following_page(local, after.as_ref(), PAGE).await?;
        for followed in &page {
            let key = page_order(followed);
            if key == wanted {
                return Ok(true);
            }
            if key > wanted {
                return Ok(false);
            }
        }
        match page.last() {
            // A page that does not move past its cursor would never end.
            Some(last) if page.len() == PAGE && Some(last) != after.as_ref() => {
                after = Some(last.clone());
            }
            _ => return Ok(false),
        }
    }
}
