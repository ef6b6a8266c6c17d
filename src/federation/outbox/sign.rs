//! Signatures that travel with a public activity: see [`ObjectSigning`]
//! for what is signed, when, and why.

use serde_json::{Map, Value};

use crate::vocab::{Activity, AnyObject, Visibility};

use super::super::local::LocalActor;
use super::super::visibility::read_visibility;

/// Which signatures travel with a public activity: an
/// FEP-8b32 integrity proof (`eddsa-jcs-2022`, feature `proof`) and a
/// Linked Data Signature (`RsaSignature2017`, feature `ld-signatures`),
/// attached before the activity is stored and delivered, so that a server
/// receiving it from someone else (a reply forwarded to a thread's
/// followers, a relay) can still tell that its author wrote it.
///
/// The decisions:
///
/// * **Public and unlisted activities only**, as Mastodon signs only what
///   it would show anyone (`Status#distributable?`). A signed followers-only
///   or direct activity could be replayed by any recipient to anyone, and
///   would prove its content to them: such an activity (or one embedding
///   such an object) is never signed, whatever the option says.
/// * **Off by default** ([`ObjectSigning::default`]): a signature is a
///   lasting, transferable proof of authorship (it outlives a `Delete`), so
///   a server opts in, typically when it subscribes to relays or wants its
///   replies forwarded.
/// * **What is signed is what is delivered**: the form without
///   `bto`/`bcc`, the form delivery plans send. With both, the proof is
///   made first and the LD signature last, over the document carrying the
///   proof, as Fedify does: JSON-LD processing keeps the proof node (the
///   ActivityStreams context maps unknown terms to blank nodes), so an LD
///   verifier, Mastodon's, must hash the document with it; a proof
///   verifier sets the `signature` aside first, as Fedify's does.
/// * **An LD signature covers only what JSON-LD keeps**, and receivers
///   (archipel's [`check_coverage`](crate::ldsig::check_coverage),
///   before believing a forwarded copy) refuse a signed document with a
///   member its contexts do not define. So before LD-signing, the outbox
///   defines, in an inline context, the extension terms the activity uses
///   (Mastodon's `sensitive`, `Hashtag`, `Emoji`, `blurhash`,
///   `focalPoint`; the quote terms; GoToSocial's `interactionPolicy`), as
///   Mastodon does. An activity with a member still undefined (an
///   application's own extension) gets no LD signature, only the proof
///   (which covers the JSON as it is).
/// * An activity that already carries `signature` or `proof` is left
///   alone: the one that is there is the author's.
///
/// Set on a [`FederationBuilder`](crate::federation::FederationBuilder::with_object_signing),
/// it applies to [`Federation::send`](crate::federation::Federation::send)
/// and the handle's [`Outbox`](super::Outbox); each switch exists only
/// with its feature.
///
/// ```
/// use archipel::federation::outbox::ObjectSigning;
/// assert!(ObjectSigning::default().is_off());
/// # #[cfg(feature = "proof")]
/// assert!(!ObjectSigning::default().with_integrity_proof(true).is_off());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSigning {
    ld_signature: bool,
    integrity_proof: bool,
}

impl ObjectSigning {
    /// Every signature this build can make: an `RsaSignature2017` (feature
    /// `ld-signatures`) and an `eddsa-jcs-2022` proof (feature `proof`,
    /// for actors with an Ed25519 key).
    pub fn all() -> ObjectSigning {
        ObjectSigning {
            ld_signature: cfg!(feature = "ld-signatures"),
            integrity_proof: cfg!(feature = "proof"),
        }
    }

    /// Attach a Linked Data Signature (`RsaSignature2017`) made with the
    /// author's RSA key, as Mastodon does, builder style.
    #[cfg(feature = "ld-signatures")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ld-signatures")))]
    pub fn with_ld_signature(mut self, on: bool) -> ObjectSigning {
        self.ld_signature = on;
        self
    }

    /// Attach an FEP-8b32 integrity proof (`eddsa-jcs-2022`) made with the
    /// author's Ed25519 key (listed in its `assertionMethod`), builder
    /// style. Authors without one get none
    /// ([`FederationBuilder::with_ed25519`](crate::federation::FederationBuilder::with_ed25519)
    /// gives every local actor one).
    #[cfg(feature = "proof")]
    #[cfg_attr(docsrs, doc(cfg(feature = "proof")))]
    pub fn with_integrity_proof(mut self, on: bool) -> ObjectSigning {
        self.integrity_proof = on;
        self
    }

    /// Whether no signature is attached at all.
    pub fn is_off(&self) -> bool {
        !self.ld_signature && !self.integrity_proof
    }
}

/// Why an activity could not be signed. Each message names the activity.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The activity did not encode to a JSON object.
    #[error("signing activity {activity:?}: {reason}")]
    Encode {
        /// The activity's `id`.
        activity: String,
        /// Why.
        reason: String,
    },
    /// The Linked Data Signature could not be made.
    #[cfg(feature = "ld-signatures")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ld-signatures")))]
    #[error("LD signature of activity {activity:?}: {source}")]
    LdSignature {
        /// The activity's `id`.
        activity: String,
        /// Why (boxed: it is large, and rare).
        source: Box<crate::ldsig::LdSignatureError>,
    },
    /// The integrity proof could not be made.
    #[cfg(feature = "proof")]
    #[cfg_attr(docsrs, doc(cfg(feature = "proof")))]
    #[error("integrity proof of activity {activity:?}: {source}")]
    Proof {
        /// The activity's `id`.
        activity: String,
        /// Why (boxed: it is large, and rare).
        source: Box<crate::proof::ProofError>,
    },
}

/// The properties a signature adds to a document.
const SIGNATURE_KEYS: [&str; 2] = crate::inbox::SIGNER_MEMBERS;

/// Whether `activity` already carries an LD signature or a proof.
pub(crate) fn is_signed(activity: &Activity) -> bool {
    SIGNATURE_KEYS
        .iter()
        .any(|k| activity.base.extra.contains_key(*k))
}

/// Whether `activity` may be signed: it and the object it embeds (if any)
/// are public or unlisted, read with the author's followers collection and
/// `bto`/`bcc`.
pub fn is_signable(activity: &Activity, author: &LocalActor) -> bool {
    let open = |v: Visibility| matches!(v, Visibility::Public | Visibility::Unlisted);
    open(read_visibility(activity, author))
        && activity
            .embedded_object()
            .and_then(AnyObject::as_object)
            .is_none_or(|o| open(read_visibility(o, author)))
}

/// The `signature` and `proof` for `activity` by `author`, as `signing`
/// asks; `None` when nothing is to be attached (signing off, the activity
/// not public, already signed, or no key for what is asked).
///
/// # Errors
/// [`SigningError`] naming the activity.
pub(crate) fn signatures(
    signing: &ObjectSigning,
    author: &LocalActor,
    activity: &Activity,
) -> Result<Option<Map<String, Value>>, SigningError> {
    if signing.is_off() || is_signed(activity) || !is_signable(activity, author) {
        return Ok(None);
    }
    let name = || activity.id.as_ref().map_or("", |i| i.as_str()).to_owned();
    let mut document = serde_json::to_value(activity).map_err(|e| SigningError::Encode {
        activity: name(),
        reason: e.to_string(),
    })?;
    if !document.is_object() {
        return Err(SigningError::Encode {
            activity: name(),
            reason: "not a JSON object".to_owned(),
        });
    }
    // Signed as delivered: delivery plans strip `bto`/`bcc` the same way.
    crate::vocab::audience::strip_hidden_audience(&mut document);
    // The terms the signatures need, defined before anything is signed:
    // the proof covers the context as delivered.
    let context_added = extend_context(signing, author, &mut document);
    #[cfg(feature = "proof")]
    if signing.integrity_proof
        && let (Some(key), Some(method)) = (&author.keys().ed25519, author.ed25519_key_id())
    {
        let options = crate::proof::ProofOptions::new(method.clone());
        document =
            crate::proof::sign(&document, key, &options).map_err(|source| SigningError::Proof {
                activity: name(),
                source: Box::new(source),
            })?;
    }
    // Last, over the document with its proof (see above).
    // Never LD-signed with a member the signature would not cover: a
    // receiver would refuse it, and it would travel unsigned.
    #[cfg(feature = "ld-signatures")]
    if signing.ld_signature && crate::ldsig::check_coverage(&document).is_ok() {
        let created = crate::vocab::DateTime::now();
        document = crate::ldsig::sign(
            &document,
            &author.keys().rsa,
            author.key_id(),
            created.as_str(),
        )
        .map_err(|source| SigningError::LdSignature {
            activity: name(),
            source: Box::new(source),
        })?;
    }
    let Value::Object(mut signed) = document else {
        return Ok(None);
    };
    let mut added: Map<String, Value> = SIGNATURE_KEYS
        .iter()
        .filter_map(|k| signed.remove_entry(*k))
        .collect();
    if added.is_empty() {
        return Ok(None);
    }
    if context_added && let Some(context) = signed.remove_entry("@context") {
        added.extend([context]);
    }
    Ok(Some(added))
}

/// Attaches `signatures` (from [`signatures`]) to `activity`: the
/// `signature` and `proof`, and the `@context` they were made with when
/// the signing extended it.
pub(crate) fn attach(activity: &mut Activity, signatures: &Map<String, Value>) {
    for (k, v) in signatures {
        if k == "@context" {
            activity.base.ld_context = Some(crate::vocab::Context::from_value(v.clone()));
        } else {
            activity.base.extra.insert(k.clone(), v.clone());
        }
    }
}

/// Extends `document`'s `@context` with what the signatures `signing`
/// asks of `author` need JSON-LD readers to see: the Data Integrity
/// context, which defines `proof` (without it, the ActivityStreams context
/// maps `proof` to a blank node, Fedify reads no proof at all, and its
/// safe-mode LD verifier refuses the document), and the extension terms an
/// LD signature must cover. Whether anything was added.
#[cfg_attr(not(feature = "proof"), allow(unused_variables))]
#[cfg_attr(
    not(any(feature = "proof", feature = "ld-signatures")),
    allow(unused_mut)
)]
fn extend_context(signing: &ObjectSigning, author: &LocalActor, document: &mut Value) -> bool {
    let mut added = false;
    #[cfg(feature = "proof")]
    if signing.integrity_proof
        && author.keys().ed25519.is_some()
        && author.ed25519_key_id().is_some()
    {
        added |= add_context(document, DATA_INTEGRITY_CONTEXT);
    }
    #[cfg(feature = "ld-signatures")]
    if signing.ld_signature {
        added |= define_extension_terms(document);
    }
    added
}

/// The W3C Data Integrity context (v1, the one Fedify writes and archipel
/// preloads): defines `proof` and `DataIntegrityProof`.
#[cfg(feature = "proof")]
const DATA_INTEGRITY_CONTEXT: &str = "https://w3id.org/security/data-integrity/v1";

/// `document`'s `@context` as a list of entries (ActivityStreams when it
/// has none).
#[cfg(any(feature = "proof", feature = "ld-signatures"))]
fn context_entries(document: &Value) -> Vec<Value> {
    match document.get("@context") {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => vec![Value::from(crate::vocab::AS_CONTEXT)],
    }
}

/// Adds the context `url` to `document`'s, after its first entry (the
/// ActivityStreams context, which it may not redefine), unless it is
/// there; whether it was added.
#[cfg(feature = "proof")]
fn add_context(document: &mut Value, url: &str) -> bool {
    let mut context = context_entries(document);
    if context.iter().any(|c| c.as_str() == Some(url)) {
        return false;
    }
    let Some(map) = document.as_object_mut() else {
        return false;
    };
    context.insert(1.min(context.len()), Value::from(url));
    map.insert("@context".to_owned(), Value::Array(context));
    true
}

/// Extension terms archipel and its peers write beside ActivityStreams,
/// each defined as Mastodon's, Misskey's, GoToSocial's or FEP-044f's
/// contexts define it (the ActivityStreams context maps undefined terms to
/// blank nodes, which RDF drops).
#[cfg(feature = "ld-signatures")]
fn extension_terms() -> Map<String, Value> {
    let mut terms = match crate::vocab::Context::activitystreams_with_quotes().to_value() {
        Value::Array(items) => items
            .into_iter()
            .find_map(|i| match i {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Map::new(),
    };
    let list = |id: &str| {
        Value::Object(Map::from_iter([
            ("@id".to_owned(), Value::from(id)),
            ("@container".to_owned(), Value::from("@list")),
        ]))
    };
    terms.extend([
        (
            "toot".to_owned(),
            Value::from("http://joinmastodon.org/ns#"),
        ),
        ("sensitive".to_owned(), Value::from("as:sensitive")),
        ("Hashtag".to_owned(), Value::from("as:Hashtag")),
        ("quoteUrl".to_owned(), Value::from("as:quoteUrl")),
        ("Emoji".to_owned(), Value::from("toot:Emoji")),
        ("blurhash".to_owned(), Value::from("toot:blurhash")),
        ("focalPoint".to_owned(), list("toot:focalPoint")),
        ("votersCount".to_owned(), Value::from("toot:votersCount")),
    ]);
    terms
}

/// Prefixes the definitions of [`extension_terms`] use: added with any of
/// them.
#[cfg(feature = "ld-signatures")]
const PREFIXES: [&str; 2] = ["toot", "gts"];

/// Adds to `document`'s `@context` an inline definition of each extension
/// term it uses (as a member or a type, at any depth) and its contexts do
/// not define inline already; whether anything was added.
#[cfg(feature = "ld-signatures")]
fn define_extension_terms(document: &mut Value) -> bool {
    fn used(v: &Value, names: &mut std::collections::BTreeSet<String>, depth: usize) {
        // Deeper than any real activity (a bounded walk of our own
        // document all the same).
        if depth > 16 {
            return;
        }
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "@context" {
                        continue;
                    }
                    names.insert(k.clone());
                    if k == "type"
                        && let Some(t) = v.as_str()
                    {
                        names.insert(t.to_owned());
                    }
                    used(v, names, depth + 1);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| used(i, names, depth + 1)),
            _ => {}
        }
    }
    let mut names = std::collections::BTreeSet::new();
    used(document, &mut names, 0);
    let mut context = context_entries(document);
    let Some(map) = document.as_object_mut() else {
        return false;
    };
    let defined = |term: &str| {
        context
            .iter()
            .any(|c| c.as_object().is_some_and(|m| m.contains_key(term)))
    };
    let all = extension_terms();
    let mut wanted: Map<String, Value> = all
        .iter()
        .filter(|(t, _)| names.contains(*t) && !PREFIXES.contains(&t.as_str()) && !defined(t))
        .map(|(t, d)| (t.clone(), d.clone()))
        .collect();
    if wanted.is_empty() {
        return false;
    }
    for prefix in PREFIXES {
        if let Some(iri) = all.get(prefix)
            && !defined(prefix)
        {
            wanted.insert(prefix.to_owned(), iri.clone());
        }
    }
    context.push(Value::Object(wanted));
    map.insert("@context".to_owned(), Value::Array(context));
    true
}

/// `activity` with its signatures, if `signing` asks for any: what
/// [`Federation::send`](crate::federation::Federation::send) delivers.
pub(crate) fn signed_copy(
    signing: &ObjectSigning,
    author: &LocalActor,
    activity: &Activity,
) -> Result<Option<Activity>, SigningError> {
    Ok(signatures(signing, author, activity)?.map(|added| {
        let mut copy = activity.clone();
        attach(&mut copy, &added);
        copy
    }))
}

#[cfg(all(test, feature = "proof"))]
mod tests {
    use super::*;
    use crate::federation::keys::ActorKeys;
    use crate::federation::outbox::Outbox;
    use crate::federation::paths::Paths;
    use crate::signatures::PrivateKey;

    const PEM: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/keys/rsa-2048-pkcs8.pem"
    ));

    fn setup() -> (Outbox, LocalActor, PrivateKey) {
        let paths = Paths::new("https://a.example".parse().unwrap()).unwrap();
        let ed = PrivateKey::generate_ed25519().unwrap();
        let keys = ActorKeys {
            rsa: PrivateKey::from_pem(PEM).unwrap(),
            ed25519: Some(ed.clone()),
        };
        let alice = LocalActor::person(&paths, "alice", keys).unwrap();
        let outbox = Outbox::new(paths).with_signing(ObjectSigning::all());
        (outbox, alice, ed)
    }

    fn post(outbox: &Outbox, alice: &LocalActor, body: serde_json::Value) -> super::super::Posted {
        let body = body.to_string();
        outbox
            .prepare(alice, body.as_bytes())
            .unwrap()
            .finish(None)
            .unwrap()
    }

    #[test]
    fn a_public_post_carries_a_proof_that_verifies_as_served_and_as_delivered() {
        let (outbox, alice, ed) = setup();
        let posted = post(
            &outbox,
            &alice,
            serde_json::json!({"type": "Note", "content": "hello",
                "to": "https://www.w3.org/ns/activitystreams#Public",
                "bcc": "https://c.example/users/carol"}),
        );
        let served = serde_json::to_value(posted.activity()).unwrap();
        let verified = crate::proof::verify_with_key(&detached(&served), &ed.public_key()).unwrap();
        assert_eq!(
            verified[0].verification_method.as_str(),
            "https://a.example/users/alice#ed25519-key"
        );
        // What a delivery plan sends: the delivery form, bcc stripped.
        let plan = crate::delivery::DeliveryPlan::new(
            posted.delivery().unredacted(),
            [],
            &Default::default(),
        )
        .unwrap();
        let sent: serde_json::Value = serde_json::from_slice(plan.body().bytes()).unwrap();
        assert_eq!(sent, served);
        crate::proof::verify_with_key(&detached(&sent), &ed.public_key()).unwrap();
        assert_ld_signed(&sent, &alice);
    }

    /// `document` without its LD signature, as a proof verifier reads it.
    fn detached(document: &serde_json::Value) -> serde_json::Value {
        let mut d = document.clone();
        d.as_object_mut().unwrap().remove("signature");
        d
    }

    /// The LD signature verifies with alice's RSA key (feature
    /// `ld-signatures`).
    fn assert_ld_signed(document: &serde_json::Value, alice: &LocalActor) {
        #[cfg(feature = "ld-signatures")]
        {
            let rsa = alice.keys().rsa.public_key();
            let sig = crate::ldsig::verify_with_key(document, &rsa).unwrap();
            assert_eq!(&sig.creator, alice.key_id());
        }
        #[cfg(not(feature = "ld-signatures"))]
        let _ = (document, alice);
    }

    #[test]
    fn federation_send_signs_the_form_a_delivery_plan_sends_without_bcc() {
        let (outbox, alice, ed) = setup();
        let unsigned = post(
            &outbox.with_signing(ObjectSigning::default()),
            &alice,
            serde_json::json!({"type": "Note", "content": "hello",
                "to": "https://www.w3.org/ns/activitystreams#Public",
                "bcc": "https://c.example/users/carol"}),
        );
        // What `Federation::send` does with the delivery form.
        let signed = signed_copy(&ObjectSigning::all(), &alice, posted_delivery(&unsigned))
            .unwrap()
            .unwrap();
        let plan = crate::delivery::DeliveryPlan::new(&signed, [], &Default::default()).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(plan.body().bytes()).unwrap();
        assert!(!plan.body().bytes().windows(5).any(|w| w == b"carol"));
        crate::proof::verify_with_key(&detached(&sent), &ed.public_key()).unwrap();
        assert_ld_signed(&sent, &alice);
    }

    fn posted_delivery(posted: &super::super::Posted) -> &Activity {
        posted.delivery().unredacted()
    }

    /// What the outbox LD-signs passes the receivers' coverage check
    /// (`ldsig::check_coverage`): a public post with the members archipel
    /// emits, each defined by the context the outbox writes, so a
    /// forwarded or relayed copy is believed on its LD signature.
    #[cfg(feature = "ld-signatures")]
    #[test]
    fn an_ld_signed_public_post_is_covered_member_by_member() {
        let (outbox, alice, ed) = setup();
        let posted = post(
            &outbox,
            &alice,
            serde_json::json!({"type": "Note",
                "content": "<p>hello #books @bob :blob:</p>",
                "contentMap": {"en": "<p>hello #books @bob :blob:</p>"},
                "summary": "cw", "sensitive": true,
                "inReplyTo": "https://b.example/notes/1",
                "url": "https://a.example/@alice/1",
                "to": "https://www.w3.org/ns/activitystreams#Public",
                "cc": [alice.followers().as_str(), "https://b.example/users/bob"],
                "tag": [
                    {"type": "Hashtag", "href": "https://a.example/tags/books", "name": "#books"},
                    {"type": "Mention", "href": "https://b.example/users/bob", "name": "@bob@b.example"},
                    {"type": "Emoji", "id": "https://a.example/emojis/blob", "name": ":blob:",
                     "updated": "2026-01-01T00:00:00Z",
                     "icon": {"type": "Image", "mediaType": "image/png",
                              "url": "https://a.example/emojis/blob.png"}}
                ],
                "attachment": [{"type": "Document", "mediaType": "image/png",
                    "url": "https://a.example/media/1.png", "name": "a cover",
                    "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH", "width": 640, "height": 480,
                    "focalPoint": [0.0, 0.5]}],
                "quote": "https://b.example/notes/2",
                "quoteUrl": "https://b.example/notes/2",
                "_misskey_quote": "https://b.example/notes/2",
                "interactionPolicy": {"canQuote": {
                    "automaticApproval": "https://www.w3.org/ns/activitystreams#Public"}}}),
        );
        let served = serde_json::to_value(posted.activity()).unwrap();
        assert!(
            served.get("signature").is_some(),
            "{:?} {served:#}",
            crate::ldsig::check_coverage(&served)
        );
        assert!(served.get("proof").is_some(), "{served:#}");
        let covered = crate::ldsig::check_coverage(&served);
        assert!(covered.is_ok(), "{covered:?}\n{served:#}");
        assert_ld_signed(&served, &alice);
        crate::proof::verify_with_key(&served, &ed.public_key()).unwrap();
    }

    /// A member no context defines (an application's own extension) would
    /// travel unsigned beside a valid LD signature, and receivers refuse
    /// such a document: it gets the proof only.
    #[cfg(feature = "ld-signatures")]
    #[test]
    fn a_post_with_an_undefined_member_gets_the_proof_only() {
        let (outbox, alice, ed) = setup();
        let posted = post(
            &outbox,
            &alice,
            serde_json::json!({"type": "Note", "content": "hello", "shelf": "read",
                "to": "https://www.w3.org/ns/activitystreams#Public"}),
        );
        let served = serde_json::to_value(posted.activity()).unwrap();
        assert_eq!(served.get("signature"), None, "{served:#}");
        // The Data Integrity context for the proof, no extension terms.
        assert_eq!(
            served["@context"],
            serde_json::json!([crate::vocab::AS_CONTEXT, DATA_INTEGRITY_CONTEXT])
        );
        crate::proof::verify_with_key(&served, &ed.public_key()).unwrap();
    }

    #[test]
    fn a_followers_only_or_direct_post_carries_no_signature() {
        let (outbox, alice, _) = setup();
        for addressing in [
            serde_json::json!({"to": alice.followers().as_str()}),
            serde_json::json!({"to": "https://b.example/users/bob"}),
            // Public only through bcc is not public: the served form
            // does not say so.
            serde_json::json!({"to": alice.followers().as_str(),
                "bcc": "https://www.w3.org/ns/activitystreams#Public"}),
        ] {
            let mut body = serde_json::json!({"type": "Note", "content": "psst"});
            body.as_object_mut()
                .unwrap()
                .extend(addressing.as_object().unwrap().clone());
            let posted = post(&outbox, &alice, body.clone());
            let served = serde_json::to_value(posted.activity()).unwrap();
            assert!(
                served.get("proof").is_none() && served.get("signature").is_none(),
                "{body}: {served}"
            );
            assert!(!is_signed(posted.delivery().unredacted()), "{body}");
        }
    }

    #[test]
    fn signing_is_off_by_default_and_an_existing_proof_is_kept() {
        let (outbox, alice, _) = setup();
        let body = serde_json::json!({"type": "Note", "content": "hello",
            "to": "https://www.w3.org/ns/activitystreams#Public"});
        let plain = post(
            &outbox.clone().with_signing(ObjectSigning::default()),
            &alice,
            body.clone(),
        );
        assert!(!is_signed(plain.activity()));
        let signed = post(&outbox, &alice, body);
        let again = signed_copy(&ObjectSigning::all(), &alice, signed.activity()).unwrap();
        assert!(
            again.is_none(),
            "an already signed activity is signed again"
        );
    }
}
