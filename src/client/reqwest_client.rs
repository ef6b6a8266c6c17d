//! The default [`HttpClient`]: reqwest (rustls) with the [`FetchPolicy`]
//! enforced around it.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, StatusCode};
use url::Url;

use super::{AddressClass, ClientError, FetchPolicy, FinalUrl, HttpClient, RedirectMode, classify};

/// The default [`HttpClient`], built on reqwest with rustls.
///
/// It enforces its [`FetchPolicy`]:
/// - scheme, [`DomainPolicy`](crate::policy::DomainPolicy) and IP-literal
///   checks before every request and every redirect hop (redirects are
///   followed here, never by reqwest);
/// - a DNS resolver that drops non-public **resolved** addresses, so a host
///   name pointing at `127.0.0.1` or `169.254.169.254` is refused before any
///   connection (DNS rebinding included: the check is on the addresses
///   actually connected to);
/// - connect and total timeouts; a body cap enforced while streaming;
/// - a default `User-Agent`; no proxies (a proxy would hide the target
///   address from the guard).
///
/// On a cross-origin redirect, `Authorization`, `Cookie`, `Signature`,
/// `Signature-Input` and `Host` are dropped; a 303 (or a 301/302 after a
/// `POST`) becomes a bodiless `GET`. A request carrying
/// [`RedirectMode::Manual`] follows nothing: the 3xx comes back as is.
///
/// ```no_run
/// # async fn demo() -> Result<(), archipel::client::ClientError> {
/// use archipel::client::{FetchPolicy, HttpClient, ReqwestClient};
/// let client = ReqwestClient::new(FetchPolicy::default().user_agent("myapp/1.0"))?;
/// let req = http::Request::get("https://example.com/").body(bytes::Bytes::new()).unwrap();
/// let resp = client.execute(req).await?;
/// println!("{}", resp.status());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    inner: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl ReqwestClient {
    /// Builds a client enforcing `policy`.
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] when reqwest cannot be initialised
    /// (e.g. the TLS backend fails to load).
    pub fn new(policy: FetchPolicy) -> Result<Self, ClientError> {
        Self::build(policy, Vec::new())
    }

    /// Builds a client enforcing `policy` that also trusts the CA
    /// certificates of the PEM bundle `pem` (one or more `CERTIFICATE`
    /// blocks), on top of the platform's roots.
    ///
    /// For servers whose certificates come from a private CA: a federation
    /// inside an organisation, a staging network, or a test that serves
    /// HTTPS on 127.0.0.1 with a throw-away CA. The extra roots only add
    /// trust; the fetch policy (schemes, addresses, domains) still applies.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), archipel::client::ClientError> {
    /// use archipel::client::{FetchPolicy, ReqwestClient};
    /// let ca = std::fs::read("ca.pem").unwrap_or_default();
    /// let client = ReqwestClient::with_root_certificates(FetchPolicy::default(), &ca)?;
    /// # drop(client); Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] when `pem` holds no certificate, a
    /// malformed PEM block, or a certificate the TLS backend rejects.
    pub fn with_root_certificates(policy: FetchPolicy, pem: &[u8]) -> Result<Self, ClientError> {
        let roots = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            ClientError::InvalidRequest {
                reason: format!("root certificate PEM bundle: {}", chain(&e)),
            }
        })?;
        if roots.is_empty() {
            return Err(ClientError::InvalidRequest {
                reason: "root certificate PEM bundle: no CERTIFICATE block found".into(),
            });
        }
        Self::build(policy, roots)
    }

    fn build(policy: FetchPolicy, roots: Vec<reqwest::Certificate>) -> Result<Self, ClientError> {
        let policy = Arc::new(policy);
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(policy.connect_timeout)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::clone(&policy),
            }))
            .tls_certs_merge(roots)
            .build()
            .map_err(|e| ClientError::InvalidRequest {
                reason: format!("cannot build HTTP client: {}", chain(&e)),
            })?;
        Ok(ReqwestClient { inner, policy })
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    async fn run(
        &self,
        req: http::Request<Bytes>,
        mut url: Url,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let (parts, mut body) = req.into_parts();
        let follow = parts.extensions.get::<RedirectMode>() != Some(&RedirectMode::Manual);
        let mut method = parts.method;
        let mut headers = parts.headers;
        if !headers.contains_key(header::USER_AGENT) {
            let ua = header::HeaderValue::from_str(&self.policy.user_agent).map_err(|_| {
                ClientError::InvalidRequest {
                    reason: format!("invalid User-Agent {:?}", self.policy.user_agent),
                }
            })?;
            headers.insert(header::USER_AGENT, ua);
        }
        let mut hops = 0usize;
        loop {
            self.policy.check_url(&url)?;
            let mut request = reqwest::Request::new(method.clone(), url.clone());
            // Without redirects to follow this request is the only one: its
            // headers are moved into it, not copied and merged again into
            // an empty map (every signed delivery paid for both).
            *request.headers_mut() = if follow {
                headers.clone()
            } else {
                std::mem::take(&mut headers)
            };
            if !body.is_empty() {
                *request.body_mut() = Some(reqwest::Body::from(body.clone()));
            }
            let mut resp = self
                .inner
                .execute(request)
                .await
                .map_err(|e| map_err(&e, &url, &self.policy))?;
            let status = resp.status();
            if follow && is_followed_redirect(status) {
                hops += 1;
                if hops > self.policy.max_redirects {
                    return Err(ClientError::TooManyRedirects {
                        limit: self.policy.max_redirects,
                        url: url.to_string(),
                    });
                }
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let next = match url.join(&location) {
                    Ok(n) if !location.is_empty() => n,
                    _ => {
                        return Err(ClientError::InvalidRedirect {
                            url: url.to_string(),
                            location,
                        });
                    }
                };
                if status == StatusCode::SEE_OTHER
                    || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                        && method == Method::POST)
                {
                    method = Method::GET;
                    body = Bytes::new();
                    for h in [
                        header::CONTENT_TYPE,
                        header::CONTENT_LENGTH,
                        HeaderName::from_static("digest"),
                        HeaderName::from_static("content-digest"),
                    ] {
                        headers.remove(h);
                    }
                }
                if next.origin() != url.origin() {
                    strip_credentials(&mut headers);
                }
                url = next;
                continue;
            }
            let limit = self.policy.max_body_bytes;
            if resp
                .content_length()
                .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
            {
                return Err(ClientError::BodyTooLarge { limit });
            }
            let mut buf = BytesMut::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| map_err(&e, &url, &self.policy))?
            {
                if buf.len().saturating_add(chunk.len()) > limit {
                    return Err(ClientError::BodyTooLarge { limit });
                }
                buf.extend_from_slice(&chunk);
            }
            let mut out = http::Response::new(buf.freeze());
            *out.status_mut() = status;
            *out.version_mut() = resp.version();
            *out.headers_mut() = std::mem::take(resp.headers_mut());
            out.extensions_mut().insert(FinalUrl(url));
            return Ok(out);
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ReqwestClient {
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let text = req.uri().to_string();
        let url = Url::parse(&text).map_err(|e| ClientError::InvalidUrl {
            url: text.clone(),
            reason: e.to_string(),
        })?;
        let total = self.policy.total_timeout;
        match tokio::time::timeout(total, self.run(req, url)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout {
                url: text,
                after: total,
            }),
        }
    }
}

fn is_followed_redirect(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

fn strip_credentials(headers: &mut HeaderMap) {
    for h in [
        header::AUTHORIZATION,
        header::COOKIE,
        header::HOST,
        HeaderName::from_static("signature"),
        HeaderName::from_static("signature-input"),
    ] {
        headers.remove(h);
    }
}

/// The whole error chain as one line.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        src = s.source();
    }
    out
}

fn map_err(e: &reqwest::Error, url: &Url, policy: &FetchPolicy) -> ClientError {
    let host = url.host_str().unwrap_or_default().to_owned();
    let mut src: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(r) = s.downcast_ref::<AddressRefused>() {
            return ClientError::PrivateAddress {
                host: r.host.clone(),
                addr: r.addr,
                class: r.class,
            };
        }
        if let Some(d) = s.downcast_ref::<DnsFailed>() {
            return ClientError::Dns {
                host: d.host.clone(),
                reason: d.reason.clone(),
            };
        }
        src = s.source();
    }
    if e.is_timeout() {
        ClientError::Timeout {
            url: url.to_string(),
            after: policy.connect_timeout,
        }
    } else if e.is_connect() {
        ClientError::Connect {
            host,
            reason: chain(e),
        }
    } else {
        ClientError::Io {
            url: url.to_string(),
            reason: chain(e),
        }
    }
}

/// Resolver that drops addresses the policy does not permit.
struct GuardedResolver {
    policy: Arc<FetchPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| DnsFailed {
                    host: host.clone(),
                    reason: e.to_string(),
                })?
                .collect();
            let mut refused = None;
            let mut ok = Vec::with_capacity(resolved.len());
            for a in resolved {
                if policy.permits_address(a.ip()) {
                    ok.push(a);
                } else if refused.is_none() {
                    refused = Some(a.ip());
                }
            }
            match (ok.is_empty(), refused) {
                (false, _) => Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs),
                (true, Some(addr)) => Err(Box::new(AddressRefused {
                    class: classify(addr),
                    host,
                    addr,
                }) as Box<dyn StdError + Send + Sync>),
                (true, None) => Err(Box::new(DnsFailed {
                    reason: "no addresses".into(),
                    host,
                }) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}

#[derive(Debug)]
struct AddressRefused {
    host: String,
    addr: IpAddr,
    class: AddressClass,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves only to non-public addresses such as {} ({:?})",
            self.host, self.addr, self.class
        )
    }
}

impl StdError for AddressRefused {}

#[derive(Debug)]
struct DnsFailed {
    host: String,
    reason: String,
}

impl fmt::Display for DnsFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resolving {}: {}", self.host, self.reason)
    }
}

impl StdError for DnsFailed {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::rustls;

    use super::*;

    /// A throw-away CA (its PEM) and a server configuration for 127.0.0.1
    /// with a certificate it issued.
    fn private_ca() -> (String, rustls::ServerConfig) {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        (ca.pem(), config)
    }

    /// Serves HTTPS on 127.0.0.1 (port 0): every connection gets one
    /// `200 OK` with body `ok`. Returns the base URL.
    async fn https_server(config: rustls::ServerConfig) -> String {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A failed handshake (the untrusting client) just ends here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tls
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        format!("https://{addr}/")
    }

    fn get(url: &str) -> http::Request<Bytes> {
        http::Request::get(url).body(Bytes::new()).unwrap()
    }

    #[tokio::test]
    async fn root_certificates_make_a_private_ca_trusted() {
        let (ca_pem, config) = private_ca();
        let url = https_server(config).await;
        let policy = FetchPolicy::default().allow_private_addresses(true);

        let trusting =
            ReqwestClient::with_root_certificates(policy.clone(), ca_pem.as_bytes()).unwrap();
        let resp = trusting.execute(get(&url)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.body().as_ref(), b"ok");

        // The same server is refused without the extra root.
        let plain = ReqwestClient::new(policy).unwrap();
        match plain.execute(get(&url)).await {
            Err(ClientError::Connect { host, reason }) => {
                assert_eq!(host, "127.0.0.1");
                assert!(reason.contains("UnknownIssuer"), "{reason}");
            }
            other => panic!("expected a certificate error, got {other:?}"),
        }
    }

    #[test]
    fn root_certificates_without_a_certificate_are_refused() {
        match ReqwestClient::with_root_certificates(FetchPolicy::default(), b"not a PEM bundle") {
            Err(ClientError::InvalidRequest { reason }) => assert_eq!(
                reason,
                "root certificate PEM bundle: no CERTIFICATE block found"
            ),
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }
}
