//! The documents a [`LocalActor`] publishes: the actor document, the key
//! document secure mode serves unsigned, and the WebFinger JRD.

use serde_json::{Map, Value};

use crate::vocab::{
    AS_CONTEXT, Actor, Context, Endpoints, Multikey, OneOrMany, PublicKeyDocument, Reference,
    SECURITY_CONTEXT,
};
use crate::webfinger::{Jrd, JrdLink};

use super::super::paths::Paths;
use super::LocalActor;

/// The DID context: defines `assertionMethod` (FEP-521a).
const DID_CONTEXT: &str = "https://www.w3.org/ns/did/v1";
/// The Multikey context: defines `Multikey`, `controller` and
/// `publicKeyMultibase` (FEP-521a).
const MULTIKEY_CONTEXT: &str = "https://w3id.org/security/multikey/v1";

/// Percent-encodes what an `acct:` user part (RFC 7565 §7) cannot hold
/// verbatim: the instance actor is named after the authority, whose
/// `:port` (and IPv6 brackets) must be escaped.
fn acct_user(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        // `%` itself is escaped: the name is raw text, not pct-encoded.
        if b != b'%' && crate::webfinger::acct::is_user_byte(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl LocalActor {
    /// The `@context`: ActivityStreams and the security vocabulary (for
    /// `publicKey`), the DID and Multikey contexts when there is an
    /// Ed25519 key (FEP-521a), and the one term used here that none of
    /// them defines, `manuallyApprovesFollowers`, as Mastodon declares it.
    fn context(&self) -> Context {
        let mut entries = vec![
            Value::String(AS_CONTEXT.to_owned()),
            Value::String(SECURITY_CONTEXT.to_owned()),
        ];
        if self.ed25519_multibase.is_some() {
            entries.push(Value::String(DID_CONTEXT.to_owned()));
            entries.push(Value::String(MULTIKEY_CONTEXT.to_owned()));
        }
        let mut terms = Map::new();
        terms.insert(
            "manuallyApprovesFollowers".to_owned(),
            Value::String("as:manuallyApprovesFollowers".to_owned()),
        );
        // As Mastodon declares them: IRIs, not strings.
        let id_term = |id: &str| {
            let mut term = Map::new();
            term.insert("@id".to_owned(), Value::String(id.to_owned()));
            term.insert("@type".to_owned(), Value::String("@id".to_owned()));
            Value::Object(term)
        };
        if !self.also_known_as.is_empty() {
            terms.insert("alsoKnownAs".to_owned(), id_term("as:alsoKnownAs"));
        }
        if self.moved_to.is_some() {
            terms.insert("movedTo".to_owned(), id_term("as:movedTo"));
        }
        entries.push(Value::Object(terms));
        Context::from_value(Value::Array(entries))
    }

    /// What both documents publish: `@context`, `id`, `type`,
    /// `preferredUsername`, `inbox`, `endpoints`, `publicKey` and, with
    /// an Ed25519 key, `assertionMethod`.
    fn verification_document(&self) -> Actor {
        let mut actor = Actor::new(self.kind, self.id.clone(), self.inbox.clone());
        actor.base.ld_context = Some(self.context());
        actor.preferred_username = Some(self.name.clone());
        actor.endpoints = Some(Endpoints {
            shared_inbox: Some(self.shared_inbox.clone()),
            ..Endpoints::default()
        });
        actor.public_key = Some(PublicKeyDocument::new(
            self.key_id.clone(),
            self.id.clone(),
            self.public_key_pem.clone(),
        ));
        if let (Some(kid), Some(multibase)) = (&self.ed25519_key_id, &self.ed25519_multibase) {
            actor.assertion_method = Some(OneOrMany::Many(vec![Multikey {
                id: Some(kid.clone()),
                kind: Some(OneOrMany::One("Multikey".to_owned())),
                controller: Some(self.id.clone()),
                public_key_multibase: Some(multibase.clone()),
                ..Multikey::default()
            }]));
        }
        actor
    }

    /// The actor document (ActivityPub §4.1), served at [`LocalActor::id`]
    /// to signed requests (and to anyone, outside secure mode).
    ///
    /// `publicKey.id` is [`LocalActor::key_id`], the `keyId` the
    /// [`signer`](LocalActor::signer) puts in every signature; the
    /// Ed25519 key, if any, is an FEP-521a `Multikey` in
    /// `assertionMethod` with id [`LocalActor::ed25519_key_id`].
    pub fn document(&self) -> Actor {
        let mut actor = self.verification_document();
        actor.base.name.clone_from(&self.display_name);
        actor.base.summary.clone_from(&self.summary);
        actor.outbox = Some(self.outbox.clone());
        actor.followers = Some(Reference::Iri(self.followers.clone()));
        actor.following = Some(Reference::Iri(self.following.clone()));
        actor.liked = Some(Reference::Iri(self.liked.clone()));
        actor.manually_approves_followers = Some(self.locked);
        // Account migration: what a server receiving a `Move` checks.
        if !self.also_known_as.is_empty() {
            actor.also_known_as = Some(OneOrMany::Many(self.also_known_as.clone()));
        }
        actor.moved_to.clone_from(&self.moved_to);
        actor
    }

    /// The key document: what a server in secure ("authorized fetch") mode
    /// serves to an unsigned request for the actor, as Mastodon does, so
    /// that the actor's signatures can be verified by a server that fetches
    /// keys unsigned, without disclosing its profile.
    ///
    /// Holds `@context`, `id`, `type`, `preferredUsername`, `inbox`,
    /// `endpoints`, `publicKey` and `assertionMethod`; no `name`, `summary`
    /// or collections.
    pub fn key_document(&self) -> Actor {
        self.verification_document()
    }

    /// The WebFinger answer for this actor (RFC 7033 §4.4): subject
    /// `acct:{name}@{authority}`, the actor id as alias, and a `self` link
    /// of type `application/activity+json` to it.
    ///
    /// The instance actor answers as `acct:{authority}@{authority}`, as
    /// Mastodon's does (a `:port` in the user part percent-encoded).
    pub fn jrd(&self, paths: &Paths) -> Jrd {
        Jrd {
            subject: Some(format!(
                "acct:{}@{}",
                acct_user(&self.name),
                paths.authority()
            )),
            aliases: Some(vec![self.id.as_str().to_owned()]),
            links: Some(vec![JrdLink::new(
                crate::webfinger::REL_SELF,
                Some(crate::media_type::ACTIVITY_JSON),
                self.id.as_str(),
            )]),
            ..Jrd::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientError, HttpClient};
    use crate::federation::keys::ActorKeys;
    use crate::federation::keys::tests::rsa_fixture;
    use crate::inbox::ActorKeyResolver;
    use crate::signatures::Signer;
    use crate::signatures::{KeyResolver as _, Verifier, VerifyPolicy};
    use bytes::Bytes;

    fn paths() -> Paths {
        Paths::new("https://h.example".parse().unwrap()).unwrap()
    }

    fn alice() -> LocalActor {
        let keys = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        };
        LocalActor::person(&paths(), "alice", keys)
            .unwrap()
            .with_display_name("Alice")
            .with_summary("<p>hi</p>")
    }

    /// Serves `doc` as the actor document for any GET.
    struct Serves(Vec<u8>);

    #[async_trait::async_trait]
    impl HttpClient for Serves {
        async fn execute(
            &self,
            _req: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, ClientError> {
            Ok(http::Response::builder()
                .header("content-type", "application/activity+json")
                .body(Bytes::from(self.0.clone()))
                .unwrap())
        }
    }

    fn signed_post(signer: &Signer) -> http::Request<Bytes> {
        let mut req = http::Request::post("https://remote.example/inbox")
            .header("content-type", "application/activity+json")
            .body(Bytes::from_static(b"{\"type\":\"Follow\"}"))
            .unwrap();
        signer.sign(&mut req).unwrap();
        req
    }

    #[test]
    fn document_publishes_the_signers_key_and_round_trips() {
        let a = alice();
        let doc = a.document();
        let key = doc.public_key.as_ref().unwrap();
        assert_eq!(key.id.as_ref().unwrap().as_str(), a.signer().key_id());
        assert_eq!(key.owner.as_ref(), Some(a.id()));
        assert_eq!(
            key.public_key_pem.as_deref(),
            Some(rsa_fixture().public_key().to_spki_pem().as_str())
        );
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_eq!(Actor::from_slice(&bytes).unwrap(), doc);
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json["@context"],
            serde_json::json!([
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers"}
            ])
        );
        assert_eq!(json["type"], "Person");
        assert_eq!(json["preferredUsername"], "alice");
        assert_eq!(json["name"], "Alice");
        assert_eq!(json["summary"], "<p>hi</p>");
        assert_eq!(json["inbox"], "https://h.example/users/alice/inbox");
        assert_eq!(json["outbox"], "https://h.example/users/alice/outbox");
        assert_eq!(json["followers"], "https://h.example/users/alice/followers");
        assert_eq!(json["following"], "https://h.example/users/alice/following");
        assert_eq!(json["liked"], "https://h.example/users/alice/liked");
        assert_eq!(json["endpoints"]["sharedInbox"], "https://h.example/inbox");
        assert_eq!(json["manuallyApprovesFollowers"], false);
        assert!(json.get("assertionMethod").is_none());
    }

    #[test]
    fn key_document_holds_the_keys_and_nothing_more() {
        let json = serde_json::to_value(alice().key_document()).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "@context",
                "endpoints",
                "id",
                "inbox",
                "preferredUsername",
                "publicKey",
                "type"
            ]
        );
    }

    #[test]
    fn jrd_exact_json() {
        let jrd = alice().jrd(&paths());
        assert_eq!(
            String::from_utf8(jrd.to_vec()).unwrap(),
            r#"{"subject":"acct:alice@h.example","aliases":["https://h.example/users/alice"],"links":[{"rel":"self","type":"application/activity+json","href":"https://h.example/users/alice"}]}"#
        );
    }

    #[test]
    fn instance_jrd_names_the_host_and_escapes_a_port() {
        let keys = ActorKeys {
            rsa: rsa_fixture(),
            ed25519: None,
        };
        let actor = LocalActor::instance(&paths(), keys.clone());
        let jrd = actor.jrd(&paths());
        assert_eq!(jrd.subject.as_deref(), Some("acct:h.example@h.example"));
        assert_eq!(jrd.actor_id().unwrap().as_str(), "https://h.example/actor");
        let local = Paths::new("http://127.0.0.1:8080".parse().unwrap()).unwrap();
        let subject = LocalActor::instance(&local, keys)
            .jrd(&local)
            .subject
            .unwrap();
        assert_eq!(subject, "acct:127.0.0.1%3A8080@127.0.0.1:8080");
        let acct = crate::webfinger::Acct::parse(&subject).unwrap();
        assert_eq!(acct.authority(), "127.0.0.1:8080");
    }

    #[tokio::test]
    async fn a_request_signed_by_the_actor_verifies_against_its_document() {
        let a = alice();
        let served = serde_json::to_vec(&a.document()).unwrap();
        // The crate's own resolver, reading the key out of the document.
        let resolver = ActorKeyResolver::new(std::sync::Arc::new(Serves(served)));
        let verifier = Verifier::new(resolver, VerifyPolicy::default());
        let verified = verifier.verify(&signed_post(a.signer())).await.unwrap();
        assert_eq!(verified.key_id, *a.key_id());
        assert_eq!(verified.owner, *a.id());
        // The same through the key document, as an unsigned fetch gets it.
        let served = serde_json::to_vec(&a.key_document()).unwrap();
        let resolver = ActorKeyResolver::new(std::sync::Arc::new(Serves(served)));
        let resolved = resolver.resolve(a.key_id().as_str(), false).await.unwrap();
        assert_eq!(resolved.key, rsa_fixture().public_key());
        assert_eq!(resolved.owner, a.id().as_str());
    }

    #[cfg(feature = "ed25519")]
    #[tokio::test]
    async fn ed25519_key_is_a_multikey_the_resolver_accepts() {
        let store = crate::federation::keys::MemoryKeyStore::new();
        let a = LocalActor::load(&paths(), "bob", &store, true)
            .await
            .unwrap();
        let doc = a.document();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json["@context"],
            serde_json::json!([
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers"}
            ])
        );
        let ed = a.keys().ed25519.as_ref().unwrap().public_key();
        assert_eq!(
            json["assertionMethod"],
            serde_json::json!([{
                "id": "https://h.example/users/bob#ed25519-key",
                "type": "Multikey",
                "controller": "https://h.example/users/bob",
                "publicKeyMultibase": ed.to_multibase().unwrap(),
            }])
        );
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_eq!(Actor::from_slice(&bytes).unwrap(), doc);
        // Both keys verify through the crate's resolver, from either document.
        for served in [bytes, serde_json::to_vec(&a.key_document()).unwrap()] {
            let resolver = ActorKeyResolver::new(std::sync::Arc::new(Serves(served)));
            let verifier = Verifier::new(resolver, VerifyPolicy::default());
            for signer in [a.signer(), a.ed25519_signer().unwrap()] {
                let verified = verifier.verify(&signed_post(signer)).await.unwrap();
                assert_eq!(verified.key_id.as_str(), signer.key_id());
                assert_eq!(verified.owner, *a.id());
            }
        }
        let key_doc = serde_json::to_value(a.key_document()).unwrap();
        assert_eq!(key_doc["assertionMethod"], json["assertionMethod"]);
    }
}
