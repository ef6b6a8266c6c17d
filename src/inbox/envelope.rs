//! The few top-level properties the inbox needs before full decoding: `id`,
//! `type` and `actor`.
//!
//! Decoding only these (every other property is skipped without being
//! built) keeps the pre-authorisation work small; the full typed decoding
//! through the vocabulary happens once the request is authenticated.

use serde::Deserialize;
use serde_json::Value;

use super::InboxError;

/// The routing properties of an incoming activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The activity's `id`.
    pub id: String,
    /// The first `type` value.
    pub kind: String,
    /// The `actor` IRI (the first one, if several are given).
    pub actor: String,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default, rename = "type")]
    kind: Option<Value>,
    #[serde(default)]
    actor: Option<Value>,
}

/// The IRI of a reference that may be a string, an embedded object with an
/// `id`, or an array of those (the first is taken).
pub(crate) fn reference_iri(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        Value::Array(items) => items.first().and_then(reference_iri),
        _ => None,
    }
}

fn first_string(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        Value::Array(items) => items.first().and_then(Value::as_str),
        _ => None,
    }
}

/// Reads the envelope of `body`, naming the missing or malformed property.
pub(crate) fn parse(body: &[u8]) -> Result<Envelope, InboxError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| InboxError::InvalidJson {
        reason: e.to_string(),
    })?;
    let id = raw
        .id
        .as_ref()
        .and_then(Value::as_str)
        .ok_or(InboxError::MissingProperty { property: "id" })?;
    let kind = raw
        .kind
        .as_ref()
        .and_then(first_string)
        .ok_or(InboxError::MissingProperty { property: "type" })?;
    let actor = raw
        .actor
        .as_ref()
        .and_then(reference_iri)
        .ok_or(InboxError::MissingProperty { property: "actor" })?;
    Ok(Envelope {
        id: id.to_owned(),
        kind: kind.to_owned(),
        actor: actor.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_embedded_actor_and_type_array() {
        let env = parse(
            br#"{"id":"https://a.example/1","type":["Follow"],"actor":{"id":"https://a.example/u"},"object":{"deep":[1,2,3]}}"#,
        )
        .unwrap();
        assert_eq!(env.id, "https://a.example/1");
        assert_eq!(env.kind, "Follow");
        assert_eq!(env.actor, "https://a.example/u");
    }

    #[test]
    fn names_missing_property() {
        assert!(matches!(
            parse(br#"{"type":"Like","actor":"https://a.example/u"}"#),
            Err(InboxError::MissingProperty { property: "id" })
        ));
        assert!(matches!(
            parse(br#"{"id":"x","type":"Like"}"#),
            Err(InboxError::MissingProperty { property: "actor" })
        ));
        assert!(matches!(
            parse(b"[1,2"),
            Err(InboxError::InvalidJson { .. })
        ));
    }
}
