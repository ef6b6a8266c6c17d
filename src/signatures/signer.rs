//! [`Signer`]: adds `Host`, `Date`, a digest and a signature to a request.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};

use super::cavage::{self, RequestParts};
use super::{Algorithm, BodyDigest, PrivateKey, SignatureError, Spec};
use crate::clock::{Clock, SystemClock, unix_secs};

/// Signs outgoing requests as one key.
///
/// Build it once per actor key and reuse it for every request: it holds
/// the parsed key and the rendered `keyId`. The components follow what
/// Mastodon expects: `(request-target) host date digest content-type` on
/// a request with a body, `(request-target) host date` on GET
/// (draft-cavage); `"@method" "@target-uri" "@authority" "date"` plus
/// `"content-type" "content-digest"` with a body, and `created`,
/// `keyid` and `alg` parameters (RFC 9421).
///
/// ```
/// use archipel::signatures::{BodyDigest, PrivateKey, Signer};
/// # let key = PrivateKey::from_pem(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem"))).unwrap();
/// let signer = Signer::new("https://example.com/actor#main-key", key);
/// let body = bytes::Bytes::from_static(br#"{"type":"Create"}"#);
/// let digest = BodyDigest::sha256(&body); // once per fan-out
/// for inbox in ["https://a.example/inbox", "https://b.example/inbox"] {
///     let mut req = http::Request::post(inbox).body(body.clone()).unwrap();
///     signer.sign_with_digest(&mut req, &digest).unwrap();
///     assert_eq!(req.headers()["digest"], digest.digest_header());
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Signer {
    key_id: Arc<str>,
    key: PrivateKey,
    spec: Spec,
    algorithm: Algorithm,
    clock: Arc<dyn Clock>,
    cavage_components: Option<Arc<str>>,
}

impl Signer {
    /// A draft-cavage signer for `key_id` (the URL of the actor's key,
    /// e.g. `https://example.com/users/alice#main-key`).
    pub fn new(key_id: impl Into<String>, key: PrivateKey) -> Self {
        let algorithm = key.default_algorithm();
        Signer {
            key_id: Arc::from(key_id.into()),
            key,
            spec: Spec::Cavage,
            algorithm,
            clock: Arc::new(SystemClock),
            cavage_components: None,
        }
    }

    /// Overrides the draft-cavage covered components (space-separated,
    /// e.g. `"(request-target) host date digest"`); by default Mastodon's
    /// set. Every listed header must be present when signing.
    #[must_use]
    pub fn cavage_components(mut self, components: &str) -> Self {
        self.cavage_components = Some(Arc::from(components));
        self
    }

    /// Chooses the dialect ([`Spec::Cavage`] by default).
    #[must_use]
    pub fn spec(mut self, spec: Spec) -> Self {
        self.spec = spec;
        self
    }

    /// Chooses the algorithm (RFC 9421 only; draft-cavage always uses the
    /// key's default). Defaults to PKCS#1 v1.5 SHA-256 for RSA keys.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Replaces the clock used for `Date` and `created`.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The key id this signer writes.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key id, key and clock, for signing in a form a receiver asked
    /// for (`accept_signature`).
    #[cfg(feature = "rfc9421")]
    pub(crate) fn parts(&self) -> (&str, &PrivateKey, &Arc<dyn Clock>) {
        (&self.key_id, &self.key, &self.clock)
    }

    /// Signs `req` in place, hashing its body if it has one (or is a
    /// POST/PUT/PATCH).
    pub fn sign(&self, req: &mut Request<Bytes>) -> Result<(), SignatureError> {
        let m = req.method();
        if !req.body().is_empty() || *m == Method::POST || *m == Method::PUT || *m == Method::PATCH
        {
            let digest = BodyDigest::sha256(req.body());
            self.sign_inner(req, Some(&digest))
        } else {
            self.sign_inner(req, None)
        }
    }

    /// Signs `req` with a digest computed beforehand by
    /// [`BodyDigest::sha256`] over the same body: for fan-out, where one
    /// body goes to many inboxes.
    pub fn sign_with_digest(
        &self,
        req: &mut Request<Bytes>,
        digest: &BodyDigest,
    ) -> Result<(), SignatureError> {
        debug_assert_eq!(&BodyDigest::sha256(req.body()), digest);
        self.sign_inner(req, Some(digest))
    }

    fn sign_inner(
        &self,
        req: &mut Request<Bytes>,
        digest: Option<&BodyDigest>,
    ) -> Result<(), SignatureError> {
        if self.key_id.contains(['"', '\\']) || self.key_id.chars().any(char::is_control) {
            return Err(SignatureError::InvalidRequest(
                "key id contains a quote, backslash or control character",
            ));
        }
        if !req.headers().contains_key(header::HOST) {
            let authority = req.uri().authority().ok_or(SignatureError::InvalidRequest(
                "request URI has no authority and no Host header",
            ))?;
            let host = HeaderValue::from_str(authority.as_str())
                .map_err(|_| SignatureError::InvalidRequest("authority is not a header value"))?;
            req.headers_mut().insert(header::HOST, host);
        }
        let now = self.clock.now();
        let date = HeaderValue::try_from(httpdate::fmt_http_date(now))
            .map_err(|_| SignatureError::InvalidRequest("date is not a header value"))?;
        req.headers_mut().insert(header::DATE, date);
        match self.spec {
            Spec::Cavage => self.sign_cavage(req, digest),
            #[cfg(feature = "rfc9421")]
            Spec::Rfc9421 => super::rfc9421::sign_request(
                req,
                digest,
                &self.key,
                &self.key_id,
                self.algorithm,
                unix_secs(now),
            ),
            #[cfg(not(feature = "rfc9421"))]
            Spec::Rfc9421 => {
                let _ = unix_secs(now);
                Err(SignatureError::UnsupportedSpec(Spec::Rfc9421))
            }
        }
    }

    fn sign_cavage(
        &self,
        req: &mut Request<Bytes>,
        digest: Option<&BodyDigest>,
    ) -> Result<(), SignatureError> {
        let mut components = String::from("(request-target) host date");
        if let Some(d) = digest {
            req.headers_mut().insert("digest", d.digest_value().clone());
            components.push_str(" digest");
            if req.headers().contains_key(header::CONTENT_TYPE) {
                components.push_str(" content-type");
            }
        }
        if let Some(custom) = &self.cavage_components {
            components.clear();
            components.push_str(custom);
        }
        let algorithm = self.key.default_algorithm();
        let alg_name = match algorithm {
            Algorithm::RsaV1_5Sha256 => "rsa-sha256",
            _ => "hs2019",
        };
        let mut buf = Vec::with_capacity(512);
        {
            let parts = RequestParts {
                method: req.method(),
                path: req.uri().path(),
                query: req.uri().query(),
                headers: req.headers(),
                host: None,
            };
            cavage::signing_string(
                &mut buf,
                components.split_ascii_whitespace(),
                &parts,
                None,
                None,
                true,
            )?;
        }
        let sig = self.key.sign(algorithm, &buf)?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
        let value = format!(
            "keyId=\"{}\",algorithm=\"{alg_name}\",headers=\"{components}\",signature=\"{b64}\"",
            self.key_id
        );
        let value = HeaderValue::try_from(value)
            .map_err(|_| SignatureError::InvalidRequest("key id is not a header value"))?;
        req.headers_mut().insert("signature", value);
        Ok(())
    }
}
