//! The stored form of one accepted activity: what the inbox established
//! (the [`Verified`] facts, the id, type and actor it read) followed by the
//! exact received bytes, so an [`Incoming`] is rebuilt after a restart
//! without verifying again and without any network request.
//!
//! Layout (version 1): one version byte `1`, a 4-byte big-endian length
//! `n`, `n` bytes of JSON facts, then the body, verbatim.

use bytes::Bytes;

use super::InboundError;
use crate::inbox::{Authenticity, Incoming};
use crate::signatures::{Algorithm, Spec, Verified};
use crate::vocab::{AnyObject, Iri};

/// The only layout written so far.
const VERSION: u8 = 1;

/// The largest facts header read back (ids are capped at a few KiB by the
/// inbox; this leaves room and refuses a corrupted length early).
const MAX_FACTS: usize = 64 * 1024;

/// What the inbox established, as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct Facts {
    id: String,
    kind: String,
    actor: String,
    key_id: String,
    owner: String,
    spec: Spec,
    algorithm: String,
    /// Absent from envelopes written before forwarding: a direct delivery.
    #[serde(default = "direct", skip_serializing_if = "Authenticity::is_direct")]
    authenticity: Authenticity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    forwarded_by: Option<String>,
}

fn direct() -> Authenticity {
    Authenticity::HttpSignature
}

/// Encodes `incoming` as a stored envelope.
pub(super) fn encode(incoming: &Incoming) -> Result<Bytes, InboundError> {
    let facts = Facts {
        id: incoming.id.as_str().to_owned(),
        kind: incoming.kind.clone(),
        actor: incoming.actor.as_str().to_owned(),
        key_id: incoming.verified.key_id.as_str().to_owned(),
        owner: incoming.verified.owner.as_str().to_owned(),
        spec: incoming.verified.spec,
        algorithm: incoming.verified.algorithm.as_str().to_owned(),
        authenticity: incoming.authenticity.clone(),
        forwarded_by: incoming
            .forwarded_by
            .as_ref()
            .map(|i| i.as_str().to_owned()),
    };
    let json = serde_json::to_vec(&facts).map_err(|e| InboundError::Envelope {
        activity: crate::inbox::echo(incoming.id.as_str()),
        reason: e.to_string(),
    })?;
    let len = u32::try_from(json.len())
        .ok()
        .filter(|n| (*n as usize) <= MAX_FACTS)
        .ok_or_else(|| InboundError::Envelope {
            activity: crate::inbox::echo(incoming.id.as_str()),
            reason: format!("facts of {} bytes, over {MAX_FACTS}", json.len()),
        })?;
    let mut out = Vec::with_capacity(5 + json.len() + incoming.body.len());
    out.push(VERSION);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&incoming.body);
    Ok(Bytes::from(out))
}

/// Rebuilds the [`Incoming`] stored as `stored` for `activity` (its id, to
/// name it in an error).
#[cfg_attr(not(feature = "delivery"), allow(dead_code))]
pub(super) fn decode(activity: &str, stored: &Bytes) -> Result<Incoming, InboundError> {
    let fail = |reason: String| InboundError::Envelope {
        activity: crate::inbox::echo(activity),
        reason,
    };
    let (&version, rest) = stored
        .split_first()
        .ok_or_else(|| fail("empty envelope".into()))?;
    if version != VERSION {
        return Err(fail(format!("unknown envelope version {version}")));
    }
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| fail("truncated envelope length".into()))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_FACTS || len > rest.len() {
        return Err(fail(format!(
            "facts length {len} exceeds the envelope's {} bytes",
            rest.len()
        )));
    }
    let (json, body) = rest.split_at(len);
    let facts: Facts = serde_json::from_slice(json).map_err(|e| fail(format!("facts: {e}")))?;
    let algorithm = algorithm_named(&facts.algorithm)
        .ok_or_else(|| fail(format!("unknown algorithm {:?}", facts.algorithm)))?;
    // The body offset is known: slice the stored bytes without copying.
    let body = stored.slice(stored.len() - body.len()..);
    let parsed = AnyObject::from_slice(&body).map_err(|e| fail(format!("body: {e}")))?;
    let iri = |s: String, what: &str| {
        Iri::parse(&s).map_err(|e| fail(format!("{what} {:?}: {e}", crate::inbox::echo(&s))))
    };
    Ok(Incoming {
        id: iri(facts.id, "id")?,
        kind: facts.kind,
        actor: iri(facts.actor, "actor")?,
        verified: Verified {
            key_id: iri(facts.key_id, "key id")?,
            owner: iri(facts.owner, "owner")?,
            spec: facts.spec,
            algorithm,
        },
        authenticity: facts.authenticity,
        forwarded_by: facts
            .forwarded_by
            .map(|f| iri(f, "forwarder"))
            .transpose()?,
        activity: parsed,
        body,
    })
}

fn algorithm_named(name: &str) -> Option<Algorithm> {
    [
        Algorithm::RsaV1_5Sha256,
        Algorithm::RsaPssSha512,
        Algorithm::Ed25519,
    ]
    .into_iter()
    .find(|a| a.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming() -> Incoming {
        let body = Bytes::from_static(
            br#"{"id":"https://b.example/a/1","type":"Like","actor":"https://b.example/u/bob","object":"https://a.example/n/1"}"#,
        );
        Incoming {
            id: Iri::new_unchecked("https://b.example/a/1"),
            kind: "Like".into(),
            actor: Iri::new_unchecked("https://b.example/u/bob"),
            verified: Verified {
                key_id: Iri::new_unchecked("https://b.example/u/bob#main-key"),
                owner: Iri::new_unchecked("https://b.example/u/bob"),
                spec: Spec::Rfc9421,
                algorithm: Algorithm::Ed25519,
            },
            authenticity: crate::inbox::Authenticity::HttpSignature,
            forwarded_by: None,
            activity: AnyObject::from_slice(&body).unwrap(),
            body,
        }
    }

    #[test]
    fn round_trip_keeps_every_fact_and_the_exact_bytes() {
        let original = incoming();
        let stored = encode(&original).unwrap();
        let back = decode("https://b.example/a/1", &stored).unwrap();
        assert_eq!(back.id, original.id);
        assert_eq!(back.kind, "Like");
        assert_eq!(back.actor, original.actor);
        assert_eq!(back.verified, original.verified);
        assert_eq!(back.body, original.body);
    }

    #[test]
    fn a_forwarded_activity_keeps_how_and_by_whom() {
        let mut forwarded = incoming();
        forwarded.authenticity = Authenticity::Refetched {
            from: Iri::new_unchecked("https://b.example/a/1"),
        };
        forwarded.forwarded_by = Some(Iri::new_unchecked("https://c.example/u/carol"));
        let back = decode("https://b.example/a/1", &encode(&forwarded).unwrap()).unwrap();
        assert_eq!(back.authenticity, forwarded.authenticity);
        assert_eq!(back.forwarded_by, forwarded.forwarded_by);
        // A direct delivery's envelope is written as before forwarding.
        let direct = encode(&incoming()).unwrap();
        assert!(!String::from_utf8_lossy(&direct).contains("authenticity"));
    }

    #[test]
    fn corrupt_envelopes_are_typed_errors() {
        let stored = encode(&incoming()).unwrap();
        for bad in [
            Bytes::new(),
            Bytes::from_static(&[2, 0, 0, 0, 0]),
            Bytes::from_static(&[1, 0, 0]),
            Bytes::from_static(&[1, 0, 0, 0, 9, b'{']),
            stored.slice(..stored.len() - 3),
        ] {
            let err = decode("https://b.example/a/1", &bad).unwrap_err();
            assert!(
                matches!(&err, InboundError::Envelope { activity, .. } if activity == "https://b.example/a/1"),
                "{err}"
            );
        }
    }
}
