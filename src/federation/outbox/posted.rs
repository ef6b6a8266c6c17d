//! What a post produces: the forms to store and serve ([`Posted`]), the
//! form recipient resolution reads ([`DeliveryForm`]), and the addressing
//! an `Update` inherits ([`inherit_addressing`]).

use crate::vocab::{Activity, AnyObject, Iri, Object, Reference, Visibility};

use super::embedded_mut;

/// The result of a post: the forms to store and serve (without `bto`/`bcc`)
/// and the [`DeliveryForm`] for recipient resolution.
#[derive(Debug)]
#[non_exhaustive]
pub struct Posted {
    pub(super) activity: Activity,
    pub(super) object: Option<AnyObject>,
    pub(super) visibility: Visibility,
    pub(super) delivery: DeliveryForm,
}

impl Posted {
    /// The activity to store, serve and deliver: no `bto`/`bcc` at any level.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// For a `Create`, the created object to store and serve under its new
    /// id (no `bto`/`bcc`).
    pub fn object(&self) -> Option<&AnyObject> {
        self.object.as_ref()
    }

    /// How widely the activity is addressed (with the author's followers
    /// collection; `bto`/`bcc` included).
    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    /// The form that keeps `bto`/`bcc`, for recipient resolution only.
    pub fn delivery(&self) -> &DeliveryForm {
        &self.delivery
    }

    /// The parts: the activity and the created object to store, and the
    /// delivery form.
    pub fn into_parts(self) -> (Activity, Option<AnyObject>, DeliveryForm) {
        (self.activity, self.object, self.delivery)
    }
}

/// The posted activity with its `bto`/`bcc` still in place: what recipient
/// resolution reads to find every addressee. It cannot be serialized or
/// cloned, and its `Debug` hides the recipients, so it cannot be stored or
/// logged by accident; deliver [`Posted::activity`], never this.
pub struct DeliveryForm(pub(super) Activity);

impl std::fmt::Debug for DeliveryForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryForm")
            .field("id", &self.0.id)
            .finish_non_exhaustive()
    }
}

impl DeliveryForm {
    /// The activity with `bto`/`bcc`, for recipient resolution only (they
    /// name addressees; they must never be stored, served or sent).
    pub fn unredacted(&self) -> &Activity {
        &self.0
    }

    /// The IRIs in `bto` and `bcc` of the activity (for a `Create`, the
    /// object's are the same, merged).
    pub fn hidden_recipients(&self) -> impl Iterator<Item = &Iri> {
        [&self.0.bto, &self.0.bcc]
            .into_iter()
            .flatten()
            .flat_map(|r| r.iter())
            .filter_map(Reference::id)
    }
}

/// Gives an `Update` the addressing of the stored object it updates, when
/// the update has none (no `to`, `cc`, `bto`, `bcc` or `audience`), on the
/// activity and on its embedded object; returns whether it copied.
///
/// A client often posts an `Update` with the changed object only. Without
/// this the update would be addressed to no one: delivered nowhere and,
/// being `Direct`, served to no one. [`Draft::finish`](super::Draft::finish) calls it with the
/// stored object; call it yourself for updates built in code.
///
/// ```
/// use archipel::federation::outbox::inherit_addressing;
/// use archipel::vocab::{Activity, Audience, Iri, Kind, Object};
/// let followers = Iri::parse("https://a.example/users/alice/followers")?;
/// let mut stored = Object::new("Note");
/// Audience::followers_only(followers.clone()).apply(&mut stored);
/// let mut update = Activity::new(
///     Kind::Update,
///     Iri::parse("https://a.example/activities/1")?,
///     Iri::parse("https://a.example/users/alice")?,
/// );
/// assert!(inherit_addressing(&mut update, &stored));
/// assert_eq!(update.to, stored.to);
/// // Addressing the client chose is kept.
/// assert!(!inherit_addressing(&mut update, &Object::new("Note")));
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
pub fn inherit_addressing(update: &mut Activity, stored: &Object) -> bool {
    if has_addressing(&update.base) {
        return false;
    }
    copy_addressing(&mut update.base, stored);
    if let Some(o) = embedded_mut(update).filter(|o| !has_addressing(o)) {
        copy_addressing(o, stored);
    }
    true
}

fn has_addressing(o: &Object) -> bool {
    [&o.to, &o.cc, &o.bto, &o.bcc, &o.audience]
        .into_iter()
        .any(|r| r.as_ref().is_some_and(|r| !r.is_empty()))
}

fn copy_addressing(to: &mut Object, from: &Object) {
    to.to.clone_from(&from.to);
    to.cc.clone_from(&from.cc);
    to.audience.clone_from(&from.audience);
}
