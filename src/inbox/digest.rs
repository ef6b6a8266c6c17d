//! The body digest check of the inbox pipeline.
//!
//! A signed POST commits to its body through a digest header, which the
//! signature covers: `Digest` (RFC 3230, what draft-cavage senders such as
//! Mastodon use) or `Content-Digest` (RFC 9530, used with RFC 9421). The inbox
//! requires at least one digest it understands and every digest it
//! understands to match the received bytes, before the signature is checked.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256, Sha512};

use super::InboxError;

/// Longest digest header value examined.
const MAX_DIGEST_HEADER_LEN: usize = 2048;

/// Most entries examined in one digest header.
const MAX_ENTRIES: usize = 8;

/// The digest algorithms the inbox computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("sha-256") {
            Some(Self::Sha256)
        } else if name.eq_ignore_ascii_case("sha-512") {
            Some(Self::Sha512)
        } else {
            None
        }
    }

    fn digest(self, body: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(body).to_vec(),
            Self::Sha512 => Sha512::digest(body).to_vec(),
        }
    }
}

/// Checks the `Digest` / `Content-Digest` headers of `headers` against `body`.
///
/// Returns the number of matching digests (at least one) or the
/// [`InboxError`] naming the header at fault.
pub(crate) fn check(headers: &http::HeaderMap, body: &[u8]) -> Result<usize, InboxError> {
    let mut matched = 0usize;
    let mut seen_header = false;
    for (header, structured) in [("digest", false), ("content-digest", true)] {
        for value in headers.get_all(header) {
            seen_header = true;
            let value = value.to_str().map_err(|_| InboxError::MalformedDigest {
                header,
                reason: "value is not visible ASCII",
            })?;
            matched += check_value(header, value, structured, body)?;
        }
    }
    if !seen_header {
        return Err(InboxError::MissingDigest);
    }
    if matched == 0 {
        return Err(InboxError::MalformedDigest {
            header: "digest",
            reason: "no SHA-256 or SHA-512 digest present",
        });
    }
    Ok(matched)
}

fn check_value(
    header: &'static str,
    value: &str,
    structured: bool,
    body: &[u8],
) -> Result<usize, InboxError> {
    if value.len() > MAX_DIGEST_HEADER_LEN {
        return Err(InboxError::MalformedDigest {
            header,
            reason: "value too long",
        });
    }
    let mut matched = 0;
    for (index, entry) in value.split(',').enumerate() {
        if index >= MAX_ENTRIES {
            return Err(InboxError::MalformedDigest {
                header,
                reason: "too many entries",
            });
        }
        let Some((name, encoded)) = entry.trim().split_once('=') else {
            return Err(InboxError::MalformedDigest {
                header,
                reason: "entry without '='",
            });
        };
        let Some(algorithm) = Algorithm::from_name(name.trim()) else {
            // Unknown algorithms (e.g. MD5, unixsum) are ignored, as RFC 9530 §2 allows.
            continue;
        };
        let encoded = encoded.trim();
        let encoded = if structured {
            // RFC 9530 values are RFC 8941 byte sequences: `:base64:`.
            encoded
                .strip_prefix(':')
                .and_then(|v| v.strip_suffix(':'))
                .ok_or(InboxError::MalformedDigest {
                    header,
                    reason: "value is not a ':base64:' byte sequence",
                })?
        } else {
            encoded
        };
        let expected = STANDARD
            .decode(encoded)
            .map_err(|_| InboxError::MalformedDigest {
                header,
                reason: "value is not base64",
            })?;
        if expected != algorithm.digest(body) {
            return Err(InboxError::DigestMismatch { header });
        }
        matched += 1;
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
        map
    }

    fn sha256_b64(body: &[u8]) -> String {
        STANDARD.encode(Sha256::digest(body))
    }

    #[test]
    fn accepts_matching_cavage_digest() {
        let body = b"{\"a\":1}";
        let h = headers("digest", &format!("SHA-256={}", sha256_b64(body)));
        assert_eq!(check(&h, body).unwrap(), 1);
    }

    #[test]
    fn accepts_matching_content_digest() {
        let body = b"{\"a\":1}";
        let h = headers("content-digest", &format!("sha-256=:{}:", sha256_b64(body)));
        assert_eq!(check(&h, body).unwrap(), 1);
    }

    #[test]
    fn rejects_mismatch_and_missing() {
        let h = headers("digest", &format!("SHA-256={}", sha256_b64(b"other")));
        assert!(matches!(
            check(&h, b"body"),
            Err(InboxError::DigestMismatch { header: "digest" })
        ));
        assert!(matches!(
            check(&http::HeaderMap::new(), b"body"),
            Err(InboxError::MissingDigest)
        ));
    }

    #[test]
    fn rejects_only_unknown_algorithms() {
        let h = headers("digest", "MD5=abcd");
        assert!(matches!(
            check(&h, b"body"),
            Err(InboxError::MalformedDigest { .. })
        ));
    }
}
