//! draft-cavage-http-signatures-12: the `Signature` header and its
//! signing string.

use std::borrow::Cow;

use http::HeaderMap;

use super::{MAX_HEADER_LEN, SignatureError};

const H: &str = "Signature";
/// Most parameters we accept in one header (the draft defines six).
const MAX_PARAMS: usize = 32;
/// Most covered components we accept in `headers`.
pub(crate) const MAX_COMPONENTS: usize = 64;

/// A parsed draft-cavage `Signature` header (draft-cavage-12 §4.1).
///
/// Values borrow from the header where they can. Unknown parameters are
/// ignored, names match case-insensitively, order and spacing are free,
/// and `created` / `expires` may be quoted or bare.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CavageSignature<'a> {
    /// `keyId`: which key signed (an actor key URL on the Fediverse).
    pub key_id: Cow<'a, str>,
    /// `algorithm`, if given (`rsa-sha256`, `hs2019`, …).
    pub algorithm: Option<Cow<'a, str>>,
    /// `headers`: the space-separated covered components, if given.
    pub headers: Option<Cow<'a, str>>,
    /// `signature`: the base64 signature.
    pub signature: Cow<'a, str>,
    /// `created` (Unix seconds), if given.
    pub created: Option<i64>,
    /// `expires` (Unix seconds), if given.
    pub expires: Option<i64>,
}

impl CavageSignature<'_> {
    /// The covered components, lower-cased; `date` when `headers` is
    /// absent (what Mastodon assumes), or `(created)` when only `created`
    /// is given (draft-cavage-12 §2.1.6).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        let list: &str = match (&self.headers, self.created) {
            (Some(h), _) => h,
            (None, Some(_)) => "(created)",
            (None, None) => "date",
        };
        list.split_ascii_whitespace()
    }
}

fn malformed(position: usize, reason: &'static str) -> SignatureError {
    SignatureError::MalformedHeader {
        header: H,
        position,
        reason,
    }
}

fn parse_unix(value: &str, position: usize) -> Result<i64, SignatureError> {
    // Integer seconds; a fractional part (seen in the wild) is dropped.
    let int = value.split_once('.').map_or(value, |(i, _)| i);
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(position, "timestamp is not an integer"));
    }
    int.parse::<i64>()
        .map_err(|_| malformed(position, "timestamp is not an integer"))
}

/// Parses a draft-cavage `Signature` header value (also accepts the
/// `Authorization: Signature …` form's value).
///
/// ```
/// use archipel::signatures::parse_cavage_signature;
/// let s = parse_cavage_signature(
///     r#"keyId="https://a.example/u#k", signature="c2ln",headers = "(request-target) host""#,
/// ).unwrap();
/// assert_eq!(s.key_id, "https://a.example/u#k");
/// assert_eq!(s.components().collect::<Vec<_>>(), ["(request-target)", "host"]);
/// ```
pub fn parse_cavage_signature(value: &str) -> Result<CavageSignature<'_>, SignatureError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(SignatureError::HeaderTooLarge {
            header: H,
            len: value.len(),
            max: MAX_HEADER_LEN,
        });
    }
    let bytes = value.as_bytes();
    let mut i = 0;
    // `Authorization: Signature keyId=…`
    if value.len() > 10
        && value
            .get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("signature "))
    {
        i = 10;
    }
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    let mut created = None;
    let mut expires = None;
    let mut count = 0;
    let at = |i: usize| bytes.get(i).copied();
    loop {
        while matches!(at(i), Some(b' ' | b'\t' | b',')) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        count += 1;
        if count > MAX_PARAMS {
            return Err(malformed(i, "too many parameters"));
        }
        let name_start = i;
        while matches!(at(i), Some(b) if b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            i += 1;
        }
        if i == name_start {
            return Err(malformed(i, "expected a parameter name"));
        }
        let name = value.get(name_start..i).unwrap_or_default();
        while matches!(at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if at(i) != Some(b'=') {
            return Err(malformed(i, "expected `=` after parameter name"));
        }
        i += 1;
        while matches!(at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let value_pos = i;
        let val: Cow<'_, str> = if at(i) == Some(b'"') {
            i += 1;
            let start = i;
            let mut owned: Option<String> = None;
            loop {
                match at(i) {
                    None => return Err(malformed(value_pos, "unterminated quoted string")),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let buf = owned.get_or_insert_with(|| {
                            value.get(start..i).unwrap_or_default().to_owned()
                        });
                        i += 1;
                        let Some(c) = value.get(i..).and_then(|s| s.chars().next()) else {
                            return Err(malformed(i, "unterminated escape"));
                        };
                        buf.push(c);
                        i += c.len_utf8();
                    }
                    Some(_) => {
                        let Some(c) = value.get(i..).and_then(|s| s.chars().next()) else {
                            return Err(malformed(i, "invalid character"));
                        };
                        if let Some(buf) = owned.as_mut() {
                            buf.push(c);
                        }
                        i += c.len_utf8();
                    }
                }
            }
            let v = match owned {
                Some(s) => Cow::Owned(s),
                None => Cow::Borrowed(value.get(start..i).unwrap_or_default()),
            };
            i += 1; // closing quote
            v
        } else {
            let start = i;
            while matches!(at(i), Some(b) if b != b',' && b != b' ' && b != b'\t') {
                i += 1;
            }
            if i == start {
                return Err(malformed(i, "empty parameter value"));
            }
            Cow::Borrowed(value.get(start..i).unwrap_or_default())
        };
        while matches!(at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if !matches!(at(i), None | Some(b',')) {
            return Err(malformed(i, "expected `,` between parameters"));
        }
        let slot_dup = |set: bool| {
            if set {
                Err(malformed(name_start, "duplicate parameter"))
            } else {
                Ok(())
            }
        };
        if name.eq_ignore_ascii_case("keyId") {
            slot_dup(key_id.is_some())?;
            key_id = Some(val);
        } else if name.eq_ignore_ascii_case("algorithm") {
            slot_dup(algorithm.is_some())?;
            algorithm = Some(val);
        } else if name.eq_ignore_ascii_case("headers") {
            slot_dup(headers.is_some())?;
            headers = Some(val);
        } else if name.eq_ignore_ascii_case("signature") {
            slot_dup(signature.is_some())?;
            signature = Some(val);
        } else if name.eq_ignore_ascii_case("created") {
            slot_dup(created.is_some())?;
            created = Some(parse_unix(&val, value_pos)?);
        } else if name.eq_ignore_ascii_case("expires") {
            slot_dup(expires.is_some())?;
            expires = Some(parse_unix(&val, value_pos)?);
        }
    }
    let key_id = key_id.ok_or(SignatureError::MissingParameter {
        header: H,
        parameter: "keyId",
    })?;
    let signature = signature.ok_or(SignatureError::MissingParameter {
        header: H,
        parameter: "signature",
    })?;
    Ok(CavageSignature {
        key_id,
        algorithm,
        headers,
        signature,
        created,
        expires,
    })
}

/// What the signing string needs from a request.
pub(crate) struct RequestParts<'a> {
    pub method: &'a http::Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// `host` value to use: the public authority, else `Host`, else the URI's.
    pub host: Option<&'a str>,
}

/// Appends a header's values, combined with `", "` and trimmed
/// (draft-cavage-12 §2.3).
pub(crate) fn push_header_values(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    name: &str,
) -> Result<(), SignatureError> {
    let mut any = false;
    for v in headers.get_all(name) {
        if any {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes().trim_ascii());
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err(SignatureError::AbsentComponent(name.to_owned()))
    }
}

/// Builds the signing string (draft-cavage-12 §2.3) into `out`.
pub(crate) fn signing_string<'c>(
    out: &mut Vec<u8>,
    components: impl Iterator<Item = &'c str>,
    req: &RequestParts<'_>,
    created: Option<i64>,
    expires: Option<i64>,
    with_query: bool,
) -> Result<(), SignatureError> {
    out.clear();
    for (n, c) in components.enumerate() {
        if n >= MAX_COMPONENTS {
            return Err(malformed(0, "too many covered headers"));
        }
        if n > 0 {
            out.push(b'\n');
        }
        let lower;
        let c = if c.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = c.to_ascii_lowercase();
            lower.as_str()
        } else {
            c
        };
        out.extend_from_slice(c.as_bytes());
        out.extend_from_slice(b": ");
        match c {
            "(request-target)" => {
                for b in req.method.as_str().bytes() {
                    out.push(b.to_ascii_lowercase());
                }
                out.push(b' ');
                out.extend_from_slice(req.path.as_bytes());
                if with_query && let Some(q) = req.query {
                    out.push(b'?');
                    out.extend_from_slice(q.as_bytes());
                }
            }
            "(created)" => {
                let t = created.ok_or_else(|| SignatureError::AbsentComponent(c.to_owned()))?;
                out.extend_from_slice(t.to_string().as_bytes());
            }
            "(expires)" => {
                let t = expires.ok_or_else(|| SignatureError::AbsentComponent(c.to_owned()))?;
                out.extend_from_slice(t.to_string().as_bytes());
            }
            "host" => match req.host {
                Some(h) => out.extend_from_slice(h.as_bytes()),
                None => push_header_values(out, req.headers, "host")?,
            },
            _ if c.starts_with('(') => {
                return Err(SignatureError::UnsupportedComponent(c.to_owned()));
            }
            _ => push_header_values(out, req.headers, c)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_parsing() {
        let s = parse_cavage_signature(
            "Signature signature=\"YWJj\" , foo=bar, keyId = \"k\\\"1\",created=1402170695,expires=\"1402170699\"",
        )
        .unwrap();
        assert_eq!(s.key_id, "k\"1");
        assert_eq!(s.created, Some(1_402_170_695));
        assert_eq!(s.expires, Some(1_402_170_699));
        assert_eq!(s.components().collect::<Vec<_>>(), ["(created)"]);
    }

    #[test]
    fn rejections_carry_positions() {
        assert_eq!(
            parse_cavage_signature("keyId=\"abc"),
            Err(SignatureError::MalformedHeader {
                header: "Signature",
                position: 6,
                reason: "unterminated quoted string"
            })
        );
        assert_eq!(
            parse_cavage_signature("keyId=\"a\",keyId=\"b\",signature=\"x\""),
            Err(SignatureError::MalformedHeader {
                header: "Signature",
                position: 10,
                reason: "duplicate parameter"
            })
        );
        assert_eq!(
            parse_cavage_signature("keyId=\"a\""),
            Err(SignatureError::MissingParameter {
                header: "Signature",
                parameter: "signature"
            })
        );
    }
}
