//! The signature step: the [`VerifyRequest`] seam the inbox calls, and
//! [`ActorKeyResolver`], a [`KeyResolver`] that fetches `publicKey` from the
//! signer's actor document.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::client::HttpClient;
use crate::signatures::{
    KeyResolver, PublicKey, ResolvedKey, SignatureError, Signer, Verified, Verifier,
};

/// Verifies the HTTP signature of an inbox request.
///
/// Implemented for [`Verifier`]; an application can wrap it (metrics, an
/// extra allow-list of keys) or, in tests, replace it.
#[async_trait::async_trait]
pub trait VerifyRequest: Send + Sync {
    /// Verifies `request` and says who signed it.
    async fn verify_request(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<Verified, SignatureError>;
}

#[async_trait::async_trait]
impl<R: KeyResolver + 'static> VerifyRequest for Verifier<R> {
    async fn verify_request(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<Verified, SignatureError> {
        self.verify(request).await
    }
}

/// Largest number of keys the [`ActorKeyResolver`] caches.
const CACHE_CAPACITY: usize = 10_000;

/// A [`KeyResolver`] that dereferences a `keyId` to the actor (or key)
/// document that publishes it.
///
/// `GET`s the key IRI without its fragment (`…/users/bob#main-key` →
/// `…/users/bob`) with `Accept: application/activity+json`, optionally
/// signed (authorized fetch), through the given [`HttpClient`] (whose
/// `FetchPolicy` applies: size cap, timeouts, private addresses). It then
/// finds the `publicKey` entry whose `id` is the `keyId` (a single object or
/// an array), or reads a standalone key document (`id`, `owner`,
/// `publicKeyPem`), and checks that the key and its owner are on the
/// document's origin, so a server cannot vouch for another's keys. Resolved
/// keys are cached for [`ActorKeyResolver::with_ttl`] (default one hour);
/// the verifier asks again with `refresh = true` after a failure, which
/// handles key rotation.
pub struct ActorKeyResolver {
    client: Arc<dyn HttpClient>,
    signer: Option<Signer>,
    ttl: Duration,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, (ResolvedKey, Instant)>,
    order: VecDeque<String>,
}

impl std::fmt::Debug for ActorKeyResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorKeyResolver")
            .field("ttl", &self.ttl)
            .field("signed_fetch", &self.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl ActorKeyResolver {
    /// A resolver fetching through `client`, unsigned, with a one-hour cache.
    pub fn new(client: Arc<dyn HttpClient>) -> Self {
        Self {
            client,
            signer: None,
            ttl: Duration::from_secs(3600),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Signs key fetches with `signer` (needed by servers in "authorized
    /// fetch" / secure mode, which refuse unsigned `GET`s).
    pub fn with_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// How long a resolved key is reused without fetching again.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    fn cached(&self, key_id: &str) -> Option<ResolvedKey> {
        let cache = self.cache.lock().ok()?;
        let (key, at) = cache.map.get(key_id)?;
        (at.elapsed() < self.ttl).then(|| key.clone().cached())
    }

    fn remember(&self, key_id: &str, key: &ResolvedKey) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache
            .map
            .insert(key_id.to_owned(), (key.clone(), Instant::now()))
            .is_none()
        {
            cache.order.push_back(key_id.to_owned());
        }
        while cache.order.len() > CACHE_CAPACITY {
            if let Some(old) = cache.order.pop_front() {
                cache.map.remove(&old);
            }
        }
    }

    async fn fetch(&self, key_id: &str) -> Result<ResolvedKey, SignatureError> {
        let failure = |reason: String| SignatureError::KeyResolution {
            key_id: key_id.to_owned(),
            reason,
        };
        let url = url::Url::parse(key_id).map_err(|e| failure(format!("not an IRI: {e}")))?;
        let mut document_url = url.clone();
        document_url.set_fragment(None);
        let mut request = http::Request::get(document_url.as_str())
            .header(
                http::header::ACCEPT,
                "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            )
            .body(Bytes::new())
            .map_err(|e| failure(format!("cannot build request: {e}")))?;
        if let Some(signer) = &self.signer {
            signer
                .sign(&mut request)
                .map_err(|e| failure(format!("cannot sign key fetch: {e}")))?;
        }
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| failure(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failure(format!(
                "GET {document_url} answered {}",
                response.status()
            )));
        }
        let document: Value = serde_json::from_slice(response.body())
            .map_err(|e| failure(format!("document is not JSON: {e}")))?;
        key_from_document(key_id, &url, &document).map_err(failure)
    }
}

/// Finds `key_id` in an actor or key document fetched from `url`.
fn key_from_document(
    key_id: &str,
    url: &url::Url,
    document: &Value,
) -> Result<ResolvedKey, String> {
    let same_origin = |iri: &str| {
        url::Url::parse(iri)
            .map(|u| u.origin() == url.origin())
            .unwrap_or(false)
    };
    let doc_id = document
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !same_origin(doc_id) {
        return Err(format!("document id {doc_id:?} is not on the key's origin"));
    }
    let candidates: Vec<&Value> = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().take(16).collect(),
        Some(key @ Value::Object(_)) => vec![key],
        // A standalone key document.
        _ => vec![document],
    };
    let entry = candidates
        .into_iter()
        .find(|k| k.get("id").and_then(Value::as_str) == Some(key_id))
        .ok_or_else(|| format!("document {doc_id:?} does not publish key {key_id:?}"))?;
    let pem = entry
        .get("publicKeyPem")
        .and_then(Value::as_str)
        .ok_or_else(|| "key entry has no publicKeyPem".to_owned())?;
    let owner = match entry.get("owner") {
        Some(Value::String(owner)) => owner.as_str(),
        Some(Value::Object(map)) => map.get("id").and_then(Value::as_str).unwrap_or_default(),
        // An embedded key without owner belongs to the document's actor.
        _ => doc_id,
    };
    if !same_origin(owner) {
        return Err(format!("key owner {owner:?} is not on the key's origin"));
    }
    if owner != doc_id && document.get("publicKey").is_some() {
        return Err(format!(
            "key {key_id:?} is owned by {owner:?}, not by the actor {doc_id:?} publishing it"
        ));
    }
    let key = PublicKey::from_pem(pem).map_err(|e| format!("publicKeyPem: {e}"))?;
    Ok(ResolvedKey::new(key, owner))
}

#[async_trait::async_trait]
impl KeyResolver for ActorKeyResolver {
    async fn resolve(&self, key_id: &str, refresh: bool) -> Result<ResolvedKey, SignatureError> {
        if !refresh && let Some(hit) = self.cached(key_id) {
            return Ok(hit);
        }
        let resolved = self.fetch(key_id).await?;
        self.remember(key_id, &resolved);
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signatures::PrivateKey;
    use serde_json::json;

    fn pem() -> String {
        PrivateKey::generate_rsa(1024)
            .unwrap()
            .public_key()
            .to_spki_pem()
    }

    #[test]
    fn finds_key_in_actor_and_in_array() {
        let url = url::Url::parse("https://a.example/users/bob#main-key").unwrap();
        let doc = json!({"id": "https://a.example/users/bob", "publicKey": [
            {"id": "https://a.example/users/bob#other", "owner": "https://a.example/users/bob", "publicKeyPem": pem()},
            {"id": "https://a.example/users/bob#main-key", "owner": "https://a.example/users/bob", "publicKeyPem": pem()}
        ]});
        let key = key_from_document(url.as_str(), &url, &doc).unwrap();
        assert_eq!(key.owner, "https://a.example/users/bob");
    }

    #[test]
    fn refuses_foreign_owner_and_foreign_document() {
        let url = url::Url::parse("https://a.example/users/bob#main-key").unwrap();
        let doc = json!({"id": "https://a.example/users/bob", "publicKey":
            {"id": url.as_str(), "owner": "https://evil.example/users/x", "publicKeyPem": pem()}});
        let err = key_from_document(url.as_str(), &url, &doc).unwrap_err();
        assert!(err.contains("not on the key's origin"), "{err}");
        let doc = json!({"id": "https://evil.example/users/bob", "publicKey":
            {"id": url.as_str(), "owner": "https://evil.example/users/bob", "publicKeyPem": pem()}});
        let err = key_from_document(url.as_str(), &url, &doc).unwrap_err();
        assert!(err.contains("document id"), "{err}");
    }
}
