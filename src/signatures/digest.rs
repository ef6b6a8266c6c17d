//! Body digests: the legacy `Digest` header (RFC 3230, what draft-cavage
//! signers send) and RFC 9530 `Content-Digest`.

use base64::Engine as _;
use http::HeaderValue;
use sha2::{Digest as _, Sha256, Sha512};

use super::{MAX_HEADER_LEN, SignatureError};

/// Lenient standard-alphabet base64: padding optional, as peers differ.
pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Most digest entries we look at in one header (bounds hostile input).
const MAX_ENTRIES: usize = 16;

/// A digest algorithm usable in `Digest` and `Content-Digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256 (`SHA-256` in `Digest`, `sha-256` in `Content-Digest`).
    Sha256,
    /// SHA-512 (`SHA-512` in `Digest`, `sha-512` in `Content-Digest`).
    Sha512,
}

impl DigestAlgorithm {
    /// The RFC 9530 name (`sha-256`, `sha-512`).
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha-256",
            DigestAlgorithm::Sha512 => "sha-512",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("sha-256") {
            Some(DigestAlgorithm::Sha256)
        } else if name.eq_ignore_ascii_case("sha-512") {
            Some(DigestAlgorithm::Sha512)
        } else {
            None
        }
    }

    fn hash(self, body: &[u8]) -> Vec<u8> {
        match self {
            DigestAlgorithm::Sha256 => Sha256::digest(body).to_vec(),
            DigestAlgorithm::Sha512 => Sha512::digest(body).to_vec(),
        }
    }
}

/// The SHA-256 digest of a body, with both header values pre-rendered.
///
/// Compute it once per body and hand it to
/// [`Signer::sign_with_digest`](super::Signer::sign_with_digest) for every
/// inbox of a fan-out: the body is hashed once and the header values are
/// rendered once, then cloned (a reference-count bump) into each request.
///
/// ```
/// use archipel::signatures::BodyDigest;
/// let d = BodyDigest::sha256(b"hello");
/// assert_eq!(d.digest_header(), "SHA-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
/// assert_eq!(d.content_digest_header(), "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDigest {
    sha256: [u8; 32],
    digest: HeaderValue,
    content_digest: HeaderValue,
}

impl BodyDigest {
    /// Hashes `body` with SHA-256 and renders `Digest` and `Content-Digest`.
    pub fn sha256(body: &[u8]) -> Self {
        let sha256: [u8; 32] = Sha256::digest(body).into();
        let b64 = B64.encode(sha256);
        let digest = HeaderValue::try_from(format!("SHA-256={b64}"))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        let content_digest = HeaderValue::try_from(format!("sha-256=:{b64}:"))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        BodyDigest {
            sha256,
            digest,
            content_digest,
        }
    }

    /// The raw SHA-256 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The legacy `Digest` header value: `SHA-256=<base64>`.
    pub fn digest_header(&self) -> &str {
        self.digest.to_str().unwrap_or("")
    }

    /// The RFC 9530 `Content-Digest` value: `sha-256=:<base64>:`.
    pub fn content_digest_header(&self) -> &str {
        self.content_digest.to_str().unwrap_or("")
    }

    pub(crate) fn digest_value(&self) -> &HeaderValue {
        &self.digest
    }

    #[cfg_attr(not(feature = "rfc9421"), allow(dead_code))]
    pub(crate) fn content_digest_value(&self) -> &HeaderValue {
        &self.content_digest
    }
}

fn check_len(header: &'static str, value: &str) -> Result<(), SignatureError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::HeaderTooLarge {
            header,
            len: value.len(),
            max: MAX_HEADER_LEN,
        });
    }
    Ok(())
}

fn offset_of(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// Parses a legacy `Digest` header (`SHA-256=<base64>[, …]`, RFC 3230).
///
/// Returns the entries with a supported algorithm, in order; entries with
/// other algorithms (`MD5`, `UNIXsum`) are skipped, their names reported
/// in the error if nothing supported remains. Algorithm names are matched
/// case-insensitively.
pub fn parse_digest_header(value: &str) -> Result<Vec<(DigestAlgorithm, Vec<u8>)>, SignatureError> {
    const H: &str = "Digest";
    check_len(H, value)?;
    let mut out = Vec::new();
    let mut seen = String::new();
    for (i, entry) in value.split(',').enumerate() {
        if i >= MAX_ENTRIES {
            return Err(SignatureError::MalformedHeader {
                header: H,
                position: offset_of(value, entry),
                reason: "too many digest entries",
            });
        }
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, b64)) = entry.split_once('=') else {
            return Err(SignatureError::MalformedHeader {
                header: H,
                position: offset_of(value, entry),
                reason: "expected `algorithm=value`",
            });
        };
        let name = name.trim();
        let Some(alg) = DigestAlgorithm::from_name(name) else {
            if !seen.is_empty() {
                seen.push_str(", ");
            }
            seen.push_str(name);
            continue;
        };
        let bytes = B64
            .decode(b64.trim())
            .map_err(|_| SignatureError::MalformedHeader {
                header: H,
                position: offset_of(value, b64),
                reason: "digest value is not base64",
            })?;
        out.push((alg, bytes));
    }
    if out.is_empty() {
        return Err(SignatureError::UnsupportedDigest {
            header: H,
            got: seen,
        });
    }
    Ok(out)
}

/// Parses an RFC 9530 `Content-Digest` header (`sha-256=:<base64>:[, …]`),
/// an RFC 8941 dictionary of byte sequences.
///
/// Returns the entries with a supported algorithm, in order; others are
/// skipped. Member parameters are ignored.
pub fn parse_content_digest(
    value: &str,
) -> Result<Vec<(DigestAlgorithm, Vec<u8>)>, SignatureError> {
    const H: &str = "Content-Digest";
    check_len(H, value)?;
    let mut out = Vec::new();
    let mut seen = String::new();
    for (i, member) in value.split(',').enumerate() {
        let pos = offset_of(value, member);
        if i >= MAX_ENTRIES {
            return Err(SignatureError::MalformedHeader {
                header: H,
                position: pos,
                reason: "too many digest entries",
            });
        }
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            return Err(SignatureError::MalformedHeader {
                header: H,
                position: pos,
                reason: "empty dictionary member",
            });
        }
        let Some((name, rest)) = member.split_once('=') else {
            return Err(SignatureError::MalformedHeader {
                header: H,
                position: pos,
                reason: "expected `algorithm=:value:`",
            });
        };
        let rest = rest
            .strip_prefix(':')
            .ok_or(SignatureError::MalformedHeader {
                header: H,
                position: offset_of(value, rest),
                reason: "expected `:` opening a byte sequence",
            })?;
        let Some((b64, _params)) = rest.split_once(':') else {
            return Err(SignatureError::MalformedHeader {
                header: H,
                position: offset_of(value, rest),
                reason: "unterminated byte sequence",
            });
        };
        let Some(alg) = DigestAlgorithm::from_name(name) else {
            if !seen.is_empty() {
                seen.push_str(", ");
            }
            seen.push_str(name);
            continue;
        };
        let bytes = B64
            .decode(b64)
            .map_err(|_| SignatureError::MalformedHeader {
                header: H,
                position: offset_of(value, b64),
                reason: "digest value is not base64",
            })?;
        out.push((alg, bytes));
    }
    if out.is_empty() {
        return Err(SignatureError::UnsupportedDigest {
            header: H,
            got: seen,
        });
    }
    Ok(out)
}

/// Checks `body` against every supported entry of a digest header.
pub(crate) fn verify_body(
    header: &'static str,
    entries: &[(DigestAlgorithm, Vec<u8>)],
    body: &[u8],
) -> Result<(), SignatureError> {
    for (alg, expected) in entries {
        if alg.hash(body) != *expected {
            return Err(SignatureError::DigestMismatch {
                header,
                algorithm: alg.as_str(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_header_tolerates_case_spacing_and_unknown_algorithms() {
        let v = "md5=abc, sha-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        let e = parse_digest_header(v).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, DigestAlgorithm::Sha256);
        assert!(verify_body("Digest", &e, b"hello").is_ok());
        assert_eq!(
            verify_body("Digest", &e, b"hellO"),
            Err(SignatureError::DigestMismatch {
                header: "Digest",
                algorithm: "sha-256"
            })
        );
    }

    #[test]
    fn unsupported_only_is_reported_with_names() {
        assert_eq!(
            parse_digest_header("MD5=abc"),
            Err(SignatureError::UnsupportedDigest {
                header: "Digest",
                got: "MD5".into()
            })
        );
    }
}
