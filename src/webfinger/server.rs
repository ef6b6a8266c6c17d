//! The server side of WebFinger: parse the query, answer from the app's
//! lookup (RFC 7033 §4.2–§4.5, §5 for CORS).

use std::future::Future;

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use url::Url;

use super::acct::truncate;
use super::{Acct, JRD_MEDIA_TYPE, Jrd, WebFingerError};

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 4096;
/// Most `rel` parameters accepted in one query.
pub const MAX_RELS: usize = 32;

/// What a WebFinger query asks about: an account or a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resource {
    /// `acct:user@host` (also accepted bare as `user@host`).
    Acct(Acct),
    /// An `http(s)` URL, e.g. an actor or profile page.
    Url(Url),
}

impl Resource {
    /// Parses a `resource` value.
    ///
    /// # Errors
    /// [`WebFingerError::InvalidResource`] (or
    /// [`WebFingerError::InvalidAcct`] for a malformed `acct:`).
    pub fn parse(input: &str) -> Result<Resource, WebFingerError> {
        let bad = |reason| WebFingerError::InvalidResource {
            input: truncate(input),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("acct:")) {
            return Acct::parse(s).map(Resource::Acct);
        }
        if s.contains("://") {
            let url = Url::parse(s).map_err(|_| bad("not a valid URL"))?;
            if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
                return Err(bad("URL must be http(s) with a host"));
            }
            return Ok(Resource::Url(url));
        }
        if s.contains('@') {
            return Acct::parse(s).map(Resource::Acct);
        }
        Err(bad("neither an acct: URI nor an http(s) URL"))
    }

    /// `host[:port]` of the resource: where to send the query.
    pub fn authority(&self) -> String {
        match self {
            Resource::Acct(a) => a.authority(),
            Resource::Url(u) => crate::client::authority(u),
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resource::Acct(a) => write!(f, "acct:{a}"),
            Resource::Url(u) => f.write_str(u.as_str()),
        }
    }
}

/// A parsed WebFinger query: `resource` plus optional `rel` filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFingerQuery {
    /// The resource asked about.
    pub resource: Resource,
    /// Requested link relations (empty: all).
    pub rels: Vec<String>,
}

impl WebFingerQuery {
    /// Parses a query string (without the `?`), bounded in size.
    ///
    /// ```
    /// use archipel::webfinger::{Resource, WebFingerQuery};
    /// let q = WebFingerQuery::parse("resource=acct%3Aalice%40example.com&rel=self").unwrap();
    /// assert!(matches!(q.resource, Resource::Acct(ref a) if a.user() == "alice"));
    /// assert_eq!(q.rels, ["self"]);
    /// ```
    ///
    /// # Errors
    /// [`WebFingerError::InvalidQuery`] for a missing, repeated or oversized
    /// parameter; resource errors as in [`Resource::parse`].
    pub fn parse(query: &str) -> Result<WebFingerQuery, WebFingerError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(WebFingerError::InvalidQuery {
                reason: "query string exceeds 4096 bytes",
            });
        }
        let mut resource = None;
        let mut rels = Vec::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "resource" => {
                    if resource.is_some() {
                        return Err(WebFingerError::InvalidQuery {
                            reason: "more than one resource parameter",
                        });
                    }
                    resource = Some(Resource::parse(&v)?);
                }
                "rel" => {
                    if rels.len() >= MAX_RELS {
                        return Err(WebFingerError::InvalidQuery {
                            reason: "more than 32 rel parameters",
                        });
                    }
                    rels.push(v.into_owned());
                }
                _ => {}
            }
        }
        let resource = resource.ok_or(WebFingerError::InvalidQuery {
            reason: "missing resource parameter",
        })?;
        Ok(WebFingerQuery { resource, rels })
    }

    /// Parses the query of a request.
    ///
    /// # Errors
    /// As [`WebFingerQuery::parse`].
    pub fn from_request<B>(req: &http::Request<B>) -> Result<WebFingerQuery, WebFingerError> {
        WebFingerQuery::parse(req.uri().query().unwrap_or(""))
    }
}

/// Answers a WebFinger request (`GET /.well-known/webfinger?resource=…`).
///
/// Parses the query, calls `lookup` with the [`Resource`], filters the
/// links by the requested `rel`s, and returns `200` with
/// `Content-Type: application/jrd+json`, `400` for a bad query, `404` when
/// `lookup` returns `None`, `405` for methods other than GET/HEAD. Every
/// response carries `Access-Control-Allow-Origin: *` (RFC 7033 §5).
///
/// ```
/// # tokio_test_block(async {
/// use archipel::webfinger::{respond, Jrd, JrdLink, Resource};
/// let req = http::Request::get("/.well-known/webfinger?resource=acct:alice@example.com")
///     .body(()).unwrap();
/// let resp = respond(&req, |res| async move {
///     match res {
///         Resource::Acct(a) if a.user() == "alice" => {
///             let mut jrd = Jrd { subject: Some(a.to_uri()), ..Jrd::default() };
///             jrd.push_link(JrdLink::new("self", Some("application/activity+json"),
///                                     "https://example.com/users/alice"));
///             Some(jrd)
///         }
///         _ => None,
///     }
/// }).await;
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.headers()["content-type"], "application/jrd+json");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     let w = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&w);
/// #     let mut f = std::pin::pin!(f);
/// #     assert!(f.as_mut().poll(&mut cx).is_ready());
/// # }
/// ```
pub async fn respond<B, F, Fut>(req: &http::Request<B>, lookup: F) -> Response<Bytes>
where
    F: FnOnce(Resource) -> Fut,
    Fut: Future<Output = Option<Jrd>>,
{
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let query = match WebFingerQuery::from_request(req) {
        Ok(q) => q,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(mut jrd) = lookup(query.resource).await else {
        return plain(StatusCode::NOT_FOUND, "resource not found");
    };
    jrd.retain_rels(&query.rels);
    let body = if req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(jrd.to_vec())
    };
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JRD_MEDIA_TYPE),
    );
    cors(&mut r);
    r
}

fn plain(status: StatusCode, msg: &str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(msg.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    cors(&mut r);
    r
}

fn cors(r: &mut Response<Bytes>) {
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_forms() {
        assert!(matches!(
            Resource::parse("acct:a@b.example").unwrap(),
            Resource::Acct(a) if a.host() == "b.example"
        ));
        assert!(matches!(
            Resource::parse("a@b.example").unwrap(),
            Resource::Acct(_)
        ));
        assert!(matches!(
            Resource::parse("https://b.example/users/a").unwrap(),
            Resource::Url(u) if u.path() == "/users/a"
        ));
        for (input, reason) in [
            ("", "empty"),
            ("mailto://x", "URL must be http(s) with a host"),
            ("https://", "not a valid URL"),
            ("plainword", "neither an acct: URI nor an http(s) URL"),
        ] {
            match Resource::parse(input) {
                Err(WebFingerError::InvalidResource { reason: r, .. }) => {
                    assert_eq!(r, reason, "{input}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        assert_eq!(
            Resource::parse("https://b.example:8443/x")
                .unwrap()
                .authority(),
            "b.example:8443"
        );
    }

    #[test]
    fn query_errors() {
        for (q, reason) in [
            ("", "missing resource parameter"),
            ("rel=self", "missing resource parameter"),
            (
                "resource=acct:a@b.example&resource=acct:c@b.example",
                "more than one resource parameter",
            ),
        ] {
            match WebFingerQuery::parse(q) {
                Err(WebFingerError::InvalidQuery { reason: r }) => assert_eq!(r, reason),
                other => panic!("{q}: {other:?}"),
            }
        }
        let many = format!("resource=a@b.example{}", "&rel=x".repeat(33));
        assert!(matches!(
            WebFingerQuery::parse(&many),
            Err(WebFingerError::InvalidQuery {
                reason: "more than 32 rel parameters"
            })
        ));
        let long = format!("resource={}", "a".repeat(5000));
        assert!(matches!(
            WebFingerQuery::parse(&long),
            Err(WebFingerError::InvalidQuery {
                reason: "query string exceeds 4096 bytes"
            })
        ));
    }
}
