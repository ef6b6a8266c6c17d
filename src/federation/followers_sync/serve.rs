//! The partial followers collection: one server's followers, to that
//! server only.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::federation::hub::Federation;
use crate::federation::serve::{Requester, ServeError, activity_json};
use crate::vocab::{Collection, Iri, Kind, Object, OneOrMany, Reference};

impl Federation {
    /// The answer to `GET /users/{name}/followers_synchronization`
    /// (FEP-8fcf): an `OrderedCollection` of `name`'s followers on the
    /// server of the request's signer, and of no other server.
    ///
    /// `401` to an unsigned request, the signature's error to a bad one,
    /// `404` for an unknown actor or with synchronization off, `500` past
    /// [`FollowersSyncConfig::max_items`](super::FollowersSyncConfig::max_items)
    /// followers there (the sender sends no header in that case either).
    /// Never cached by intermediaries: the answer depends on the signer.
    pub async fn serve_followers_sync(
        &self,
        name: &str,
        request: &http::Request<Bytes>,
    ) -> Response<Bytes> {
        let config = &self.inner.followers_sync.config;
        let not_found = || {
            let mut r = Response::new(Bytes::from_static(b"not found"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        };
        if !config.enabled {
            return not_found();
        }
        let Some(actor) = self.local(name) else {
            return not_found();
        };
        let signer = match self.requester(request).await {
            Ok(Requester::Signed(v)) => v.owner,
            Ok(Requester::Anonymous) => return ServeError::Unsigned.into_response(),
            Err(e) => return e.into_response(),
        };
        // Keyed as the follower graph keys its rows.
        let Some(authority) = crate::client::origin::authority_of(signer.as_str()) else {
            return ServeError::Unsigned.into_response();
        };
        let Some((_, id)) = self.partial_collection_of(actor.id()) else {
            return not_found();
        };
        let items = match self
            .graph()
            .followers_on_host(
                actor.id(),
                &authority,
                None,
                config.max_items.saturating_add(1),
            )
            .await
        {
            Ok(items) if items.len() <= config.max_items => items,
            _ => {
                let mut r = Response::new(Bytes::from_static(b"internal error"));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return r;
            }
        };
        let mut r = activity_json(&partial_collection(id, items));
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        r
    }
}

/// The `OrderedCollection` `id` listing `items` inline.
fn partial_collection(id: Iri, items: Vec<Iri>) -> Collection {
    Collection {
        base: Box::new(Object::new(Kind::OrderedCollection.as_str()).with_id(id)),
        total_items: Some(items.len() as u64),
        ordered_items: Some(OneOrMany::Many(
            items.into_iter().map(Reference::Iri).collect(),
        )),
        ..Collection::default()
    }
}
