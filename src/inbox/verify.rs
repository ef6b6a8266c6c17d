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

use crate::signatures::{KeyResolver, SignatureError, Verified, Verifier, VerifyPolicy};

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

    /// The policy signatures are verified with, when known: what an RFC
    /// 9421 `Accept-Signature` challenge asks for. `None` (the default for
    /// other implementations) sends no challenge rather than a wrong one.
    fn policy(&self) -> Option<&VerifyPolicy> {
        None
    }
}

#[async_trait::async_trait]
impl<R: KeyResolver + 'static> VerifyRequest for Verifier<R> {
    async fn verify_request(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<Verified, SignatureError> {
        self.verify(request).await
    }

    fn policy(&self) -> Option<&VerifyPolicy> {
        Some(Verifier::policy(self))
    }
}
