//! Serving documents: who is asking ([`Requester`]), and what they get.
//!
//! The decisions, made here for every route:
//!
//! - **A signature on a GET of an object or collection is verified**,
//!   whatever the mode: a request that carries one and fails gets `401`,
//!   so a misconfigured peer learns of it instead of silently seeing less.
//!   Actors are the exception (below).
//! - **Authorized-fetch mode** ([`FederationBuilder::with_authorized_fetch`](super::FederationBuilder::with_authorized_fetch))
//!   serves actor and object documents only to signed requests, as
//!   Mastodon's secure mode does, with its two exceptions: an unsigned
//!   request for an actor gets the public-key subset
//!   ([`LocalActor::key_document`]), enough to verify that actor's
//!   signatures and no more, and the instance actor is always served in
//!   full. Neither is ever refused: a failed or blocked signature on an
//!   actor fetch gets the key subset too, and the instance actor is served
//!   without looking at the signature, so a peer that verifies our signed
//!   key fetch by fetching our instance actor's key is never asked for a
//!   signature in turn (two servers would otherwise wait on each other).
//! - **A blocked domain** signing a request gets `403`.
//! - **Objects** go through the serving guard
//!   ([`visibility`](super::visibility)): public and unlisted to anyone
//!   (signed, in authorized-fetch mode), followers-only to a follower's
//!   server, direct to an addressee, and `404` to everyone else, so the
//!   existence of a private object is not revealed.
//!
//! The functions answer plain `http::Response<Bytes>`, so any framework can
//! use them; the `axum` feature mounts them (`federation::routes`).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use super::hub::Federation;
use super::local::LocalActor;
use super::visibility::{Access, ReadGuard, Reader};
use crate::signatures::{SignatureError, Verified};
use crate::vocab::{AnyObject, Iri};

/// Who asks for a document.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Requester {
    /// No signature.
    Anonymous,
    /// A verified signature: the key and its owner.
    Signed(Verified),
}

impl Requester {
    /// The reader the serving guard sees.
    pub fn reader(&self) -> Reader {
        match self {
            Requester::Anonymous => Reader::Anonymous,
            Requester::Signed(v) => Reader::from(v),
        }
    }

    /// The verified key owner, if signed.
    pub fn owner(&self) -> Option<&Iri> {
        match self {
            Requester::Anonymous => None,
            Requester::Signed(v) => Some(&v.owner),
        }
    }
}

/// Why a document is not served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Authorized-fetch mode and the request is unsigned (`401`).
    #[error("this server serves documents only to signed requests")]
    Unsigned,
    /// The request's signature did not verify (`401`).
    #[error("GET signature: {0}")]
    Signature(#[from] SignatureError),
    /// The signer's domain is blocked (`403`).
    #[error("requests signed by {host} are refused")]
    Blocked {
        /// The signer's host.
        host: String,
    },
    /// No such document, or the reader may not know it exists (`404`).
    #[error("not found")]
    NotFound,
    /// The follow graph the guard consults failed (`500`).
    #[error("serving guard: {0}")]
    Guard(#[from] super::visibility::VisibilityError),
    /// The document could not be serialized (`500`).
    #[error("serializing the document: {0}")]
    Serialize(String),
}

impl ServeError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::Unsigned | ServeError::Signature(_) => StatusCode::UNAUTHORIZED,
            ServeError::Blocked { .. } => StatusCode::FORBIDDEN,
            ServeError::NotFound => StatusCode::NOT_FOUND,
            ServeError::Guard(_) | ServeError::Serialize(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error as a plain-text response with its status.
    pub fn into_response(self) -> Response<Bytes> {
        // A store's message stays in the server's logs, not in the answer.
        let text = if self.status().is_server_error() {
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut r = Response::new(Bytes::from(text));
        *r.status_mut() = self.status();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if matches!(self, ServeError::Unsigned | ServeError::Signature(_)) {
            // RFC 9110 §11.6.1: a 401 names the scheme to use.
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Signature"),
            );
        }
        r
    }
}

/// An object as the application stored it, for [`Federation::serve_object`].
#[derive(Debug, Clone)]
pub struct StoredObject {
    /// The object or activity, as served (never with `bto`/`bcc`).
    pub object: AnyObject,
    /// Its local author.
    pub author: Iri,
}

/// A JSON document response with the ActivityStreams media type.
pub fn activity_json<T: serde::Serialize>(document: &T) -> Response<Bytes> {
    match serde_json::to_vec(document) {
        Ok(body) => {
            let mut r = Response::new(Bytes::from(body));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::media_type::ACTIVITY_JSON),
            );
            // Responses differ by who signed: caches must not mix them.
            r.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept, Signature"));
            r
        }
        Err(e) => ServeError::Serialize(e.to_string()).into_response(),
    }
}

fn has_signature(request: &http::Request<Bytes>) -> bool {
    let h = request.headers();
    h.contains_key("signature") || h.contains_key("signature-input")
}

impl Federation {
    /// Who asks: verifies the request's signature if it has one (the URI is
    /// rebuilt from the public base first, as the inbox does), and applies
    /// the domain policy to the signer.
    ///
    /// # Errors
    /// [`ServeError::Signature`] for a signature that does not verify,
    /// [`ServeError::Blocked`] for a signer on a blocked domain.
    pub async fn requester(&self, request: &http::Request<Bytes>) -> Result<Requester, ServeError> {
        if !has_signature(request) {
            return Ok(Requester::Anonymous);
        }
        let rebased = crate::inbox::rebase_uri(request.clone(), self.paths().base());
        let verified = self.verifier().verify_request(&rebased).await?;
        if let Some(policy) = self.domain_policy() {
            let host = verified.owner.host().unwrap_or_default().to_owned();
            if !policy.allows(&host) {
                return Err(ServeError::Blocked { host });
            }
        }
        Ok(Requester::Signed(verified))
    }

    /// The document of the local actor `name` (or, with `None`, of the
    /// instance actor): in full, or the key subset to an unsigned request
    /// in authorized-fetch mode; `404` for an actor not loaded.
    pub async fn serve_actor(
        &self,
        name: Option<&str>,
        request: &http::Request<Bytes>,
    ) -> Response<Bytes> {
        let actor: LocalActor = match name {
            None => return activity_json(&self.instance_actor().document()),
            Some(n) => match self.local(n) {
                Some(a) => a,
                None => return ServeError::NotFound.into_response(),
            },
        };
        // As Mastodon: an actor is never refused. A request that is
        // unsigned, fails verification or comes from a blocked domain gets
        // the key subset in authorized-fetch mode (the full document
        // otherwise); only a verified, allowed signer gets it all in that
        // mode. Refusing here would stop peers from verifying this actor's
        // deliveries whenever our check of *their* key fails.
        if !self.authorized_fetch() {
            return activity_json(&actor.document());
        }
        if has_signature(request) && self.requester(request).await.is_ok() {
            activity_json(&actor.document())
        } else {
            activity_json(&actor.key_document())
        }
    }

    /// Serves a stored object through the serving guard: `404` when
    /// `stored` is `None` or the reader may not see it, `401` for an
    /// unsigned request in authorized-fetch mode (only once the object
    /// exists and is public: a private object stays a `404`). The served
    /// document never carries `bto` or `bcc`, at any depth.
    pub async fn serve_object(
        &self,
        stored: Option<&StoredObject>,
        request: &http::Request<Bytes>,
    ) -> Response<Bytes> {
        self.serve_object_by(stored, request, false).await
    }

    /// [`Federation::serve_object`], to the author's owner when `owner`
    /// (the application authenticated the request as the author's).
    pub(crate) async fn serve_object_by(
        &self,
        stored: Option<&StoredObject>,
        request: &http::Request<Bytes>,
        owner: bool,
    ) -> Response<Bytes> {
        let object = match self.authorize_read_by(stored, request, owner).await {
            Ok(object) => object,
            Err(e) => return e.into_response(),
        };
        // `bto`/`bcc` never leave the server (ActivityPub §6), whatever
        // form the application stored.
        match serde_json::to_value(object) {
            Ok(mut document) => {
                crate::vocab::audience::strip_hidden_audience(&mut document);
                // An object stored as a client posted it may lack
                // `@context`; JSON-LD processors (Fedify) then read nothing.
                if let Some(map) = document.as_object_mut() {
                    map.entry("@context")
                        .or_insert_with(|| crate::vocab::AS_CONTEXT.into());
                }
                activity_json(&document)
            }
            Err(e) => ServeError::Serialize(e.to_string()).into_response(),
        }
    }

    /// The guard behind [`Federation::serve_object`], for routes that
    /// render the object themselves (HTML pages, say).
    ///
    /// # Errors
    /// As [`Federation::serve_object`] answers.
    pub async fn authorize_read<'a>(
        &self,
        stored: Option<&'a StoredObject>,
        request: &http::Request<Bytes>,
    ) -> Result<&'a AnyObject, ServeError> {
        self.authorize_read_by(stored, request, false).await
    }

    /// [`Federation::authorize_read`]; with `owner`, the application
    /// vouches for the request as the author's owner, who reads it all.
    pub(crate) async fn authorize_read_by<'a>(
        &self,
        stored: Option<&'a StoredObject>,
        request: &http::Request<Bytes>,
        owner: bool,
    ) -> Result<&'a AnyObject, ServeError> {
        let Some(stored) = stored else {
            return Err(ServeError::NotFound);
        };
        let Some(author) = self.local_by_id(&stored.author) else {
            return Err(ServeError::NotFound);
        };
        if owner {
            return Ok(&stored.object);
        }
        let requester = self.requester(request).await?;
        let Some(object) = stored.object.as_object() else {
            return Err(ServeError::NotFound);
        };
        let access = ReadGuard::new(self.graph().clone())
            .check(&author, object, &requester.reader())
            .await?;
        if access != Access::Allow {
            return Err(ServeError::NotFound);
        }
        if self.authorized_fetch() && matches!(requester, Requester::Anonymous) {
            return Err(ServeError::Unsigned);
        }
        Ok(&stored.object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::testing::offline;

    #[tokio::test]
    async fn a_served_object_never_names_its_hidden_recipients() {
        let (fed, _) = offline(|b| b).await;
        let alice = fed.actor("alice").await.unwrap();
        let object = AnyObject::from_value(&serde_json::json!({
            "id": "https://a.example/objects/1",
            "type": "Note",
            "attributedTo": alice.id().as_str(),
            "to": "https://www.w3.org/ns/activitystreams#Public",
            "bcc": "https://c.example/users/carol",
            "attachment": {"type": "Note", "bto": "https://c.example/users/dave"}
        }))
        .unwrap();
        let stored = StoredObject {
            object,
            author: alice.id().clone(),
        };
        let request = http::Request::get("https://a.example/objects/1")
            .body(Bytes::new())
            .unwrap();
        let response = fed.serve_object(Some(&stored), &request).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["id"], "https://a.example/objects/1");
        let text = body.to_string();
        assert!(!text.contains("carol") && !text.contains("dave"), "{text}");
    }
}
