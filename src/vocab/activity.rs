//! [`Activity`] (transitive and intransitive) and constructors for the
//! activities servers exchange most.

use super::object::Refs;
use super::props::props;
use super::{AnyObject, Context, Iri, Kind, Object, OneOrMany, Reference};

props! {
    /// An AS2 `Activity` or `IntransitiveActivity` (AS2 Vocabulary §2) and
    /// every activity type (`Create`, `Follow`, `Undo`, ..., `EmojiReact`).
    ///
    /// The object properties live in [`Activity::base`] (also reachable
    /// through `Deref`, so `activity.id` and `activity.to` work).
    ///
    /// ```
    /// use archipel::vocab::{Activity, Iri, Kind};
    /// let follow = Activity::follow(
    ///     Iri::parse("https://a.example/follows/1")?,
    ///     Iri::parse("https://a.example/users/alice")?,
    ///     Iri::parse("https://b.example/users/bob")?,
    /// );
    /// assert!(follow.has_type("Follow"));
    /// assert_eq!(follow.object_id().map(|i| i.as_str()), Some("https://b.example/users/bob"));
    /// # Ok::<(), archipel::vocab::VocabError>(())
    /// ```
    pub struct Activity {
        /// The object properties (`id`, `type`, `to`, `cc`, ... and `extra`).
        pub base: Box<Object>,
        ;
        /// `actor`: who performs the activity.
        actor: Refs = "actor",
        /// `object`: what the activity acts on (also used by `Relationship`).
        object: Refs = "object",
        /// `target`: the indirect object (e.g. the collection of an `Add`).
        target: Refs = "target",
        /// `result`: the result of the activity.
        result: Refs = "result",
        /// `origin`: where the object was before (e.g. `Move`, `Remove`).
        origin: Refs = "origin",
        /// `instrument`: what was used to perform the activity.
        instrument: Refs = "instrument",
        /// `_misskey_reaction` (Misskey): the emoji of a reaction `Like`.
        misskey_reaction: String = "_misskey_reaction",
    }
}

impl Activity {
    /// A new activity of `kind` with `id` and `actor`, and the
    /// ActivityStreams `@context`.
    pub fn new(kind: Kind, id: Iri, actor: Iri) -> Self {
        Activity {
            base: Box::new(Object::new(kind.as_str()).with_id(id)),
            actor: Some(actor.into()),
            ..Activity::default()
        }
    }

    fn with_object(mut self, object: impl Into<Refs>) -> Self {
        self.object = Some(object.into());
        self
    }

    /// `Create{object}`; copies the object's `to`/`cc`/`bto`/`bcc`/`audience`
    /// onto the activity, as Mastodon and most servers expect.
    pub fn create(id: Iri, actor: Iri, object: AnyObject) -> Self {
        let mut a = Activity::new(Kind::Create, id, actor);
        if let Some(o) = object.as_object() {
            a.base.to.clone_from(&o.to);
            a.base.cc.clone_from(&o.cc);
            a.base.bto.clone_from(&o.bto);
            a.base.bcc.clone_from(&o.bcc);
            a.base.audience.clone_from(&o.audience);
        }
        a.with_object(object)
    }

    /// `Update{object}`, addressed like the object (see [`Activity::create`]).
    pub fn update(id: Iri, actor: Iri, object: AnyObject) -> Self {
        let mut a = Activity::create(id, actor, object);
        a.base.kind = Some(OneOrMany::One(Kind::Update.as_str().to_owned()));
        a
    }

    /// `Follow{object}`: ask to follow the actor `object`; addressed to it.
    pub fn follow(id: Iri, actor: Iri, object: Iri) -> Self {
        let mut a = Activity::new(Kind::Follow, id, actor);
        a.base.to = Some(object.clone().into());
        a.with_object(object)
    }

    /// `Accept{object}`, typically of a `Follow` (embed it, or give its IRI).
    pub fn accept(id: Iri, actor: Iri, object: impl Into<Reference>) -> Self {
        Self::respond(Kind::Accept, id, actor, object.into())
    }

    /// `Reject{object}`, typically of a `Follow`.
    pub fn reject(id: Iri, actor: Iri, object: impl Into<Reference>) -> Self {
        Self::respond(Kind::Reject, id, actor, object.into())
    }

    /// `Undo{object}` of an earlier activity (embed it so receivers need not
    /// fetch it); addressed like the undone activity when embedded.
    pub fn undo(id: Iri, actor: Iri, object: impl Into<Reference>) -> Self {
        Self::respond(Kind::Undo, id, actor, object.into())
    }

    fn respond(kind: Kind, id: Iri, actor: Iri, object: Reference) -> Self {
        let mut a = Activity::new(kind, id, actor);
        if let Some(inner) = object.as_object() {
            if kind == Kind::Undo {
                if let Some(o) = inner.as_object() {
                    a.base.to.clone_from(&o.to);
                    a.base.cc.clone_from(&o.cc);
                }
            } else if let Some(AnyObject::Activity(inner)) = object.as_object() {
                // Accept/Reject go back to whoever sent the original.
                a.base.to.clone_from(&inner.actor);
            }
        }
        a.object = Some(OneOrMany::One(object));
        a
    }

    /// `Announce{object}` (boost) of the object at `object`.
    pub fn announce(id: Iri, actor: Iri, object: Iri) -> Self {
        Activity::new(Kind::Announce, id, actor).with_object(object)
    }

    /// `Like{object}`.
    pub fn like(id: Iri, actor: Iri, object: Iri) -> Self {
        Activity::new(Kind::Like, id, actor).with_object(object)
    }

    /// `Delete{object}`; pass the IRI, or a `Tombstone` as Mastodon does.
    pub fn delete(id: Iri, actor: Iri, object: impl Into<Reference>) -> Self {
        let mut a = Activity::new(Kind::Delete, id, actor);
        a.object = Some(OneOrMany::One(object.into()));
        a
    }

    /// `Block{object}` of an actor.
    pub fn block(id: Iri, actor: Iri, object: Iri) -> Self {
        let mut a = Activity::new(Kind::Block, id, actor);
        a.base.to = Some(object.clone().into());
        a.with_object(object)
    }

    /// `Flag{object}`: a report about the actor and/or objects in `objects`
    /// (Mastodon sends the reported actor first, then statuses), with an
    /// optional comment in `content`.
    pub fn flag(id: Iri, actor: Iri, objects: Vec<Iri>, comment: Option<String>) -> Self {
        let mut a = Activity::new(Kind::Flag, id, actor);
        a.base.content = comment;
        a.object = Some(OneOrMany::Many(
            objects.into_iter().map(Reference::Iri).collect(),
        ));
        a
    }

    /// Set `@context` (builder style), e.g. to add extension contexts.
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.base.ld_context = Some(ctx);
        self
    }

    /// Set `to` (builder style).
    pub fn with_to(mut self, to: Vec<Iri>) -> Self {
        self.base.to = Some(OneOrMany::Many(
            to.into_iter().map(Reference::Iri).collect(),
        ));
        self
    }

    /// Set `cc` (builder style).
    pub fn with_cc(mut self, cc: Vec<Iri>) -> Self {
        self.base.cc = Some(OneOrMany::Many(
            cc.into_iter().map(Reference::Iri).collect(),
        ));
        self
    }

    /// The IRI of the first `actor` (embedded or not).
    pub fn actor_id(&self) -> Option<&Iri> {
        self.actor.as_ref()?.first()?.id()
    }

    /// The IRI of the first `object` (embedded or not).
    pub fn object_id(&self) -> Option<&Iri> {
        self.object.as_ref()?.first()?.id()
    }

    /// The first `object` if it is embedded.
    pub fn embedded_object(&self) -> Option<&AnyObject> {
        self.object.as_ref()?.first()?.as_object()
    }
}
