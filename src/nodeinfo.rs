//! NodeInfo 2.0 / 2.1 documents, discovery through `/.well-known/nodeinfo`,
//! and the server-side documents.
//!
//! NodeInfo tells other servers what software a node runs, which protocols
//! it speaks and a few usage figures. Discovery is two steps: the
//! well-known [`NodeInfoLinks`] document names the schema versions a node
//! serves and where; the [`NodeInfo`] document itself follows.
//!
//! Both types are lossless: unknown members are kept in `extra`, so
//! documents round-trip (tested on real documents).

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::client::{ClientError, HttpClient};

/// Schema URI of NodeInfo 2.0 (the `rel` of its well-known link).
pub const SCHEMA_2_0: &str = "http://nodeinfo.diaspora.software/ns/schema/2.0";
/// Schema URI of NodeInfo 2.1.
pub const SCHEMA_2_1: &str = "http://nodeinfo.diaspora.software/ns/schema/2.1";
/// Largest NodeInfo or well-known document accepted, in bytes.
pub const MAX_NODEINFO_BYTES: usize = 256 * 1024;

/// Errors of the `nodeinfo` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeInfoError {
    /// A document is malformed or too large.
    #[error("invalid NodeInfo document{}: {reason}", url.as_deref().map(|u| format!(" at {u}")).unwrap_or_default())]
    InvalidDocument {
        /// Where it came from, when fetched.
        url: Option<String>,
        /// What was wrong.
        reason: String,
    },
    /// The server answered with a non-success status.
    #[error("NodeInfo request to {url} failed with HTTP status {status}")]
    Status {
        /// The URL queried.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The well-known document lists no NodeInfo 2.0 or 2.1 link.
    #[error("{url} lists no NodeInfo 2.0/2.1 schema (rels: {rels:?})")]
    NoSupportedVersion {
        /// The well-known URL.
        url: String,
        /// The `rel`s it listed.
        rels: Vec<String>,
    },
    /// A software name does not match the schema's `^[a-z0-9-]+$`.
    #[error("NodeInfo software name {name:?} must match ^[a-z0-9-]+$")]
    InvalidSoftwareName {
        /// The rejected name.
        name: String,
    },
    /// The HTTP request failed or was refused by policy.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The `/.well-known/nodeinfo` document: links to NodeInfo documents by
/// schema version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeInfoLinks {
    /// One link per served schema version.
    pub links: Vec<NodeInfoLink>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A link of [`NodeInfoLinks`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeInfoLink {
    /// The schema URI, e.g. [`SCHEMA_2_1`].
    pub rel: String,
    /// Where the document is.
    pub href: String,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeInfoLinks {
    /// The document a server publishes for NodeInfo 2.1 and 2.0 served at
    /// `{base}nodeinfo/2.1` and `{base}nodeinfo/2.0`.
    ///
    /// ```
    /// use archipel::nodeinfo::NodeInfoLinks;
    /// let base = url::Url::parse("https://example.com/").unwrap();
    /// let doc = NodeInfoLinks::for_base(&base);
    /// assert_eq!(doc.links[0].href, "https://example.com/nodeinfo/2.1");
    /// ```
    pub fn for_base(base: &Url) -> NodeInfoLinks {
        let href = |v: &str| {
            base.join(&format!("nodeinfo/{v}"))
                .map(String::from)
                .unwrap_or_default()
        };
        NodeInfoLinks {
            links: vec![
                NodeInfoLink {
                    rel: SCHEMA_2_1.into(),
                    href: href("2.1"),
                    extra: Map::new(),
                },
                NodeInfoLink {
                    rel: SCHEMA_2_0.into(),
                    href: href("2.0"),
                    extra: Map::new(),
                },
            ],
            extra: Map::new(),
        }
    }

    /// Parses the document, bounded in size.
    ///
    /// # Errors
    /// [`NodeInfoError::InvalidDocument`].
    pub fn from_slice(bytes: &[u8]) -> Result<NodeInfoLinks, NodeInfoError> {
        parse(bytes)
    }

    /// The preferred link: NodeInfo 2.1 if listed, else 2.0. The `rel` is
    /// compared without a trailing `#` or `/`, which some servers add.
    pub fn best(&self) -> Option<&NodeInfoLink> {
        let norm = |r: &str| r.trim_end_matches(['#', '/']).to_owned();
        [SCHEMA_2_1, SCHEMA_2_0]
            .into_iter()
            .find_map(|want| self.links.iter().find(|l| norm(&l.rel) == want))
    }

    /// A `200` response with this document (`application/json`, CORS).
    pub fn to_response(&self) -> Response<Bytes> {
        json_response(to_vec(self), "application/json")
    }
}

/// A NodeInfo 2.0 / 2.1 document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Schema version: `"2.0"` or `"2.1"`.
    pub version: String,
    /// The server software.
    pub software: Software,
    /// Protocols spoken, e.g. `["activitypub"]`.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// Third-party services bridged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Services>,
    /// Whether anyone may sign up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_registrations: Option<bool>,
    /// Usage figures.
    #[serde(default)]
    pub usage: Usage,
    /// Free-form metadata (`nodeName`, `nodeDescription`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `software` of a [`NodeInfo`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Software {
    /// Canonical name, `^[a-z0-9-]+$`.
    pub name: String,
    /// Version string.
    pub version: String,
    /// Source repository (2.1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Home page (2.1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Software {
    /// A software description, validating the name against the schema.
    ///
    /// # Errors
    /// [`NodeInfoError::InvalidSoftwareName`].
    pub fn new(name: &str, version: &str) -> Result<Software, NodeInfoError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(NodeInfoError::InvalidSoftwareName { name: name.into() });
        }
        Ok(Software {
            name: name.into(),
            version: version.into(),
            ..Software::default()
        })
    }
}

/// `services` of a [`NodeInfo`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Services {
    /// Services the node can receive from.
    #[serde(default)]
    pub inbound: Vec<String>,
    /// Services the node can publish to.
    #[serde(default)]
    pub outbound: Vec<String>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `usage` of a [`NodeInfo`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// User counts.
    #[serde(default)]
    pub users: UsageUsers,
    /// Local posts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_posts: Option<u64>,
    /// Local comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_comments: Option<u64>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `usage.users` of a [`NodeInfo`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageUsers {
    /// Registered users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Users active in the last 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_month: Option<u64>,
    /// Users active in the last 180 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_halfyear: Option<u64>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NodeInfo {
    /// A NodeInfo 2.1 document for an ActivityPub server with the app's
    /// figures; set `metadata` and `services` as needed.
    ///
    /// ```
    /// use archipel::nodeinfo::{NodeInfo, Software, Usage};
    /// let mut usage = Usage::default();
    /// usage.users.total = Some(42);
    /// let ni = NodeInfo::new(Software::new("myapp", "1.0.0").unwrap(), usage, true);
    /// assert_eq!(ni.version, "2.1");
    /// assert_eq!(ni.for_version("2.0").version, "2.0");
    /// ```
    pub fn new(software: Software, usage: Usage, open_registrations: bool) -> NodeInfo {
        NodeInfo {
            version: "2.1".into(),
            software,
            protocols: vec!["activitypub".into()],
            services: Some(Services::default()),
            open_registrations: Some(open_registrations),
            usage,
            metadata: Some(Map::new()),
            extra: Map::new(),
        }
    }

    /// Parses a document, bounded in size.
    ///
    /// # Errors
    /// [`NodeInfoError::InvalidDocument`].
    pub fn from_slice(bytes: &[u8]) -> Result<NodeInfo, NodeInfoError> {
        parse(bytes)
    }

    /// This document as schema `version` (`"2.0"` drops the 2.1-only
    /// `software.repository` and `software.homepage`).
    pub fn for_version(&self, version: &str) -> NodeInfo {
        let mut out = self.clone();
        out.version = version.into();
        if version == "2.0" {
            out.software.repository = None;
            out.software.homepage = None;
        }
        out
    }

    /// A `200` response with this document and the schema profile in its
    /// `Content-Type` (`application/json; profile="…/schema/2.1#"`), CORS on.
    pub fn to_response(&self) -> Response<Bytes> {
        let schema = if self.version == "2.0" {
            SCHEMA_2_0
        } else {
            SCHEMA_2_1
        };
        json_response(
            to_vec(self),
            &format!("application/json; profile=\"{schema}#\""),
        )
    }
}

/// Discovers and fetches the NodeInfo of the server at `base`
/// (`https://host/`): `GET {base}.well-known/nodeinfo`, pick 2.1 over 2.0,
/// fetch and parse it.
///
/// # Errors
/// [`NodeInfoError::Status`], [`NodeInfoError::InvalidDocument`],
/// [`NodeInfoError::NoSupportedVersion`], [`NodeInfoError::Client`].
pub async fn discover(client: &dyn HttpClient, base: &Url) -> Result<NodeInfo, NodeInfoError> {
    let well_known = base
        .join(".well-known/nodeinfo")
        .map_err(|e| ClientError::InvalidUrl {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
    let body = get(client, &well_known).await?;
    let links: NodeInfoLinks = parse(&body).map_err(|e| at(e, &well_known))?;
    let link = links
        .best()
        .ok_or_else(|| NodeInfoError::NoSupportedVersion {
            url: well_known.to_string(),
            rels: links.links.iter().map(|l| l.rel.clone()).collect(),
        })?;
    let url = well_known
        .join(&link.href)
        .map_err(|e| ClientError::InvalidUrl {
            url: link.href.clone(),
            reason: e.to_string(),
        })?;
    let body = get(client, &url).await?;
    parse(&body).map_err(|e| at(e, &url))
}

async fn get(client: &dyn HttpClient, url: &Url) -> Result<Bytes, NodeInfoError> {
    let req = http::Request::get(url.as_str())
        .header(header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|e| ClientError::InvalidRequest {
            reason: e.to_string(),
        })?;
    let resp = client.execute(req).await?;
    if !resp.status().is_success() {
        return Err(NodeInfoError::Status {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    Ok(resp.into_body())
}

fn at(e: NodeInfoError, url: &Url) -> NodeInfoError {
    match e {
        NodeInfoError::InvalidDocument { reason, .. } => NodeInfoError::InvalidDocument {
            url: Some(url.to_string()),
            reason,
        },
        other => other,
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, NodeInfoError> {
    if bytes.len() > MAX_NODEINFO_BYTES {
        return Err(NodeInfoError::InvalidDocument {
            url: None,
            reason: format!("{} bytes exceed {MAX_NODEINFO_BYTES}", bytes.len()),
        });
    }
    serde_json::from_slice(bytes).map_err(|e| NodeInfoError::InvalidDocument {
        url: None,
        reason: e.to_string(),
    })
}

fn to_vec<T: Serialize>(v: &T) -> Vec<u8> {
    // Plain structs with string-keyed maps always serialize.
    serde_json::to_vec(v).unwrap_or_default()
}

fn json_response(body: Vec<u8>, content_type: &str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_prefers_2_1_and_tolerates_trailing_hash() {
        let links = NodeInfoLinks::from_slice(
            format!(
                r#"{{"links":[{{"rel":"{SCHEMA_2_0}","href":"/a"}},{{"rel":"{SCHEMA_2_1}#","href":"/b"}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(links.best().unwrap().href, "/b");
        let old = NodeInfoLinks::from_slice(
            br#"{"links":[{"rel":"http://nodeinfo.diaspora.software/ns/schema/1.1","href":"/c"}]}"#,
        )
        .unwrap();
        assert!(old.best().is_none());
    }

    #[test]
    fn server_side_documents() {
        let mut usage = Usage::default();
        usage.users.total = Some(3);
        usage.local_posts = Some(10);
        let mut sw = Software::new("archipel-demo", "0.1.0").unwrap();
        sw.repository = Some("https://example.com/repo".into());
        let ni = NodeInfo::new(sw, usage, false);
        let resp = ni.to_response();
        assert_eq!(
            resp.headers()["content-type"],
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\""
        );
        let v: Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["usage"]["users"]["total"], 3);
        assert_eq!(v["openRegistrations"], false);
        assert_eq!(v["software"]["repository"], "https://example.com/repo");
        let v20: Value = serde_json::to_value(ni.for_version("2.0")).unwrap();
        assert_eq!(v20["version"], "2.0");
        assert!(v20["software"].get("repository").is_none());
        assert!(matches!(
            Software::new("My App", "1"),
            Err(NodeInfoError::InvalidSoftwareName { name }) if name == "My App"
        ));
    }

    #[test]
    fn oversize_is_refused() {
        let big = vec![b' '; MAX_NODEINFO_BYTES + 1];
        assert!(matches!(
            NodeInfo::from_slice(&big),
            Err(NodeInfoError::InvalidDocument { reason, .. }) if reason.contains("exceed")
        ));
    }
}
