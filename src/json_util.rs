//! Small JSON helpers shared by the signed-object modules
//! ([`proof`](crate::proof) and [`ldsig`](crate::ldsig)), so that both name
//! offending input the same way in their errors.

use serde_json::{Map, Value};

/// The JSON kind of `v` with its article (`an object`, `a string`), for
/// error messages.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `v` as a JSON object, or the [`json_kind`] found instead (each module
/// wraps it in its own error).
// `proof` keeps its own wrapper for now.
#[cfg_attr(not(feature = "ld-signatures"), allow(dead_code))]
pub(crate) fn as_object(v: &Value) -> Result<&Map<String, Value>, &'static str> {
    v.as_object().ok_or_else(|| json_kind(v))
}

/// Cuts a value quoted in an error to a readable length (100 characters),
/// on a character boundary: remote input can be a megabyte long.
pub(crate) fn cut(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_objects_and_cuts() {
        assert_eq!(json_kind(&json!([1])), "an array");
        assert_eq!(json_kind(&json!(null)), "null");
        assert_eq!(as_object(&json!("x")), Err("a string"));
        assert_eq!(as_object(&json!({"a": 1})).map(Map::len), Ok(1));
        assert_eq!(cut(&"é".repeat(150)).chars().count(), 100);
    }
}
