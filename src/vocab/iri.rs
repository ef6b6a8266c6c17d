//! [`Iri`]: an identifier kept exactly as received, validated cheaply and
//! parsed into a [`url::Url`] only on demand.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::VocabError;
use super::decode::{Leaf, leaf_decode};

/// An IRI (RFC 3987) as it appeared in a document.
///
/// Decoding never rejects or rewrites an IRI: real payloads carry `tag:` and
/// `magnet:` URIs, relative paths and bare host names, and round-tripping them
/// must be exact. Constructing one yourself with [`Iri::parse`] checks the
/// cheap things (a scheme, no whitespace or control characters); call
/// [`Iri::to_url`] when you need a fully parsed URL, for example before
/// fetching it.
///
/// ```
/// use archipel::vocab::Iri;
/// let iri = Iri::parse("https://example.com/users/alice")?;
/// assert_eq!(iri.scheme(), Some("https"));
/// assert_eq!(iri.host(), Some("example.com"));
/// assert_eq!(iri.to_url()?.path(), "/users/alice");
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Iri(Box<str>);

impl Iri {
    /// Validate and wrap an absolute IRI: it must have a scheme
    /// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`, RFC 3986 §3.1) and
    /// contain no whitespace or control characters.
    ///
    /// Use this for IRIs you mint; decoded documents keep theirs unchecked.
    pub fn parse(s: impl Into<String>) -> Result<Iri, VocabError> {
        let iri = Iri(s.into().into_boxed_str());
        if iri.is_valid() {
            Ok(iri)
        } else {
            Err(VocabError::InvalidIri {
                iri: iri.0.into_string(),
            })
        }
    }

    /// Wrap a string without any check, exactly as decoding does.
    ///
    /// Useful to carry identifiers that are not absolute IRIs (relative
    /// references, bare host names) losslessly.
    pub fn new_unchecked(s: impl Into<String>) -> Iri {
        Iri(s.into().into_boxed_str())
    }

    /// The IRI as a string slice, exactly as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IRI as an owned string.
    pub fn into_string(self) -> String {
        self.0.into_string()
    }

    /// The scheme, if the IRI starts with a syntactically valid one.
    pub fn scheme(&self) -> Option<&str> {
        let (scheme, _) = self.0.split_once(':')?;
        let mut chars = scheme.chars();
        let first = chars.next()?;
        if first.is_ascii_alphabetic()
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            Some(scheme)
        } else {
            None
        }
    }

    /// Whether the IRI has a scheme and no whitespace or control characters
    /// (the check [`Iri::parse`] applies).
    pub fn is_valid(&self) -> bool {
        self.scheme().is_some() && !self.0.chars().any(|c| c.is_whitespace() || c.is_control())
    }

    /// Whether the scheme is `http` or `https` (case-insensitive).
    pub fn is_http(&self) -> bool {
        self.scheme()
            .is_some_and(|s| s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http"))
    }

    /// The host of a hierarchical IRI (`scheme://host[:port]/...`), without
    /// user info or port, as written (no case folding or IDNA).
    ///
    /// A cheap string split meant for grouping and comparison; use
    /// [`Iri::to_url`] for anything security-relevant.
    pub fn host(&self) -> Option<&str> {
        let scheme = self.scheme()?;
        let rest = self.0.get(scheme.len() + 1..)?.strip_prefix("//")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = rest.get(..end)?;
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = if host_port.starts_with('[') {
            host_port.find(']').and_then(|i| host_port.get(..=i))?
        } else {
            host_port.split(':').next()?
        };
        (!host.is_empty()).then_some(host)
    }

    /// Parse into a [`url::Url`] (WHATWG URL rules).
    ///
    /// This is the full, allocation-heavy parse; it runs only when asked.
    pub fn to_url(&self) -> Result<url::Url, VocabError> {
        url::Url::parse(&self.0).map_err(|e| VocabError::InvalidUrl {
            iri: self.0.to_string(),
            reason: e.to_string(),
        })
    }
}

impl fmt::Debug for Iri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Iri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Iri {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Iri {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Iri {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Iri {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Iri> for str {
    fn eq(&self, other: &Iri) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Iri> for &str {
    fn eq(&self, other: &Iri) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Iri> for String {
    fn eq(&self, other: &Iri) -> bool {
        **self == *other.0
    }
}

impl From<url::Url> for Iri {
    fn from(u: url::Url) -> Self {
        Iri(String::from(u).into_boxed_str())
    }
}

impl From<&url::Url> for Iri {
    fn from(u: &url::Url) -> Self {
        Iri(u.as_str().into())
    }
}

impl TryFrom<&str> for Iri {
    type Error = VocabError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Iri::parse(s)
    }
}

impl TryFrom<String> for Iri {
    type Error = VocabError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Iri::parse(s)
    }
}

impl std::str::FromStr for Iri {
    type Err = VocabError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iri::parse(s)
    }
}

impl Serialize for Iri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Iri {
    /// Accepts any string unchanged, like decoding inside a document.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Iri(s.into_boxed_str()))
    }
}

impl Leaf for Iri {
    const WHAT: &'static str = "an IRI string";
    fn from_string(v: String) -> Result<Self, String> {
        Ok(Iri(v.into_boxed_str()))
    }
}
leaf_decode!(Iri);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_with_strings_both_ways() {
        let iri = Iri::new_unchecked("https://a.example/u");
        let same = String::from("https://a.example/u");
        let other = String::from("https://a.example/v");
        assert_eq!(iri, same);
        assert_eq!(same, iri);
        assert_eq!(iri, "https://a.example/u");
        assert_eq!("https://a.example/u", iri);
        assert_eq!(*"https://a.example/u", iri);
        assert_ne!(iri, other);
        assert_ne!(other, iri);
        assert_ne!("https://a.example/v", iri);
    }

    #[test]
    fn parse_checks_scheme_and_whitespace() {
        assert!(Iri::parse("https://a.example/x").is_ok());
        assert!(
            matches!(Iri::parse("/relative"), Err(VocabError::InvalidIri { iri }) if iri == "/relative")
        );
        assert!(matches!(
            Iri::parse("https://a b"),
            Err(VocabError::InvalidIri { .. })
        ));
        assert!(Iri::parse("tag:example.com,2020:x").is_ok());
    }

    #[test]
    fn host_extraction() {
        let h = |s: &str| Iri::new_unchecked(s).host().map(str::to_owned);
        assert_eq!(
            h("https://u:p@Example.com:8443/a?b#c"),
            Some("Example.com".into())
        );
        assert_eq!(h("https://[::1]:80/"), Some("[::1]".into()));
        assert_eq!(h("https://example.com"), Some("example.com".into()));
        assert_eq!(h("tag:example.com,2020"), None);
        assert_eq!(h("example.com"), None);
        assert_eq!(h("https:///x"), None);
    }

    #[test]
    fn to_url_is_lazy_and_typed() {
        let bad = Iri::new_unchecked("https://exa mple.com");
        assert!(
            matches!(bad.to_url(), Err(VocabError::InvalidUrl { iri, .. }) if iri == "https://exa mple.com")
        );
    }
}
