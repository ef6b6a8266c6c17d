//! The outgoing HTTP side: the [`HttpClient`] trait, the [`FetchPolicy`] it
//! enforces (timeouts, size caps, redirects, private-address refusal, domain
//! policy) and a default implementation, [`ReqwestClient`], behind the
//! `client` feature.
//!
//! Everything else in archipel that talks to the network (WebFinger,
//! NodeInfo, the [`Fetcher`](crate::fetch::Fetcher), delivery) goes through
//! `Arc<dyn HttpClient>`, so an application can swap in its own client, and
//! tests can use a mock without any server.
//!
//! # Safety defaults
//! The default [`FetchPolicy`] only speaks `https`, refuses every
//! non-public address (loopback, RFC 1918, link-local, unique-local,
//! unspecified, shared, multicast, reserved; see [`classify`]) both for IP
//! literals and for **resolved** addresses of host names, re-checks all of
//! this on every redirect hop, caps the body at 2 MiB and the whole exchange
//! at 30 s. Tests and local development opt in with
//! [`FetchPolicy::allow_http`] and [`FetchPolicy::allow_address`] (or the
//! blunt [`FetchPolicy::allow_private_addresses`]).
//!
// Without the `client` feature there is no `ReqwestClient` to link to; the
// link then leads to the crate's feature table, which says what enables it.
#![cfg_attr(
    not(feature = "client"),
    doc = "[`ReqwestClient`]: crate#cargo-features"
)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use url::Url;

use crate::policy::{DomainPolicy, PolicyError};

mod address;
pub(crate) mod origin;
#[cfg(feature = "client")]
mod reqwest_client;

pub use address::{AddressClass, classify};
pub use origin::{authority, same_origin};
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use reqwest_client::ReqwestClient;

/// Errors of the `client` module.
///
/// The variants are chosen so a caller (e.g. the delivery engine) can
/// classify an outcome without parsing messages: policy refusals
/// ([`BlockedDomain`](Self::BlockedDomain),
/// [`PrivateAddress`](Self::PrivateAddress), [`Scheme`](Self::Scheme)) are
/// permanent; [`Timeout`](Self::Timeout) and [`Connect`](Self::Connect) are
/// usually transient.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL could not be parsed, or has no host.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The offending URL text.
        url: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The URL's scheme is not allowed (`http` needs an opt-in; others never).
    #[error("URL {url:?}: scheme {scheme:?} is not allowed by the fetch policy")]
    Scheme {
        /// The offending URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The host is refused by the [`DomainPolicy`].
    #[error("host {host:?} is blocked by the domain policy")]
    BlockedDomain {
        /// The normalized host.
        host: String,
    },
    /// The host is, or resolves only to, a non-public address.
    #[error("host {host:?} is or resolves to non-public address {addr} ({class:?}); refused")]
    PrivateAddress {
        /// The host as written in the URL.
        host: String,
        /// The refused address.
        addr: IpAddr,
        /// Its classification.
        class: AddressClass,
    },
    /// Name resolution failed.
    #[error("could not resolve host {host:?}: {reason}")]
    Dns {
        /// The host.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The connection could not be established (refused, TLS failure…).
    #[error("could not connect to {host:?}: {reason}")]
    Connect {
        /// The host.
        host: String,
        /// The underlying error message.
        reason: String,
    },
    /// The connect timeout or the total timeout elapsed.
    #[error("request to {url:?} timed out after {after:?}")]
    Timeout {
        /// The URL being fetched when the time ran out.
        url: String,
        /// The limit that elapsed.
        after: Duration,
    },
    /// The response body exceeded [`FetchPolicy::max_body_bytes`]; reading
    /// stopped at the limit.
    #[error("response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More redirects than [`FetchPolicy::max_redirects`].
    #[error("too many redirects (limit {limit}) fetching {url:?}")]
    TooManyRedirects {
        /// The limit.
        limit: usize,
        /// The URL whose fetch was abandoned.
        url: String,
    },
    /// A redirect response had a missing or unusable `Location`.
    #[error("redirect from {url:?} has an invalid Location header {location:?}")]
    InvalidRedirect {
        /// The URL that answered with the redirect.
        url: String,
        /// The `Location` header value (empty if missing).
        location: String,
    },
    /// The request could not be built (invalid method or header value).
    #[error("could not build request: {reason}")]
    InvalidRequest {
        /// What was wrong.
        reason: String,
    },
    /// A transport error while sending or receiving.
    #[error("HTTP transport error for {url:?}: {reason}")]
    Io {
        /// The URL being fetched.
        url: String,
        /// The underlying error message.
        reason: String,
    },
}

impl ClientError {
    /// Whether retrying later could succeed (timeouts, connection and DNS
    /// failures, transport errors); `false` for policy refusals and
    /// malformed input.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Timeout { .. }
                | ClientError::Connect { .. }
                | ClientError::Dns { .. }
                | ClientError::Io { .. }
        )
    }
}

impl From<PolicyError> for ClientError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Blocked { host } => ClientError::BlockedDomain { host },
            PolicyError::NoHost { url } => ClientError::InvalidUrl {
                url,
                reason: "no host".into(),
            },
            PolicyError::InvalidDomain { input } => ClientError::InvalidUrl {
                url: input,
                reason: "invalid host".into(),
            },
        }
    }
}

/// An async HTTP client: one request in, one response out, body fully read.
///
/// Implementations must enforce their [`FetchPolicy`] (the default
/// [`ReqwestClient`] does), follow redirects themselves unless the request
/// carries [`RedirectMode::Manual`] in its extensions, and put the URL
/// finally fetched into the response's extensions as [`FinalUrl`] so that
/// origin checks can use it.
///
/// ```
/// use archipel::client::{ClientError, HttpClient};
/// use bytes::Bytes;
///
/// /// A mock that answers every request with `{}`.
/// struct Mock;
///
/// #[async_trait::async_trait]
/// impl HttpClient for Mock {
///     async fn execute(
///         &self,
///         _req: http::Request<Bytes>,
///     ) -> Result<http::Response<Bytes>, ClientError> {
///         Ok(http::Response::new(Bytes::from_static(b"{}")))
///     }
/// }
/// ```
///
#[cfg_attr(
    not(feature = "client"),
    doc = "[`ReqwestClient`]: crate#cargo-features"
)]
#[async_trait::async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `req` and returns the response with its whole (bounded) body.
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError>;
}

#[async_trait::async_trait]
impl<T: HttpClient + ?Sized> HttpClient for Arc<T> {
    async fn execute(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        (**self).execute(req).await
    }
}

/// Request extension: whether the client follows redirects for this request.
///
/// A request without it is [`RedirectMode::Follow`]. Delivery sets
/// [`RedirectMode::Manual`] on every signed `POST`: a redirected `POST` either
/// becomes a `GET` (301/302/303) that could be counted as delivered, or
/// re-sends the body (307/308) to a target its signature does not cover.
/// The modes mirror the Fetch standard's `redirect` option.
///
/// ```
/// use archipel::client::RedirectMode;
/// let mut req = http::Request::post("https://b.example/inbox").body(bytes::Bytes::new()).unwrap();
/// req.extensions_mut().insert(RedirectMode::Manual);
/// assert_eq!(RedirectMode::of(&req), RedirectMode::Manual);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectMode {
    /// Follow redirects hop by hop, re-checking the [`FetchPolicy`] at each
    /// (the default).
    #[default]
    Follow,
    /// Follow nothing: a 3xx response is returned as is, `Location` and
    /// all, with the request URL as its [`FinalUrl`].
    Manual,
}

impl RedirectMode {
    /// The mode `req` asks for: its extension, or [`RedirectMode::Follow`].
    pub fn of<B>(req: &http::Request<B>) -> RedirectMode {
        req.extensions()
            .get::<RedirectMode>()
            .copied()
            .unwrap_or_default()
    }
}

/// Response extension: the URL finally fetched, after redirects.
///
/// [`HttpClient`] implementations insert it; the
/// [`Fetcher`](crate::fetch::Fetcher) compares the document's `id` origin
/// against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalUrl(pub Url);

/// The limits and guards an [`HttpClient`] enforces on outgoing requests.
///
/// Start from [`FetchPolicy::default`] (safe for production) and adjust with
/// the builder methods:
///
/// ```
/// use archipel::client::FetchPolicy;
/// use std::time::Duration;
///
/// // Local federation tests against http://127.0.0.1:PORT.
/// let policy = FetchPolicy::default()
///     .user_agent("myapp/1.0 (+https://myapp.example)")
///     .allow_http(true)
///     .allow_address("127.0.0.1".parse().unwrap())
///     .total_timeout(Duration::from_secs(5));
/// assert!(policy.permits_address("127.0.0.1".parse().unwrap()));
/// assert!(!policy.permits_address("127.0.0.2".parse().unwrap()));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchPolicy {
    /// Time allowed to establish a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time allowed for the whole exchange, all redirects and the body
    /// included (default 30 s).
    pub total_timeout: Duration,
    /// Maximum body size in bytes; reading stops past it (default 2 MiB).
    pub max_body_bytes: usize,
    /// Maximum number of redirects followed (default 5).
    pub max_redirects: usize,
    /// `User-Agent` sent when the request has none; name your app and give
    /// a contact URL, as remote admins expect.
    pub user_agent: String,
    /// Contact any address, private ones included (default `false`).
    pub allow_private_addresses: bool,
    /// Specific non-public addresses that may be contacted anyway.
    pub allowed_addresses: Vec<IpAddr>,
    /// Allow plain `http` URLs (default `false`: `https` only).
    pub allow_http: bool,
    /// Domains that are never contacted.
    pub domains: DomainPolicy,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 2 * 1024 * 1024,
            max_redirects: 5,
            user_agent: concat!("archipel/", env!("CARGO_PKG_VERSION")).to_owned(),
            allow_private_addresses: false,
            allowed_addresses: Vec::new(),
            allow_http: false,
            domains: DomainPolicy::new(),
        }
    }
}

impl FetchPolicy {
    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Sets the total timeout.
    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.total_timeout = d;
        self
    }
    /// Sets the maximum body size in bytes.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }
    /// Sets the maximum number of redirects.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }
    /// Sets the default `User-Agent`.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }
    /// Allows (or refuses) every non-public address. For development only.
    pub fn allow_private_addresses(mut self, yes: bool) -> Self {
        self.allow_private_addresses = yes;
        self
    }
    /// Allows one specific non-public address (e.g. a test server's
    /// `127.0.0.1`) while all others stay refused.
    pub fn allow_address(mut self, addr: IpAddr) -> Self {
        self.allowed_addresses.push(addr);
        self
    }
    /// Allows plain `http` URLs. For development and tests only.
    pub fn allow_http(mut self, yes: bool) -> Self {
        self.allow_http = yes;
        self
    }
    /// Sets the domain policy consulted before every request and hop (a
    /// shared handle: later blocks apply to clients already built).
    pub fn with_domain_policy(mut self, policy: DomainPolicy) -> Self {
        self.domains = policy;
        self
    }

    /// Whether `addr` may be contacted under this policy.
    pub fn permits_address(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.allow_private_addresses
            || classify(addr).is_public()
            || self.allowed_addresses.iter().any(|a| canonical(*a) == addr)
    }

    /// Checks a URL before any connection: scheme, domain policy, and the
    /// address when the host is an IP literal. Resolved addresses of host
    /// names are checked by the client at connection time.
    ///
    /// # Errors
    /// [`ClientError::Scheme`], [`ClientError::BlockedDomain`],
    /// [`ClientError::PrivateAddress`] or [`ClientError::InvalidUrl`].
    pub fn check_url(&self, url: &Url) -> Result<(), ClientError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => {
                return Err(ClientError::Scheme {
                    url: url.to_string(),
                    scheme: other.to_owned(),
                });
            }
        }
        let host = url.host().ok_or_else(|| ClientError::InvalidUrl {
            url: url.to_string(),
            reason: "no host".into(),
        })?;
        self.domains.check(url)?;
        let ip = match host {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = ip
            && !self.permits_address(ip)
        {
            return Err(ClientError::PrivateAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                addr: ip,
                class: classify(ip),
            });
        }
        Ok(())
    }
}

/// IPv4-mapped IPv6 addresses compare as their IPv4 form.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_url_guards() {
        let p = FetchPolicy::default();
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(matches!(
            p.check_url(&u("http://example.com/")),
            Err(ClientError::Scheme { scheme, .. }) if scheme == "http"
        ));
        assert!(matches!(
            p.check_url(&u("ftp://example.com/")),
            Err(ClientError::Scheme { .. })
        ));
        assert!(matches!(
            p.check_url(&u("https://169.254.169.254/latest/meta-data")),
            Err(ClientError::PrivateAddress {
                class: AddressClass::LinkLocal,
                ..
            })
        ));
        assert!(matches!(
            p.check_url(&u("https://[::ffff:7f00:1]/")),
            Err(ClientError::PrivateAddress {
                class: AddressClass::Loopback,
                ..
            })
        ));
        assert!(p.check_url(&u("https://example.com/")).is_ok());
        let d = DomainPolicy::new();
        d.block("example.com").unwrap();
        let p = p.with_domain_policy(d);
        assert!(matches!(
            p.check_url(&u("https://www.Example.com/")),
            Err(ClientError::BlockedDomain { host }) if host == "www.example.com"
        ));
    }

    #[test]
    fn opt_ins() {
        let p = FetchPolicy::default()
            .allow_http(true)
            .allow_address("127.0.0.1".parse().unwrap());
        assert!(p.permits_address("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!p.permits_address("127.0.0.2".parse().unwrap()));
        let all = FetchPolicy::default().allow_private_addresses(true);
        assert!(all.permits_address("10.0.0.1".parse().unwrap()));
    }
}
