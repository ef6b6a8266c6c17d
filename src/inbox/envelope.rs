//! The few top-level properties the inbox needs before full decoding: `id`,
//! `type` and `actor`.
//!
//! Decoding only these (every other property is skipped without being
//! built) keeps the pre-authorisation work small; the full typed decoding
//! through the vocabulary happens once the request is authenticated.
//!
//! Each of the three is capped in length
//! ([`InboxConfig::max_iri_bytes`](super::InboxConfig::max_iri_bytes)): the
//! `id` is kept by the dedup store and echoed in logs, and nothing but the
//! body cap would otherwise bound it.

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
    /// The `actor` IRI (an array of one, or of the same IRI repeated, is
    /// read as that IRI; several distinct actors are refused).
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

/// Refuses `value` of `property` when it is longer than `limit` bytes.
fn capped<'a>(property: &'static str, value: &'a str, limit: usize) -> Result<&'a str, InboxError> {
    if value.len() > limit {
        return Err(InboxError::PropertyTooLong {
            property,
            limit,
            actual: value.len(),
        });
    }
    Ok(value)
}

/// Reads the envelope of `body`, naming the missing, malformed or overlong
/// (past `max_bytes`) property.
pub(crate) fn parse(body: &[u8], max_bytes: usize) -> Result<Envelope, InboxError> {
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
    if let Some(Value::Array(actors)) = &raw.actor {
        let distinct: std::collections::HashSet<Option<&str>> =
            actors.iter().map(reference_iri).collect();
        if distinct.len() > 1 {
            return Err(InboxError::SeveralActors {
                count: distinct.len(),
            });
        }
    }
    let id = capped("id", id, max_bytes)?;
    let kind = capped("type", kind, max_bytes)?;
    let actor = capped("actor", actor, max_bytes)?;
    Ok(Envelope {
        id: id.to_owned(),
        kind: kind.to_owned(),
        actor: actor.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = crate::inbox::InboxConfig::DEFAULT_MAX_IRI_BYTES;

    #[test]
    fn reads_embedded_actor_and_type_array() {
        let env = parse(
            br#"{"id":"https://a.example/1","type":["Follow"],"actor":{"id":"https://a.example/u"},"object":{"deep":[1,2,3]}}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(env.id, "https://a.example/1");
        assert_eq!(env.kind, "Follow");
        assert_eq!(env.actor, "https://a.example/u");
    }

    #[test]
    fn several_distinct_actors_are_refused() {
        assert!(matches!(
            parse(
                br#"{"id":"https://a.example/1","type":"Create","actor":["https://e.example/u/eve",{"id":"https://a.example/u/alice"}]}"#,
                MAX
            ),
            Err(InboxError::SeveralActors { count: 2 })
        ));
        // The same actor twice, or alone in an array, is that actor.
        let env = parse(
            br#"{"id":"https://a.example/1","type":"Create","actor":["https://a.example/u",{"id":"https://a.example/u"}]}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(env.actor, "https://a.example/u");
    }

    #[test]
    fn names_missing_property() {
        assert!(matches!(
            parse(br#"{"type":"Like","actor":"https://a.example/u"}"#, MAX),
            Err(InboxError::MissingProperty { property: "id" })
        ));
        assert!(matches!(
            parse(br#"{"id":"x","type":"Like"}"#, MAX),
            Err(InboxError::MissingProperty { property: "actor" })
        ));
        assert!(matches!(
            parse(b"[1,2", MAX),
            Err(InboxError::InvalidJson { .. })
        ));
    }

    #[test]
    fn caps_each_property_at_the_limit() {
        let at = format!("https://a.example/{}", "x".repeat(MAX - 18));
        assert_eq!(at.len(), MAX);
        let body = |id: &str, kind: &str, actor: &str| {
            serde_json::json!({"id": id, "type": kind, "actor": actor}).to_string()
        };
        let ok = parse(body(&at, "Like", &at).as_bytes(), MAX).unwrap();
        assert_eq!(ok.id.len(), MAX);
        let over = format!("{at}y");
        for (property, b) in [
            ("id", body(&over, "Like", &at)),
            ("type", body(&at, &over, &at)),
            ("actor", body(&at, "Like", &over)),
        ] {
            match parse(b.as_bytes(), MAX) {
                Err(InboxError::PropertyTooLong {
                    property: p,
                    limit,
                    actual,
                }) => {
                    assert_eq!((p, limit, actual), (property, MAX, MAX + 1));
                }
                other => panic!("{property}: expected PropertyTooLong, got {other:?}"),
            }
        }
    }
}
