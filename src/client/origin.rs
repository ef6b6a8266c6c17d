//! Origins and authorities of URLs: the one place archipel derives
//! `host[:port]` and compares origins, so that per-host limits, `acct:`
//! handles, signature components and origin checks agree.

use url::Url;

/// The authority of `url` as `host` or `host:port` (the port only when it is
/// not the scheme's default), with the host lowercased; empty when the URL
/// has no host.
///
/// It is the key of per-host delivery limits and breakers, the host part of
/// local `acct:` handles, and the `host` / `@authority` signature component
/// of a server's public base URL (RFC 9421 §2.2.3).
///
/// ```
/// use archipel::client::authority;
/// let url = url::Url::parse("https://Social.Example:8443/users/a").unwrap();
/// assert_eq!(authority(&url), "social.example:8443");
/// let url = url::Url::parse("https://social.example:443/").unwrap();
/// assert_eq!(authority(&url), "social.example");
/// ```
pub fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Whether two IRIs share scheme, host and port (RFC 6454 §4); `false`
/// when either does not parse or has an opaque origin.
///
/// ActivityPub's same-origin rule: an object is trusted as coming from the
/// server of its `id` only when it is served, or signed, by that origin.
///
/// ```
/// use archipel::client::same_origin;
/// assert!(same_origin("https://a.example/1", "https://a.example/users/u"));
/// assert!(!same_origin("https://a.example/1", "https://b.example/users/u"));
/// assert!(!same_origin("http://a.example:1/1", "http://a.example:2/u"));
/// ```
pub fn same_origin(a: &str, b: &str) -> bool {
    if let (Some(a), Some(b)) = (Simple::parse(a), Simple::parse(b)) {
        return a == b;
    }
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The lowercased host of `iri`, `None` when it does not parse or has no
/// host: the key of domain policies and budgets.
pub(crate) fn host_of(iri: &str) -> Option<String> {
    if let Some(simple) = Simple::parse(iri) {
        return Some(simple.host.to_owned());
    }
    Url::parse(iri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// The key a per-host cap or budget counts `iri` under: its lowercased
/// host, and one shared key (empty) for every IRI without one, so that
/// hostless IRIs cannot each claim a share of their own.
pub(crate) fn host_key(iri: &str) -> String {
    host_of(iri).unwrap_or_default()
}

/// [`authority`] of `iri` when it parses and has a host.
pub(crate) fn authority_of(iri: &str) -> Option<String> {
    if let Some(simple) = Simple::parse(iri) {
        return Some(match simple.explicit_port() {
            Some(port) => format!("{}:{port}", simple.host),
            None => simple.host.to_owned(),
        });
    }
    let url = Url::parse(iri).ok()?;
    url.host_str()?;
    Some(authority(&url))
}

/// The origin of an `http`/`https` IRI of the plainest shape, read without
/// a full URL parse: every inbound activity's checks compare and key by
/// origins a few times, and a WHATWG parse (IDNA included) of each IRI was
/// a noticeable share of an inbox's time.
///
/// Only a shape whose WHATWG parse is certain is read here: a lowercase
/// `http://` or `https://`, then a host of lowercase letters, digits, `-`
/// and `.` (non-empty labels, none starting with `xn--` or holding `--`,
/// the last not starting with a digit, so no IPv4 form and no IDNA
/// mapping) or an IPv4 address in the dotted form the parser writes, an
/// optional port of 1 to 5 digits, then the end or `/`, `?` or `#`.
/// Anything else (upper case, user info, percent signs, IPv6 and other
/// IPv4 forms, backslashes, whitespace) returns `None`, and the caller
/// parses the IRI in full. The test `simple_origins_agree_with_the_url_crate`
/// holds this to the `url` crate's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Simple<'a> {
    https: bool,
    host: &'a str,
    /// The port, explicit or the scheme's default.
    port: u16,
}

impl<'a> Simple<'a> {
    fn parse(iri: &'a str) -> Option<Simple<'a>> {
        let (https, rest) = if let Some(rest) = iri.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, iri.strip_prefix("http://")?)
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = rest.get(..end)?;
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if !plain_host(host) {
            return None;
        }
        let default = if https { 443 } else { 80 };
        let port = match port {
            None => default,
            Some(digits) => {
                if digits.is_empty()
                    || digits.len() > 5
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                u16::try_from(digits.parse::<u32>().ok()?).ok()?
            }
        };
        Some(Simple { https, host, port })
    }

    fn explicit_port(&self) -> Option<u16> {
        let default = if self.https { 443 } else { 80 };
        (self.port != default).then_some(self.port)
    }
}

/// A host the WHATWG parser keeps exactly as written (see [`Simple`]): a
/// plain domain name, or an IPv4 address in its canonical dotted-decimal
/// form.
pub(crate) fn plain_host(host: &str) -> bool {
    if host.starts_with(|c: char| c.is_ascii_digit()) && canonical_ipv4(host) {
        return true;
    }
    plain_domain(host)
}

/// Four decimal parts of 0 to 255 without leading zeros: the form the
/// parser writes an IPv4 address in, so it reads back unchanged.
fn canonical_ipv4(host: &str) -> bool {
    let mut parts = 0;
    for part in host.split('.') {
        parts += 1;
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'))
            && part.parse::<u16>().is_ok_and(|n| n <= 255);
        if !ok {
            return false;
        }
    }
    parts == 4
}

fn plain_domain(host: &str) -> bool {
    let mut last = "";
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with("xn--")
            && !label.contains("--");
        if !ok {
            return false;
        }
        last = label;
    }
    // An all-numeric (or `0x`) last label makes the host an IPv4 address
    // to the parser: left to it.
    !last.is_empty() && !last.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_without_a_host_is_empty() {
        let url = Url::parse("data:text/plain,x").unwrap();
        assert_eq!(authority(&url), "");
    }

    /// Every IRI built from awkward pieces: the fast reading, where it
    /// answers, must be the `url` crate's.
    #[test]
    fn simple_origins_agree_with_the_url_crate() {
        let schemes = [
            "http://",
            "https://",
            "HTTPS://",
            "http:/",
            "https:///",
            "ftp://",
            " https://",
        ];
        let users = ["", "u:p@"];
        let hosts = [
            "a.example",
            "A.example",
            "a.Example",
            "xn--bcher-kva.example",
            "bücher.example",
            "127.0.0.1",
            "127.000.0.1",
            "256.0.0.1",
            "1.2.3.4.5",
            "01.2.3.4",
            "0.0.0.0",
            "1.2.3.4.",
            "1.2.3",
            "255.255.255.255",
            "1.2.3.04",
            "1.2.3.0x4",
            "1.2.3.a",
            "127.1",
            "0x7f.1",
            "a.0x1",
            "a.1",
            "1a.example",
            "a..b",
            "a.example.",
            ".a.example",
            "[::1]",
            "a_b.example",
            "a%2eexample",
            "a-.example",
            "-a.example",
            "ab--c.example",
            "a\tb.example",
            "a\\b.example",
            "localhost",
            "",
            "a b.example",
        ];
        let ports = [
            "", ":", ":80", ":443", ":0443", ":00080", ":65535", ":65536", ":8080", ":x", ":1:2",
            ":123456",
        ];
        let tails = ["", "/p?q#f", "#f", "\\p", "/@b.example"];
        let mut iris = Vec::new();
        for scheme in schemes {
            for user in users {
                for host in hosts {
                    for port in ports {
                        for tail in tails {
                            iris.push(format!("{scheme}{user}{host}{port}{tail}"));
                        }
                    }
                }
            }
        }
        let slow_same = |a: &str, b: &str| match (Url::parse(a), Url::parse(b)) {
            (Ok(a), Ok(b)) => a.origin() == b.origin(),
            _ => false,
        };
        let mut fast = 0;
        for iri in &iris {
            let url = Url::parse(iri);
            if let Some(simple) = Simple::parse(iri) {
                fast += 1;
                let url = url.unwrap_or_else(|e| panic!("{iri:?}: read fast, but {e}"));
                assert_eq!(Some(simple.host), url.host_str(), "{iri:?}");
                assert_eq!(Some(simple.port), url.port_or_known_default(), "{iri:?}");
                assert_eq!(simple.https, url.scheme() == "https", "{iri:?}");
            }
            let slow_host = Url::parse(iri)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
            assert_eq!(host_of(iri), slow_host, "{iri:?}");
            let slow_authority = Url::parse(iri)
                .ok()
                .filter(|u| u.host_str().is_some())
                .map(|u| authority(&u));
            assert_eq!(authority_of(iri), slow_authority, "{iri:?}");
        }
        // The plain shapes are read fast; many others are not.
        assert!(
            fast > 100 && fast < iris.len() / 4,
            "{fast} of {}",
            iris.len()
        );
        // Pairs: against a few plain IRIs and each other's neighbours.
        let anchors = [
            "https://a.example/x",
            "http://a.example/",
            "https://a.example:8080/",
            "http://a.example:80/y",
        ];
        for (i, iri) in iris.iter().enumerate() {
            for other in anchors
                .iter()
                .copied()
                .chain(iris.get(i + 1).map(String::as_str))
            {
                assert_eq!(
                    same_origin(iri, other),
                    slow_same(iri, other),
                    "{iri:?} vs {other:?}"
                );
                assert_eq!(
                    same_origin(other, iri),
                    slow_same(other, iri),
                    "{other:?} vs {iri:?}"
                );
            }
        }
    }

    #[test]
    fn opaque_origins_are_never_the_same() {
        assert!(!same_origin("data:text/plain,x", "data:text/plain,x"));
        assert!(!same_origin("not a url", "https://a.example/"));
    }
}
