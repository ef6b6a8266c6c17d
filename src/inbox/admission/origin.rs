//! The two things admission keys its buckets on, read without verifying
//! anything: the origin named by the signature's `keyId`, and the remote
//! address grouped into the network a client typically controls.

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;

/// The origin every request without a readable `keyId` shares.
pub(crate) const UNKNOWN: &str = "unknown";

/// How much of a signature header is searched for the `keyId`: real ones
/// are under 1 KiB; a longer header is not scanned to its end.
const MAX_SCAN: usize = 8 * 1024;

/// Longest `keyId` parsed as a URL; a longer one is origin "unknown".
const MAX_KEY_ID: usize = 2048;

/// The `host[:port]` of the `keyId` in the request's `Signature`,
/// `Signature-Input` (RFC 9421 `keyid` parameter) or `Authorization:
/// Signature` header, lower-cased; `None` when there is none or it is not
/// an absolute URL with a host.
///
/// Nothing is verified: the origin is what the sender *claims*, which is
/// all a rate limit before verification can go by. A sender lying about it
/// spends another origin's budget only until the signature check refuses
/// it, and spoofing many origins is bounded by the per-address bucket.
pub(crate) fn key_id_origin(headers: &HeaderMap) -> Option<String> {
    let candidates = ["signature-input", "signature", "authorization"];
    candidates
        .iter()
        .flat_map(|name| headers.get_all(*name))
        .filter_map(|v| v.to_str().ok())
        .find_map(key_id_param)
        .and_then(origin_of)
}

/// The value of the first `keyId="..."` / `keyid="..."` parameter in a
/// signature header (cavage-12 §2.1.1, RFC 9421 §2.3).
fn key_id_param(header: &str) -> Option<&str> {
    let scanned = header.get(..header.len().min(MAX_SCAN)).unwrap_or(header);
    let lower = scanned.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower.get(from..).and_then(|rest| rest.find("keyid=\"")) {
        let at = from + found;
        let starts_param = at == 0
            || matches!(
                lower.as_bytes().get(at - 1),
                Some(b',' | b';' | b' ' | b'\t')
            );
        let value_start = at + "keyid=\"".len();
        if starts_param {
            let rest = scanned.get(value_start..)?;
            let end = rest.find('"')?;
            return rest.get(..end);
        }
        from = value_start;
    }
    None
}

fn origin_of(key_id: &str) -> Option<String> {
    if key_id.len() > MAX_KEY_ID {
        return None;
    }
    crate::client::origin::authority_of(key_id)
}

/// The network a remote address stands for: an IPv4 address itself, an
/// IPv6 address's /64 (one customer's allocation, RFC 6177: a client
/// changing the low 64 bits stays in the same bucket). IPv4-mapped IPv6
/// addresses count as IPv4.
pub(crate) fn address_group(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let masked = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(masked))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn reads_cavage_rfc9421_and_authorization() {
        let cavage = headers(
            "signature",
            r#"keyId="https://A.example/users/a#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="abc""#,
        );
        assert_eq!(key_id_origin(&cavage).as_deref(), Some("a.example"));
        let rfc = headers(
            "signature-input",
            r#"sig1=("@method" "@target-uri");created=1;keyid="https://b.example:8443/actor#k";alg="rsa-v1_5-sha256""#,
        );
        assert_eq!(key_id_origin(&rfc).as_deref(), Some("b.example:8443"));
        let auth = headers(
            "authorization",
            r#"Signature keyId="https://c.example/k",signature="x""#,
        );
        assert_eq!(key_id_origin(&auth).as_deref(), Some("c.example"));
    }

    #[test]
    fn garbled_or_missing_key_id_has_no_origin() {
        assert_eq!(key_id_origin(&HeaderMap::new()), None);
        assert_eq!(key_id_origin(&headers("signature", "keyId=")), None);
        assert_eq!(
            key_id_origin(&headers("signature", r#"keyId="not a url""#)),
            None
        );
        assert_eq!(
            key_id_origin(&headers("signature", r#"keyId="https://unterminated"#)),
            None
        );
        // A parameter whose name merely ends in "keyid" is not the keyId.
        assert_eq!(
            key_id_origin(&headers("signature", r#"xkeyid="https://x.example/k""#)),
            None
        );
        let long = format!(r#"keyId="https://x.example/{}""#, "a".repeat(3000));
        assert_eq!(key_id_origin(&headers("signature", &long)), None);
    }

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_ipv4_is_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_group(a), address_group(b));
        assert_eq!(
            address_group(a),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_ne!(address_group(a), address_group(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            address_group(mapped),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        let v4: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(address_group(v4), v4);
    }
}
