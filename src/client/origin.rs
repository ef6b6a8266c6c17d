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
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_without_a_host_is_empty() {
        let url = Url::parse("data:text/plain,x").unwrap();
        assert_eq!(authority(&url), "");
    }

    #[test]
    fn opaque_origins_are_never_the_same() {
        assert!(!same_origin("data:text/plain,x", "data:text/plain,x"));
        assert!(!same_origin("not a url", "https://a.example/"));
    }
}
