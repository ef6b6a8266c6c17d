//! Addressing: the `Public` collection, [`Audience`] presets and
//! [`Visibility`] (ActivityPub §5.6, Mastodon's visibility levels).

use super::{AnyObject, Iri, Object, OneOrMany, Reference};

/// The special `Public` collection, full IRI (AS2 Vocabulary / ActivityPub §5.6).
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// Whether `iri` names the `Public` collection in any spelling servers use:
/// the full IRI (also `http://`), the compact `as:Public`, or bare `Public`.
///
/// ```
/// use archipel::vocab::audience::is_public_iri;
/// assert!(is_public_iri("https://www.w3.org/ns/activitystreams#Public"));
/// assert!(is_public_iri("as:Public"));
/// assert!(is_public_iri("Public"));
/// assert!(!is_public_iri("https://a.example/users/alice/followers"));
/// ```
pub fn is_public_iri(iri: &str) -> bool {
    matches!(
        iri,
        PUBLIC | "as:Public" | "Public" | "http://www.w3.org/ns/activitystreams#Public"
    )
}

fn refs_contain(r: Option<&OneOrMany<Reference>>, pred: impl Fn(&str) -> bool) -> bool {
    r.is_some_and(|r| r.iter().any(|x| x.id().is_some_and(|i| pred(i.as_str()))))
}

/// How widely an object is addressed, in Mastodon's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Visibility {
    /// `Public` in `to`: shown on public timelines.
    Public,
    /// `Public` in `cc` only: visible to anyone, kept off public timelines.
    Unlisted,
    /// Addressed to the author's followers collection, not `Public`.
    FollowersOnly,
    /// Addressed only to named actors.
    Direct,
}

/// The `to`/`cc` of an object being built.
///
/// ```
/// use archipel::vocab::{Audience, Iri, Object, Visibility};
/// let followers = Iri::parse("https://a.example/users/alice/followers")?;
/// let mut note = Object::new("Note");
/// Audience::unlisted(followers.clone()).apply(&mut note);
/// assert_eq!(note.visibility(Some(&followers)), Visibility::Unlisted);
/// assert!(note.is_public());
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Primary recipients.
    pub to: Vec<Iri>,
    /// Secondary recipients.
    pub cc: Vec<Iri>,
}

fn public() -> Iri {
    Iri::new_unchecked(PUBLIC)
}

impl Audience {
    /// Public: `to: [Public]`, `cc: [followers]`.
    pub fn public(followers: Iri) -> Self {
        Audience {
            to: vec![public()],
            cc: vec![followers],
        }
    }

    /// Unlisted: `to: [followers]`, `cc: [Public]`.
    pub fn unlisted(followers: Iri) -> Self {
        Audience {
            to: vec![followers],
            cc: vec![public()],
        }
    }

    /// Followers only: `to: [followers]`.
    pub fn followers_only(followers: Iri) -> Self {
        Audience {
            to: vec![followers],
            cc: Vec::new(),
        }
    }

    /// Direct: `to` the given actors only.
    pub fn direct(recipients: Vec<Iri>) -> Self {
        Audience {
            to: recipients,
            cc: Vec::new(),
        }
    }

    /// Add recipients to `cc` (e.g. mentioned actors), builder style.
    pub fn with_cc(mut self, more: impl IntoIterator<Item = Iri>) -> Self {
        self.cc.extend(more);
        self
    }

    /// Every recipient, `to` then `cc`.
    pub fn recipients(&self) -> impl Iterator<Item = &Iri> {
        self.to.iter().chain(&self.cc)
    }

    /// Set `to` and `cc` on `object` (arrays; an empty `cc` is omitted).
    /// `Public` is written as the full IRI, the canonical form.
    pub fn apply(&self, object: &mut Object) {
        let many = |v: &[Iri]| OneOrMany::Many(v.iter().cloned().map(Reference::Iri).collect());
        object.to = Some(many(&self.to));
        object.cc = (!self.cc.is_empty()).then(|| many(&self.cc));
    }
}

impl Object {
    /// Whether `to`, `cc` or `audience` includes `Public`, in any of its
    /// three spellings.
    pub fn is_public(&self) -> bool {
        refs_contain(self.to.as_ref(), is_public_iri)
            || refs_contain(self.cc.as_ref(), is_public_iri)
            || refs_contain(self.audience.as_ref(), is_public_iri)
    }

    /// Classify the addressing. `followers` is the author's followers
    /// collection; without it, non-public objects classify as
    /// [`Visibility::Direct`].
    pub fn visibility(&self, followers: Option<&Iri>) -> Visibility {
        if refs_contain(self.to.as_ref(), is_public_iri) {
            Visibility::Public
        } else if self.is_public() {
            Visibility::Unlisted
        } else if let Some(f) = followers {
            let is_f = |s: &str| s == f.as_str();
            if refs_contain(self.to.as_ref(), is_f) || refs_contain(self.cc.as_ref(), is_f) {
                Visibility::FollowersOnly
            } else {
                Visibility::Direct
            }
        } else {
            Visibility::Direct
        }
    }
}

impl AnyObject {
    /// Whether the object is addressed to `Public` (see
    /// [`Object::is_public`]); links are never public.
    pub fn is_public(&self) -> bool {
        self.as_object().is_some_and(Object::is_public)
    }
}

/// The spellings of `bto` and `bcc` a JSON-LD document may use as keys:
/// the compacted terms, the `as:` prefix, and the full IRIs (the `http`
/// form too, as older software writes it).
const HIDDEN_AUDIENCE_KEYS: [&str; 8] = [
    "bto",
    "bcc",
    "as:bto",
    "as:bcc",
    "https://www.w3.org/ns/activitystreams#bto",
    "https://www.w3.org/ns/activitystreams#bcc",
    "http://www.w3.org/ns/activitystreams#bto",
    "http://www.w3.org/ns/activitystreams#bcc",
];

/// Removes `bto` and `bcc`, in every spelling, from the activity and from
/// every object nested in it, under any property and inside arrays
/// (ActivityPub §6: "The server MUST remove the bto and/or bcc properties,
/// if they exist, from the ActivityStreams object before delivery"). An
/// embedded `attachment`, `tag`, `target`, `result` or `inReplyTo` carries
/// its own audience as surely as `object` does.
///
/// The walk uses an explicit stack rather than recursion, so no nesting
/// depth can overflow the thread's stack. [`DeliveryPlan`] applies it to
/// every body it sends; apply it to raw JSON you store or serve, or use
/// [`AnyObject::strip_private_recipients`] on typed values.
///
/// ```
/// use archipel::vocab::audience::strip_hidden_audience;
/// let mut doc = serde_json::json!({
///     "type": "Create",
///     "bcc": ["https://a.example/u/hidden"],
///     "object": {"type": "Note", "attachment": [{"type": "Note", "as:bto": "x"}]}
/// });
/// strip_hidden_audience(&mut doc);
/// assert!(!doc.to_string().contains("bto") && !doc.to_string().contains("bcc"));
/// ```
///
/// [`DeliveryPlan`]: crate::delivery::DeliveryPlan
pub fn strip_hidden_audience(value: &mut serde_json::Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                for key in HIDDEN_AUDIENCE_KEYS {
                    map.remove(key);
                }
                stack.extend(map.values_mut());
            }
            serde_json::Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iri(s: &str) -> Iri {
        Iri::parse(s).unwrap()
    }

    #[test]
    fn presets_and_visibility() {
        let f = iri("https://a.example/f");
        let bob = iri("https://b.example/bob");
        let cases = [
            (Audience::public(f.clone()), Visibility::Public, true),
            (Audience::unlisted(f.clone()), Visibility::Unlisted, true),
            (
                Audience::followers_only(f.clone()),
                Visibility::FollowersOnly,
                false,
            ),
            (
                Audience::direct(vec![bob.clone()]),
                Visibility::Direct,
                false,
            ),
        ];
        for (aud, vis, public) in cases {
            let mut o = Object::new("Note");
            aud.apply(&mut o);
            assert_eq!(o.visibility(Some(&f)), vis);
            assert_eq!(o.is_public(), public);
        }
        let mut o = Object::new("Note");
        Audience::public(f.clone()).apply(&mut o);
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["to"], serde_json::json!([PUBLIC]));
        assert_eq!(json["cc"], serde_json::json!(["https://a.example/f"]));
    }
}
