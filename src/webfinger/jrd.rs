//! The JSON Resource Descriptor (RFC 7033 §4.4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::WebFingerError;
use crate::media_type::MediaKind;

/// Largest JRD accepted by [`Jrd::from_slice`], in bytes.
pub const MAX_JRD_BYTES: usize = 256 * 1024;
/// Most links accepted in one JRD.
pub const MAX_LINKS: usize = 1000;

/// `application/jrd+json`, the WebFinger media type (RFC 7033 §10.2).
pub const JRD_MEDIA_TYPE: &str = "application/jrd+json";

/// `rel="self"`: the link to the ActivityPub actor.
pub const REL_SELF: &str = "self";
/// The profile page link relation.
pub const REL_PROFILE_PAGE: &str = "http://webfinger.net/rel/profile-page";
/// OStatus remote-follow ("subscribe") template relation.
pub const REL_SUBSCRIBE: &str = "http://ostatus.org/schema/1.0/subscribe";

/// A JSON Resource Descriptor: what a WebFinger server says about a resource.
///
/// Lossless: members this type does not model are kept in `extra`, and
/// optional members keep their presence (an empty `"aliases": []` survives a
/// round trip).
///
/// ```
/// use archipel::webfinger::Jrd;
///
/// let jrd = Jrd::from_slice(br#"{"subject":"acct:alice@example.com",
///   "links":[{"rel":"self","type":"application/activity+json",
///             "href":"https://example.com/users/alice"}]}"#).unwrap();
/// assert_eq!(jrd.actor_id().unwrap().as_str(), "https://example.com/users/alice");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jrd {
    /// The resource this document describes (RFC 7033 §4.4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Other URIs for the same resource (§4.4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// Name/value properties; values are strings or null (§4.4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, Option<String>>>,
    /// Links (§4.4.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<JrdLink>>,
    /// Members not modelled above, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One link of a [`Jrd`] (RFC 7033 §4.4.4); not to be confused with the
/// ActivityStreams [`Link`](crate::vocab::Link) object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JrdLink {
    /// The relation type: a registered name or a URI.
    pub rel: String,
    /// Media type of the target.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Target URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    /// URI template (e.g. OStatus subscribe `…?uri={uri}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Human-readable titles by language tag (`"und"` for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub titles: Option<BTreeMap<String, String>>,
    /// Link properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, Option<String>>>,
    /// Members not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JrdLink {
    /// A link with `rel`, `type` and `href`.
    pub fn new(
        rel: impl Into<String>,
        media_type: Option<&str>,
        href: impl Into<String>,
    ) -> JrdLink {
        JrdLink {
            rel: rel.into(),
            media_type: media_type.map(str::to_owned),
            href: Some(href.into()),
            ..JrdLink::default()
        }
    }

    /// Whether this is a `rel="self"` link to an ActivityStreams document.
    pub fn is_activitypub_self(&self) -> bool {
        self.rel == REL_SELF
            && self
                .media_type
                .as_deref()
                .is_some_and(is_activitystreams_link_type)
    }
}

/// Whether a link's `type` denotes an ActivityStreams document:
/// `application/activity+json`, or `application/ld+json` with the
/// ActivityStreams profile (ActivityPub §3.2). `application/ld+json`
/// without a profile is accepted too, as several servers advertise it.
fn is_activitystreams_link_type(media_type: &str) -> bool {
    matches!(
        MediaKind::of(media_type),
        MediaKind::ActivityJson
            | MediaKind::LdJson {
                activitystreams_profile: None | Some(true)
            }
    )
}

impl Jrd {
    /// Parses a JRD, bounded in size and link count.
    ///
    /// # Errors
    /// [`WebFingerError::InvalidJrd`] for oversize or malformed documents.
    pub fn from_slice(bytes: &[u8]) -> Result<Jrd, WebFingerError> {
        if bytes.len() > MAX_JRD_BYTES {
            return Err(WebFingerError::InvalidJrd {
                reason: format!("document of {} bytes exceeds {MAX_JRD_BYTES}", bytes.len()),
            });
        }
        let jrd: Jrd = serde_json::from_slice(bytes).map_err(|e| WebFingerError::InvalidJrd {
            reason: e.to_string(),
        })?;
        if jrd.links().len() > MAX_LINKS {
            return Err(WebFingerError::InvalidJrd {
                reason: format!("{} links exceed {MAX_LINKS}", jrd.links().len()),
            });
        }
        Ok(jrd)
    }

    /// Serializes to JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // Serializing maps with string keys and plain values cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The aliases, or an empty slice.
    pub fn aliases(&self) -> &[String] {
        self.aliases.as_deref().unwrap_or(&[])
    }

    /// The links, or an empty slice.
    pub fn links(&self) -> &[JrdLink] {
        self.links.as_deref().unwrap_or(&[])
    }

    /// Adds a link.
    pub fn push_link(&mut self, link: JrdLink) {
        self.links.get_or_insert_with(Vec::new).push(link);
    }

    /// Links with relation `rel`.
    pub fn links_with_rel<'a>(&'a self, rel: &'a str) -> impl Iterator<Item = &'a JrdLink> + 'a {
        self.links().iter().filter(move |l| l.rel == rel)
    }

    /// The ActivityPub actor IRI: the `href` of the first `rel="self"` link
    /// with an ActivityStreams media type, if it is an absolute `http(s)` URL.
    pub fn actor_id(&self) -> Option<url::Url> {
        self.links()
            .iter()
            .filter(|l| l.is_activitypub_self())
            .filter_map(|l| l.href.as_deref())
            .filter_map(|h| url::Url::parse(h).ok())
            .find(|u| matches!(u.scheme(), "https" | "http"))
    }

    /// The profile page URL (`http://webfinger.net/rel/profile-page`).
    pub fn profile_page(&self) -> Option<&str> {
        self.links_with_rel(REL_PROFILE_PAGE)
            .find_map(|l| l.href.as_deref())
    }

    /// The OStatus subscribe (remote follow) template.
    pub fn subscribe_template(&self) -> Option<&str> {
        self.links_with_rel(REL_SUBSCRIBE)
            .find_map(|l| l.template.as_deref())
    }

    /// Keeps only links whose `rel` is in `rels` (RFC 7033 §4.3); no-op
    /// when `rels` is empty.
    pub fn retain_rels(&mut self, rels: &[String]) {
        if rels.is_empty() {
            return;
        }
        if let Some(links) = &mut self.links {
            links.retain(|l| rels.iter().any(|r| r == &l.rel));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(is_activitystreams_link_type("application/activity+json"));
        assert!(is_activitystreams_link_type(
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
        ));
        assert!(is_activitystreams_link_type("Application/LD+JSON"));
        assert!(!is_activitystreams_link_type(
            "application/ld+json; profile=\"https://example.com/other\""
        ));
        assert!(!is_activitystreams_link_type("text/html"));
        assert!(!is_activitystreams_link_type("application/json"));
    }

    #[test]
    fn round_trip_keeps_unknown_and_presence() {
        let src = r#"{"subject":"acct:a@b.example","aliases":[],"x-extra":{"k":[1,2]},
            "links":[{"rel":"self","type":"application/activity+json","href":"https://b.example/a",
            "titles":{"und":"A"},"properties":{"p":null},"x-link":true}]}"#;
        let jrd = Jrd::from_slice(src.as_bytes()).unwrap();
        let back: Value = serde_json::from_slice(&jrd.to_vec()).unwrap();
        let orig: Value = serde_json::from_str(src).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn actor_id_ignores_non_activitypub_self_links() {
        let jrd = Jrd::from_slice(
            br#"{"links":[{"rel":"self","type":"text/html","href":"https://x.example/h"},
            {"rel":"self","type":"application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"","href":"https://x.example/u"}]}"#,
        )
        .unwrap();
        assert_eq!(jrd.actor_id().unwrap().as_str(), "https://x.example/u");
        let none = Jrd::from_slice(br#"{"links":[{"rel":"self","type":"application/activity+json","href":"javascript:alert(1)"}]}"#).unwrap();
        assert_eq!(none.actor_id(), None);
    }

    #[test]
    fn bounds() {
        let big = vec![b' '; MAX_JRD_BYTES + 1];
        assert!(matches!(
            Jrd::from_slice(&big),
            Err(WebFingerError::InvalidJrd { .. })
        ));
        let many = format!(
            "{{\"links\":[{}]}}",
            vec![r#"{"rel":"x"}"#; MAX_LINKS + 1].join(",")
        );
        assert!(matches!(
            Jrd::from_slice(many.as_bytes()),
            Err(WebFingerError::InvalidJrd { reason }) if reason.contains("links exceed")
        ));
        assert!(matches!(
            Jrd::from_slice(br#"{"subject":5}"#),
            Err(WebFingerError::InvalidJrd { .. })
        ));
    }
}
