//! `acct:` URIs (RFC 7565) and the `user@host` handles people type.

use std::fmt;
use std::str::FromStr;

use super::WebFingerError;

/// Longest accepted input, in bytes. Real handles are far shorter; the bound
/// keeps hostile input cheap.
pub const MAX_ACCT_LEN: usize = 1024;
/// Longest accepted user part, in bytes.
pub const MAX_USER_LEN: usize = 255;
/// Longest host in its ASCII form (the DNS limit, RFC 1035 §2.3.4).
pub const MAX_HOST_LEN: usize = 253;

/// An account handle: `user@host`, optionally with a port.
///
/// Parses `acct:user@host` (RFC 7565), `user@host` and the Fediverse
/// `@user@host` form, with an optional `:port` (`alice@127.0.0.1:8080`,
/// `bob@[::1]:8443`).
///
/// Normalization (decided once, here): the **host** is lower-cased and
/// converted to its ASCII (punycode) form per UTS #46, so
/// `alice@Bücher.Example` and `alice@xn--bcher-kva.example` are equal and
/// both print as `alice@xn--bcher-kva.example`; this is the form used on the
/// wire (URLs, `acct:` subjects). The **user** part is kept exactly as given
/// (servers differ on case sensitivity; Mastodon matches it
/// case-insensitively, so compare with [`Acct::eq_ignore_user_case`] when
/// you need that).
///
/// ```
/// use archipel::webfinger::Acct;
///
/// let a: Acct = "@Alice@Bücher.Example".parse().unwrap();
/// assert_eq!(a.user(), "Alice");
/// assert_eq!(a.host(), "xn--bcher-kva.example");
/// assert_eq!(a.to_string(), "Alice@xn--bcher-kva.example");
/// assert_eq!(a.to_uri(), "acct:Alice@xn--bcher-kva.example");
///
/// let local: Acct = "acct:alice@127.0.0.1:8080".parse().unwrap();
/// assert_eq!(local.port(), Some(8080));
/// assert_eq!(local.authority(), "127.0.0.1:8080");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acct {
    user: String,
    host: String,
    port: Option<u16>,
}

impl Acct {
    /// Parses any accepted form; see the type docs.
    ///
    /// # Errors
    /// [`WebFingerError::InvalidAcct`] naming the input and the fault.
    pub fn parse(input: &str) -> Result<Acct, WebFingerError> {
        let bad = |reason: &'static str| WebFingerError::InvalidAcct {
            input: truncate(input),
            reason,
        };
        if input.len() > MAX_ACCT_LEN {
            return Err(bad("longer than 1024 bytes"));
        }
        let s = input.trim();
        let s = match s.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("acct:") => s.get(5..).unwrap_or(""),
            _ => s.strip_prefix('@').unwrap_or(s),
        };
        let (user, host_port) = s.split_once('@').ok_or_else(|| bad("missing '@'"))?;
        if user.is_empty() {
            return Err(bad("empty user part"));
        }
        if user.len() > MAX_USER_LEN {
            return Err(bad("user part longer than 255 bytes"));
        }
        if host_port.contains('@') {
            return Err(bad("more than one '@'"));
        }
        if !user.bytes().all(is_user_byte) {
            return Err(bad("invalid character in user part"));
        }
        if !valid_pct(user) {
            return Err(bad("invalid percent-encoding in user part"));
        }
        let (host, port) = split_port(host_port).ok_or_else(|| bad("invalid port"))?;
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if host.contains(['/', '?', '#', '\\', ' ', '%']) {
            return Err(bad("invalid character in host"));
        }
        let host = match url::Host::parse(host).map_err(|_| bad("invalid host"))? {
            url::Host::Domain(d) => {
                let d = d.strip_suffix('.').unwrap_or(&d).to_owned();
                // The ASCII form must be a DNS host name: the punycode of a
                // short Unicode name can be much longer than its input.
                if d.len() > MAX_HOST_LEN {
                    return Err(bad("host longer than 253 bytes in ASCII form"));
                }
                if !d.split('.').all(is_dns_label) {
                    return Err(bad("invalid host"));
                }
                d
            }
            url::Host::Ipv4(a) => a.to_string(),
            url::Host::Ipv6(a) => format!("[{a}]"),
        };
        Ok(Acct {
            user: user.to_owned(),
            host,
            port,
        })
    }

    /// Builds an account from parts, validating them like [`Acct::parse`].
    ///
    /// # Errors
    /// [`WebFingerError::InvalidAcct`].
    pub fn new(user: &str, host: &str) -> Result<Acct, WebFingerError> {
        Acct::parse(&format!("{user}@{host}"))
    }

    /// The user part, as given.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host, lower-case ASCII (punycode); IPv6 literals in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `host` or `host:port`, for building URLs.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// The `acct:` URI (RFC 7565): `acct:user@host[:port]`.
    pub fn to_uri(&self) -> String {
        format!("acct:{self}")
    }

    /// Equality with the user part compared case-insensitively (ASCII), as
    /// Mastodon does.
    pub fn eq_ignore_user_case(&self, other: &Acct) -> bool {
        self.host == other.host
            && self.port == other.port
            && self.user.eq_ignore_ascii_case(&other.user)
    }
}

impl fmt::Display for Acct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.authority())
    }
}

impl FromStr for Acct {
    type Err = WebFingerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Acct::parse(s)
    }
}

impl serde::Serialize for Acct {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("acct:{self}"))
    }
}

impl<'de> serde::Deserialize<'de> for Acct {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Acct::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A DNS label: 1–63 bytes of letters, digits, `-` and `_` (the latter
/// appears in real service names), after IDNA mapping (so lower-case).
fn is_dns_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// RFC 7565 `userpart`: unreserved / pct-encoded / sub-delims.
pub(crate) fn is_user_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

fn valid_pct(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let ok = matches!((b.get(i + 1), b.get(i + 2)), (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit());
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Splits `host[:port]` / `[v6][:port]`. `None` for a malformed port.
fn split_port(s: &str) -> Option<(&str, Option<u16>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let host = s.get(..=end)?;
        let rest = s.get(end + 1..)?;
        return match rest.strip_prefix(':') {
            Some(p) => Some((host, Some(parse_port(p)?))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) => Some((h, Some(parse_port(p)?))),
        None => Some((s, None)),
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

pub(crate) fn truncate(s: &str) -> String {
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(input: &str) -> &'static str {
        match Acct::parse(input) {
            Err(WebFingerError::InvalidAcct { reason, .. }) => reason,
            other => panic!("{input}: {other:?}"),
        }
    }

    #[test]
    fn accepted_forms() {
        for s in [
            "acct:alice@example.com",
            "ACCT:alice@example.com",
            "alice@example.com",
            "@alice@example.com",
            "  @alice@EXAMPLE.com  ",
            "alice@example.com.",
        ] {
            let a = Acct::parse(s).unwrap();
            assert_eq!(a.user(), "alice", "{s}");
            assert_eq!(a.host(), "example.com", "{s}");
            assert_eq!(a.port(), None);
            assert_eq!(a.to_uri(), "acct:alice@example.com");
        }
    }

    #[test]
    fn ports_and_ip_literals() {
        let a = Acct::parse("alice@127.0.0.1:8080").unwrap();
        assert_eq!((a.host(), a.port()), ("127.0.0.1", Some(8080)));
        assert_eq!(a.to_string(), "alice@127.0.0.1:8080");
        let b = Acct::parse("acct:bob@[::1]:8443").unwrap();
        assert_eq!((b.host(), b.port()), ("[::1]", Some(8443)));
        assert_eq!(b.authority(), "[::1]:8443");
        let c = Acct::parse("bob@[2001:DB8::1]").unwrap();
        assert_eq!(c.host(), "[2001:db8::1]");
        assert_eq!(reason("a@host:"), "invalid port");
        assert_eq!(reason("a@host:99999"), "invalid port");
        assert_eq!(reason("a@host:8x"), "invalid port");
        assert_eq!(reason("a@[::1"), "invalid port");
    }

    #[test]
    fn idn_hosts_become_punycode() {
        let a = Acct::parse("@zoë@Bücher.example").unwrap_err();
        assert!(matches!(a, WebFingerError::InvalidAcct { .. }));
        let a = Acct::parse("zoe@Bücher.example").unwrap();
        assert_eq!(a.host(), "xn--bcher-kva.example");
        assert_eq!(a, Acct::parse("zoe@xn--bcher-kva.EXAMPLE").unwrap());
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(reason("alice"), "missing '@'");
        assert_eq!(reason("@example.com"), "missing '@'");
        assert_eq!(reason("acct:@example.com"), "empty user part");
        assert_eq!(reason("a@b@c.example"), "more than one '@'");
        assert_eq!(reason("a@"), "empty host");
        assert_eq!(reason("a b@example.com"), "invalid character in user part");
        assert_eq!(
            reason("a%2@example.com"),
            "invalid percent-encoding in user part"
        );
        assert_eq!(reason("a@exa mple.com"), "invalid character in host");
        assert_eq!(reason("a@example.com/path"), "invalid character in host");
        assert_eq!(reason("a@exa..mple"), "invalid host");
        assert_eq!(reason(&"a".repeat(2000)), "longer than 1024 bytes");
        assert_eq!(
            reason(&format!("{}@x.example", "u".repeat(256))),
            "user part longer than 255 bytes"
        );
        assert_eq!(reason("a@exa(mple).com"), "invalid host");
        assert_eq!(
            reason(&format!("a@{}.example", "l".repeat(64))),
            "invalid host"
        );
        // Found by fuzzing: a Unicode host whose punycode form exceeds the
        // DNS limit used to be accepted and then fail to re-parse.
        let idn = format!("a@{}", "cerü.".repeat(60));
        assert_eq!(reason(&idn), "host longer than 253 bytes in ASCII form");
    }

    #[test]
    fn user_case_is_kept() {
        let a = Acct::parse("Alice@example.com").unwrap();
        let b = Acct::parse("alice@example.com").unwrap();
        assert_ne!(a, b);
        assert!(a.eq_ignore_user_case(&b));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"acct:Alice@example.com\""
        );
        let back: Acct = serde_json::from_str("\"acct:Alice@example.com\"").unwrap();
        assert_eq!(back, a);
    }
}
