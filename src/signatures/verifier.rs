//! [`Verifier`]: checks a signed request against a [`VerifyPolicy`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http::Request;
use url::Url;

use super::cavage::{self, CavageSignature, RequestParts};
use super::digest::{self, B64};
use super::{Algorithm, PublicKey, SignatureError, Spec};
use crate::clock::{Clock, SystemClock, unix_secs};
use crate::vocab::Iri;

/// A public key and the actor that owns it, as a [`KeyResolver`] found it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedKey {
    /// The key.
    pub key: PublicKey,
    /// The owner's id (the actor's `publicKey.owner`), to compare with the
    /// activity's `actor`.
    pub owner: String,
    /// Whether the key came from a cache: only then does a failed
    /// verification ask the resolver again with `refresh = true`.
    pub from_cache: bool,
}

impl ResolvedKey {
    /// A key freshly fetched (`from_cache = false`).
    pub fn new(key: PublicKey, owner: impl Into<String>) -> Self {
        ResolvedKey {
            key,
            owner: owner.into(),
            from_cache: false,
        }
    }

    /// Marks the key as served from a cache.
    #[must_use]
    pub fn cached(mut self) -> Self {
        self.from_cache = true;
        self
    }
}

/// Maps a signature's `keyId` to a public key and its owner.
///
/// An implementation usually looks in a cache, then dereferences the key
/// id (an actor document or a key document) with a signed fetch. When a
/// signature fails with a cached key, [`Verifier`] calls again once with
/// `refresh = true`: the actor may have rotated its key.
#[async_trait::async_trait]
pub trait KeyResolver: Send + Sync {
    /// Returns the key named `key_id`, or [`SignatureError::UnknownKey`].
    async fn resolve(&self, key_id: &str, refresh: bool) -> Result<ResolvedKey, SignatureError>;

    /// Whether `resolve(key_id, refresh)` would answer from memory,
    /// without a request. A caller that meters the fetches it causes on
    /// someone else's behalf (a forwarded activity's LD signature) charges
    /// only when this is `false`. The default, `false`, says any call may
    /// fetch.
    fn holds(&self, key_id: &str, refresh: bool) -> bool {
        let _ = (key_id, refresh);
        false
    }
}

#[async_trait::async_trait]
impl<T: KeyResolver + ?Sized> KeyResolver for Arc<T> {
    async fn resolve(&self, key_id: &str, refresh: bool) -> Result<ResolvedKey, SignatureError> {
        (**self).resolve(key_id, refresh).await
    }

    fn holds(&self, key_id: &str, refresh: bool) -> bool {
        (**self).holds(key_id, refresh)
    }
}

/// A fixed in-memory [`KeyResolver`], for tests, tools and servers that
/// know their peers' keys in advance.
#[derive(Debug, Clone, Default)]
pub struct MemoryKeyResolver {
    keys: HashMap<String, ResolvedKey>,
}

impl MemoryKeyResolver {
    /// An empty resolver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `key_id` → `key`, owned by `owner`.
    pub fn insert(&mut self, key_id: impl Into<String>, key: PublicKey, owner: impl Into<String>) {
        self.keys
            .insert(key_id.into(), ResolvedKey::new(key, owner));
    }
}

#[async_trait::async_trait]
impl KeyResolver for MemoryKeyResolver {
    async fn resolve(&self, key_id: &str, _refresh: bool) -> Result<ResolvedKey, SignatureError> {
        self.keys
            .get(key_id)
            .cloned()
            .ok_or_else(|| SignatureError::UnknownKey(key_id.to_owned()))
    }

    fn holds(&self, _key_id: &str, _refresh: bool) -> bool {
        // Never fetches: a key it does not know is refused, not looked up.
        true
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The key id that signed, as the signature named it.
    pub key_id: Iri,
    /// The key's owner, as the resolver reported it: compare it with the
    /// activity's `actor`.
    pub owner: Iri,
    /// The dialect that verified.
    pub spec: Spec,
    /// The algorithm that verified.
    pub algorithm: Algorithm,
}

impl Verified {
    /// Whether the verified key belongs to `actor_id` (the activity's
    /// `actor`): an activity signed by someone else's key must be refused.
    pub fn is_owned_by(&self, actor_id: &str) -> bool {
        self.owner == actor_id
    }
}

/// What [`Verifier`] accepts.
///
/// The defaults accept what Mastodon accepts: a `Date` (or `created`) up
/// to one hour in the future and up to one hour plus Mastodon's five-minute
/// default expiry in the past (so also Fedify's ±1 h); both dialects; all
/// three algorithms; and on every request the request target, the host,
/// a time and — when there is a body — the digest must be covered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyPolicy {
    /// Dialects accepted.
    pub specs: Vec<Spec>,
    /// Algorithms accepted.
    pub algorithms: Vec<Algorithm>,
    /// Oldest accepted signing time (`Date` or `created`): 65 minutes.
    pub max_age: Duration,
    /// Furthest accepted signing time in the future, and grace after
    /// `expires`: 60 minutes.
    pub max_skew: Duration,
    /// Require the request target (`(request-target)`, or RFC 9421
    /// `@method` with `@target-uri`, `@request-target` or `@path`).
    pub require_target: bool,
    /// Require the host (`host`, or `@authority` / `@target-uri`).
    pub require_host: bool,
    /// Require a covered time (`date`, `(created)` or `created`).
    pub require_time: bool,
    /// Require a covered digest when the request has a body.
    pub require_digest: bool,
    /// Retry a failed draft-cavage verification with the query left out of
    /// `(request-target)`, as Mastodon does (Fedify and Mastodon < 4.3 sign
    /// without it).
    pub retry_without_query: bool,
    /// RFC 9421: only consider signatures with this `tag` parameter (an
    /// application profile); `None` considers all.
    pub signature_tag: Option<String>,
    /// RFC 9421: only consider the signature with this label; `None`
    /// considers all, in order, and verifies the first the policy accepts.
    pub signature_label: Option<String>,
    /// The public base URL of this server (scheme and authority). When
    /// set, every authority-bearing component comes from it, never from
    /// the request: draft-cavage `host`, RFC 9421 `@authority`, `@scheme`,
    /// `@target-uri` and the `host` header component. A signature made for
    /// another server (`Host: evil.example`) then does not verify here.
    ///
    /// When `None`, the request is trusted for them: the `Host` header (or
    /// the URI's authority, for HTTP/2), and the URI's scheme (`https` when
    /// absent). A server behind a reverse proxy, or one that answers for
    /// several names, must set it (or use
    /// [`Inbox::with_public_base`](crate::inbox::Inbox::with_public_base)).
    pub public_base: Option<Url>,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        VerifyPolicy {
            specs: vec![Spec::Cavage, Spec::Rfc9421],
            algorithms: vec![
                Algorithm::RsaV1_5Sha256,
                Algorithm::RsaPssSha512,
                Algorithm::Ed25519,
            ],
            max_age: Duration::from_secs(3600 + 300),
            max_skew: Duration::from_secs(3600),
            require_target: true,
            require_host: true,
            require_time: true,
            require_digest: true,
            retry_without_query: true,
            signature_tag: None,
            signature_label: None,
            public_base: None,
        }
    }
}

impl VerifyPolicy {
    /// Sets [`public_base`](Self::public_base): the authority and scheme
    /// signatures must cover are this server's, whatever the request says.
    #[must_use]
    pub fn with_public_base(mut self, base: Url) -> Self {
        self.public_base = Some(base);
        self
    }

    pub(crate) fn check_time(&self, signed: i64, now: i64) -> Result<(), SignatureError> {
        let max_age = self.max_age.as_secs();
        let max_skew = self.max_skew.as_secs();
        if signed > now {
            let ahead = signed.abs_diff(now);
            if ahead > max_skew {
                return Err(SignatureError::FutureDate {
                    ahead_secs: ahead,
                    max_secs: max_skew,
                });
            }
        } else {
            let age = now.abs_diff(signed);
            if age > max_age {
                return Err(SignatureError::StaleDate {
                    age_secs: age,
                    max_secs: max_age,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn check_expires(&self, expires: i64, now: i64) -> Result<(), SignatureError> {
        if now > expires && now.abs_diff(expires) > self.max_skew.as_secs() {
            return Err(SignatureError::Expired {
                ago_secs: now.abs_diff(expires),
            });
        }
        Ok(())
    }

    pub(crate) fn check_algorithm(&self, alg: Algorithm) -> Result<(), SignatureError> {
        if self.algorithms.contains(&alg) {
            Ok(())
        } else {
            Err(SignatureError::UnsupportedAlgorithm(
                alg.as_str().to_owned(),
            ))
        }
    }
}

/// Parses the `Date` header of a request (IMF-fixdate, RFC 850, asctime).
pub(crate) fn date_header(req: &Request<Bytes>) -> Result<i64, SignatureError> {
    let v = req
        .headers()
        .get(http::header::DATE)
        .ok_or_else(|| SignatureError::AbsentComponent("date".into()))?;
    let s = v
        .to_str()
        .map_err(|_| SignatureError::InvalidDate(String::from_utf8_lossy(v.as_bytes()).into()))?;
    let t: SystemTime =
        httpdate::parse_http_date(s).map_err(|_| SignatureError::InvalidDate(s.to_owned()))?;
    Ok(unix_secs(t))
}

/// The authority (`host[:port]`) of a base URL, `None` when it has no host.
pub(crate) fn base_authority(base: &Url) -> Option<String> {
    Some(crate::client::authority(base)).filter(|a| !a.is_empty())
}

/// Verifies signed requests with a [`KeyResolver`] and a [`VerifyPolicy`].
///
/// ```
/// # use archipel::signatures::*;
/// # async fn demo(req: http::Request<bytes::Bytes>, key: PublicKey) -> Result<(), SignatureError> {
/// let mut keys = MemoryKeyResolver::new();
/// keys.insert("https://a.example/actor#main-key", key, "https://a.example/actor");
/// let verifier = Verifier::new(keys, VerifyPolicy::default());
/// let v = verifier.verify(&req).await?;
/// assert_eq!(v.owner, "https://a.example/actor");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Verifier<R> {
    resolver: R,
    policy: VerifyPolicy,
    clock: Arc<dyn Clock>,
}

impl<R: KeyResolver> Verifier<R> {
    /// A verifier using the system clock.
    pub fn new(resolver: R, policy: VerifyPolicy) -> Self {
        Verifier {
            resolver,
            policy,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock (tests, replays).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &VerifyPolicy {
        &self.policy
    }

    /// The key resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
    }

    /// Verifies `req`, taking `host` / `@authority` / `@scheme` /
    /// `@target-uri` from the policy's
    /// [`public_base`](VerifyPolicy::public_base) when set, else from the
    /// request (its `Host` header).
    pub async fn verify(&self, req: &Request<Bytes>) -> Result<Verified, SignatureError> {
        self.verify_inner(req, self.policy.public_base.as_ref())
            .await
    }

    /// Verifies `req` as received at `base` (this server's public base
    /// URL, e.g. behind a reverse proxy): as [`Verifier::verify`] with
    /// [`VerifyPolicy::public_base`] set to `base`.
    pub async fn verify_with_base(
        &self,
        req: &Request<Bytes>,
        base: &Url,
    ) -> Result<Verified, SignatureError> {
        self.verify_inner(req, Some(base)).await
    }

    async fn verify_inner(
        &self,
        req: &Request<Bytes>,
        base: Option<&Url>,
    ) -> Result<Verified, SignatureError> {
        let now = unix_secs(self.clock.now());
        let headers = req.headers();
        if headers.contains_key("signature-input") {
            if !self.policy.specs.contains(&Spec::Rfc9421) {
                return Err(SignatureError::UnsupportedSpec(Spec::Rfc9421));
            }
            #[cfg(feature = "rfc9421")]
            return super::rfc9421::verify(self, req, base, now).await;
            #[cfg(not(feature = "rfc9421"))]
            return Err(SignatureError::UnsupportedSpec(Spec::Rfc9421));
        }
        let value = match headers.get("signature") {
            Some(v) => v,
            None => match headers.get(http::header::AUTHORIZATION) {
                Some(v)
                    if v.as_bytes()
                        .get(..10)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"signature ")) =>
                {
                    v
                }
                _ => return Err(SignatureError::MissingSignature),
            },
        };
        if !self.policy.specs.contains(&Spec::Cavage) {
            return Err(SignatureError::UnsupportedSpec(Spec::Cavage));
        }
        let value = value
            .to_str()
            .map_err(|_| SignatureError::MalformedHeader {
                header: "Signature",
                position: value
                    .as_bytes()
                    .iter()
                    .position(|b| !b.is_ascii())
                    .unwrap_or(0),
                reason: "non-ASCII byte",
            })?;
        let sig = cavage::parse_cavage_signature(value)?;
        self.verify_cavage(req, base, &sig, now).await
    }

    async fn verify_cavage(
        &self,
        req: &Request<Bytes>,
        base: Option<&Url>,
        sig: &CavageSignature<'_>,
        now: i64,
    ) -> Result<Verified, SignatureError> {
        let policy = &self.policy;
        // 1. Algorithm label (hs2019 is resolved against the key later).
        let label_alg = match sig.algorithm.as_deref() {
            None => None,
            Some(a) if a.eq_ignore_ascii_case("hs2019") => None,
            Some(a) if a.eq_ignore_ascii_case("rsa-sha256") => Some(Algorithm::RsaV1_5Sha256),
            Some(a) if a.eq_ignore_ascii_case("ed25519") => Some(Algorithm::Ed25519),
            Some(a) => return Err(SignatureError::UnsupportedAlgorithm(a.to_owned())),
        };
        if let Some(a) = label_alg {
            policy.check_algorithm(a)?;
        }
        // 2. Required components.
        let mut has = [false; 6]; // target, host, date, created, digest, content-digest
        for (n, c) in sig.components().enumerate() {
            if n >= cavage::MAX_COMPONENTS {
                return Err(SignatureError::MalformedHeader {
                    header: "Signature",
                    position: 0,
                    reason: "too many covered headers",
                });
            }
            let slot = match c {
                _ if c.eq_ignore_ascii_case("(request-target)") => 0,
                _ if c.eq_ignore_ascii_case("host") => 1,
                _ if c.eq_ignore_ascii_case("date") => 2,
                _ if c.eq_ignore_ascii_case("(created)") => 3,
                _ if c.eq_ignore_ascii_case("digest") => 4,
                _ if c.eq_ignore_ascii_case("content-digest") => 5,
                _ => continue,
            };
            if let Some(h) = has.get_mut(slot) {
                *h = true;
            }
        }
        let [target, host, date, created, dig, cdig] = has;
        if policy.require_target && !target {
            return Err(SignatureError::MissingComponent("(request-target)".into()));
        }
        if policy.require_host && !host {
            return Err(SignatureError::MissingComponent("host".into()));
        }
        if policy.require_time && !date && !created {
            return Err(SignatureError::MissingComponent("date".into()));
        }
        let has_body = !req.body().is_empty();
        if policy.require_digest && has_body && !dig && !cdig {
            return Err(SignatureError::MissingComponent("digest".into()));
        }
        // 3. Time.
        if date {
            policy.check_time(date_header(req)?, now)?;
        }
        match (created, sig.created) {
            (_, Some(c)) => policy.check_time(c, now)?,
            (true, None) => return Err(SignatureError::AbsentComponent("(created)".into())),
            (false, None) => {}
        }
        if let Some(e) = sig.expires {
            policy.check_expires(e, now)?;
        }
        // 4. Digest against the body, before any key fetch.
        if dig {
            let v = header_str(req, "digest")?;
            digest::verify_body("Digest", &digest::parse_digest_header(v)?, req.body())?;
        }
        if cdig {
            let v = header_str(req, "content-digest")?;
            digest::verify_body(
                "Content-Digest",
                &digest::parse_content_digest(v)?,
                req.body(),
            )?;
        }
        // 5. Signature bytes.
        let raw =
            B64.decode(sig.signature.as_bytes())
                .map_err(|_| SignatureError::MalformedHeader {
                    header: "Signature",
                    position: 0,
                    reason: "signature parameter is not base64",
                })?;
        // 6. Signing string(s), key, verify (with the query fallback and
        //    one refresh of a cached key).
        // `host`: the public authority when known; else the Host header;
        // else (HTTP/2 requests carry `:authority`) the URI's authority.
        let authority = base.and_then(base_authority).or_else(|| {
            if req.headers().contains_key(http::header::HOST) {
                None
            } else {
                req.uri().authority().map(|a| a.as_str().to_owned())
            }
        });
        let parts = RequestParts {
            method: req.method(),
            path: req.uri().path(),
            query: req.uri().query(),
            headers: req.headers(),
            host: authority.as_deref(),
        };
        let mut with_query = Vec::with_capacity(512);
        cavage::signing_string(
            &mut with_query,
            sig.components(),
            &parts,
            sig.created,
            sig.expires,
            true,
        )?;
        // Built on the first failure only: the common case never needs it.
        let mut without_query: Option<Vec<u8>> = None;
        let mut refresh = false;
        loop {
            let resolved = self.resolver.resolve(&sig.key_id, refresh).await?;
            let alg = match label_alg {
                Some(a) => a,
                None => {
                    let a = resolved.key.default_algorithm();
                    policy.check_algorithm(a)?;
                    a
                }
            };
            let mut ok = resolved.key.verify(alg, &with_query, &raw)?;
            if !ok && policy.retry_without_query && parts.query.is_some() {
                if without_query.is_none() {
                    let mut b = Vec::with_capacity(with_query.len());
                    cavage::signing_string(
                        &mut b,
                        sig.components(),
                        &parts,
                        sig.created,
                        sig.expires,
                        false,
                    )?;
                    without_query = Some(b);
                }
                if let Some(b) = &without_query {
                    ok = resolved.key.verify(alg, b, &raw)?;
                }
            }
            if ok {
                return Ok(Verified {
                    key_id: Iri::new_unchecked(sig.key_id.clone().into_owned()),
                    owner: Iri::new_unchecked(resolved.owner),
                    spec: Spec::Cavage,
                    algorithm: alg,
                });
            }
            if refresh || !resolved.from_cache {
                return Err(SignatureError::BadSignature {
                    key_id: sig.key_id.clone().into_owned(),
                });
            }
            refresh = true;
        }
    }
}

/// A header as text, or [`SignatureError::AbsentComponent`].
pub(crate) fn header_str<'r>(
    req: &'r Request<Bytes>,
    name: &str,
) -> Result<&'r str, SignatureError> {
    let v = req
        .headers()
        .get(name)
        .ok_or_else(|| SignatureError::AbsentComponent(name.to_owned()))?;
    v.to_str().map_err(|_| SignatureError::MalformedHeader {
        header: if name == "digest" {
            "Digest"
        } else {
            "Content-Digest"
        },
        position: 0,
        reason: "non-ASCII byte",
    })
}
