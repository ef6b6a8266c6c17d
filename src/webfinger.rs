//! WebFinger (RFC 7033): `acct:` URIs, JRD documents, the client lookup with
//! host-meta (RFC 6415) fallback, and the server-side responder.
//!
//! - [`Acct`] parses and prints `acct:user@host`, `user@host`, `@user@host`.
//! - [`Jrd`] / [`JrdLink`] model the JSON Resource Descriptor losslessly.
//! - [`Resolver`] queries `https://host/.well-known/webfinger?resource=…`
//!   through any [`HttpClient`](crate::client::HttpClient), falls back to
//!   host-meta (XRD or JSON) for the LRDD template, and returns the actor IRI.
//! - [`respond`] answers a WebFinger request from an app-supplied lookup.

use crate::client::ClientError;

pub(crate) mod acct;
mod jrd;
mod resolve;
mod server;
mod xrd;

pub use acct::{Acct, MAX_ACCT_LEN, MAX_HOST_LEN, MAX_USER_LEN};
pub use jrd::{
    JRD_MEDIA_TYPE, Jrd, JrdLink, MAX_JRD_BYTES, MAX_LINKS, REL_PROFILE_PAGE, REL_SELF,
    REL_SUBSCRIBE,
};
pub use resolve::Resolver;
pub use server::{MAX_QUERY_LEN, MAX_RELS, Resource, WebFingerQuery, respond};
pub use xrd::{MAX_XRD_BYTES, parse_xrd};

/// Errors of the `webfinger` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebFingerError {
    /// An account handle could not be parsed.
    #[error("invalid account {input:?}: {reason}")]
    InvalidAcct {
        /// The input (truncated to 120 bytes).
        input: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A WebFinger `resource` is neither an `acct:` URI nor an http(s) URL.
    #[error("invalid WebFinger resource {input:?}: {reason}")]
    InvalidResource {
        /// The input (truncated to 120 bytes).
        input: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// The WebFinger query string is malformed (RFC 7033 §4.2).
    #[error("invalid WebFinger query: {reason}")]
    InvalidQuery {
        /// What was wrong.
        reason: &'static str,
    },
    /// A JRD document is malformed or exceeds the limits.
    #[error("invalid JRD document: {reason}")]
    InvalidJrd {
        /// What was wrong, with the URL when fetched.
        reason: String,
    },
    /// An XRD (host-meta) document is malformed or exceeds the limits.
    #[error("invalid XRD document: {reason}")]
    InvalidXrd {
        /// What was wrong.
        reason: String,
    },
    /// The server answered with something that is not JSON.
    #[error("WebFinger response from {url} is not JSON (Content-Type {content_type:?})")]
    NotJson {
        /// The URL queried.
        url: String,
        /// Its `Content-Type`.
        content_type: String,
    },
    /// The server answered with a non-success status.
    #[error("WebFinger request to {url} failed with HTTP status {status}")]
    Status {
        /// The URL queried.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The host-meta fallback found no usable LRDD template.
    #[error("host-meta at {url}: {reason}")]
    HostMeta {
        /// The host-meta URL.
        url: String,
        /// What was missing or wrong.
        reason: String,
    },
    /// The JRD has no `rel="self"` link with an ActivityStreams media type.
    #[error("WebFinger document for {resource} has no ActivityPub actor link")]
    NoActor {
        /// The resource looked up.
        resource: String,
    },
    /// The HTTP request failed or was refused by policy.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// `scheme://authority/` for well-known URLs: `https`, or `http` for
/// loopback/private IP literals and `localhost` when `local_http` is set.
pub(crate) fn base_url(authority: &str, local_http: bool) -> Result<url::Url, ClientError> {
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => h,
        _ => authority,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let local = bare.eq_ignore_ascii_case("localhost")
        || bare.to_ascii_lowercase().ends_with(".localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| !crate::client::classify(ip).is_public());
    let scheme = if local_http && local { "http" } else { "https" };
    let text = format!("{scheme}://{authority}/");
    url::Url::parse(&text).map_err(|e| ClientError::InvalidUrl {
        url: text,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_schemes() {
        assert_eq!(
            base_url("example.com", true).unwrap().as_str(),
            "https://example.com/"
        );
        assert_eq!(
            base_url("127.0.0.1:8080", true).unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            base_url("127.0.0.1:8080", false).unwrap().as_str(),
            "https://127.0.0.1:8080/"
        );
        assert_eq!(
            base_url("[::1]:8080", true).unwrap().as_str(),
            "http://[::1]:8080/"
        );
        assert_eq!(base_url("[::1]", true).unwrap().as_str(), "http://[::1]/");
        assert_eq!(
            base_url("localhost:3000", true).unwrap().as_str(),
            "http://localhost:3000/"
        );
        assert_eq!(
            base_url("8.8.8.8", true).unwrap().as_str(),
            "https://8.8.8.8/"
        );
    }
}
