//! Verification-method resolution: from a proof's `verificationMethod` to
//! the Ed25519 key its controller publishes (FEP-521a `assertionMethod`).

use url::Url;

use super::error::{ProofError, cut};
use crate::fetch::Fetcher;
use crate::signatures::PublicKey;
use crate::vocab::{AnyObject, Iri};

/// A verification method resolved to its key and controller.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResolvedMethod {
    /// The key.
    pub key: PublicKey,
    /// The actor that controls it (its `controller`, which listed it).
    pub controller: Iri,
}

/// Finds `verification_method` in the `assertionMethod` of `actor` (a
/// controller document already fetched): a `Multikey` whose `id` is the
/// method and whose `controller` is the actor itself.
///
/// The pure half of [`resolve_method`]; use it when the actor is at hand.
///
/// # Errors
/// [`ProofError::MethodNotFound`] when the actor does not list the method
/// as a key it controls; [`ProofError::Key`] when its
/// `publicKeyMultibase` does not decode.
pub fn method_from_actor(
    verification_method: &Iri,
    actor: &serde_json::Value,
) -> Result<ResolvedMethod, ProofError> {
    let not_found = |controller: &str| ProofError::MethodNotFound {
        verification_method: verification_method.to_string(),
        controller: cut(controller),
    };
    let actor = match AnyObject::from_value(actor) {
        Ok(AnyObject::Actor(actor)) => actor,
        _ => return Err(not_found("a document that is not an actor")),
    };
    let actor_id = actor
        .base
        .id
        .clone()
        .ok_or_else(|| not_found("an actor without id"))?;
    let found = actor
        .assertion_method
        .iter()
        .flat_map(|m| m.iter())
        .find(|m| {
            m.id.as_ref() == Some(verification_method)
                && m.controller.as_ref() == Some(&actor_id)
                && m.kind
                    .as_ref()
                    .is_some_and(|k| k.iter().any(|t| t == "Multikey"))
        })
        .ok_or_else(|| not_found(actor_id.as_str()))?;
    let multibase = found
        .public_key_multibase
        .as_deref()
        .ok_or_else(|| not_found(actor_id.as_str()))?;
    let key = PublicKey::from_multibase(multibase).map_err(|source| ProofError::Key {
        verification_method: verification_method.to_string(),
        source,
    })?;
    Ok(ResolvedMethod {
        key,
        controller: actor_id,
    })
}

/// Resolves a proof's `verificationMethod` over the network: fetches the
/// controller actor at the method's IRI without its fragment, on the same
/// origin ([`Fetcher::fetch_authoritative`]: the document must be served at
/// its own `id`), then finds the key with [`method_from_actor`].
///
/// The key's origin is the actor's origin by construction, so a proof can
/// only speak for an actor of the server that serves the key.
///
/// # Errors
/// [`ProofError::Malformed`] for a method that is not an `http(s)` IRI,
/// [`ProofError::Fetch`], and those of [`method_from_actor`].
pub async fn resolve_method(
    verification_method: &Iri,
    fetcher: &Fetcher,
) -> Result<ResolvedMethod, ProofError> {
    let mut url = http_url(verification_method)?;
    url.set_fragment(None);
    let actor = fetcher
        .fetch_authoritative(&url)
        .await
        .map_err(|source| ProofError::Fetch {
            verification_method: verification_method.to_string(),
            source: Box::new(source),
        })?;
    method_from_actor(verification_method, &actor)
}

/// `iri` as an `http(s)` URL, or a [`ProofError::Malformed`]
/// `verificationMethod`.
pub(crate) fn http_url(iri: &Iri) -> Result<Url, ProofError> {
    match Url::parse(iri.as_str()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
        _ => Err(ProofError::Malformed {
            field: "verificationMethod",
            reason: format!("{} is not an http(s) IRI", cut(iri.as_str())),
        }),
    }
}
