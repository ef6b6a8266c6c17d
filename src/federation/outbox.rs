//! Client-to-server outbox semantics (ActivityPub §6): what the server does
//! to a document a local actor's client posts to its outbox, before it is
//! stored, served or delivered ([`Outbox`]).
//!
//! The decisions, each a MUST or SHOULD of §6 or a safety default:
//!
//! * **Bounded input.** The body is decoded with [`ParseLimits`] (default
//!   256 KiB, nesting depth 32) and at most [`DEFAULT_MAX_RECIPIENTS`]
//!   addressing entries; anything else is a typed [`OutboxError`].
//! * **Wrapping (§6.2.1).** A bare object (a `Note`, a `Question`, an
//!   extension type) is wrapped in a `Create`. Links, actors and tombstones
//!   cannot be posted.
//! * **Authorship.** `actor` of the activity and `attributedTo` of a created
//!   object become the outbox owner. A body naming anyone else is refused
//!   ([`OutboxError::ForeignActor`], [`OutboxError::ForeignAttribution`]):
//!   a client cannot post as someone else.
//! * **Ids (§6).** The server assigns the activity's id
//!   (`/activities/{random}`) and a created object's id
//!   (`/objects/{random}`); ids the client sent are replaced. `published`
//!   is set where absent.
//! * **Addressing of a `Create` (§6.2).** `to`, `cc`, `bto`, `bcc` and
//!   `audience` are merged: the activity gets the object's and the object
//!   the activity's (union, deduplicated).
//! * **`bto`/`bcc` (§6).** They are removed, at every level, from the form
//!   to store and serve ([`Posted::activity`], [`Posted::object`]). The
//!   form that keeps them is a [`DeliveryForm`]: it has no `Serialize`,
//!   no `Clone`, and a redacting `Debug`, and its activity is reachable only
//!   through [`DeliveryForm::unredacted`], for recipient resolution.
//! * **Ownership of `Update`, `Delete`, `Undo`.** [`Outbox::prepare`]
//!   returns a [`Draft`] naming the stored object or activity it acts on
//!   ([`Draft::target`]); the application loads it and passes it to
//!   [`Draft::finish`], which refuses the post unless the outbox owner is
//!   its author ([`OutboxError::NotOwner`]), or the target is the owner
//!   itself (a profile `Update`, an account `Delete`). An `Update` without
//!   addressing inherits the stored object's ([`inherit_addressing`]);
//!   otherwise it would reach no one, or be served to no one.
//! * **Signatures that travel (off by default).** With
//!   [`Outbox::with_signing`], a public or unlisted activity gets an
//!   integrity proof and an LD signature before it is stored and
//!   delivered, never a followers-only or direct one ([`ObjectSigning`]).
//!
//! ```
//! use archipel::federation::outbox::Outbox;
//! use archipel::federation::{keys::ActorKeys, LocalActor, Paths};
//! use archipel::signatures::PrivateKey;
//! use archipel::vocab::Visibility;
//! # let pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem"));
//! # let keys = ActorKeys { rsa: PrivateKey::from_pem(pem)?, ed25519: None };
//! let paths = Paths::new("https://books.example".parse()?)?;
//! let alice = LocalActor::person(&paths, "alice", keys)?;
//! let outbox = Outbox::new(paths);
//!
//! let body = br#"{"type": "Note", "content": "psst",
//!                 "to": "https://b.example/users/bob", "bcc": "https://c.example/users/carol"}"#;
//! let draft = outbox.prepare(&alice, body)?;
//! assert_eq!(draft.target(), None); // a Create needs no stored object
//! let posted = draft.finish(None)?;
//!
//! let served = serde_json::to_string(posted.activity())?;
//! assert!(served.contains(r#""type":"Create""#) && !served.contains("carol"));
//! assert_eq!(posted.visibility(), Visibility::Direct);
//! // Only recipient resolution sees the hidden recipient.
//! let hidden: Vec<_> = posted.delivery().hidden_recipients().map(|i| i.as_str()).collect();
//! assert_eq!(hidden, ["https://c.example/users/carol"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::clock::{Clock, SystemClock};
use crate::vocab::{
    Activity, AnyObject, DateTime, Iri, Kind, Object, OneOrMany, ParseLimits, Reference, Refs,
    VocabError,
};

use super::local::LocalActor;
use super::paths::Paths;
use super::visibility::read_visibility;

mod posted;
mod sign;
pub use posted::{DeliveryForm, Posted, inherit_addressing};
pub(crate) use sign::signed_copy;
pub use sign::{ObjectSigning, SigningError, is_signable};

/// The default cap on addressing entries (`to`, `cc`, `bto`, `bcc`,
/// `audience` of the activity and of its object, counted together). A
/// followers collection counts as one entry.
pub const DEFAULT_MAX_RECIPIENTS: usize = 1_000;

/// The default largest body: 256 KiB.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// The default deepest nesting of the body: 32.
pub const DEFAULT_MAX_DEPTH: u32 = 32;

/// Why a posted document was refused. Each message names the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The body is too large, too deep, not JSON or not a JSON object.
    #[error("outbox body: {0}")]
    Body(#[from] VocabError),
    /// The body has no `type`.
    #[error("outbox body: the document has no type")]
    MissingType,
    /// The body is a link, an actor or a tombstone, which are not created
    /// through an outbox.
    #[error("outbox body: a {kind:?} cannot be posted to an outbox")]
    NotPostable {
        /// The type found.
        kind: String,
    },
    /// More addressing entries than the cap.
    #[error("outbox body: {count} addressing entries exceed the limit of {limit}")]
    TooManyRecipients {
        /// Entries found.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// `actor` names someone other than the outbox owner.
    #[error("outbox body: actor {claimed:?} is not the outbox owner {author}")]
    ForeignActor {
        /// The actor the body claimed (empty for an embedded actor without id).
        claimed: String,
        /// The outbox owner.
        author: Iri,
    },
    /// `attributedTo` names someone other than the outbox owner.
    #[error("outbox body: attributedTo {claimed:?} is not the outbox owner {author}")]
    ForeignAttribution {
        /// The author the body claimed (empty for an embedded one without id).
        claimed: String,
        /// The outbox owner.
        author: Iri,
    },
    /// A `Create` without exactly one embedded, creatable object.
    #[error("outbox body: a Create needs exactly one embedded object, found {found}")]
    CreateObject {
        /// What was found instead.
        found: String,
    },
    /// An `Update`, `Delete` or `Undo` without an `object` IRI.
    #[error("outbox body: {kind} has no object IRI")]
    MissingObject {
        /// The activity type.
        kind: String,
    },
    /// An `Update`, `Delete` or `Undo` acting on more than one object: the
    /// ownership check covers exactly one.
    #[error("outbox body: {kind} acts on {count} objects; post one per activity")]
    ManyObjects {
        /// The activity type.
        kind: String,
        /// How many objects it named.
        count: usize,
    },
    /// The target of an `Update`, `Delete` or `Undo` is not the owner's.
    #[error("outbox: {target} is not owned by {author} (its owner: {owner:?})")]
    NotOwner {
        /// The object or activity acted on.
        target: Iri,
        /// The outbox owner.
        author: Iri,
        /// Its owner, if the stored document names one; `None` also when
        /// the application passed no stored document.
        owner: Option<Iri>,
    },
    /// The stored document passed to [`Draft::finish`] is not the target.
    #[error("outbox: the stored document for {target} has id {found:?}")]
    TargetMismatch {
        /// The object or activity acted on.
        target: Iri,
        /// The stored document's id.
        found: Option<Iri>,
    },
    /// An id could not be assigned (the random source failed).
    #[error("outbox: assigning an id: {0}")]
    Id(String),
    /// A public activity could not be signed ([`ObjectSigning`]).
    #[error(transparent)]
    Signing(#[from] SigningError),
}

/// The outbox semantics of one server: its [`Paths`] (for ids), its limits
/// and clock. Cheap to clone.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outbox {
    paths: Paths,
    limits: ParseLimits,
    max_recipients: usize,
    clock: Arc<dyn Clock>,
    signing: ObjectSigning,
}

impl Outbox {
    /// Outbox semantics under `paths`, with the default limits
    /// ([`DEFAULT_MAX_BODY`], [`DEFAULT_MAX_DEPTH`],
    /// [`DEFAULT_MAX_RECIPIENTS`]) and the system clock.
    pub fn new(paths: Paths) -> Outbox {
        Outbox {
            paths,
            limits: ParseLimits::default()
                .with_max_bytes(DEFAULT_MAX_BODY)
                .with_max_depth(DEFAULT_MAX_DEPTH),
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            clock: Arc::new(SystemClock),
            signing: ObjectSigning::default(),
        }
    }

    /// The size and depth bounds of a posted body, builder style.
    pub fn with_limits(mut self, limits: ParseLimits) -> Outbox {
        self.limits = limits;
        self
    }

    /// The cap on addressing entries, builder style.
    pub fn with_max_recipients(mut self, max: usize) -> Outbox {
        self.max_recipients = max;
        self
    }

    /// The clock `published` and `updated` are read from, builder style.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Outbox {
        self.clock = clock;
        self
    }

    /// The signatures attached to public activities before they are
    /// stored and delivered (default: none; see [`ObjectSigning`]),
    /// builder style.
    pub fn with_signing(mut self, signing: ObjectSigning) -> Outbox {
        self.signing = signing;
        self
    }

    fn now(&self) -> DateTime {
        let secs = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        DateTime::from_unix(secs)
    }

    fn new_iri(&self, object: bool) -> Result<Iri, OutboxError> {
        let id = Paths::new_id().map_err(|e| OutboxError::Id(e.to_string()))?;
        let iri = if object {
            self.paths.object(&id)
        } else {
            self.paths.activity(&id)
        };
        iri.map_err(|e| OutboxError::Id(e.to_string()))
    }

    /// Applies the outbox semantics (see the module docs) to `body`,
    /// posted by `author`'s client.
    ///
    /// # Errors
    /// An [`OutboxError`] naming what was refused.
    pub fn prepare(&self, author: &LocalActor, body: &[u8]) -> Result<Draft, OutboxError> {
        let doc = AnyObject::from_slice_with(body, &self.limits)?;
        let mut activity = match doc {
            AnyObject::Activity(a) => *a,
            other => self.wrap(author, other)?,
        };
        let count = addressing_count(&activity);
        if count > self.max_recipients {
            return Err(OutboxError::TooManyRecipients {
                count,
                limit: self.max_recipients,
            });
        }
        check_claims(&activity.actor, author, |claimed, author| {
            OutboxError::ForeignActor { claimed, author }
        })?;
        activity.actor = Some(author.id().clone().into());
        activity.base.id = Some(self.new_iri(false)?);
        let now = self.now();
        activity.base.published.get_or_insert_with(|| now.clone());

        let kind = activity.type_names().find_map(Kind::from_name);
        let target =
            match kind {
                Some(Kind::Create) => {
                    self.create(author, &mut activity, &now)?;
                    None
                }
                Some(k @ (Kind::Update | Kind::Delete | Kind::Undo)) => {
                    // One target, so the ownership check covers all it acts on.
                    let count = activity.object.as_ref().map_or(0, OneOrMany::len);
                    if count > 1 {
                        return Err(OutboxError::ManyObjects {
                            kind: k.as_str().to_owned(),
                            count,
                        });
                    }
                    let target = activity.object_id().cloned().ok_or_else(|| {
                        OutboxError::MissingObject {
                            kind: k.as_str().to_owned(),
                        }
                    })?;
                    if let Some(o) = embedded_mut(&mut activity) {
                        check_claims(&o.attributed_to, author, |claimed, author| {
                            OutboxError::ForeignAttribution { claimed, author }
                        })?;
                        if k == Kind::Update {
                            o.updated.get_or_insert(now);
                        }
                    }
                    Some((k, target))
                }
                _ => None,
            };
        Ok(Draft {
            activity,
            author: author.clone(),
            target,
            signing: self.signing,
        })
    }

    /// Wraps a bare object in a `Create` (§6.2.1).
    fn wrap(&self, author: &LocalActor, object: AnyObject) -> Result<Activity, OutboxError> {
        if object.type_name().is_none() {
            return Err(OutboxError::MissingType);
        }
        if matches!(
            object,
            AnyObject::Link(_) | AnyObject::Actor(_) | AnyObject::Tombstone(_)
        ) {
            return Err(OutboxError::NotPostable {
                kind: object.type_name().unwrap_or_default().to_owned(),
            });
        }
        // The id is replaced once the whole body has been checked.
        let placeholder = author.id().clone();
        let mut create = Activity::new(Kind::Create, placeholder, author.id().clone());
        create.object = Some(object.into());
        Ok(create)
    }

    /// The `Create` rules: one embedded object, authored by `author`, with
    /// a fresh id and the merged addressing.
    fn create(
        &self,
        author: &LocalActor,
        activity: &mut Activity,
        now: &DateTime,
    ) -> Result<(), OutboxError> {
        let found = match activity.object.as_ref().map(OneOrMany::as_slice) {
            Some([Reference::Object(o)]) => match **o {
                AnyObject::Activity(_)
                | AnyObject::Link(_)
                | AnyObject::Actor(_)
                | AnyObject::Tombstone(_) => {
                    format!("a {:?}", o.type_name().unwrap_or_default())
                }
                _ => String::new(),
            },
            Some([Reference::Iri(i)]) => format!("the IRI {i}"),
            Some(many) => format!("{} objects", many.len()),
            None => "no object".to_owned(),
        };
        if !found.is_empty() {
            return Err(OutboxError::CreateObject { found });
        }
        let object_id = self.new_iri(true)?;
        let base = &mut activity.base;
        let Some(object) = activity
            .object
            .as_mut()
            .and_then(|r| r.as_mut_slice().first_mut())
            .and_then(|r| match r {
                Reference::Object(o) => o.as_object_mut(),
                Reference::Iri(_) => None,
            })
        else {
            return Err(OutboxError::CreateObject {
                found: "no object".to_owned(),
            });
        };
        check_claims(&object.attributed_to, author, |claimed, author| {
            OutboxError::ForeignAttribution { claimed, author }
        })?;
        object.attributed_to = Some(author.id().clone().into());
        object.id = Some(object_id);
        object.published.get_or_insert_with(|| now.clone());
        for (a, o) in [
            (&mut base.to, &mut object.to),
            (&mut base.cc, &mut object.cc),
            (&mut base.bto, &mut object.bto),
            (&mut base.bcc, &mut object.bcc),
            (&mut base.audience, &mut object.audience),
        ] {
            let merged = union(a.as_ref(), o.as_ref());
            o.clone_from(&merged);
            *a = merged;
        }
        Ok(())
    }
}

/// An activity that passed [`Outbox::prepare`] and waits for the
/// ownership check of [`Draft::finish`]. It still carries `bto`/`bcc` and
/// has no `Serialize`.
pub struct Draft {
    activity: Activity,
    author: LocalActor,
    target: Option<(Kind, Iri)>,
    signing: ObjectSigning,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the hidden recipients.
        f.debug_struct("Draft")
            .field("id", &self.activity.id)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Draft {
    /// The id the server assigned to the activity.
    pub fn id(&self) -> Option<&Iri> {
        self.activity.id.as_ref()
    }

    /// The stored object or activity an `Update`, `Delete` or `Undo` acts
    /// on: load it and pass it to [`Draft::finish`]. `None` for every other
    /// activity, and when the target is the outbox owner itself.
    pub fn target(&self) -> Option<&Iri> {
        self.target
            .as_ref()
            .map(|(_, t)| t)
            .filter(|t| *t != self.author.id())
    }

    /// Checks ownership and produces the forms to store, serve and deliver.
    ///
    /// `stored` is the document at [`Draft::target`] as the application
    /// stored it (`None` if it has none, or for activities without a
    /// target). Its owner is its `actor` if it is an activity, else its
    /// `attributedTo`.
    ///
    /// # Errors
    /// [`OutboxError::NotOwner`] if the target is not the outbox owner's
    /// (or unknown), [`OutboxError::TargetMismatch`] if `stored` is another
    /// document, [`OutboxError::Body`] if removing `bto`/`bcc` fails.
    pub fn finish(self, stored: Option<&AnyObject>) -> Result<Posted, OutboxError> {
        let Draft {
            mut activity,
            author,
            target,
            signing,
        } = self;
        if let Some((kind, target)) = target.filter(|(_, t)| t != author.id()) {
            let Some(stored) = stored else {
                return Err(OutboxError::NotOwner {
                    target,
                    author: author.id().clone(),
                    owner: None,
                });
            };
            if stored.id() != Some(&target) {
                return Err(OutboxError::TargetMismatch {
                    target,
                    found: stored.id().cloned(),
                });
            }
            let owner = match stored {
                AnyObject::Activity(a) => a.actor_id(),
                other => other.as_object().and_then(Object::attributed_to_id),
            };
            if owner != Some(author.id()) {
                return Err(OutboxError::NotOwner {
                    owner: owner.cloned(),
                    target,
                    author: author.id().clone(),
                });
            }
            if let (Kind::Update, Some(o)) = (kind, stored.as_object()) {
                inherit_addressing(&mut activity, o);
            }
        }
        let visibility = read_visibility(&activity, &author);
        let mut stored_form = AnyObject::from(activity.clone());
        stored_form.strip_private_recipients()?;
        let AnyObject::Activity(mut served) = stored_form else {
            // Stripping keeps the type, so this is unreachable; refuse
            // rather than panic.
            return Err(OutboxError::CreateObject {
                found: "a document that changed type".to_owned(),
            });
        };
        // Signed once, over the served form, and carried by both forms.
        if let Some(added) = sign::signatures(&signing, &author, &served)? {
            sign::attach(&mut served, &added);
            sign::attach(&mut activity, &added);
        }
        let object = served
            .embedded_object()
            .filter(|_| served.has_type("Create"))
            .cloned();
        Ok(Posted {
            activity: *served,
            object,
            visibility,
            delivery: DeliveryForm(activity),
        })
    }
}

/// The first embedded object's properties, mutable.
fn embedded_mut(activity: &mut Activity) -> Option<&mut Object> {
    match activity.object.as_mut()?.as_mut_slice().first_mut()? {
        Reference::Object(o) => o.as_object_mut(),
        Reference::Iri(_) => None,
    }
}

/// Refuses `claims` naming anyone but `author` (an embedded entry without
/// id names no one we can trust).
fn check_claims(
    claims: &Option<Refs>,
    author: &LocalActor,
    error: impl Fn(String, Iri) -> OutboxError,
) -> Result<(), OutboxError> {
    for claim in claims.iter().flat_map(|c| c.iter()) {
        match claim.id() {
            Some(id) if id == author.id() => {}
            other => {
                return Err(error(
                    other.map(|i| i.as_str().to_owned()).unwrap_or_default(),
                    author.id().clone(),
                ));
            }
        }
    }
    Ok(())
}

/// Addressing entries of the activity and of its embedded objects.
fn addressing_count(activity: &Activity) -> usize {
    let count = |o: &Object| {
        [&o.to, &o.cc, &o.bto, &o.bcc, &o.audience]
            .into_iter()
            .map(|r| r.as_ref().map_or(0, OneOrMany::len))
            .sum::<usize>()
    };
    let embedded: usize = activity
        .object
        .iter()
        .flat_map(|r| r.iter())
        .filter_map(Reference::as_object)
        .filter_map(AnyObject::as_object)
        .map(count)
        .sum();
    count(&activity.base).saturating_add(embedded)
}

/// The union of two addressing lists, first-seen order, deduplicated by
/// IRI; entries without an IRI address no one and are dropped.
fn union(a: Option<&Refs>, b: Option<&Refs>) -> Option<Refs> {
    let mut seen = HashSet::new();
    let merged: Vec<Reference> = a
        .into_iter()
        .chain(b)
        .flat_map(|r| r.iter())
        .filter(|r| r.id().is_some_and(|i| seen.insert(i.as_str().to_owned())))
        .cloned()
        .collect();
    (!merged.is_empty()).then_some(OneOrMany::Many(merged))
}

#[cfg(test)]
mod tests;
