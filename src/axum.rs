//! [axum](https://docs.rs/axum) integration (feature `axum`): inbox
//! extractors, ActivityStreams responses and content negotiation.
//!
//! - [`InboxRequest`] collects a bounded body into the framework-neutral
//!   `http::Request<Bytes>` the [`Inbox`] pipeline takes;
//! - [`VerifiedActivity`] runs the whole pipeline as an extractor, so a
//!   handler receives only verified, deduplicated activities (refusals
//!   answer the sender with the status [`InboxError::status`] gives);
//! - [`ActivityJson`] / [`JrdJson`] serve documents with the right
//!   `Content-Type`;
//! - [`wants_html`] tells a browser from an ActivityPub client, and
//!   [`negotiate`] serves a document or a page accordingly;
//! - [`webfinger_routes`] and [`nodeinfo_routes`] mount the discovery
//!   endpoints (RFC 7033, NodeInfo 2.1/2.0) around the app's own lookups.
//!
//! ```no_run
//! use std::sync::Arc;
//! use archipel::axum::VerifiedActivity;
//! use archipel::inbox::Inbox;
//! use axum::{Router, routing::post};
//!
//! async fn inbox(VerifiedActivity(incoming): VerifiedActivity) -> axum::http::StatusCode {
//!     println!("{} from {}", incoming.kind, incoming.actor);
//!     axum::http::StatusCode::ACCEPTED
//! }
//!
//! fn router(pipeline: Inbox) -> Router {
//!     Router::new().route("/inbox", post(inbox)).with_state(pipeline)
//! }
//! ```

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use crate::inbox::{Inbox, InboxConfig, InboxError, Incoming};
use crate::media_type::ACTIVITY_JSON;
use crate::nodeinfo::{NodeInfo, NodeInfoLinks};
use crate::webfinger::{Jrd, Resource};

/// The JRD media type (RFC 7033 §10.2).
pub const JRD_JSON: &str = "application/jrd+json";

impl IntoResponse for InboxError {
    /// The status of [`InboxError::status`] with the message as plain text,
    /// so the sending server's logs say why it was refused.
    ///
    /// No `Accept-Signature` challenge: the error alone does not know the
    /// inbox's signature policy, and a challenge for another policy would
    /// ask for a signature the inbox then refuses. [`InboxRefusal::new`]
    /// (what [`VerifiedActivity`] and the federation routes answer with)
    /// adds the inbox's own.
    fn into_response(self) -> Response {
        InboxRefusal::from(self).into_response()
    }
}

/// An inbox refusal as answered to the sender: the error, and the RFC 9421
/// §5.1 `Accept-Signature` challenge the inbox asks with when the refusal
/// is about the signature's *form* (unsigned, a dialect, algorithm or
/// component its policy wants otherwise:
/// [`calls_for_challenge`](crate::signatures::accept_signature::calls_for_challenge)),
/// so a sender that reads it can sign again as asked (feature `rfc9421`).
///
/// The challenge is built from the inbox's own
/// [`VerifyPolicy`](crate::signatures::VerifyPolicy)
/// ([`Inbox::verify_policy`]); a verifier that does not tell its policy
/// gets no challenge, never a guessed one.
#[derive(Debug)]
#[non_exhaustive]
pub struct InboxRefusal {
    /// Why the inbox refused the request.
    pub error: InboxError,
    /// The `Accept-Signature` value sent with it, if any.
    pub challenge: Option<HeaderValue>,
}

impl InboxRefusal {
    /// `error` as `inbox` answers it, with the challenge of its policy
    /// when the error is about the signature's form. Inbox deliveries
    /// carry a body, so the digest is asked for when the policy wants it.
    pub fn new(inbox: &Inbox, error: InboxError) -> Self {
        #[cfg(feature = "rfc9421")]
        let challenge = challenge(inbox, &error);
        #[cfg(not(feature = "rfc9421"))]
        let challenge = {
            let _ = inbox;
            None
        };
        InboxRefusal { error, challenge }
    }
}

impl From<InboxError> for InboxRefusal {
    /// The refusal without a challenge.
    fn from(error: InboxError) -> Self {
        InboxRefusal {
            error,
            challenge: None,
        }
    }
}

impl IntoResponse for InboxRefusal {
    /// The status of [`InboxError::status`], the message as plain text,
    /// and the `Accept-Signature` challenge if there is one.
    fn into_response(self) -> Response {
        let mut response = (
            self.error.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.error.to_string(),
        )
            .into_response();
        if let Some(value) = self.challenge {
            response.headers_mut().insert("accept-signature", value);
        }
        response
    }
}

/// The `Accept-Signature` value `inbox` answers `error` with, when it
/// refuses the signature's form and the inbox's policy is known.
#[cfg(feature = "rfc9421")]
fn challenge(inbox: &Inbox, error: &InboxError) -> Option<HeaderValue> {
    use crate::signatures::accept_signature::{AcceptSignature, calls_for_challenge};
    let form = match error {
        InboxError::Unsigned => true,
        InboxError::Signature(e) => calls_for_challenge(e),
        _ => false,
    };
    if !form {
        return None;
    }
    AcceptSignature::for_policy(inbox.verify_policy()?, true)?.to_header()
}

/// A request extension that sets how many body bytes [`InboxRequest`] reads.
///
/// Without it the default [`InboxConfig::max_body_bytes`] applies; add it
/// with a layer (`axum::Extension(InboxBodyLimit(1 << 20))`) to change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboxBodyLimit(pub usize);

/// An incoming request with its body collected, at most the body limit.
///
/// A longer body is refused with `413` *while reading*, so an oversize
/// upload is never held in memory.
#[derive(Debug)]
pub struct InboxRequest(pub http::Request<Bytes>);

impl<S: Send + Sync> FromRequest<S> for InboxRequest {
    type Rejection = InboxError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let limit = req
            .extensions()
            .get::<InboxBodyLimit>()
            .map_or(InboxConfig::default().max_body_bytes, |l| l.0);
        collect(req, limit).await.map(Self)
    }
}

async fn collect(req: Request, limit: usize) -> Result<http::Request<Bytes>, InboxError> {
    let (parts, body) = req.into_parts();
    crate::inbox::check_size(&parts.headers, 0, limit)?;
    let bytes =
        ::axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| InboxError::BodyTooLarge {
                limit,
                actual: limit.saturating_add(1),
            })?;
    Ok(http::Request::from_parts(parts, bytes))
}

/// An activity that passed the whole [`Inbox`] pipeline.
///
/// The router's state must provide an [`Inbox`] (`Inbox: FromRef<S>`); give
/// the inbox a public base URL ([`Inbox::with_public_base`]) so RFC 9421
/// `@target-uri` is not taken from the `Host` header. A refused request is
/// answered with the [`InboxRefusal`] (status from [`InboxError::status`],
/// and the inbox's `Accept-Signature` challenge when the signature's form
/// was refused);
/// a duplicate gets `202` and never reaches the handler.
#[derive(Debug)]
pub struct VerifiedActivity(pub Incoming);

impl<S> FromRequest<S> for VerifiedActivity
where
    S: Send + Sync,
    Inbox: FromRef<S>,
{
    type Rejection = InboxRefusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let inbox = Inbox::from_ref(state);
        let request = collect(req, inbox.config().max_body_bytes).await?;
        inbox
            .receive(&request)
            .await
            .map(Self)
            .map_err(|e| InboxRefusal::new(&inbox, e))
    }
}

/// A JSON body served as `application/activity+json`.
#[derive(Debug, Clone)]
pub struct ActivityJson<T>(pub T);

impl<T: Serialize> IntoResponse for ActivityJson<T> {
    fn into_response(self) -> Response {
        json_response(&self.0, ACTIVITY_JSON)
    }
}

/// A WebFinger JRD served as `application/jrd+json` (RFC 7033 §4.2).
#[derive(Debug, Clone)]
pub struct JrdJson<T>(pub T);

impl<T: Serialize> IntoResponse for JrdJson<T> {
    fn into_response(self) -> Response {
        let mut response = json_response(&self.0, JRD_JSON);
        // RFC 7033 §5: WebFinger resources should be readable cross-origin.
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        response
    }
}

fn json_response<T: Serialize>(value: &T, content_type: &'static str) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept"));
            response
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether the client prefers HTML over an ActivityStreams document.
///
/// `true` when `Accept` mentions `text/html` and neither
/// `application/activity+json` nor `application/ld+json` (what browsers
/// send); `false` for ActivityPub clients and when `Accept` is absent, so
/// that servers get JSON by default (ActivityPub §3.2).
///
/// ```
/// use axum::http::{HeaderMap, HeaderValue, header};
/// let mut h = HeaderMap::new();
/// h.insert(header::ACCEPT, HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"));
/// assert!(archipel::axum::wants_html(&h));
/// h.insert(header::ACCEPT, HeaderValue::from_static("application/activity+json"));
/// assert!(!archipel::axum::wants_html(&h));
/// ```
pub fn wants_html(headers: &HeaderMap) -> bool {
    let mut html = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',').take(64) {
            let essence = item
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            match essence.as_str() {
                "application/activity+json" | "application/ld+json" => return false,
                "text/html" | "application/xhtml+xml" => html = true,
                _ => {}
            }
        }
    }
    html
}

/// Serves `document` as `application/activity+json` to ActivityPub clients
/// and `html` to browsers ([`wants_html`]), with `Vary: Accept`.
///
/// Use it for actor, object and collection routes: the same IRI is the
/// machine-readable document and the human-readable page (ActivityPub §3.2).
pub fn negotiate<T: Serialize>(
    headers: &HeaderMap,
    document: &T,
    html: impl FnOnce() -> String,
) -> Response {
    if wants_html(headers) {
        let mut response = Response::new(Body::from(html()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        response
    } else {
        json_response(document, ACTIVITY_JSON)
    }
}

/// A router serving `GET /.well-known/webfinger` through
/// [`webfinger::respond`](crate::webfinger::respond): `lookup` maps the
/// queried [`Resource`] to the app's JRD (or `None` for `404`).
///
/// ```no_run
/// use archipel::webfinger::{Jrd, JrdLink, Resource};
/// let router: axum::Router = archipel::axum::webfinger_routes(|resource| async move {
///     let Resource::Acct(acct) = resource else { return None };
///     let mut jrd = Jrd { subject: Some(acct.to_uri()), ..Jrd::default() };
///     jrd.push_link(JrdLink::new("self", Some("application/activity+json"),
///         format!("https://social.example/users/{}", acct.user())));
///     Some(jrd)
/// });
/// ```
pub fn webfinger_routes<S, F, Fut>(lookup: F) -> ::axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    F: Fn(Resource) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<Jrd>> + Send + 'static,
{
    ::axum::Router::new().route(
        "/.well-known/webfinger",
        ::axum::routing::get(move |request: Request| {
            let lookup = lookup.clone();
            async move {
                let (parts, _) = request.into_parts();
                let request = http::Request::from_parts(parts, ());
                crate::webfinger::respond(&request, lookup)
                    .await
                    .map(Body::from)
            }
        }),
    )
}

/// A router serving NodeInfo discovery: `GET /.well-known/nodeinfo` (links
/// for `base`) and `GET /nodeinfo/2.1` and `/nodeinfo/2.0` from the document
/// `document` builds per request (so usage figures stay current).
pub fn nodeinfo_routes<S, F, Fut>(base: url::Url, document: F) -> ::axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = NodeInfo> + Send + 'static,
{
    let links = NodeInfoLinks::for_base(&base);
    let serve = |version: &'static str, document: F| {
        ::axum::routing::get(move || {
            let document = document.clone();
            async move {
                document()
                    .await
                    .for_version(version)
                    .to_response()
                    .map(Body::from)
            }
        })
    };
    ::axum::Router::new()
        .route(
            "/.well-known/nodeinfo",
            ::axum::routing::get(move || {
                let links = links.clone();
                async move { links.to_response().map(Body::from) }
            }),
        )
        .route("/nodeinfo/2.1", serve("2.1", document.clone()))
        .route("/nodeinfo/2.0", serve("2.0", document))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_accept_header_means_json() {
        assert!(!wants_html(&HeaderMap::new()));
    }

    #[test]
    fn inbox_errors_answer_with_their_status() {
        let r = InboxError::Blocked {
            host: "bad.example".into(),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn negotiate_serves_page_to_browsers_and_json_to_servers() {
        let doc = serde_json::json!({"type": "Person"});
        let mut browser = HeaderMap::new();
        browser.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        let page = negotiate(&browser, &doc, || "<p>hi</p>".to_owned());
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(page.headers()[header::VARY], "Accept");
        let mut server = HeaderMap::new();
        server.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            ),
        );
        let json = negotiate(&server, &doc, || unreachable!("no page for servers"));
        assert_eq!(json.headers()[header::CONTENT_TYPE], ACTIVITY_JSON);
    }

    #[test]
    fn activity_json_sets_content_type() {
        let r = ActivityJson(serde_json::json!({"type": "Note"})).into_response();
        assert_eq!(r.headers()[header::CONTENT_TYPE], ACTIVITY_JSON);
    }
}
