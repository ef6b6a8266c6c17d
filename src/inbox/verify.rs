//! The signature step: the [`VerifyRequest`] seam the inbox calls, and
//! [`ActorKeyResolver`], a [`KeyResolver`] that fetches the signer's key
//! from its actor document, checked the way every fetched object is.

mod key_document;
mod limits;
mod resolver;

use bytes::Bytes;

pub use resolver::ActorKeyResolver;
// The per-host fetch budget, shared with forwarded-activity verification.
pub(crate) use limits::HostBudget;

use crate::signatures::{KeyResolver, SignatureError, Verified, Verifier};

/// Verifies the HTTP signature of an inbox request.
///
/// Implemented for [`Verifier`]; an application can wrap it (metrics, an
/// extra allow-list of keys) or, in tests, replace it.
#[async_trait::async_trait]
pub trait VerifyRequest: Send + Sync {
    /// Verifies `request` and says who signed it.
    async fn verify_request(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<Verified, SignatureError>;
}

#[async_trait::async_trait]
impl<R: KeyResolver + 'static> VerifyRequest for Verifier<R> {
    async fn verify_request(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<Verified, SignatureError> {
        self.verify(request).await
    }
}
