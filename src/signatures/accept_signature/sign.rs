//! Signing a request in the form a receiver asked for.

use bytes::Bytes;
use http::{HeaderValue, Request, header};

use super::{AcceptSignatureError, SignatureRequest};
use crate::clock::unix_secs;
use crate::signatures::rfc9421::{ComponentId, SignatureInput, sign_with_input};
use crate::signatures::{Algorithm, BodyDigest, SignatureError, Signer};

/// How long a signature made with a requested `expires` stays valid.
const EXPIRES_AFTER_SECS: i64 = 300;

/// Derived components a request signature can cover (RFC 9421 §2.2).
const REQUEST_DERIVED: [&str; 7] = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
];

/// Components every signature made as requested covers, whatever the
/// challenge asked: without them a signature binds no request, and a
/// malicious inbox answering `sig1=()` would obtain one it can replay
/// against any other server within its lifetime (RFC 9421 §7.2.1).
const ALWAYS_COVERED: [&str; 2] = ["@method", "@target-uri"];

/// Signs `req` (a POST with `digest` over its body, or a bodiless request)
/// as `wanted` asks, with `signer`'s key: an RFC 9421 signature labelled
/// as requested, covering the requested components in their order, then
/// whichever of `@method`, `@target-uri` and (with a body)
/// `content-digest` the request left out, with `created`
/// (always: a receiver may require a time without asking), `expires` when
/// asked (five minutes), the signer's `keyid`, the requested `alg` (or the
/// key's default), and the requested `nonce` and `tag`.
///
/// `Host` and `Date` are set as [`Signer::sign`] sets them; the
/// `Content-Digest` header is added when a digest is given, and the legacy
/// `Digest` and `Content-Length` headers when the request asks to cover
/// them. Any other requested header must already be in `req`.
///
/// The floor of covered components is not negotiable: a challenge that
/// asks for less (down to `sig1=()`) gets more rather than a refusal, so
/// an honest receiver that forgot one is still answered, and a dishonest
/// one never obtains a signature that does not name the method, the
/// target and the body it was made for.
///
/// Fails, before signing anything, when the request cannot be met
/// ([`AcceptSignatureError::is_unmet`]).
pub fn sign_as_requested(
    req: &mut Request<Bytes>,
    signer: &Signer,
    digest: Option<&BodyDigest>,
    wanted: &SignatureRequest,
) -> Result<(), AcceptSignatureError> {
    let (key_id, key, clock) = signer.parts();
    if let Some(k) = &wanted.keyid
        && k != key_id
    {
        return Err(AcceptSignatureError::KeyIdMismatch {
            wanted: k.clone(),
            ours: key_id.to_owned(),
        });
    }
    let alg = match wanted.algorithm()? {
        None => key.default_algorithm(),
        Some(a) => {
            let fits = match key.default_algorithm() {
                Algorithm::Ed25519 => a == Algorithm::Ed25519,
                _ => matches!(a, Algorithm::RsaV1_5Sha256 | Algorithm::RsaPssSha512),
            };
            if !fits {
                return Err(AcceptSignatureError::AlgorithmMismatch {
                    alg: a,
                    key: key.kind(),
                });
            }
            a
        }
    };
    let bad_header = |_| {
        AcceptSignatureError::Signature(SignatureError::InvalidRequest(
            "a header value could not be built",
        ))
    };
    if !req.headers().contains_key(header::HOST) {
        let authority = req
            .uri()
            .authority()
            .ok_or(AcceptSignatureError::Signature(
                SignatureError::InvalidRequest("request URI has no authority and no Host header"),
            ))?;
        let host = HeaderValue::from_str(authority.as_str()).map_err(bad_header)?;
        req.headers_mut().insert(header::HOST, host);
    }
    let now = clock.now();
    let date = HeaderValue::try_from(httpdate::fmt_http_date(now)).map_err(bad_header)?;
    req.headers_mut().insert(header::DATE, date);
    // A body is always covered through its digest: computed here when the
    // caller did not bring one.
    let computed =
        (digest.is_none() && !req.body().is_empty()).then(|| BodyDigest::sha256(req.body()));
    let digest = digest.or(computed.as_ref());
    if let Some(d) = digest {
        req.headers_mut()
            .insert("content-digest", d.content_digest_value().clone());
    }
    for c in &wanted.components {
        let shown = || format!("\"{}\"{}", c.name, c.params);
        if !c.params.is_empty() {
            return Err(AcceptSignatureError::UnsupportedComponent { component: shown() });
        }
        if c.name.starts_with('@') {
            if !REQUEST_DERIVED.contains(&c.name.as_str()) {
                return Err(AcceptSignatureError::UnsupportedComponent { component: shown() });
            }
            continue;
        }
        match (c.name.as_str(), digest) {
            ("digest", Some(d)) => {
                req.headers_mut().insert("digest", d.digest_value().clone());
            }
            ("content-length", _) if !req.headers().contains_key(header::CONTENT_LENGTH) => {
                let len = HeaderValue::from(req.body().len());
                req.headers_mut().insert(header::CONTENT_LENGTH, len);
            }
            (name, _) if !req.headers().contains_key(name) => {
                return Err(AcceptSignatureError::AbsentComponent {
                    component: name.to_owned(),
                });
            }
            _ => {}
        }
    }
    let mut components = wanted.components.clone();
    let floor = ALWAYS_COVERED
        .iter()
        .copied()
        .chain(digest.map(|_| "content-digest"));
    for name in floor {
        let c = ComponentId::new(name);
        if !components.contains(&c) {
            components.push(c);
        }
    }
    let created = unix_secs(now);
    let input = SignatureInput::new(
        &wanted.label,
        components,
        Some(created),
        wanted
            .expires
            .then(|| created.saturating_add(EXPIRES_AFTER_SECS)),
        Some(key_id),
        Some(alg.as_str()),
        wanted.nonce.as_deref(),
        wanted.tag.as_deref(),
    )
    .map_err(AcceptSignatureError::Signature)?;
    sign_with_input(req, &input, key, alg).map_err(AcceptSignatureError::Signature)
}
