//! Dereferencing ActivityStreams IRIs: content negotiation, optional signed
//! GET (authorized fetch), origin checks and typed decoding.
//!
//! A [`Fetcher`] turns an IRI into a trustworthy document:
//! 1. the [`DomainPolicy`] (if set) and the [`FetchCache`] are consulted;
//! 2. `GET` with `Accept: application/activity+json, application/ld+json;
//!    profile="https://www.w3.org/ns/activitystreams"`, signed when a
//!    [`Signer`] is configured (servers in "authorized fetch" / secure mode
//!    refuse unsigned GETs);
//! 3. the status and media type are checked;
//! 4. the document's `id` must have the **same origin** (scheme, host,
//!    port) as the URL finally fetched after redirects ([`FinalUrl`]),
//!    otherwise a server could hand out objects claiming to be from
//!    another server; a fetcher built with
//!    [`Fetcher::same_origin_redirects`] also refuses any response reached
//!    through a redirect to another origin, and
//!    [`Fetcher::fetch_authoritative`] requires the document to be served
//!    at its own `id` (fetching the `id` once more when it is not);
//! 5. the verified document is offered to the cache and decoded.
//!
//! Accepted media types: `application/activity+json`,
//! `application/ld+json` (any profile) and `application/json`; anything
//! else (`text/plain`, `text/html`, none) is refused, so a file uploaded
//! to a server and served as text cannot pass for one of its documents.

use std::sync::Arc;

use bytes::Bytes;
use http::header;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::client::{ClientError, FinalUrl, HttpClient};
use crate::media_type::MediaKind;
use crate::policy::DomainPolicy;
use crate::signatures::{SignatureError, Signer};
use crate::vocab::{Actor, AnyObject, VocabError};

/// The `Accept` header the fetcher sends (ActivityPub §3.2).
pub const ACCEPT_ACTIVITYSTREAMS: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Errors of the `fetch` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP request failed or was refused by the client's policy.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The GET could not be signed.
    #[error("could not sign the GET for {url}: {source}")]
    Sign {
        /// The IRI being fetched.
        url: String,
        /// The signing error.
        source: SignatureError,
    },
    /// The host is refused by the fetcher's domain policy.
    #[error("fetching {url}: host {host:?} is blocked by the domain policy")]
    Blocked {
        /// The URL or document id whose host was refused.
        url: String,
        /// The normalized host.
        host: String,
    },
    /// `404 Not Found`.
    #[error("{url}: not found (404)")]
    NotFound {
        /// The IRI fetched.
        url: String,
    },
    /// `410 Gone`: the object was deleted.
    #[error("{url}: gone (410)")]
    Gone {
        /// The IRI fetched.
        url: String,
    },
    /// Another non-success status (including `401` from servers that need a
    /// signed fetch).
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The IRI fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The response is not an ActivityStreams or JSON document.
    #[error("{url}: Content-Type {content_type:?} is not ActivityStreams JSON")]
    NotActivityStreams {
        /// The IRI fetched.
        url: String,
        /// The `Content-Type` received.
        content_type: String,
    },
    /// The body is not valid JSON, or not a JSON object.
    #[error("{url}: invalid JSON: {reason}")]
    InvalidJson {
        /// The IRI fetched.
        url: String,
        /// The parser's message.
        reason: String,
    },
    /// The document has no string `id`.
    #[error("{url}: document has no \"id\"")]
    MissingId {
        /// The IRI fetched.
        url: String,
    },
    /// The document's `id` is on another origin than the URL fetched.
    #[error("document id {id:?} does not have the origin of the fetched URL {fetched}")]
    OriginMismatch {
        /// The `id` the document claims.
        id: String,
        /// The URL finally fetched (after redirects).
        fetched: String,
    },
    /// The response was reached through a redirect to another origin, and
    /// the fetcher refuses those ([`Fetcher::same_origin_redirects`]).
    #[error("{url}: redirected to another origin ({final_url})")]
    CrossOriginRedirect {
        /// The IRI asked for.
        url: String,
        /// The URL finally fetched.
        final_url: String,
    },
    /// The document is not served at its own `id`, even when fetched from
    /// that `id` ([`Fetcher::fetch_authoritative`]).
    #[error("document id {id:?} is not the URL it was served from ({fetched})")]
    NotAtItsId {
        /// The `id` the document claims.
        id: String,
        /// The URL finally fetched (after redirects).
        fetched: String,
    },
    /// The verified document does not decode into the vocabulary.
    #[error("{url}: {source}")]
    Vocab {
        /// The IRI fetched.
        url: String,
        /// The vocabulary's error.
        source: VocabError,
    },
    /// The verified document is not of the kind asked for.
    #[error("{url}: expected {expected}, found type {found:?}")]
    UnexpectedType {
        /// The IRI fetched.
        url: String,
        /// What was asked for.
        expected: &'static str,
        /// The document's first type name (empty if none).
        found: String,
    },
    /// The verified document does not decode into the requested type.
    #[error("{url}: cannot decode the document: {reason}")]
    Decode {
        /// The IRI fetched.
        url: String,
        /// The decoder's message.
        reason: String,
    },
}

/// A cache of verified documents, keyed by the IRI asked for.
///
/// The [`Fetcher`] calls [`get`](FetchCache::get) before any request and
/// [`put`](FetchCache::put) only with documents that passed every check.
/// Expiry and size are the implementation's business (an LRU with a TTL of
/// minutes suits actors and keys). [`NoCache`] is the default.
#[async_trait::async_trait]
pub trait FetchCache: Send + Sync {
    /// A cached document for `iri`, if any.
    async fn get(&self, iri: &Url) -> Option<Value>;
    /// Stores a verified document fetched for `iri`.
    async fn put(&self, iri: &Url, document: &Value);
}

/// A [`FetchCache`] that caches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

#[async_trait::async_trait]
impl FetchCache for NoCache {
    async fn get(&self, _iri: &Url) -> Option<Value> {
        None
    }
    async fn put(&self, _iri: &Url, _document: &Value) {}
}

/// Dereferences IRIs into verified ActivityStreams documents.
///
/// ```no_run
/// # #[cfg(feature = "client")]
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use archipel::client::{FetchPolicy, ReqwestClient};
/// use archipel::fetch::Fetcher;
///
/// let client = Arc::new(ReqwestClient::new(FetchPolicy::default())?);
/// let fetcher = Fetcher::new(client);
/// let actor = fetcher.fetch_value(&"https://example.com/users/alice".parse()?).await?;
/// println!("{}", actor["inbox"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Fetcher {
    client: Arc<dyn HttpClient>,
    signer: Option<Arc<Signer>>,
    cache: Arc<dyn FetchCache>,
    domains: Option<DomainPolicy>,
    same_origin_redirects: bool,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("signed", &self.signer.is_some())
            .field("domains", &self.domains)
            .field("same_origin_redirects", &self.same_origin_redirects)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher over `client`, unsigned, without cache or domain policy of
    /// its own (the client's policy still applies).
    pub fn new(client: Arc<dyn HttpClient>) -> Fetcher {
        Fetcher {
            client,
            signer: None,
            cache: Arc::new(NoCache),
            domains: None,
            same_origin_redirects: false,
        }
    }

    /// Signs every GET with `signer` (authorized fetch). Use the instance
    /// actor's key. A redirect to another origin drops the signature (the
    /// client strips it), so such a fetch is unsigned past the first hop.
    pub fn signed(mut self, signer: Arc<Signer>) -> Fetcher {
        self.signer = Some(signer);
        self
    }

    /// Uses `cache` for verified documents.
    pub fn cache(mut self, cache: Arc<dyn FetchCache>) -> Fetcher {
        self.cache = cache;
        self
    }

    /// Refuses IRIs (and document ids) on hosts `policy` blocks, before any
    /// request, whatever the client does.
    pub fn with_domain_policy(mut self, policy: DomainPolicy) -> Fetcher {
        self.domains = Some(policy);
        self
    }

    /// Refuses any response reached through a redirect to another origin
    /// ([`FetchError::CrossOriginRedirect`]). Same-origin redirects
    /// (`/@alice` → `/users/alice`) are still followed.
    ///
    /// Key fetches use it: an open redirect on a server must not let
    /// another server's document stand for that server's keys. The client
    /// has already followed the redirect when the fetcher sees it; the
    /// response is discarded unread.
    pub fn same_origin_redirects(mut self) -> Fetcher {
        self.same_origin_redirects = true;
        self
    }

    /// The domain policy this fetcher applies, if any.
    pub fn domain_policy(&self) -> Option<&DomainPolicy> {
        self.domains.as_ref()
    }

    /// Fetches `iri` and returns the verified JSON document.
    ///
    /// # Errors
    /// Every [`FetchError`] variant but `Decode` and `NotAtItsId`.
    pub async fn fetch_value(&self, iri: &Url) -> Result<Value, FetchError> {
        self.check_domain(iri, iri)?;
        if let Some(hit) = self.cache.get(iri).await {
            return Ok(hit);
        }
        let (doc, _) = self.fetch_uncached(iri).await?;
        self.cache.put(iri, &doc).await;
        Ok(doc)
    }

    /// Fetches `iri` and returns the document only if it is served at its
    /// own `id` (fragments aside), as Mastodon requires of actor and key
    /// documents: when the URL finally fetched is not the document's `id`
    /// (same origin, other path), the `id` is fetched once more and must
    /// then match.
    ///
    /// This stops a document stored elsewhere on the right origin (an
    /// upload, a paste) from standing for the object it names.
    ///
    /// ```no_run
    /// # async fn demo(fetcher: archipel::fetch::Fetcher) -> Result<(), archipel::fetch::FetchError> {
    /// let iri = url::Url::parse("https://example.com/users/alice").unwrap();
    /// let actor = fetcher.fetch_authoritative(&iri).await?;
    /// assert_eq!(actor["id"], "https://example.com/users/alice");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Fetcher::fetch_value`], plus [`FetchError::NotAtItsId`].
    pub async fn fetch_authoritative(&self, iri: &Url) -> Result<Value, FetchError> {
        self.authoritative(iri, true, true).await
    }

    /// As [`Fetcher::fetch_authoritative`], without reading the cache (the
    /// verified document is still offered to it): the refetch after a
    /// signature failed with a cached key, which may have been rotated.
    ///
    /// # Errors
    /// As [`Fetcher::fetch_authoritative`].
    pub async fn refetch_authoritative(&self, iri: &Url) -> Result<Value, FetchError> {
        self.authoritative(iri, false, true).await
    }

    /// As [`Fetcher::fetch_authoritative`], neither reading nor writing the
    /// cache: for a document whose content depends on who asks (a partial
    /// followers collection served to this server's signature), which must
    /// never answer another fetch of the same URL.
    ///
    /// # Errors
    /// As [`Fetcher::fetch_authoritative`].
    pub async fn fetch_private(&self, iri: &Url) -> Result<Value, FetchError> {
        self.authoritative(iri, false, false).await
    }

    async fn authoritative(
        &self,
        iri: &Url,
        read_cache: bool,
        write_cache: bool,
    ) -> Result<Value, FetchError> {
        self.check_domain(iri, iri)?;
        if read_cache
            && let Some(hit) = self.cache.get(iri).await
            && document_id(&hit).is_some_and(|id| same_resource(&id, iri))
        {
            return Ok(hit);
        }
        let (doc, final_url) = self.fetch_uncached(iri).await?;
        let Some(id) = document_id(&doc) else {
            return Err(FetchError::MissingId {
                url: iri.to_string(),
            });
        };
        if same_resource(&id, &final_url) {
            if write_cache {
                self.cache.put(iri, &doc).await;
            }
            return Ok(doc);
        }
        // Same origin (checked), another path: ask the id itself, once.
        let (doc, final_url) = self.fetch_uncached(&id).await?;
        match document_id(&doc) {
            Some(again) if same_resource(&again, &final_url) => {
                if write_cache {
                    self.cache.put(iri, &doc).await;
                }
                Ok(doc)
            }
            again => Err(FetchError::NotAtItsId {
                id: again.as_ref().unwrap_or(&id).to_string(),
                fetched: final_url.to_string(),
            }),
        }
    }

    /// One GET with every check but the cache; returns the document and
    /// the URL finally fetched.
    async fn fetch_uncached(&self, iri: &Url) -> Result<(Value, Url), FetchError> {
        self.check_domain(iri, iri)?;
        let url = iri.to_string();
        let mut req = http::Request::get(iri.as_str())
            .header(header::ACCEPT, ACCEPT_ACTIVITYSTREAMS)
            .body(Bytes::new())
            .map_err(|e| ClientError::InvalidRequest {
                reason: e.to_string(),
            })?;
        if let Some(signer) = &self.signer {
            signer.sign(&mut req).map_err(|source| FetchError::Sign {
                url: url.clone(),
                source,
            })?;
        }
        let resp = self.client.execute(req).await?;
        let final_url = resp
            .extensions()
            .get::<FinalUrl>()
            .map_or_else(|| iri.clone(), |f| f.0.clone());
        if self.same_origin_redirects && final_url.origin() != iri.origin() {
            return Err(FetchError::CrossOriginRedirect {
                url,
                final_url: final_url.to_string(),
            });
        }
        match resp.status().as_u16() {
            200..=299 => {}
            404 => return Err(FetchError::NotFound { url }),
            410 => return Err(FetchError::Gone { url }),
            status => return Err(FetchError::Status { url, status }),
        }
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_acceptable_media_type(&ct) {
            return Err(FetchError::NotActivityStreams {
                url,
                content_type: ct,
            });
        }
        let doc: Value =
            serde_json::from_slice(resp.body()).map_err(|e| FetchError::InvalidJson {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if !doc.is_object() {
            return Err(FetchError::InvalidJson {
                url,
                reason: "not a JSON object".into(),
            });
        }
        let id = doc
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| FetchError::MissingId { url: url.clone() })?;
        check_origin(id, &final_url)?;
        if let Ok(id_url) = Url::parse(id) {
            self.check_domain(&id_url, iri)?;
        }
        Ok((doc, final_url))
    }

    /// Fetches `iri` and decodes the verified document into `T` (a
    /// vocabulary type, or any `DeserializeOwned`).
    ///
    /// # Errors
    /// As [`Fetcher::fetch_value`], plus [`FetchError::Decode`].
    pub async fn fetch<T: DeserializeOwned>(&self, iri: &Url) -> Result<T, FetchError> {
        let doc = self.fetch_value(iri).await?;
        serde_json::from_value(doc).map_err(|e| FetchError::Decode {
            url: iri.to_string(),
            reason: e.to_string(),
        })
    }

    /// Fetches `iri` and decodes it into the vocabulary, dispatching on
    /// `type` ([`AnyObject`], with an `Unknown` fallback for types the
    /// vocabulary does not know).
    ///
    /// # Errors
    /// As [`Fetcher::fetch_value`], plus [`FetchError::Vocab`].
    pub async fn fetch_any(&self, iri: &Url) -> Result<AnyObject, FetchError> {
        let doc = self.fetch_value(iri).await?;
        // The body was size-capped by the client; the vocabulary bounds the
        // nesting depth while decoding the parsed value, with no re-encoding.
        AnyObject::from_value(&doc).map_err(|source| FetchError::Vocab {
            url: iri.to_string(),
            source,
        })
    }

    /// Fetches `iri` and requires an actor (`Person`, `Service`,
    /// `Application`, `Group`, `Organization`).
    ///
    /// # Errors
    /// As [`Fetcher::fetch_any`], plus [`FetchError::UnexpectedType`].
    pub async fn fetch_actor(&self, iri: &Url) -> Result<Actor, FetchError> {
        match self.fetch_any(iri).await? {
            AnyObject::Actor(actor) => Ok(*actor),
            other => Err(FetchError::UnexpectedType {
                url: iri.to_string(),
                expected: "actor",
                found: other.type_name().unwrap_or("").to_owned(),
            }),
        }
    }

    fn check_domain(&self, url: &Url, asked: &Url) -> Result<(), FetchError> {
        if let Some(p) = &self.domains
            && let Err(e) = p.check(url)
        {
            let host = match e {
                crate::policy::PolicyError::Blocked { host } => host,
                _ => url.host_str().unwrap_or_default().to_owned(),
            };
            return Err(FetchError::Blocked {
                url: asked.to_string(),
                host,
            });
        }
        Ok(())
    }
}

/// `application/activity+json`, `application/ld+json` with any profile
/// (some servers name only the security or a vendor context), and plain
/// `application/json`, which a few servers send; anything else (HTML, XML,
/// text, none) is refused.
fn is_acceptable_media_type(ct: &str) -> bool {
    !matches!(MediaKind::of(ct), MediaKind::Other)
}

/// The document's `id` as a URL, if it has one.
fn document_id(doc: &Value) -> Option<Url> {
    doc.get("id")
        .and_then(Value::as_str)
        .and_then(|id| Url::parse(id).ok())
}

/// Whether `a` and `b` name the same resource: equal once the fragment is
/// dropped (the URL parser already normalized case and default ports).
fn same_resource(a: &Url, b: &Url) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    a.set_fragment(None);
    b.set_fragment(None);
    a == b
}

/// The document's `id` must be an absolute URL with the origin of `fetched`.
///
/// ```
/// use archipel::fetch::{check_origin, FetchError};
/// let fetched = url::Url::parse("https://a.example/users/x").unwrap();
/// assert!(check_origin("https://a.example/users/y", &fetched).is_ok());
/// assert!(matches!(check_origin("https://b.example/users/x", &fetched),
///                  Err(FetchError::OriginMismatch { .. })));
/// ```
///
/// # Errors
/// [`FetchError::OriginMismatch`].
pub fn check_origin(id: &str, fetched: &Url) -> Result<(), FetchError> {
    let mismatch = || FetchError::OriginMismatch {
        id: id.chars().take(512).collect(),
        fetched: fetched.to_string(),
    };
    let id_url = Url::parse(id).map_err(|_| mismatch())?;
    let opaque = matches!(id_url.origin(), url::Origin::Opaque(_));
    if opaque || id_url.origin() != fetched.origin() {
        return Err(mismatch());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves every URL as a collection at its own id, counting requests.
    #[derive(Debug, Default)]
    struct Collections(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl HttpClient for Collections {
        async fn execute(
            &self,
            req: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, ClientError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body =
                serde_json::json!({"id": req.uri().to_string(), "type": "OrderedCollection"});
            let mut response = http::Response::new(Bytes::from(body.to_string()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/activity+json"),
            );
            Ok(response)
        }
    }

    /// Keeps whatever it is given.
    #[derive(Default)]
    struct KeepAll(std::sync::Mutex<std::collections::HashMap<String, Value>>);

    #[async_trait::async_trait]
    impl FetchCache for KeepAll {
        async fn get(&self, iri: &Url) -> Option<Value> {
            self.0.lock().unwrap().get(iri.as_str()).cloned()
        }
        async fn put(&self, iri: &Url, document: &Value) {
            self.0
                .lock()
                .unwrap()
                .insert(iri.to_string(), document.clone());
        }
    }

    #[tokio::test]
    async fn a_private_fetch_neither_reads_nor_fills_the_cache() {
        let client = Arc::new(Collections::default());
        let cache = Arc::new(KeepAll::default());
        let fetcher = Fetcher::new(client.clone()).cache(cache.clone());
        let url = Url::parse("https://b.example/users/bob/followers_synchronization").unwrap();
        let requests = || client.0.load(std::sync::atomic::Ordering::SeqCst);
        fetcher.fetch_private(&url).await.unwrap();
        assert!(cache.get(&url).await.is_none(), "kept for any later fetch");
        fetcher.fetch_private(&url).await.unwrap();
        assert_eq!(requests(), 2);
        // What the cache holds is not the answer either.
        fetcher.fetch_authoritative(&url).await.unwrap();
        assert!(cache.get(&url).await.is_some());
        fetcher.fetch_private(&url).await.unwrap();
        assert_eq!(requests(), 4);
    }

    #[test]
    fn origins() {
        let f = Url::parse("https://a.example/x").unwrap();
        assert!(check_origin("https://A.EXAMPLE:443/y", &f).is_ok());
        for bad in [
            "https://a.example:8443/x",
            "http://a.example/x",
            "https://sub.a.example/x",
            "/x",
            "urn:uuid:1",
        ] {
            assert!(
                matches!(
                    check_origin(bad, &f),
                    Err(FetchError::OriginMismatch { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn media_types() {
        assert!(is_acceptable_media_type(
            "application/activity+json; charset=utf-8"
        ));
        assert!(is_acceptable_media_type("application/json"));
        assert!(is_acceptable_media_type(
            "application/ld+json; profile=\"https://w3id.org/security/v1\""
        ));
        assert!(is_acceptable_media_type("APPLICATION/LD+JSON"));
        assert!(!is_acceptable_media_type("text/html"));
        assert!(!is_acceptable_media_type("text/plain"));
        assert!(!is_acceptable_media_type("application/jsonx"));
        assert!(!is_acceptable_media_type(""));
    }
}
