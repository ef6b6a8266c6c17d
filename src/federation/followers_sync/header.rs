//! The digest and the `Collection-Synchronization` header value: built
//! for sending, parsed (bounded, strict) when received.

use sha2::{Digest as _, Sha256};

use super::FollowersSyncError;
use crate::vocab::Iri;

/// The longest header value read (bytes); Mastodon's is about 250. A
/// longer one is refused before any parsing.
pub const MAX_HEADER_LEN: usize = 2_048;

/// At most this many `key="value"` parameters are read.
const MAX_PARAMS: usize = 8;

/// The followers digest of FEP-8fcf: the XOR of the SHA-256 of each
/// follower's IRI (as its exact bytes), 32 bytes, written as 64 lower-case
/// hex digits. The empty set's digest is all zeroes.
///
/// XOR makes it independent of order and cheap to compute in one pass
/// over a paged read.
///
/// ```
/// use archipel::federation::followers_sync::FollowersDigest;
/// use archipel::vocab::Iri;
/// let a = Iri::parse("https://b.example/users/bob")?;
/// let mut d = FollowersDigest::default();
/// d.add(&a);
/// d.add(&a); // XOR: twice is none
/// assert_eq!(d, FollowersDigest::default());
/// assert_eq!(d.to_hex(), "0".repeat(64));
/// # Ok::<(), archipel::vocab::VocabError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FollowersDigest([u8; 32]);

impl FollowersDigest {
    /// The digest of `iris`.
    pub fn of<'a>(iris: impl IntoIterator<Item = &'a Iri>) -> FollowersDigest {
        let mut d = FollowersDigest::default();
        for i in iris {
            d.add(i);
        }
        d
    }

    /// Folds one follower IRI in.
    pub fn add(&mut self, iri: &Iri) {
        let h = Sha256::digest(iri.as_str().as_bytes());
        for (b, x) in self.0.iter_mut().zip(h.iter()) {
            *b ^= x;
        }
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex digits, as Mastodon writes it.
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::with_capacity(64);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    /// Reads 64 hex digits (either case).
    ///
    /// # Errors
    /// [`FollowersSyncError::BadDigest`] naming the value otherwise.
    pub fn from_hex(hex: &str) -> Result<FollowersDigest, FollowersSyncError> {
        let bad = || FollowersSyncError::BadDigest {
            value: clip(hex).to_owned(),
        };
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let (Some(h), Some(l)) = (
                pair.first().and_then(|c| nibble(*c)),
                pair.get(1).and_then(|c| nibble(*c)),
            ) else {
                return Err(bad());
            };
            *o = (h << 4) | l;
        }
        Ok(FollowersDigest(out))
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// At most 80 bytes of `s` (on a char boundary), for error messages.
pub(super) fn clip(s: &str) -> &str {
    let mut end = s.len().min(80);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// A `Collection-Synchronization` header (FEP-8fcf): which collection
/// (`collectionId`, the sender's followers), where the receiver may fetch
/// the part of it on its own server (`url`), and the digest of that part.
///
/// ```
/// use archipel::federation::followers_sync::{FollowersDigest, SyncHeader};
/// use archipel::vocab::Iri;
/// let header = SyncHeader {
///     collection_id: Iri::parse("https://a.example/users/alice/followers")?,
///     url: Iri::parse("https://a.example/users/alice/followers_synchronization")?,
///     digest: FollowersDigest::default(),
/// };
/// let value = header.to_header_value();
/// assert!(value.starts_with("collectionId=\"https://a.example/users/alice/followers\", digest=\"000"));
/// assert_eq!(SyncHeader::parse(&value)?, header);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncHeader {
    /// The sender's followers collection.
    pub collection_id: Iri,
    /// The partial collection: the followers on the receiver's server.
    pub url: Iri,
    /// The digest of that part.
    pub digest: FollowersDigest,
}

impl SyncHeader {
    /// The header value, parameters in the order Mastodon writes them:
    /// `collectionId="…", digest="…", url="…"`.
    pub fn to_header_value(&self) -> String {
        format!(
            "collectionId=\"{}\", digest=\"{}\", url=\"{}\"",
            self.collection_id,
            self.digest.to_hex(),
            self.url
        )
    }

    /// Parses a header value: comma-separated `key="value"` parameters
    /// (bare token values accepted, unknown keys ignored), in any order,
    /// each known key once; `collectionId` and `url` `http(s)` IRIs, the
    /// digest 64 hex digits.
    ///
    /// Bounded: at most [`MAX_HEADER_LEN`] bytes and eight parameters;
    /// no escapes inside quotes (no IRI needs one).
    ///
    /// # Errors
    /// [`FollowersSyncError`]: `HeaderTooLong`, `HeaderSyntax`,
    /// `DuplicateParameter`, `MissingParameter`, `BadIri`, `BadDigest`.
    pub fn parse(value: &str) -> Result<SyncHeader, FollowersSyncError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(FollowersSyncError::HeaderTooLong {
                len: value.len(),
                max: MAX_HEADER_LEN,
            });
        }
        let mut collection_id = None;
        let mut url = None;
        let mut digest = None;
        for (n, (key, val)) in Params::new(value).enumerate() {
            let (key, val) = (key?, val);
            if n >= MAX_PARAMS {
                return Err(syntax(value, "more than eight parameters"));
            }
            let slot = match key {
                "collectionId" => &mut collection_id,
                "url" => &mut url,
                "digest" => &mut digest,
                _ => continue,
            };
            if slot.replace(val).is_some() {
                return Err(FollowersSyncError::DuplicateParameter {
                    name: key.to_owned(),
                });
            }
        }
        let iri = |name: &'static str, v: Option<&str>| {
            let v = v.ok_or(FollowersSyncError::MissingParameter { name })?;
            match Iri::parse(v) {
                Ok(i) if i.is_http() && i.host().is_some() => Ok(i),
                _ => Err(FollowersSyncError::BadIri {
                    name,
                    value: clip(v).to_owned(),
                }),
            }
        };
        let collection_id = iri("collectionId", collection_id)?;
        let url = iri("url", url)?;
        let digest = digest.ok_or(FollowersSyncError::MissingParameter { name: "digest" })?;
        Ok(SyncHeader {
            collection_id,
            url,
            digest: FollowersDigest::from_hex(digest)?,
        })
    }
}

impl std::fmt::Display for SyncHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_header_value())
    }
}

fn syntax(value: &str, reason: &'static str) -> FollowersSyncError {
    FollowersSyncError::HeaderSyntax {
        value: clip(value).to_owned(),
        reason,
    }
}

/// The `key="value"` parameters of a header value, each `(key, value)`;
/// a syntax fault ends the iteration with an error.
struct Params<'a> {
    whole: &'a str,
    rest: &'a str,
    failed: bool,
}

impl<'a> Params<'a> {
    fn new(value: &'a str) -> Params<'a> {
        Params {
            whole: value,
            rest: value.trim_matches(|c| c == ' ' || c == '\t'),
            failed: false,
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (Result<&'a str, FollowersSyncError>, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match param(self.rest) {
            Ok((key, val, rest)) => {
                self.rest = rest;
                Some((Ok(key), val))
            }
            Err(reason) => {
                self.failed = true;
                Some((Err(syntax(self.whole, reason)), ""))
            }
        }
    }
}

/// One parameter at the start of `s`: its key, value and what follows the
/// separating comma (or nothing at the end).
fn param(s: &str) -> Result<(&str, &str, &str), &'static str> {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let key_end = s.find(|c: char| !is_token(c)).unwrap_or(s.len());
    let (key, after) = s.split_at(key_end);
    if key.is_empty() {
        return Err("expected a parameter name");
    }
    let after = after
        .strip_prefix('=')
        .ok_or("expected '=' after a parameter name")?;
    let (val, after) = if let Some(quoted) = after.strip_prefix('"') {
        let close = quoted.find('"').ok_or("unterminated quoted value")?;
        let (val, tail) = quoted.split_at(close);
        if val.contains(|c: char| c == '\\' || c.is_control()) {
            return Err("escape or control character in a quoted value");
        }
        (val, tail.get(1..).unwrap_or_default())
    } else {
        let end = after
            .find(|c: char| !is_token(c) && c != '/' && c != ':')
            .unwrap_or(after.len());
        after.split_at(end)
    };
    let after = after.trim_start_matches([' ', '\t']);
    if after.is_empty() {
        return Ok((key, val, ""));
    }
    let after = after
        .strip_prefix(',')
        .ok_or("expected ',' between parameters")?
        .trim_start_matches([' ', '\t']);
    if after.is_empty() {
        return Err("trailing ','");
    }
    Ok((key, val, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTODON: &str = "collectionId=\"https://m.example/users/alice/followers\", digest=\"b08ab6951c7d6cc2b91e17ebd9557da7fae02489728e9332fcb3a97748244d50\", url=\"https://m.example/users/alice/followers_synchronization\"";

    #[test]
    fn reads_mastodons_value_and_writes_it_back() {
        let h = SyncHeader::parse(MASTODON).unwrap();
        assert_eq!(
            h.collection_id.as_str(),
            "https://m.example/users/alice/followers"
        );
        assert_eq!(
            h.url.as_str(),
            "https://m.example/users/alice/followers_synchronization"
        );
        assert_eq!(h.to_header_value(), MASTODON);
    }

    #[test]
    fn digest_is_the_xor_of_sha256() {
        // The FEP's example: two followers, in either order.
        let a = Iri::parse("https://testing.example.org/users/1").unwrap();
        let b = Iri::parse("https://testing.example.org/users/2").unwrap();
        let ab = FollowersDigest::of([&a, &b]);
        assert_eq!(ab, FollowersDigest::of([&b, &a]));
        assert_eq!(FollowersDigest::of([&a, &b, &a]), FollowersDigest::of([&b]));
        let one = FollowersDigest::of([&a]);
        let sha: [u8; 32] = Sha256::digest(a.as_str().as_bytes()).into();
        assert_eq!(one.as_bytes(), &sha);
        assert_eq!(FollowersDigest::from_hex(&ab.to_hex()).unwrap(), ab);
        assert_eq!(
            FollowersDigest::from_hex(&ab.to_hex().to_uppercase()).unwrap(),
            ab
        );
    }

    #[test]
    fn hostile_values_are_refused_with_the_reason() {
        let too_long = format!("url=\"https://a.example/{}\"", "a".repeat(MAX_HEADER_LEN));
        assert!(matches!(
            SyncHeader::parse(&too_long),
            Err(FollowersSyncError::HeaderTooLong {
                max: MAX_HEADER_LEN,
                ..
            })
        ));
        let cases: [(&str, &str); 6] = [
            (
                "collectionId=\"https://a.example/f\", digest=\"00\", url=\"https://a.example/s\"",
                "BadDigest",
            ),
            (
                "collectionId=\"https://a.example/f\", url=\"https://a.example/s\"",
                "MissingParameter",
            ),
            (
                "url=\"https://a.example/s\", url=\"https://a.example/t\"",
                "DuplicateParameter",
            ),
            (
                "collectionId=\"ftp://a.example/f\", digest=\"00\", url=\"https://a.example/s\"",
                "BadIri",
            ),
            ("collectionId=\"https://a.example/f", "HeaderSyntax"),
            ("collectionId=\"https://a.example/f\",", "HeaderSyntax"),
        ];
        for (value, want) in cases {
            let got = SyncHeader::parse(value).unwrap_err();
            assert!(format!("{got:?}").starts_with(want), "{value}: {got:?}");
        }
        let many = (0..9)
            .map(|n| format!("k{n}=\"v\""))
            .collect::<Vec<_>>()
            .join(", ");
        assert!(matches!(
            SyncHeader::parse(&many),
            Err(FollowersSyncError::HeaderSyntax {
                reason: "more than eight parameters",
                ..
            })
        ));
        assert!(matches!(
            SyncHeader::parse("a=\"\\\"\""),
            Err(FollowersSyncError::HeaderSyntax { .. })
        ));
    }

    #[test]
    fn order_whitespace_and_unknown_keys_do_not_matter() {
        let v = "url=\"https://a.example/s\",digest=\"0000000000000000000000000000000000000000000000000000000000000000\" ,  extra=1,collectionId=\"https://a.example/f\"";
        let h = SyncHeader::parse(v).unwrap();
        assert_eq!(h.url.as_str(), "https://a.example/s");
        assert_eq!(h.digest, FollowersDigest::default());
    }
}
