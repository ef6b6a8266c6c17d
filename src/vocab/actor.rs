//! [`Actor`] with the ActivityPub actor properties (ActivityPub §4.1),
//! [`Endpoints`], the security [`PublicKeyDocument`] and FEP-521a [`Multikey`].

use serde_json::{Map, Value};

use super::object::Refs;
use super::props::{props, standalone};
use super::{Iri, OneOrMany, Reference};

props! {
    /// An actor: `Person`, `Service`, `Application`, `Group` or
    /// `Organization` (AS2 Vocabulary §3, ActivityPub §4.1).
    ///
    /// Delivery needs [`Actor::inbox`] and [`Endpoints::shared_inbox`];
    /// signature verification needs [`Actor::public_key`] (or
    /// [`Actor::assertion_method`] for FEP-521a keys).
    pub struct Actor {
        /// The object properties (`id`, `name`, `icon`, ...).
        pub base: Box<Object>,
        ;
        /// `inbox` (ActivityPub §4.1): where activities for this actor are POSTed.
        inbox: Iri = "inbox",
        /// `outbox`: the actor's published activities.
        outbox: Iri = "outbox",
        /// `following`: the collection of actors followed.
        following: Reference = "following",
        /// `followers`: the followers collection (also used as an audience).
        followers: Reference = "followers",
        /// `liked`: the collection of liked objects.
        liked: Reference = "liked",
        /// `streams`: supplementary collections.
        streams: Refs = "streams",
        /// `preferredUsername`: the short handle (`alice` in `@alice@host`).
        preferred_username: String = "preferredUsername",
        /// `endpoints`: server-wide endpoints, notably `sharedInbox`.
        endpoints: Endpoints = "endpoints",
        /// `publicKey` (W3C security vocabulary): the actor's RSA key used
        /// for HTTP Signatures.
        public_key: PublicKeyDocument = "publicKey",
        /// `assertionMethod` (FEP-521a): `Multikey` verification methods.
        assertion_method: OneOrMany<Multikey> = "assertionMethod",
        /// `manuallyApprovesFollowers` (`as:`, Mastodon): follow requests
        /// need approval (a "locked" account).
        manually_approves_followers: bool = "manuallyApprovesFollowers",
        /// `discoverable` (`toot:`): may be listed in directories.
        discoverable: bool = "discoverable",
        /// `indexable` (`toot:`): public posts may be indexed for search.
        indexable: bool = "indexable",
        /// `featured` (`toot:`): the pinned posts collection.
        featured: Reference = "featured",
        /// `featuredTags` (`toot:`): the featured hashtags collection.
        featured_tags: Reference = "featuredTags",
        /// `movedTo` (`as:`): the account this one moved to.
        moved_to: Iri = "movedTo",
        /// `alsoKnownAs` (`as:`): aliases, used to authorize a `Move`.
        also_known_as: OneOrMany<Iri> = "alsoKnownAs",
        /// `attributionDomains` (`toot:`): domains allowed to credit this
        /// author on link previews.
        attribution_domains: OneOrMany<String> = "attributionDomains",
    }
}

use super::Object;

props! {
    /// An actor's `endpoints` (ActivityPub §4.1).
    pub struct Endpoints {
        /// Properties not modelled here, kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `sharedInbox`: one inbox for the whole server, so a fan-out
        /// delivers once per server rather than once per recipient.
        shared_inbox: Iri = "sharedInbox",
        /// `proxyUrl`: fetch through the actor's server.
        proxy_url: Iri = "proxyUrl",
        /// `oauthAuthorizationEndpoint`.
        oauth_authorization_endpoint: Iri = "oauthAuthorizationEndpoint",
        /// `oauthTokenEndpoint`.
        oauth_token_endpoint: Iri = "oauthTokenEndpoint",
        /// `provideClientKey`.
        provide_client_key: Iri = "provideClientKey",
        /// `signClientKey`.
        sign_client_key: Iri = "signClientKey",
        /// `uploadMedia`.
        upload_media: Iri = "uploadMedia",
    }
}
standalone!(Endpoints, "an endpoints object");

props! {
    /// A W3C security vocabulary `publicKey`, as Mastodon publishes on
    /// every actor: `{id, owner, publicKeyPem}`.
    ///
    /// `id` is the `keyId` HTTP Signatures name; `owner` must be the actor.
    /// This is the JSON object as published; the key material itself, parsed
    /// and usable for verification, is a [`signatures::PublicKey`](crate::signatures::PublicKey).
    pub struct PublicKeyDocument {
        /// Properties not modelled here, kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `@context` if the key object carries its own.
        ld_context: super::Context = "@context",
        /// `id`: the key's IRI (usually `<actor>#main-key`).
        id: Iri = "id",
        /// `type`, rarely present (`Key`, or even `[]`).
        kind: OneOrMany<String> = "type",
        /// `owner`: the actor the key belongs to.
        owner: Iri = "owner",
        /// `publicKeyPem`: the SPKI public key in PEM.
        public_key_pem: String = "publicKeyPem",
    }
}
standalone!(PublicKeyDocument, "a publicKey object");

props! {
    /// A FEP-521a `Multikey` verification method (`assertionMethod`), used
    /// for Ed25519 keys and object integrity proofs.
    pub struct Multikey {
        /// Properties not modelled here, kept verbatim.
        pub extra: Map<String, Value>,
        ;
        /// `id`: the key's IRI.
        id: Iri = "id",
        /// `type`: `Multikey`.
        kind: OneOrMany<String> = "type",
        /// `controller`: the actor controlling the key.
        controller: Iri = "controller",
        /// `publicKeyMultibase`: the key, multibase (base58btc, `z...`) encoded.
        public_key_multibase: String = "publicKeyMultibase",
    }
}
standalone!(Multikey, "a Multikey object");

impl Actor {
    /// A new actor of `kind` (`Person`, `Service`, ...) with `id`, `inbox`
    /// and the ActivityStreams + security `@context`.
    pub fn new(kind: super::Kind, id: Iri, inbox: Iri) -> Self {
        let mut base = Object::new(kind.as_str()).with_id(id);
        base.ld_context = Some(super::Context::activitystreams_with_security());
        Actor {
            base: Box::new(base),
            inbox: Some(inbox),
            ..Actor::default()
        }
    }

    /// The shared inbox if the actor's server has one, else the actor's own
    /// inbox: where delivery should go.
    pub fn delivery_inbox(&self) -> Option<&Iri> {
        self.shared_inbox().or(self.inbox.as_ref())
    }

    /// `endpoints.sharedInbox`, if present. (A non-standard top-level
    /// `sharedInbox`, as some older servers send, stays in `extra`.)
    pub fn shared_inbox(&self) -> Option<&Iri> {
        self.endpoints.as_ref()?.shared_inbox.as_ref()
    }

    /// The followers collection IRI.
    pub fn followers_id(&self) -> Option<&Iri> {
        self.followers.as_ref()?.id()
    }

    /// Set `publicKey` from an id and PEM, owned by this actor (builder style).
    pub fn with_public_key(mut self, key_id: Iri, pem: impl Into<String>) -> Self {
        self.public_key = Some(PublicKeyDocument {
            id: Some(key_id),
            owner: self.base.id.clone(),
            public_key_pem: Some(pem.into()),
            ..PublicKeyDocument::default()
        });
        self
    }
}

impl PublicKeyDocument {
    /// A key with `id`, `owner` and PEM.
    pub fn new(id: Iri, owner: Iri, pem: impl Into<String>) -> Self {
        PublicKeyDocument {
            id: Some(id),
            owner: Some(owner),
            public_key_pem: Some(pem.into()),
            ..PublicKeyDocument::default()
        }
    }
}
