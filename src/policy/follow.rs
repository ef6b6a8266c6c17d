//! Follow consent: who may follow whom, and when.
//!
//! ActivityPub §7.5 leaves it to the server whether a `Follow` is accepted at
//! once; the convention (Mastodon's "locked account", the
//! `manuallyApprovesFollowers` property) is that an actor who approves
//! followers by hand gets a *pending request*, which the person later accepts
//! or rejects. These helpers hold that decision, the pending requests, and
//! build the `Accept` / `Reject` that answer a `Follow` (its `object` is the
//! `Follow` itself, embedded, as Mastodon, Pleroma and Fedify expect).
//!
//! `Undo` and `Block` have their own rules, in [`check_undo`] and
//! [`BlockEffect`].
//!
//! Everything works on typed [`Activity`] values, as the inbox hands them
//! over, and answers with typed activities ready for delivery. The safe
//! default is the locked-account reading: a request waits unless the
//! followed actor accepts followers automatically, and the waiting list is
//! bounded.
//!
//! ```
//! use archipel::policy::follow::{self, FollowConsent, PendingFollow, PendingFollows};
//! use archipel::vocab::{Activity, Iri};
//! let follow = Activity::follow(
//!     Iri::parse("https://b.example/follows/1")?,
//!     Iri::parse("https://b.example/users/bob")?,
//!     Iri::parse("https://a.example/users/alice")?,
//! );
//! let request = PendingFollow::from_follow(&follow).expect("a complete Follow");
//! let pending = PendingFollows::default();
//! match follow::consent_for(true) {
//!     FollowConsent::Pending => pending.insert(request.clone()),
//!     _ => unreachable!("alice approves followers by hand"),
//! }
//! // Later, alice accepts bob.
//! let taken = pending.take(&request.followee, &request.follower).expect("pending");
//! let accept = follow::accept(&taken, Iri::parse("https://a.example/accepts/1")?);
//! assert!(accept.has_type("Accept"));
//! assert_eq!(accept.object_id(), Some(&taken.follow_id));
//! # Ok::<(), archipel::vocab::VocabError>(())
//! ```

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;

use crate::vocab::{Activity, AnyObject, Iri, OneOrMany, Reference};

/// What to do with an incoming `Follow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowConsent {
    /// Accept now: send `Accept` and add the follower.
    AcceptNow,
    /// Keep as a pending request until the person decides.
    Pending,
}

/// The consent decision for a `Follow` of an actor, from its
/// `manuallyApprovesFollowers` flag.
///
/// ```
/// use archipel::policy::follow::{consent_for, FollowConsent};
/// assert_eq!(consent_for(true), FollowConsent::Pending);
/// assert_eq!(consent_for(false), FollowConsent::AcceptNow);
/// ```
pub fn consent_for(manually_approves_followers: bool) -> FollowConsent {
    if manually_approves_followers {
        FollowConsent::Pending
    } else {
        FollowConsent::AcceptNow
    }
}

/// A `Follow` waiting for the followed person's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingFollow {
    /// The `Follow` activity's `id`.
    pub follow_id: Iri,
    /// Who asked to follow (the `Follow`'s `actor`).
    pub follower: Iri,
    /// Who is to be followed (the `Follow`'s `object`, a local actor).
    pub followee: Iri,
    /// The `Follow` activity as received, to embed in the answer.
    pub follow: Activity,
}

impl PendingFollow {
    /// Reads a pending request out of a received `Follow`.
    ///
    /// Returns `None` when the activity is not a `Follow` (any spelling of
    /// the type) or lacks an `id`, `actor` or `object` IRI. An embedded actor
    /// or object counts by its `id`; of several, the first is taken.
    pub fn from_follow(follow: &Activity) -> Option<Self> {
        if !follow.has_type("Follow") {
            return None;
        }
        Some(Self {
            follow_id: follow.id.clone()?,
            follower: follow.actor_id()?.clone(),
            followee: follow.object_id()?.clone(),
            follow: follow.clone(),
        })
    }
}

/// Bounded in-memory list of pending follow requests.
///
/// A repeated `Follow` from the same follower to the same followee replaces
/// the earlier one (so a retried request never piles up); past `capacity`
/// (default 10 000) the oldest request is dropped, so remote actors cannot
/// grow it without bound.
#[derive(Debug)]
pub struct PendingFollows {
    capacity: usize,
    inner: Mutex<VecDeque<PendingFollow>>,
}

impl PendingFollows {
    /// An empty list holding at most `capacity` requests (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<PendingFollow>> {
        // A poisoned lock only means a panic elsewhere mid-update; the list
        // itself stays valid.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `request`, replacing an earlier one between the same actors.
    pub fn insert(&self, request: PendingFollow) {
        let mut list = self.lock();
        list.retain(|p| !(p.follower == request.follower && p.followee == request.followee));
        while list.len() >= self.capacity {
            list.pop_front();
        }
        list.push_back(request);
    }

    /// The pending requests for `followee`, oldest first.
    pub fn for_followee(&self, followee: &Iri) -> Vec<PendingFollow> {
        self.lock()
            .iter()
            .filter(|p| p.followee == *followee)
            .cloned()
            .collect()
    }

    /// Removes and returns the request for `followee` matching `key`, which
    /// may be the follower's IRI or the `Follow`'s id.
    pub fn take(&self, followee: &Iri, key: &Iri) -> Option<PendingFollow> {
        let mut list = self.lock();
        let index = list
            .iter()
            .position(|p| p.followee == *followee && (p.follower == *key || p.follow_id == *key))?;
        list.remove(index)
    }

    /// Drops the request(s) from `follower` to `followee` (e.g. on `Undo`).
    pub fn withdraw(&self, follower: &Iri, followee: &Iri) -> bool {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|p| !(p.follower == *follower && p.followee == *followee));
        list.len() != before
    }
}

impl Default for PendingFollows {
    fn default() -> Self {
        Self::new(10_000)
    }
}

/// Builds the `Accept` of a `Follow`, from the followed actor.
///
/// `id` is the new activity's IRI (on the followed actor's server). The
/// `Follow` is embedded as `object` (without its own `@context`) and the
/// follower addressed in `to`.
///
/// ```
/// use archipel::policy::follow::{accept, PendingFollow};
/// use archipel::vocab::{Activity, Iri};
/// let follow = Activity::follow(
///     Iri::parse("https://b.example/f/1")?,
///     Iri::parse("https://b.example/users/bob")?,
///     Iri::parse("https://a.example/users/alice")?,
/// );
/// let p = PendingFollow::from_follow(&follow).expect("a Follow with id, actor and object");
/// let a = accept(&p, Iri::parse("https://a.example/accepts/1")?);
/// assert!(a.has_type("Accept"));
/// assert_eq!(a.actor_id().map(Iri::as_str), Some("https://a.example/users/alice"));
/// let embedded = a.embedded_object().and_then(|o| o.as_activity()).expect("embedded Follow");
/// assert_eq!(embedded.id.as_ref().map(Iri::as_str), Some("https://b.example/f/1"));
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
pub fn accept(request: &PendingFollow, id: Iri) -> Activity {
    Activity::accept(id, request.followee.clone(), embedded(request))
        .with_to(vec![request.follower.clone()])
}

/// Builds the `Reject` of a `Follow`, from the followed actor (shaped like
/// [`accept`]).
pub fn reject(request: &PendingFollow, id: Iri) -> Activity {
    Activity::reject(id, request.followee.clone(), embedded(request))
        .with_to(vec![request.follower.clone()])
}

/// The `Follow` to embed in an answer.
fn embedded(request: &PendingFollow) -> AnyObject {
    let mut follow = request.follow.clone();
    // The embedded Follow does not need its own context.
    follow.base.ld_context = None;
    AnyObject::Activity(Box::new(follow))
}

/// What an `Undo` undoes, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoTarget {
    /// The undone activity's `id`.
    pub id: Iri,
    /// Its `type`, when the `Undo` embeds it (e.g. `"Follow"`, `"Like"`).
    pub kind: Option<String>,
    /// Its `object` IRI, when embedded (whom was followed, what was liked).
    pub object: Option<Iri>,
}

/// Why an `Undo` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UndoError {
    /// The `Undo` has no `object`, several, or an embedded one without `id`.
    #[error("Undo: missing or malformed object")]
    MissingObject,
    /// The embedded activity's `actor` is not the `Undo`'s `actor`: one may
    /// only undo one's own activities.
    #[error("Undo by {undo_actor:?} of an activity by {original_actor:?}")]
    NotOwnActivity {
        /// The `Undo`'s actor (empty if it names none).
        undo_actor: String,
        /// The undone activity's actor.
        original_actor: String,
    },
    /// The embedded activity's `id` is not on the `Undo` actor's origin: a
    /// forged copy of someone else's activity claiming the sender as actor
    /// (it would undo their Like in an application keyed by id).
    #[error("Undo by {undo_actor:?} of an activity with a foreign id {id:?}")]
    ForeignId {
        /// The `Undo`'s actor (empty if it names none).
        undo_actor: String,
        /// The undone activity's id.
        id: String,
    },
}

/// Checks an `Undo` and says what it undoes.
///
/// The undone activity may be an IRI or embedded; when embedded, its `actor`
/// must be the `Undo`'s (else [`UndoError::NotOwnActivity`]), also for
/// activity types outside the vocabulary, and its `id` on the `Undo`
/// actor's origin (else [`UndoError::ForeignId`]). When only an IRI is given the
/// application must check it against what it stored. An `Undo` of several
/// objects at once is refused as [`UndoError::MissingObject`]: no server
/// sends one, and which of them was meant is ambiguous.
pub fn check_undo(undo: &Activity) -> Result<UndoTarget, UndoError> {
    let undo_actor = undo.actor_id();
    let object = match undo.object.as_ref() {
        Some(OneOrMany::One(r)) => r,
        Some(OneOrMany::Many(items)) if items.len() == 1 => {
            items.first().ok_or(UndoError::MissingObject)?
        }
        _ => return Err(UndoError::MissingObject),
    };
    let embedded = match object {
        Reference::Iri(id) => {
            return Ok(UndoTarget {
                id: id.clone(),
                kind: None,
                object: None,
            });
        }
        Reference::Object(o) => o,
    };
    let id = embedded.id().ok_or(UndoError::MissingObject)?;
    if let Some(original) = actor_of(embedded)
        && Some(&original) != undo_actor
    {
        return Err(UndoError::NotOwnActivity {
            undo_actor: undo_actor.map(Iri::to_string).unwrap_or_default(),
            original_actor: original.into_string(),
        });
    }
    if !undo_actor.is_some_and(|a| crate::client::same_origin(id.as_str(), a.as_str())) {
        return Err(UndoError::ForeignId {
            undo_actor: undo_actor.map(Iri::to_string).unwrap_or_default(),
            id: id.to_string(),
        });
    }
    Ok(UndoTarget {
        id: id.clone(),
        kind: embedded.type_name().map(str::to_owned),
        object: embedded
            .as_activity()
            .and_then(Activity::object_id)
            .cloned(),
    })
}

/// The `actor` of an embedded activity, also when its type is outside the
/// vocabulary (then the property sits in `extra`, as received).
fn actor_of(object: &AnyObject) -> Option<Iri> {
    if let Some(activity) = object.as_activity() {
        return activity.actor_id().cloned();
    }
    let actor = object.as_object()?.extra.get("actor")?;
    let iri = match actor {
        Value::String(s) => s.as_str(),
        Value::Object(map) => map.get("id")?.as_str()?,
        Value::Array(items) => match items.first()? {
            Value::String(s) => s.as_str(),
            Value::Object(map) => map.get("id")?.as_str()?,
            _ => return None,
        },
        _ => return None,
    };
    Some(Iri::new_unchecked(iri))
}

/// The consequences of a received `Block` (ActivityPub §6.9 leaves them to
/// the server; this is the common reading).
///
/// When `blocker` blocks `blocked`: `blocked` no longer follows `blocker`,
/// `blocker` no longer follows `blocked`, any pending request between them is
/// dropped, and `blocker` gets no more deliveries from `blocked`. The
/// `Block` itself is never forwarded or shown to the blocked person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEffect {
    /// Who blocks.
    pub blocker: Iri,
    /// Who is blocked.
    pub blocked: Iri,
}

impl BlockEffect {
    /// Reads the effect out of a `Block` (`None` if it is not a `Block` with
    /// `actor` and `object` IRIs).
    pub fn from_block(block: &Activity) -> Option<Self> {
        if !block.has_type("Block") {
            return None;
        }
        Some(Self {
            blocker: block.actor_id()?.clone(),
            blocked: block.object_id()?.clone(),
        })
    }

    /// Whether a follow relationship `follower → followee` must be removed.
    pub fn severs(&self, follower: &Iri, followee: &Iri) -> bool {
        (*follower == self.blocked && *followee == self.blocker)
            || (*follower == self.blocker && *followee == self.blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::new_unchecked(s)
    }

    fn alice() -> Iri {
        iri("https://a.example/users/alice")
    }

    fn follow(id: &str, actor: &str) -> Activity {
        Activity::follow(iri(id), iri(actor), alice())
    }

    /// Decodes a received document, as the inbox hands it over.
    fn received(json: &str) -> Activity {
        match AnyObject::from_json_str(json).unwrap() {
            AnyObject::Activity(a) => *a,
            other => panic!("not an activity: {other:?}"),
        }
    }

    #[test]
    fn pending_requests_replace_and_take() {
        let list = PendingFollows::new(10);
        let bob = iri("https://b.example/users/bob");
        list.insert(
            PendingFollow::from_follow(&follow("https://b.example/f/1", bob.as_str())).unwrap(),
        );
        list.insert(
            PendingFollow::from_follow(&follow("https://b.example/f/2", bob.as_str())).unwrap(),
        );
        let pending = list.for_followee(&alice());
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].follow_id, "https://b.example/f/2");
        let taken = list.take(&alice(), &bob).unwrap();
        assert_eq!(taken.follow_id, "https://b.example/f/2");
        assert!(list.for_followee(&alice()).is_empty());
    }

    #[test]
    fn pending_list_is_bounded_and_drops_the_oldest() {
        let list = PendingFollows::new(2);
        for n in 1..=3 {
            let actor = format!("https://b.example/users/u{n}");
            list.insert(
                PendingFollow::from_follow(&follow(&format!("https://b.example/f/{n}"), &actor))
                    .unwrap(),
            );
        }
        let ids: Vec<String> = list
            .for_followee(&alice())
            .into_iter()
            .map(|p| p.follow_id.into_string())
            .collect();
        assert_eq!(ids, ["https://b.example/f/2", "https://b.example/f/3"]);
        assert!(list.withdraw(&iri("https://b.example/users/u3"), &alice()));
        assert!(!list.withdraw(&iri("https://b.example/users/u3"), &alice()));
    }

    #[test]
    fn from_follow_reads_embedded_actor_and_refuses_other_types() {
        let f = received(
            r#"{"id":"https://b.example/f/1","type":"Follow",
            "actor":{"id":"https://b.example/u","type":"Person"},
            "object":"https://a.example/users/alice"}"#,
        );
        let p = PendingFollow::from_follow(&f).unwrap();
        assert_eq!(p.follower, "https://b.example/u");
        assert_eq!(p.followee, "https://a.example/users/alice");
        let like = received(
            r#"{"id":"https://b.example/l/1","type":"Like",
            "actor":"https://b.example/u","object":"https://a.example/users/alice"}"#,
        );
        assert_eq!(PendingFollow::from_follow(&like), None);
        let no_id = received(
            r#"{"type":"Follow","actor":"https://b.example/u",
            "object":"https://a.example/users/alice"}"#,
        );
        assert_eq!(PendingFollow::from_follow(&no_id), None);
    }

    #[test]
    fn reject_embeds_follow_without_context() {
        let p = PendingFollow::from_follow(&follow("https://b.example/f/1", "https://b.example/u"))
            .unwrap();
        let r = reject(&p, iri("https://a.example/r/1"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["type"], "Reject");
        assert_eq!(json["id"], "https://a.example/r/1");
        assert_eq!(json["actor"], "https://a.example/users/alice");
        assert_eq!(json["to"], serde_json::json!(["https://b.example/u"]));
        assert_eq!(json["@context"], "https://www.w3.org/ns/activitystreams");
        assert!(json["object"].get("@context").is_none());
        assert_eq!(json["object"]["type"], "Follow");
        assert_eq!(json["object"]["id"], "https://b.example/f/1");
    }

    #[test]
    fn accept_addresses_the_follower_iri_even_when_the_actor_was_embedded() {
        let f = received(
            r#"{"id":"https://b.example/f/1","type":"Follow",
            "actor":{"id":"https://b.example/u","type":"Person"},
            "object":"https://a.example/users/alice"}"#,
        );
        let a = accept(
            &PendingFollow::from_follow(&f).unwrap(),
            iri("https://a.example/a/1"),
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["type"], "Accept");
        assert_eq!(json["to"], serde_json::json!(["https://b.example/u"]));
    }

    #[test]
    fn undo_of_someone_elses_activity_is_refused() {
        let undo = |actor: &str| {
            Activity::undo(
                iri("https://b.example/undo/1"),
                iri(actor),
                AnyObject::from(follow("https://b.example/f/1", "https://b.example/u")),
            )
        };
        assert_eq!(
            check_undo(&undo("https://evil.example/u")),
            Err(UndoError::NotOwnActivity {
                undo_actor: "https://evil.example/u".into(),
                original_actor: "https://b.example/u".into()
            })
        );
        let target = check_undo(&undo("https://b.example/u")).unwrap();
        assert_eq!(target.id, "https://b.example/f/1");
        // A forged copy: the sender as actor, someone else's id.
        let forged = Activity::undo(
            iri("https://evil.example/undo/2"),
            iri("https://evil.example/u"),
            AnyObject::from(follow("https://b.example/f/1", "https://evil.example/u")),
        );
        assert_eq!(
            check_undo(&forged),
            Err(UndoError::ForeignId {
                undo_actor: "https://evil.example/u".into(),
                id: "https://b.example/f/1".into()
            })
        );
        assert_eq!(target.kind.as_deref(), Some("Follow"));
        assert_eq!(target.object, Some(alice()));
    }

    #[test]
    fn undo_of_an_unknown_activity_type_still_checks_its_actor() {
        let undo = received(
            r#"{"id":"https://evil.example/undo/1","type":"Undo",
            "actor":"https://evil.example/u",
            "object":{"id":"https://b.example/x/1","type":"ChatMessage","actor":"https://b.example/u"}}"#,
        );
        assert_eq!(
            check_undo(&undo),
            Err(UndoError::NotOwnActivity {
                undo_actor: "https://evil.example/u".into(),
                original_actor: "https://b.example/u".into()
            })
        );
    }

    #[test]
    fn undo_by_iri_and_malformed_undos() {
        let by_iri = received(
            r#"{"type":"Undo","actor":"https://b.example/u","object":"https://b.example/f/1"}"#,
        );
        assert_eq!(
            check_undo(&by_iri),
            Ok(UndoTarget {
                id: iri("https://b.example/f/1"),
                kind: None,
                object: None
            })
        );
        for bad in [
            r#"{"type":"Undo","actor":"https://b.example/u"}"#,
            r#"{"type":"Undo","actor":"https://b.example/u","object":{"type":"Follow","actor":"https://b.example/u"}}"#,
            r#"{"type":"Undo","actor":"https://b.example/u","object":["https://b.example/f/1","https://b.example/f/2"]}"#,
        ] {
            assert_eq!(
                check_undo(&received(bad)),
                Err(UndoError::MissingObject),
                "{bad}"
            );
        }
    }

    #[test]
    fn block_severs_both_directions() {
        let b = BlockEffect::from_block(&Activity::block(
            iri("https://a.example/b/1"),
            iri("https://a.example/x"),
            iri("https://b.example/y"),
        ))
        .unwrap();
        let (x, y, z) = (
            iri("https://a.example/x"),
            iri("https://b.example/y"),
            iri("https://c.example/z"),
        );
        assert!(b.severs(&y, &x));
        assert!(b.severs(&x, &y));
        assert!(!b.severs(&z, &x));
        assert_eq!(
            BlockEffect::from_block(&follow("https://a.example/f/1", "https://a.example/x")),
            None
        );
    }
}
