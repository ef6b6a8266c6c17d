//! Domain policy: which remote hosts this server talks to.
//!
//! A [`DomainPolicy`] holds a block list and an optional allow list
//! ("allow-list federation"). It is consulted by the outgoing
//! [`HttpClient`](crate::client::HttpClient) before every request and every
//! redirect hop, so a blocked domain is never contacted, and is meant to be
//! shared with the inbox (inbound) and delivery (outbound) sides.
//!
//! Matching rules, so that one entry means what an administrator expects:
//! - an entry matches the domain itself **and every subdomain**
//!   (`blocked.example` blocks `a.blocked.example`, not `notblocked.example`);
//! - comparison is case-insensitive and on the ASCII (punycode) form, so
//!   `BÜCHER.example` and `xn--bcher-kva.example` are the same entry;
//! - ports are ignored (`blocked.example:8443` is `blocked.example`);
//! - a trailing dot is ignored (`blocked.example.` is `blocked.example`).
//!
//! Follow consent (locked accounts, pending requests, `Accept`/`Reject`),
//! and the rules for `Undo` and `Block`, are in [`follow`].

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub mod follow;

/// Audience helpers, shared with the vocabulary: who an object is addressed
/// to (`public`, `unlisted`, `followers`, `direct`) and whether an IRI is the
/// public collection (`Public`, `as:Public` or the full IRI).
pub use crate::vocab::audience::is_public_iri;
pub use crate::vocab::{Audience, Visibility};

use url::Url;

/// Errors of the `policy` module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The host is on the block list, or missing from the allow list.
    #[error("domain policy: host {host:?} is blocked")]
    Blocked {
        /// The normalized host that was refused.
        host: String,
    },
    /// The URL has no host to check (`data:`, `mailto:` and the like).
    #[error("domain policy: URL {url:?} has no host")]
    NoHost {
        /// The URL that was checked.
        url: String,
    },
    /// A domain given to the policy is not a valid host name.
    #[error("domain policy: {input:?} is not a valid domain")]
    InvalidDomain {
        /// The rejected input.
        input: String,
    },
}

/// Block list plus optional allow list of remote domains.
///
/// The default policy allows every host. Entries match the domain and all of
/// its subdomains, case-insensitively, on the punycode form, ignoring ports.
///
/// A `DomainPolicy` is a shared handle: clones see the same lists, so one
/// policy given to the HTTP client, the inbox and delivery takes effect
/// everywhere as soon as an administrator blocks a domain at run time.
///
/// ```
/// use archipel::policy::DomainPolicy;
///
/// let policy = DomainPolicy::new();
/// policy.block("spam.example").unwrap();
/// assert!(!policy.allows("spam.example"));
/// assert!(!policy.allows("Relay.SPAM.example:8443"));
/// assert!(policy.allows("notspam.example"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DomainPolicy {
    lists: Arc<RwLock<Lists>>,
}

#[derive(Debug, Default)]
struct Lists {
    blocked: BTreeSet<String>,
    allowed: Option<BTreeSet<String>>,
}

impl DomainPolicy {
    /// A policy that allows every host (no blocks, no allow list).
    pub fn new() -> Self {
        Self::default()
    }

    /// Blocks `domain` and all its subdomains.
    ///
    /// # Errors
    /// [`PolicyError::InvalidDomain`] when `domain` is not a host name.
    pub fn block(&self, domain: &str) -> Result<(), PolicyError> {
        let d = normalize_host(domain).ok_or_else(|| PolicyError::InvalidDomain {
            input: domain.to_owned(),
        })?;
        self.write().blocked.insert(d);
        Ok(())
    }

    /// Removes a block previously added with [`block`](Self::block).
    ///
    /// Returns whether the entry was present.
    pub fn unblock(&self, domain: &str) -> bool {
        normalize_host(domain).is_some_and(|d| self.write().blocked.remove(&d))
    }

    /// Adds `domain` (and its subdomains) to the allow list, switching the
    /// policy to allow-list mode: from then on only listed hosts are allowed.
    ///
    /// # Errors
    /// [`PolicyError::InvalidDomain`] when `domain` is not a host name.
    pub fn allow_only(&self, domain: &str) -> Result<(), PolicyError> {
        let d = normalize_host(domain).ok_or_else(|| PolicyError::InvalidDomain {
            input: domain.to_owned(),
        })?;
        self.write()
            .allowed
            .get_or_insert_with(BTreeSet::new)
            .insert(d);
        Ok(())
    }

    /// Whether the policy is in allow-list mode.
    pub fn is_allow_list(&self) -> bool {
        self.read().allowed.is_some()
    }

    /// The blocked domains (normalized), sorted.
    pub fn blocked(&self) -> Vec<String> {
        self.read().blocked.iter().cloned().collect()
    }

    /// Whether `host` (a domain or IP literal, optionally with a port) may be
    /// contacted or accepted. Unparseable hosts are refused.
    pub fn allows(&self, host: &str) -> bool {
        match normalize_host(host) {
            Some(h) => self.allows_normalized(&h),
            None => false,
        }
    }

    /// Checks the host of `url`.
    ///
    /// # Errors
    /// [`PolicyError::Blocked`] when the host is refused,
    /// [`PolicyError::NoHost`] when the URL has none.
    pub fn check(&self, url: &Url) -> Result<(), PolicyError> {
        let host = url.host_str().ok_or_else(|| PolicyError::NoHost {
            url: url.to_string(),
        })?;
        let norm = normalize_host(host).ok_or_else(|| PolicyError::Blocked {
            host: host.to_owned(),
        })?;
        if self.allows_normalized(&norm) {
            Ok(())
        } else {
            Err(PolicyError::Blocked { host: norm })
        }
    }

    fn allows_normalized(&self, host: &str) -> bool {
        let lists = self.read();
        if matches_any(&lists.blocked, host) {
            return false;
        }
        match &lists.allowed {
            Some(list) => matches_any(list, host),
            None => true,
        }
    }
}

impl DomainPolicy {
    // A poisoned lock only means a panic elsewhere while holding it; the
    // sets themselves are always in a valid state, so keep using them.
    fn read(&self) -> RwLockReadGuard<'_, Lists> {
        self.lists.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Lists> {
        self.lists.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `host` equals an entry or is a subdomain of one.
fn matches_any(set: &BTreeSet<String>, host: &str) -> bool {
    if set.contains(host) {
        return true;
    }
    // IP literals have no subdomains.
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return false;
    }
    let mut rest = host;
    while let Some(pos) = rest.find('.') {
        rest = rest.get(pos + 1..).unwrap_or("");
        if rest.is_empty() {
            break;
        }
        if set.contains(rest) {
            return true;
        }
    }
    false
}

/// Normalizes a host (optionally with a port) to lowercase ASCII (punycode),
/// without port or trailing dot. Returns `None` for input that is not a host.
pub(crate) fn normalize_host(input: &str) -> Option<String> {
    let input = input.trim();
    if input.is_empty() || input.len() > 253 + 7 {
        return None;
    }
    // Strip a port: `[v6]:port` or `host:port` (a bare IPv6 literal has
    // several colons and no brackets).
    let host = if let Some(rest) = input.strip_prefix('[') {
        let end = rest.find(']')?;
        let v6 = rest.get(..end)?;
        return v6
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| format!("[{a}]"));
    } else if input.matches(':').count() == 1 {
        input.split(':').next()?
    } else if input.contains(':') {
        return input
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| format!("[{a}]"));
    } else {
        input
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    // Already as the parser would write it (lowercase, no IDNA mapping,
    // canonical IPv4): every inbound activity checks two or three hosts.
    if crate::client::origin::plain_host(host) {
        return Some(host.to_owned());
    }
    host_parsed(host)
}

/// `host` as the WHATWG host parser normalizes it.
fn host_parsed(host: &str) -> Option<String> {
    match url::Host::parse(host).ok()? {
        url::Host::Domain(d) => Some(d),
        url::Host::Ipv4(a) => Some(a.to_string()),
        url::Host::Ipv6(a) => Some(format!("[{a}]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_read_without_the_parser_are_what_it_would_answer() {
        let hosts = [
            "a.example",
            "A.example",
            "xn--bcher-kva.example",
            "bücher.example",
            "127.0.0.1",
            "127.1",
            "0x7f.1",
            "a.1",
            "1a.example",
            "a..b",
            "01.2.3.4",
            "256.0.0.1",
            "1.2.3",
            "a_b.example",
            "a-.example",
            "ab--c.example",
            "a%2eb.example",
            "localhost",
            "0.0.0.0",
        ];
        for host in hosts {
            for input in [host.to_owned(), format!("{host}:8443"), format!("{host}.")] {
                let plain = crate::client::origin::plain_host(host);
                let fast = normalize_host(&input);
                let stripped = input.split(':').next().unwrap();
                let slow = host_parsed(stripped.strip_suffix('.').unwrap_or(stripped));
                assert_eq!(fast, slow, "{input:?} (read fast: {plain})");
            }
        }
    }

    #[test]
    fn subdomains_case_punycode_and_ports() {
        let p = DomainPolicy::new();
        p.block("Blocked.Example").unwrap();
        p.block("bücher.example").unwrap();
        assert!(!p.allows("blocked.example"));
        assert!(!p.allows("a.b.BLOCKED.example:443"));
        assert!(!p.allows("blocked.example."));
        assert!(p.allows("notblocked.example"));
        assert!(p.allows("example"));
        assert!(!p.allows("xn--bcher-kva.example"));
        assert!(!p.allows("sub.BÜCHER.example"));
        assert!(p.unblock("BLOCKED.example"));
        assert!(p.allows("a.blocked.example"));
        assert_eq!(p.blocked(), ["xn--bcher-kva.example"]);
    }

    #[test]
    fn clones_share_the_lists() {
        let p = DomainPolicy::new();
        let shared = p.clone();
        p.block("late.example").unwrap();
        assert!(!shared.allows("late.example"));
    }

    #[test]
    fn allow_list_mode() {
        let p = DomainPolicy::new();
        p.allow_only("friends.example").unwrap();
        p.block("bad.friends.example").unwrap();
        assert!(p.is_allow_list());
        assert!(p.allows("friends.example"));
        assert!(p.allows("a.friends.example"));
        assert!(!p.allows("bad.friends.example"));
        assert!(!p.allows("other.example"));
    }

    #[test]
    fn check_urls_and_ip_literals() {
        let p = DomainPolicy::new();
        p.block("10.0.0.1").unwrap();
        p.block("[::1]").unwrap();
        let u = Url::parse("http://10.0.0.1:8080/x").unwrap();
        assert_eq!(
            p.check(&u),
            Err(PolicyError::Blocked {
                host: "10.0.0.1".into()
            })
        );
        assert_eq!(
            p.check(&Url::parse("http://[::1]:80/").unwrap()),
            Err(PolicyError::Blocked {
                host: "[::1]".into()
            })
        );
        assert!(p.allows("10.0.0.2"));
        assert_eq!(p.check(&Url::parse("https://ok.example/").unwrap()), Ok(()));
        assert!(matches!(
            p.check(&Url::parse("mailto:a@b.example").unwrap()),
            Err(PolicyError::NoHost { .. })
        ));
        assert_eq!(
            p.block("not a domain"),
            Err(PolicyError::InvalidDomain {
                input: "not a domain".into()
            })
        );
    }
}
