//! Forwarded activities (ActivityPub §7.1.2): how an activity HTTP-signed
//! by a server other than its actor's can still be believed.
//!
//! The HTTP signature of a forwarded activity proves who *passed it on*,
//! not who wrote it. The inbox therefore asks a [`VerifyForwarded`] for a
//! second proof, one that travels with the content or can be checked at
//! its source, and records which one held in [`Authenticity`]. Without a
//! `VerifyForwarded` such an activity is refused, as before
//! ([`InboxError::ActorMismatch`](super::InboxError::ActorMismatch)).
//!
//! The comparison of a forwarded copy with the one fetched from its origin
//! is [`same_content`]: parsed JSON values, equal except for the
//! `signature` and `proof` members a signer adds.

use serde_json::Value;

use crate::vocab::Iri;

/// How an accepted activity's authenticity was established: who vouches
/// that its `actor` wrote exactly this content.
///
/// Every activity the inbox accepts carries one in
/// [`Incoming::authenticity`](super::Incoming::authenticity). Only
/// [`Authenticity::HttpSignature`] also proves that the actor *sent* it;
/// the others say the content is the actor's, whoever delivered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Authenticity {
    /// The request's HTTP signature was made with a key of the actor.
    HttpSignature,
    /// A Linked Data Signature (`RsaSignature2017`) in the document,
    /// made with a key of the actor.
    LdSignature {
        /// The signature's `creator` (the key id).
        creator: Iri,
    },
    /// A FEP-8b32 integrity proof in the document, made with a key the
    /// actor lists in its `assertionMethod`.
    IntegrityProof {
        /// The proof's `verificationMethod`.
        verification_method: Iri,
    },
    /// The same content was fetched from its origin: the activity itself,
    /// or (when the activity is not served) the object it creates or
    /// updates, or the proof that the object it deletes is gone.
    Refetched {
        /// The IRI fetched: the activity's `id` or its object's.
        from: Iri,
    },
}

impl Authenticity {
    /// Whether the actor itself delivered the activity (an HTTP signature
    /// by its own key), rather than another server passing it on.
    pub fn is_direct(&self) -> bool {
        matches!(self, Authenticity::HttpSignature)
    }
}

/// Why a forwarded activity was not believed.
///
/// The inbox reports it as
/// [`InboxError::Forwarded`](super::InboxError::Forwarded), `401`, except a
/// spent fetch budget ([`ForwardedError::OverBudget`], `503`: ours, not the
/// sender's fault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardedError {
    /// The copy fetched from the origin differs from the forwarded one:
    /// the forwarder (or someone before it) altered the activity.
    #[error("forwarded activity {id:?}: its content differs from the copy at {from:?}")]
    ContentMismatch {
        /// The forwarded activity's `id`.
        id: String,
        /// The IRI whose fetched copy differs.
        from: String,
    },
    /// A signature or proof verified, but with a key of someone other than
    /// the activity's `actor`.
    #[error("forwarded activity {id:?}: signed by {signer:?}, not by its actor {actor:?}")]
    NotTheActor {
        /// The forwarded activity's `id`.
        id: String,
        /// The owner or controller of the key that signed.
        signer: String,
        /// The activity's `actor`.
        actor: String,
    },
    /// A forwarded `Delete` whose object still exists at its origin.
    #[error("forwarded Delete {id:?}: its object {object:?} still exists at its origin")]
    NotDeleted {
        /// The `Delete`'s `id`.
        id: String,
        /// The object it claims to delete.
        object: String,
    },
    /// No way of establishing it held: no valid signature or proof, and
    /// the origin could not confirm it. `reasons` says what each attempt
    /// found, in order.
    #[error("forwarded activity {id:?} could not be verified: {reasons}")]
    Unverified {
        /// The forwarded activity's `id`.
        id: String,
        /// What each attempt found, `; `-separated.
        reasons: String,
    },
    /// The actor's domain is refused by the domain policy (`403`).
    #[error("forwarded activity: the actor's domain {host:?} is blocked")]
    Blocked {
        /// The refused host.
        host: String,
    },
    /// The budget of fetches for verifying forwarded activities from this
    /// origin, or passed on by this forwarder, is spent for now (`503`: try
    /// later).
    #[error("forwarded activity: fetch budget for {host:?} is spent, try later")]
    OverBudget {
        /// The host whose budget is spent: the forwarder's (checked first)
        /// or the origin's.
        host: String,
    },
}

impl ForwardedError {
    /// Whether the refusal is ours to lift (a spent budget), not the
    /// sender's fault.
    pub fn is_transient(&self) -> bool {
        matches!(self, ForwardedError::OverBudget { .. })
    }
}

/// Establishes that a forwarded activity is its actor's.
///
/// The inbox calls it for an activity whose HTTP signature verified with a
/// key of someone other than its `actor`, after every check that needs no
/// network (domain policy on the actor and on the forwarder, id origin,
/// typed decoding, authority, and whether the id was already accepted: a
/// repeat is a duplicate without being verified again), and before the id
/// is recorded as seen. The real implementation is
/// `federation::ForwardedVerifier`; a test can return a fixed answer.
#[async_trait::async_trait]
pub trait VerifyForwarded: Send + Sync {
    /// `document` is the forwarded activity as sent; `actor` its `actor`;
    /// `forwarder` who passed it on (the owner of the HTTP signature's
    /// key, or the relay), when known, so that what it makes us fetch is
    /// charged to it as well as to the origin fetched. `Ok` says how its
    /// authenticity was established.
    async fn verify_forwarded(
        &self,
        document: &Value,
        actor: &Iri,
        forwarder: Option<&Iri>,
    ) -> Result<Authenticity, ForwardedError>;
}

/// The members a signer adds to a document, ignored when a forwarded copy
/// is compared with its origin's: the forwarded copy may carry Mastodon's
/// LD signature or an integrity proof the served copy lacks, or the
/// reverse.
pub const SIGNER_MEMBERS: [&str; 2] = ["signature", "proof"];

/// Whether `forwarded` and `fetched` hold the same content: equal as parsed
/// JSON values (so key order and whitespace do not matter), once the
/// top-level [`SIGNER_MEMBERS`] are set aside.
///
/// ```
/// use archipel::inbox::same_content;
/// let served = serde_json::json!({"id": "https://a.example/1", "type": "Note", "content": "hi"});
/// let signed = serde_json::json!({"content": "hi", "type": "Note", "id": "https://a.example/1",
///                                 "signature": {"type": "RsaSignature2017"}});
/// assert!(same_content(&signed, &served));
/// let altered = serde_json::json!({"id": "https://a.example/1", "type": "Note", "content": "ho"});
/// assert!(!same_content(&altered, &served));
/// ```
pub fn same_content(forwarded: &Value, fetched: &Value) -> bool {
    match (forwarded, fetched) {
        (Value::Object(a), Value::Object(b)) => {
            let kept = |m: &serde_json::Map<String, Value>| {
                m.iter()
                    .filter(|(k, _)| !SIGNER_MEMBERS.contains(&k.as_str()))
                    .count()
            };
            kept(a) == kept(b)
                && a.iter()
                    .filter(|(k, _)| !SIGNER_MEMBERS.contains(&k.as_str()))
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => forwarded == fetched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signer_members_are_ignored_on_either_side_only_at_the_top() {
        let a = json!({"id": "x", "proof": {"a": 1}});
        let b = json!({"id": "x", "signature": {"b": 2}});
        assert!(same_content(&a, &b));
        let nested = json!({"id": "x", "object": {"proof": 1}});
        let bare = json!({"id": "x", "object": {}});
        assert!(!same_content(&nested, &bare));
    }

    #[test]
    fn an_added_or_removed_member_differs() {
        let a = json!({"id": "x", "to": ["p"]});
        let b = json!({"id": "x"});
        assert!(!same_content(&a, &b));
        assert!(!same_content(&b, &a));
    }

    #[test]
    fn authenticity_round_trips_as_json() {
        let a = Authenticity::Refetched {
            from: Iri::new_unchecked("https://a.example/notes/1"),
        };
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"by":"refetched","from":"https://a.example/notes/1"}"#
        );
        assert_eq!(serde_json::from_str::<Authenticity>(&text).unwrap(), a);
    }
}
