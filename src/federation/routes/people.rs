//! What the routes need from the application about people: how its
//! owners authenticate ([`OwnerAuth`], [`BearerToken`]) and the pages it
//! shows browsers ([`Pages`], [`escape_html`]).

use std::sync::Arc;

use http::{HeaderMap, header};

use crate::federation::local::LocalActor;
use crate::vocab::AnyObject;

/// How the application recognizes the owner of a local actor on a GET:
/// `true` when the request's headers authenticate as `actor`'s owner (see
/// [`Routes::with_owner_auth`](super::Routes::with_owner_auth)).
pub type OwnerAuth = Arc<dyn Fn(&HeaderMap, &LocalActor) -> bool + Send + Sync>;

/// A bearer token (RFC 6750 §2.1) that authenticates a local actor's
/// owner: the `Authorization: Bearer <token>` header, compared in constant
/// time so its timing does not reveal how much of a guess was right. Its
/// `Debug` hides the token. For [`Routes::with_owner_auth`](super::Routes::with_owner_auth) and the
/// application's own protected routes.
///
/// ```
/// use archipel::federation::routes::BearerToken;
/// use http::HeaderMap;
/// let token = BearerToken::new("s3cret");
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "Bearer s3cret".parse()?);
/// assert!(token.matches(&headers));
/// headers.insert("authorization", "Bearer s3cre".parse()?);
/// assert!(!token.matches(&headers));
/// assert_eq!(BearerToken::random()?.as_str().len(), 32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    /// The token `token` (an empty one matches no request).
    pub fn new(token: impl Into<String>) -> BearerToken {
        BearerToken(token.into())
    }

    /// A fresh token of 16 random bytes, hex.
    ///
    /// # Errors
    /// [`FederationError::Random`](crate::federation::FederationError::Random) if the
    /// operating system's random source fails.
    pub fn random() -> Result<BearerToken, crate::federation::FederationError> {
        crate::federation::Paths::new_id()
            .map(BearerToken)
            .map_err(|e| crate::federation::FederationError::Random(e.to_string()))
    }

    /// The token, to show its holder once.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `headers` carry this token as `Authorization: Bearer`.
    pub fn matches(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.matches_str(given)
    }

    /// Whether `given` (a form field, a cookie value) is this token,
    /// compared in constant time like [`matches`](Self::matches): for a
    /// page a browser opens, which cannot send an `Authorization` header.
    pub fn matches_str(&self, given: &str) -> bool {
        let (a, b) = (given.trim().as_bytes(), self.0.as_bytes());
        !b.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The application's HTML pages, for browsers (see [`Routes::with_pages`](super::Routes::with_pages)).
/// Each method answers the page's HTML, or `None` to serve JSON instead.
/// Escape what you show ([`escape_html`]): a post's content is the
/// poster's text.
#[async_trait::async_trait]
pub trait Pages: Send + Sync {
    /// The page of a local actor (their profile).
    async fn actor(&self, actor: &LocalActor) -> Option<String>;

    /// The page of an object or activity of `author` that the reader may
    /// see (the serving guard already allowed it), without `bto`/`bcc`.
    async fn object(&self, object: &AnyObject, author: &LocalActor) -> Option<String>;
}

/// Escapes text for HTML element content and quoted attribute values.
///
/// ```
/// use archipel::federation::routes::escape_html;
/// assert_eq!(escape_html(r#"<a href="x">'&'</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
/// ```
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
