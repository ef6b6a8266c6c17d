//! [`Paths`]: the URL layout of a server's actors, inboxes, collections
//! and objects, in one place so an IRI can never drift between the actor
//! document, the router and the delivery job.
//!
//! The layout is Mastodon's, which most software expects to see:
//!
//! | what | path |
//! |---|---|
//! | actor | `/users/{name}` |
//! | its inbox, outbox | `/users/{name}/inbox`, `/users/{name}/outbox` |
//! | its collections | `/users/{name}/followers`, `/following`, `/liked` |
//! | shared inbox | `/inbox` |
//! | instance actor | `/actor` |
//! | objects, activities | `/objects/{id}`, `/activities/{id}` |

use url::Url;

use crate::vocab::Iri;

/// The longest local username accepted (Mastodon allows 30).
pub const MAX_NAME_LEN: usize = 64;

/// Why a base URL or a local name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathsError {
    /// The base URL is not `http(s)://host[:port][/prefix]` without query
    /// or fragment.
    #[error("base URL {0:?} must be http(s) with a host and no query or fragment")]
    InvalidBase(String),
    /// A local name is empty, too long, or has characters outside
    /// `[A-Za-z0-9_.-]`.
    #[error("local name {0:?} must be 1 to 64 of [A-Za-z0-9_.-]")]
    InvalidName(String),
}

/// The URL layout under one base URL (see the module docs).
///
/// ```
/// use archipel::federation::Paths;
/// let paths = Paths::new("https://books.example".parse()?)?;
/// let alice = paths.actor("alice")?;
/// assert_eq!(alice.as_str(), "https://books.example/users/alice");
/// assert_eq!(paths.followers("alice")?.as_str(), "https://books.example/users/alice/followers");
/// assert_eq!(paths.local_name(&alice), Some("alice"));
/// assert_eq!(paths.shared_inbox().as_str(), "https://books.example/inbox");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The base, without a trailing slash (`https://host` or `https://host/prefix`).
    base: String,
    url: Url,
}

impl Paths {
    /// The layout under `base`.
    ///
    /// # Errors
    /// [`PathsError::InvalidBase`] unless `base` is `http` or `https` with a
    /// host and without query, fragment or credentials.
    pub fn new(base: Url) -> Result<Paths, PathsError> {
        if !matches!(base.scheme(), "http" | "https")
            || base.host_str().is_none()
            || base.query().is_some()
            || base.fragment().is_some()
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(PathsError::InvalidBase(base.to_string()));
        }
        let base_str = base.as_str().trim_end_matches('/').to_owned();
        Ok(Paths {
            base: base_str,
            url: base,
        })
    }

    /// The base URL as given.
    pub fn base(&self) -> &Url {
        &self.url
    }

    /// The base's authority (`host` or `host:port`), as WebFinger's `acct:`
    /// and delivery's per-host limits use it.
    pub fn authority(&self) -> String {
        crate::client::authority(&self.url)
    }

    /// Checks a local name: 1 to [`MAX_NAME_LEN`] of `[A-Za-z0-9_.-]`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn check_name(name: &str) -> Result<(), PathsError> {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && name != "."
            && name != "..";
        if ok {
            Ok(())
        } else {
            Err(PathsError::InvalidName(name.to_owned()))
        }
    }

    fn under(&self, path: &str) -> Iri {
        // `base` was a valid URL and every segment added here is checked
        // or constant, so the result is a valid absolute IRI.
        Iri::new_unchecked(format!("{}{path}", self.base))
    }

    fn user(&self, name: &str, tail: &str) -> Result<Iri, PathsError> {
        Paths::check_name(name)?;
        Ok(self.under(&format!("/users/{name}{tail}")))
    }

    /// `/users/{name}`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn actor(&self, name: &str) -> Result<Iri, PathsError> {
        self.user(name, "")
    }

    /// `/users/{name}/inbox`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn inbox(&self, name: &str) -> Result<Iri, PathsError> {
        self.user(name, "/inbox")
    }

    /// `/users/{name}/outbox`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn outbox(&self, name: &str) -> Result<Iri, PathsError> {
        self.user(name, "/outbox")
    }

    /// `/users/{name}/followers`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn followers(&self, name: &str) -> Result<Iri, PathsError> {
        self.user(name, "/followers")
    }

    /// `/users/{name}/following`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn following(&self, name: &str) -> Result<Iri, PathsError> {
        self.user(name, "/following")
    }

    /// `/users/{name}/liked`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`].
    pub fn liked(&self, name: &str) -> Result<Iri, PathsError> {
        self.user(name, "/liked")
    }

    /// `/inbox`: the shared inbox.
    pub fn shared_inbox(&self) -> Iri {
        self.under("/inbox")
    }

    /// `/actor`: the instance actor, which signs the server's GETs.
    pub fn instance_actor(&self) -> Iri {
        self.under("/actor")
    }

    /// `/actor/inbox`: the instance actor's inbox.
    pub fn instance_inbox(&self) -> Iri {
        self.under("/actor/inbox")
    }

    /// `/objects/{id}`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`] unless `id` is 1 to 64 of `[A-Za-z0-9_.-]`.
    pub fn object(&self, id: &str) -> Result<Iri, PathsError> {
        Paths::check_name(id)?;
        Ok(self.under(&format!("/objects/{id}")))
    }

    /// `/activities/{id}`.
    ///
    /// # Errors
    /// [`PathsError::InvalidName`] unless `id` is 1 to 64 of `[A-Za-z0-9_.-]`.
    pub fn activity(&self, id: &str) -> Result<Iri, PathsError> {
        Paths::check_name(id)?;
        Ok(self.under(&format!("/activities/{id}")))
    }

    /// Whether `iri` is on this server (same scheme, host and port, under
    /// the base path).
    pub fn is_local(&self, iri: &Iri) -> bool {
        iri.as_str()
            .strip_prefix(&self.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The local name of an actor IRI (`/users/{name}` exactly), if it is one.
    pub fn local_name<'a>(&self, actor: &'a Iri) -> Option<&'a str> {
        let name = actor
            .as_str()
            .strip_prefix(&self.base)?
            .strip_prefix("/users/")?;
        Paths::check_name(name).ok().map(|()| name)
    }

    /// The id part of a local object IRI (`/objects/{id}` exactly), if it is one.
    pub fn object_id<'a>(&self, object: &'a Iri) -> Option<&'a str> {
        let id = object
            .as_str()
            .strip_prefix(&self.base)?
            .strip_prefix("/objects/")?;
        Paths::check_name(id).ok().map(|()| id)
    }

    /// A fresh random id for an object or activity: 16 random bytes, hex.
    ///
    /// # Errors
    /// Only if the operating system's random source fails.
    pub fn new_id() -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths::new("https://h.example/".parse().unwrap()).unwrap()
    }

    #[test]
    fn layout_and_reverse_lookup() {
        let p = paths();
        let alice = p.actor("alice").unwrap();
        assert_eq!(alice.as_str(), "https://h.example/users/alice");
        assert_eq!(p.local_name(&alice), Some("alice"));
        assert_eq!(p.local_name(&p.followers("alice").unwrap()), None);
        assert!(p.is_local(&alice));
        assert!(!p.is_local(&Iri::new_unchecked("https://h.example.evil/users/alice")));
        assert!(!p.is_local(&Iri::new_unchecked("https://h.examplex/users/alice")));
        assert_eq!(p.instance_actor().as_str(), "https://h.example/actor");
        let obj = p.object("abc").unwrap();
        assert_eq!(p.object_id(&obj), Some("abc"));
    }

    #[test]
    fn hostile_names_and_bases_are_refused() {
        let p = paths();
        for bad in ["", "..", "a/b", "a?b", "a#b", "é", &"x".repeat(65)] {
            assert!(p.actor(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "ftp://h.example",
            "https://u:p@h.example",
            "https://h.example/?q",
            "data:text/plain,x",
        ] {
            assert!(Paths::new(bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefix_base() {
        let p = Paths::new("http://127.0.0.1:8080/fed/".parse().unwrap()).unwrap();
        assert_eq!(
            p.actor("bob").unwrap().as_str(),
            "http://127.0.0.1:8080/fed/users/bob"
        );
        assert_eq!(p.authority(), "127.0.0.1:8080");
        assert_eq!(Paths::new_id().unwrap().len(), 32);
    }
}
