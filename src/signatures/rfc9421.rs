//! RFC 9421 HTTP Message Signatures (work in progress on this branch).

use bytes::Bytes;
use http::Request;
use url::Url;

use super::verifier::{KeyResolver, Verified, Verifier};
use super::{Algorithm, BodyDigest, PrivateKey, SignatureError, Spec};

pub(crate) fn sign_request(
    _req: &mut Request<Bytes>,
    _digest: Option<&BodyDigest>,
    _key: &PrivateKey,
    _key_id: &str,
    _alg: Algorithm,
    _created: i64,
) -> Result<(), SignatureError> {
    Err(SignatureError::UnsupportedSpec(Spec::Rfc9421))
}

pub(crate) async fn verify<R: KeyResolver>(
    _v: &Verifier<R>,
    _req: &Request<Bytes>,
    _base: Option<&Url>,
    _now: i64,
) -> Result<Verified, SignatureError> {
    Err(SignatureError::UnsupportedSpec(Spec::Rfc9421))
}
