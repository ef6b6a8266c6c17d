//! [`SignedDelivery`]: the default [`Delivery`], signing with archipel's
//! [`Signer`] on signing threads of its own and sending through an
//! [`HttpClient`].

mod pool;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, header};

use super::{Delivery, DeliveryError, SendRequest};
use crate::client::{ClientError, FinalUrl, HttpClient, RedirectMode};
use crate::signatures::Signer;
use crate::vocab::Iri;

/// Looks up the signer for a job's key id (jobs store the key id, never the key).
///
/// Keyed by the same [`Iri`] the job carries ([`NewActivity::key_id`](super::NewActivity::key_id)),
/// compared exactly as written: the key id a job names is the one its
/// signature's `keyId` will carry.
pub trait SignerSource: Send + Sync {
    /// The signer for `key_id`, if this server holds that key.
    fn signer(&self, key_id: &Iri) -> Option<Signer>;
}

/// A [`SignerSource`] over a fixed set of signers, keyed by their key id.
///
/// ```
/// use archipel::delivery::{SignerMap, SignerSource};
/// use archipel::signatures::{PrivateKey, Signer};
/// use archipel::vocab::Iri;
/// # let pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem"));
/// let key = PrivateKey::from_pem(pem)?;
/// let signers: SignerMap = [Signer::new("https://a.example/u/alice#main-key", key)]
///     .into_iter()
///     .collect();
/// let key_id = Iri::parse("https://a.example/u/alice#main-key")?;
/// assert_eq!(signers.signer(&key_id).map(|s| s.key_id().to_owned()), Some(key_id.to_string()));
/// assert!(signers.signer(&Iri::parse("https://a.example/u/bob#main-key")?).is_none());
/// # Ok::<(), archipel::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SignerMap(HashMap<Iri, Signer>);

impl SignerMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a signer under its own key id (replacing one with the same id).
    pub fn insert(&mut self, signer: Signer) {
        // The signer's key id is what its `keyId` parameter will say, so it
        // is kept exactly as given, like any IRI taken from a document.
        self.0.insert(Iri::new_unchecked(signer.key_id()), signer);
    }
}

impl FromIterator<Signer> for SignerMap {
    fn from_iter<I: IntoIterator<Item = Signer>>(iter: I) -> Self {
        let mut m = SignerMap::new();
        for s in iter {
            m.insert(s);
        }
        m
    }
}

impl SignerSource for SignerMap {
    fn signer(&self, key_id: &Iri) -> Option<Signer> {
        self.0.get(key_id).cloned()
    }
}

/// Signs each POST (draft-cavage or RFC 9421, as the worker asks) and
/// sends it through an [`HttpClient`].
///
/// Signing is CPU-bound (an RSA-2048 signature costs ~0.3–3 ms) and
/// dominates fan-out cost, so it runs on threads of the delivery's own,
/// [`signing_threads`](Self::signing_threads) of them (default: one per
/// core), while other requests' I/O proceeds on the runtime. The threads
/// take queued requests one after another without waiting between them,
/// start on first use and leave when the delivery is dropped. The body and
/// its digest come precomputed from the plan.
///
/// It never follows a redirect, whatever client it is given: each request
/// carries [`RedirectMode::Manual`], a 3xx answer becomes
/// [`DeliveryError::Redirected`], and a response whose [`FinalUrl`] is not
/// the inbox (a client that followed anyway) becomes
/// [`DeliveryError::RedirectFollowed`]; both give the job up with
/// [`GiveUpReason::Redirected`](super::GiveUpReason::Redirected). A
/// redirected `POST` would either turn into a `GET` that could pass for a
/// delivery (301/302/303) or re-send the body to a target the signature does
/// not cover (307/308).
pub struct SignedDelivery<C> {
    client: C,
    signers: Arc<dyn SignerSource>,
    pool: pool::SigningPool,
    content_type: HeaderValue,
}

impl<C> std::fmt::Debug for SignedDelivery<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDelivery")
            .field("signing_threads", &self.pool.max_threads())
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl<C: HttpClient> SignedDelivery<C> {
    /// Delivery through `client`, signing with the signers of `signers`.
    pub fn new(client: C, signers: impl SignerSource + 'static) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        SignedDelivery {
            client,
            signers: Arc::new(signers),
            pool: pool::SigningPool::new(cores),
            content_type: HeaderValue::from_static(crate::media_type::ACTIVITY_JSON),
        }
    }

    /// Signs on at most `n` threads, so at most `n` requests at once
    /// (default: available cores; at least one).
    #[must_use]
    pub fn signing_threads(mut self, n: usize) -> Self {
        self.pool = pool::SigningPool::new(n);
        self
    }

    /// Replaces the `Content-Type` (default `application/activity+json`, what
    /// Mastodon sends; ActivityPub §7 also allows
    /// `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`).
    #[must_use]
    pub fn content_type(mut self, value: HeaderValue) -> Self {
        self.content_type = value;
        self
    }
}

#[async_trait::async_trait]
impl<C: HttpClient> Delivery for SignedDelivery<C> {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        let inbox = r.inbox.as_str();
        let signer = self
            .signers
            .signer(r.key_id)
            .ok_or_else(|| DeliveryError::NoSigner {
                key_id: r.key_id.to_string(),
            })?
            .spec(r.dialect);
        let mut req = http::Request::post(inbox)
            .header(header::CONTENT_TYPE, self.content_type.clone())
            .body(r.body.bytes().clone())
            .map_err(|e| DeliveryError::Signing {
                inbox: inbox.to_owned(),
                reason: format!("request could not be built: {e}"),
            })?;
        req.extensions_mut().insert(RedirectMode::Manual);
        // FEP-8fcf: unsigned, like Mastodon's; the receiver trusts it only
        // on a request whose signature verified as the collection's owner.
        if let Some(value) = r
            .collection_sync
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            req.headers_mut()
                .insert(crate::federation::followers_sync::HEADER_NAME, value);
        }
        let digest = r.body.digest().clone();
        let requested = r.requested.cloned();
        let signed = self
            .pool
            .run(move || {
                match &requested {
                    // The inbox said what it wants: exactly that, or a typed refusal.
                    Some(wanted) => crate::signatures::accept_signature::sign_as_requested(
                        &mut req,
                        &signer,
                        Some(&digest),
                        wanted,
                    )
                    .map_err(|e| e.to_string()),
                    None => signer
                        .sign_with_digest(&mut req, &digest)
                        .map_err(|e| e.to_string()),
                }
                .map(|()| req)
            })
            .await;
        let req = match signed {
            Ok(Ok(req)) => req,
            Ok(Err(reason)) => {
                return Err(DeliveryError::Signing {
                    inbox: inbox.to_owned(),
                    reason,
                });
            }
            Err(e) => {
                return Err(DeliveryError::Signing {
                    inbox: inbox.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        let resp = self
            .client
            .execute(req)
            .await
            .map_err(|e| client_error(inbox, e))?;
        not_redirected(r.inbox, resp)
    }
}

/// Refuses a response that is, or followed, a redirect (checked here too, so
/// a client ignoring [`RedirectMode::Manual`] cannot make a redirect count).
fn not_redirected(
    inbox: &url::Url,
    resp: http::Response<Bytes>,
) -> Result<http::Response<Bytes>, DeliveryError> {
    if resp.status().is_redirection() {
        return Err(DeliveryError::Redirected {
            inbox: inbox.to_string(),
            status: resp.status().as_u16(),
            location: location(&resp),
        });
    }
    if let Some(FinalUrl(answered)) = resp.extensions().get::<FinalUrl>()
        && answered != inbox
    {
        return Err(DeliveryError::RedirectFollowed {
            inbox: inbox.to_string(),
            final_url: answered.to_string(),
        });
    }
    Ok(resp)
}

/// A response's `Location` header as text (empty if missing or not text).
pub(super) fn location(resp: &http::Response<Bytes>) -> String {
    resp.headers()
        .get(header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// Maps a client failure to the delivery error that classifies it: timeouts,
/// connection, DNS and transport errors are transient; policy refusals,
/// redirects and malformed requests are permanent.
fn client_error(inbox: &str, e: ClientError) -> DeliveryError {
    let inbox = inbox.to_owned();
    match e {
        ClientError::Timeout { .. } => DeliveryError::Timeout { inbox },
        ClientError::Connect { reason, .. } => DeliveryError::Connect { inbox, reason },
        ClientError::Dns { reason, .. } => DeliveryError::Connect {
            inbox,
            reason: format!("DNS: {reason}"),
        },
        e if e.is_transient() => DeliveryError::Transport {
            inbox,
            reason: e.to_string(),
        },
        e => DeliveryError::Refused {
            inbox,
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{JobId, PreparedBody, Spec, Verdict, classify_error};
    use crate::signatures::PrivateKey;
    use std::sync::Mutex;

    /// Answers every request with `status`, `Location: location`, and
    /// `FinalUrl(final_url)` when set; records the redirect mode it was asked for.
    struct Canned {
        status: u16,
        final_url: Option<url::Url>,
        modes: Mutex<Vec<RedirectMode>>,
    }

    #[async_trait::async_trait]
    impl HttpClient for Canned {
        async fn execute(
            &self,
            req: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, ClientError> {
            self.modes.lock().unwrap().push(RedirectMode::of(&req));
            let mut resp = http::Response::builder()
                .status(self.status)
                .header(header::LOCATION, "https://elsewhere.example/inbox")
                .body(Bytes::new())
                .unwrap();
            if let Some(u) = &self.final_url {
                resp.extensions_mut().insert(FinalUrl(u.clone()));
            }
            Ok(resp)
        }
    }

    async fn send_through(
        status: u16,
        final_url: Option<&str>,
    ) -> (
        Result<http::Response<Bytes>, DeliveryError>,
        Vec<RedirectMode>,
    ) {
        let key = PrivateKey::from_pem(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/keys/rsa-2048-pkcs8.pem"
        )))
        .unwrap();
        let signer = Signer::new("https://a.example/u/alice#main-key", key);
        let client = Arc::new(Canned {
            status,
            final_url: final_url.map(|u| url::Url::parse(u).unwrap()),
            modes: Mutex::new(Vec::new()),
        });
        let delivery = SignedDelivery::new(
            Arc::clone(&client),
            [signer].into_iter().collect::<SignerMap>(),
        );
        let inbox = url::Url::parse("https://b.example/inbox").unwrap();
        let body = PreparedBody::new(Bytes::from_static(b"{}"));
        let result = delivery
            .send(SendRequest {
                job: JobId(1),
                activity_id: &Iri::new_unchecked("https://a.example/act/1"),
                inbox: &inbox,
                key_id: &Iri::new_unchecked("https://a.example/u/alice#main-key"),
                body: &body,
                dialect: Spec::Cavage,
                collection_sync: None,
                requested: None,
            })
            .await;
        let modes = client.modes.lock().unwrap().clone();
        (result, modes)
    }

    #[tokio::test]
    async fn every_redirect_status_is_a_redirected_error_and_manual_is_asked() {
        for status in [300, 301, 302, 303, 304, 307, 308] {
            let (result, modes) = send_through(status, None).await;
            assert_eq!(modes, [RedirectMode::Manual], "{status}");
            match result {
                Err(DeliveryError::Redirected {
                    inbox,
                    status: s,
                    location,
                }) => {
                    assert_eq!(inbox, "https://b.example/inbox");
                    assert_eq!(s, status);
                    assert_eq!(location, "https://elsewhere.example/inbox");
                }
                other => panic!("{status}: expected Redirected, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_client_that_followed_anyway_is_not_a_delivery() {
        let (result, _) = send_through(202, Some("https://elsewhere.example/inbox")).await;
        match result {
            Err(DeliveryError::RedirectFollowed { inbox, final_url }) => {
                assert_eq!(inbox, "https://b.example/inbox");
                assert_eq!(final_url, "https://elsewhere.example/inbox");
            }
            other => panic!("expected RedirectFollowed, got {other:?}"),
        }
        // The inbox itself answering (final URL unchanged) is a delivery.
        let (result, _) = send_through(202, Some("https://b.example/inbox")).await;
        assert_eq!(result.unwrap().status(), 202);
    }

    #[test]
    fn client_errors_classify() {
        let inbox = "https://b.example/inbox";
        let retry = Verdict::Retry { retry_after: None };
        let t = |e| classify_error(&client_error(inbox, e));
        assert_eq!(
            t(ClientError::Timeout {
                url: inbox.into(),
                after: std::time::Duration::from_secs(1)
            }),
            retry
        );
        assert_eq!(
            t(ClientError::Connect {
                host: "b.example".into(),
                reason: "refused".into()
            }),
            retry
        );
        assert_eq!(
            t(ClientError::Dns {
                host: "b.example".into(),
                reason: "nxdomain".into()
            }),
            retry
        );
        assert_eq!(
            t(ClientError::Io {
                url: inbox.into(),
                reason: "reset".into()
            }),
            retry
        );
        assert_eq!(
            t(ClientError::BlockedDomain {
                host: "b.example".into()
            }),
            Verdict::Permanent
        );
        assert_eq!(
            t(ClientError::TooManyRedirects {
                limit: 0,
                url: inbox.into()
            }),
            Verdict::Permanent
        );
    }
}
