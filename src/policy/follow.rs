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

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::vocab::AS_CONTEXT;

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
    pub follow_id: String,
    /// Who asked to follow (the `Follow`'s `actor`).
    pub follower: String,
    /// Who is to be followed (the `Follow`'s `object`, a local actor).
    pub followee: String,
    /// The `Follow` activity as received, to embed in the answer.
    pub follow: Value,
}

impl PendingFollow {
    /// Reads a pending request out of a received `Follow` document.
    ///
    /// Returns `None` when the document is not a `Follow` or lacks an `id`,
    /// `actor` or `object` IRI.
    pub fn from_follow(follow: &Value) -> Option<Self> {
        if !has_type(follow, "Follow") {
            return None;
        }
        Some(Self {
            follow_id: follow.get("id")?.as_str()?.to_owned(),
            follower: reference_iri(follow.get("actor")?)?.to_owned(),
            followee: reference_iri(follow.get("object")?)?.to_owned(),
            follow: follow.clone(),
        })
    }
}

/// Bounded in-memory list of pending follow requests.
///
/// A repeated `Follow` from the same follower to the same followee replaces
/// the earlier one (so a retried request never piles up); past `capacity`
/// the oldest request is dropped.
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
    pub fn for_followee(&self, followee: &str) -> Vec<PendingFollow> {
        self.lock()
            .iter()
            .filter(|p| p.followee == followee)
            .cloned()
            .collect()
    }

    /// Removes and returns the request for `followee` matching `key`, which
    /// may be the follower's IRI or the `Follow`'s id.
    pub fn take(&self, followee: &str, key: &str) -> Option<PendingFollow> {
        let mut list = self.lock();
        let index = list
            .iter()
            .position(|p| p.followee == followee && (p.follower == key || p.follow_id == key))?;
        list.remove(index)
    }

    /// Drops the request(s) from `follower` to `followee` (e.g. on `Undo`).
    pub fn withdraw(&self, follower: &str, followee: &str) -> bool {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|p| !(p.follower == follower && p.followee == followee));
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
/// `Follow` is embedded as `object` and the follower addressed in `to`.
///
/// ```
/// use archipel::policy::follow::{accept, PendingFollow};
/// let follow = serde_json::json!({
///     "id": "https://b.example/f/1", "type": "Follow",
///     "actor": "https://b.example/users/bob", "object": "https://a.example/users/alice"
/// });
/// let p = PendingFollow::from_follow(&follow).unwrap();
/// let a = accept(&p, "https://a.example/accepts/1");
/// assert_eq!(a["type"], "Accept");
/// assert_eq!(a["actor"], "https://a.example/users/alice");
/// assert_eq!(a["object"]["id"], "https://b.example/f/1");
/// ```
pub fn accept(request: &PendingFollow, id: &str) -> Value {
    answer("Accept", request, id)
}

/// Builds the `Reject` of a `Follow`, from the followed actor.
pub fn reject(request: &PendingFollow, id: &str) -> Value {
    answer("Reject", request, id)
}

fn answer(kind: &str, request: &PendingFollow, id: &str) -> Value {
    let mut follow = request.follow.clone();
    if let Some(map) = follow.as_object_mut() {
        // The embedded Follow does not need its own context.
        map.remove("@context");
    }
    json!({
        "@context": AS_CONTEXT,
        "id": id,
        "type": kind,
        "actor": request.followee,
        "to": [request.follower],
        "object": follow,
    })
}

/// What an `Undo` undoes, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoTarget {
    /// The undone activity's `id`.
    pub id: String,
    /// Its `type`, when the `Undo` embeds it (e.g. `"Follow"`, `"Like"`).
    pub kind: Option<String>,
    /// Its `object` IRI, when embedded (whom was followed, what was liked).
    pub object: Option<String>,
}

/// Why an `Undo` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UndoError {
    /// The `Undo` has no `object` IRI or embedded activity with an `id`.
    #[error("Undo: missing or malformed object")]
    MissingObject,
    /// The embedded activity's `actor` is not the `Undo`'s `actor`: one may
    /// only undo one's own activities.
    #[error("Undo by {undo_actor:?} of an activity by {original_actor:?}")]
    NotOwnActivity {
        /// The `Undo`'s actor.
        undo_actor: String,
        /// The undone activity's actor.
        original_actor: String,
    },
}

/// Checks an `Undo` and says what it undoes.
///
/// The undone activity may be an IRI or embedded; when embedded, its `actor`
/// must be the `Undo`'s (else [`UndoError::NotOwnActivity`]). When only an
/// IRI is given the application must check it against what it stored.
pub fn check_undo(undo: &Value) -> Result<UndoTarget, UndoError> {
    let undo_actor = undo
        .get("actor")
        .and_then(reference_iri)
        .unwrap_or_default();
    let object = undo.get("object").ok_or(UndoError::MissingObject)?;
    match object {
        Value::String(id) => Ok(UndoTarget {
            id: id.clone(),
            kind: None,
            object: None,
        }),
        Value::Object(map) => {
            let id = map
                .get("id")
                .and_then(Value::as_str)
                .ok_or(UndoError::MissingObject)?;
            if let Some(original) = map.get("actor").and_then(reference_iri)
                && original != undo_actor
            {
                return Err(UndoError::NotOwnActivity {
                    undo_actor: undo_actor.to_owned(),
                    original_actor: original.to_owned(),
                });
            }
            Ok(UndoTarget {
                id: id.to_owned(),
                kind: map.get("type").and_then(first_string).map(str::to_owned),
                object: map.get("object").and_then(reference_iri).map(str::to_owned),
            })
        }
        _ => Err(UndoError::MissingObject),
    }
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
    pub blocker: String,
    /// Who is blocked.
    pub blocked: String,
}

impl BlockEffect {
    /// Reads the effect out of a `Block` document (`None` if it is not a
    /// `Block` with `actor` and `object` IRIs).
    pub fn from_block(block: &Value) -> Option<Self> {
        if !has_type(block, "Block") {
            return None;
        }
        Some(Self {
            blocker: reference_iri(block.get("actor")?)?.to_owned(),
            blocked: reference_iri(block.get("object")?)?.to_owned(),
        })
    }

    /// Whether a follow relationship `follower → followee` must be removed.
    pub fn severs(&self, follower: &str, followee: &str) -> bool {
        (follower == self.blocked && followee == self.blocker)
            || (follower == self.blocker && followee == self.blocked)
    }
}

fn has_type(doc: &Value, kind: &str) -> bool {
    match doc.get("type") {
        Some(Value::String(s)) => s == kind,
        Some(Value::Array(items)) => items.iter().any(|t| t.as_str() == Some(kind)),
        _ => false,
    }
}

fn first_string(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Array(items) => items.first().and_then(Value::as_str),
        _ => None,
    }
}

/// The IRI of a reference: a string, an object's `id`, or the first of an array.
fn reference_iri(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        Value::Array(items) => items.first().and_then(reference_iri),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow(id: &str, actor: &str) -> Value {
        json!({"@context": AS_CONTEXT, "id": id, "type": "Follow", "actor": actor,
               "object": "https://a.example/users/alice"})
    }

    #[test]
    fn pending_requests_replace_and_take() {
        let list = PendingFollows::new(10);
        let bob = "https://b.example/users/bob";
        list.insert(PendingFollow::from_follow(&follow("https://b.example/f/1", bob)).unwrap());
        list.insert(PendingFollow::from_follow(&follow("https://b.example/f/2", bob)).unwrap());
        let pending = list.for_followee("https://a.example/users/alice");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].follow_id, "https://b.example/f/2");
        let taken = list.take("https://a.example/users/alice", bob).unwrap();
        assert_eq!(taken.follow_id, "https://b.example/f/2");
        assert!(
            list.for_followee("https://a.example/users/alice")
                .is_empty()
        );
    }

    #[test]
    fn reject_embeds_follow_without_context() {
        let p = PendingFollow::from_follow(&follow("https://b.example/f/1", "https://b.example/u"))
            .unwrap();
        let r = reject(&p, "https://a.example/r/1");
        assert_eq!(r["type"], "Reject");
        assert_eq!(r["to"][0], "https://b.example/u");
        assert!(r["object"].get("@context").is_none());
        assert_eq!(r["object"]["type"], "Follow");
    }

    #[test]
    fn undo_of_someone_elses_activity_is_refused() {
        let undo = json!({"type": "Undo", "actor": "https://evil.example/u",
            "object": follow("https://b.example/f/1", "https://b.example/u")});
        assert_eq!(
            check_undo(&undo),
            Err(UndoError::NotOwnActivity {
                undo_actor: "https://evil.example/u".into(),
                original_actor: "https://b.example/u".into()
            })
        );
        let ok = json!({"type": "Undo", "actor": "https://b.example/u",
            "object": follow("https://b.example/f/1", "https://b.example/u")});
        let target = check_undo(&ok).unwrap();
        assert_eq!(target.kind.as_deref(), Some("Follow"));
        assert_eq!(
            target.object.as_deref(),
            Some("https://a.example/users/alice")
        );
    }

    #[test]
    fn block_severs_both_directions() {
        let b = BlockEffect::from_block(&json!({"type": "Block", "actor": "https://a.example/x",
            "object": "https://b.example/y"}))
        .unwrap();
        assert!(b.severs("https://b.example/y", "https://a.example/x"));
        assert!(b.severs("https://a.example/x", "https://b.example/y"));
        assert!(!b.severs("https://c.example/z", "https://a.example/x"));
    }
}
