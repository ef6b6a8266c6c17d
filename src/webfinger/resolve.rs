//! The client side of WebFinger: query, host-meta fallback, actor IRI.

use std::sync::Arc;

use bytes::Bytes;
use http::header;
use url::Url;

use super::{Acct, Jrd, Resource, WebFingerError, base_url, parse_xrd};
use crate::client::{ClientError, HttpClient};

const ACCEPT_JRD: &str = "application/jrd+json, application/json;q=0.9";
const ACCEPT_HOST_META: &str = "application/xrd+xml, application/xml;q=0.9, application/jrd+json;q=0.8, application/json;q=0.7";

/// Looks up WebFinger resources through an [`HttpClient`].
///
/// 1. `GET {scheme}://{host}/.well-known/webfinger?resource={uri}` with
///    `Accept: application/jrd+json`.
/// 2. When that fails with a non-success status or a connection error, the
///    RFC 6415 fallback: `/.well-known/host-meta` (XRD, or JSON when the body
///    is JSON), then `/.well-known/host-meta.json`; the `rel="lrdd"`
///    template gets `{uri}` replaced and is queried. If the fallback fails
///    too, the **first** error is returned.
///
/// Policy refusals (blocked domain, private address) never fall back.
/// The scheme is `https`, except with [`Resolver::local_http`] for loopback
/// or private IP literals and `localhost`, so local federation tests work.
///
/// The caller should still check that the actor document it then fetches
/// names this account (Mastodon re-queries WebFinger when the actor's host
/// differs from the account's host); `resolve` does not fetch the actor.
///
/// ```no_run
/// # async fn demo(client: std::sync::Arc<dyn archipel::client::HttpClient>)
/// #   -> Result<(), archipel::webfinger::WebFingerError> {
/// use archipel::webfinger::{Acct, Resolver};
/// let acct: Acct = "@alice@example.com".parse()?;
/// let actor = Resolver::new(client).resolve(&acct).await?;
/// println!("{actor}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Resolver {
    client: Arc<dyn HttpClient>,
    local_http: bool,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("local_http", &self.local_http)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver using `client` (which enforces its own fetch policy).
    pub fn new(client: Arc<dyn HttpClient>) -> Resolver {
        Resolver {
            client,
            local_http: false,
        }
    }

    /// Use `http://` for `localhost` and non-public IP literal hosts
    /// (development and tests; the client's policy must allow it too).
    pub fn local_http(mut self, yes: bool) -> Resolver {
        self.local_http = yes;
        self
    }

    /// Resolves an account to its ActivityPub actor IRI (the `rel="self"`
    /// link with an ActivityStreams media type).
    ///
    /// # Errors
    /// Any lookup error of [`Resolver::lookup`], or
    /// [`WebFingerError::NoActor`].
    pub async fn resolve(&self, acct: &Acct) -> Result<Url, WebFingerError> {
        let resource = Resource::Acct(acct.clone());
        let jrd = self.lookup(&resource).await?;
        jrd.actor_id().ok_or_else(|| WebFingerError::NoActor {
            resource: resource.to_string(),
        })
    }

    /// Fetches the JRD for `resource`, with the host-meta fallback.
    ///
    /// # Errors
    /// [`WebFingerError::Status`], [`WebFingerError::NotJson`],
    /// [`WebFingerError::InvalidJrd`], [`WebFingerError::Client`].
    pub async fn lookup(&self, resource: &Resource) -> Result<Jrd, WebFingerError> {
        let authority = resource.authority();
        let base = base_url(&authority, self.local_http)?;
        let uri = resource.to_string();
        let mut url = join(&base, ".well-known/webfinger")?;
        url.query_pairs_mut().append_pair("resource", &uri);
        let first = self.get_jrd(url).await;
        match first {
            Ok(jrd) => Ok(jrd),
            Err(e) if falls_back(&e) => match self.via_host_meta(&base, &uri).await {
                Ok(jrd) => Ok(jrd),
                Err(_) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn get(
        &self,
        url: &Url,
        accept: &'static str,
    ) -> Result<http::Response<Bytes>, WebFingerError> {
        let req = http::Request::get(url.as_str())
            .header(header::ACCEPT, accept)
            .body(Bytes::new())
            .map_err(|e| ClientError::InvalidRequest {
                reason: e.to_string(),
            })?;
        let resp = self.client.execute(req).await?;
        if !resp.status().is_success() {
            return Err(WebFingerError::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        Ok(resp)
    }

    async fn get_jrd(&self, url: Url) -> Result<Jrd, WebFingerError> {
        let resp = self.get(&url, ACCEPT_JRD).await?;
        let ct = content_type(&resp);
        let body = resp.body();
        if ct.contains("xml") {
            return parse_xrd(body);
        }
        match Jrd::from_slice(body) {
            Ok(jrd) => Ok(jrd),
            Err(_) if !ct.is_empty() && !ct.contains("json") => Err(WebFingerError::NotJson {
                url: url.to_string(),
                content_type: ct,
            }),
            Err(WebFingerError::InvalidJrd { reason }) => Err(WebFingerError::InvalidJrd {
                reason: format!("{url}: {reason}"),
            }),
            Err(e) => Err(e),
        }
    }

    async fn via_host_meta(&self, base: &Url, uri: &str) -> Result<Jrd, WebFingerError> {
        let mut last = None;
        for path in [".well-known/host-meta", ".well-known/host-meta.json"] {
            let url = join(base, path)?;
            match self.host_meta_template(&url).await {
                Ok(template) => {
                    let encoded: String =
                        url::form_urlencoded::byte_serialize(uri.as_bytes()).collect();
                    let target = template.replace("{uri}", &encoded);
                    let target = Url::parse(&target).map_err(|e| WebFingerError::HostMeta {
                        url: url.to_string(),
                        reason: format!("LRDD template {template:?} is not a URL: {e}"),
                    })?;
                    return self.get_jrd(target).await;
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(WebFingerError::HostMeta {
            url: base.to_string(),
            reason: "no host-meta".into(),
        }))
    }

    async fn host_meta_template(&self, url: &Url) -> Result<String, WebFingerError> {
        let resp = self.get(url, ACCEPT_HOST_META).await?;
        let body = resp.body();
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let doc = if first == Some(&b'{') {
            Jrd::from_slice(body)?
        } else {
            parse_xrd(body)?
        };
        doc.links_with_rel("lrdd")
            .find_map(|l| l.template.clone())
            .filter(|t| t.contains("{uri}"))
            .ok_or_else(|| WebFingerError::HostMeta {
                url: url.to_string(),
                reason: "no rel=\"lrdd\" link with a {uri} template".into(),
            })
    }
}

fn falls_back(e: &WebFingerError) -> bool {
    match e {
        WebFingerError::Status { .. } => true,
        WebFingerError::Client(c) => {
            matches!(c, ClientError::Connect { .. } | ClientError::Io { .. })
        }
        _ => false,
    }
}

fn join(base: &Url, path: &str) -> Result<Url, WebFingerError> {
    base.join(path).map_err(|e| {
        WebFingerError::Client(ClientError::InvalidUrl {
            url: format!("{base}{path}"),
            reason: e.to_string(),
        })
    })
}

fn content_type(resp: &http::Response<Bytes>) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}
