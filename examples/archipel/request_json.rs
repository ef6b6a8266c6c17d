//! The request-as-JSON format shared by `sign` and `verify`:
//! `{"method":"POST","url":"https://…","headers":{"content-type":"…"},"body":"…"}`
//! (`body` may be null or absent), and the `--now` timestamp, read with the library's
//! RFC 3339 reader.

use std::time::SystemTime;

use bytes::Bytes;
use serde_json::{Map, Value};

/// Reads a request from its JSON form.
pub fn parse_request(input: &str) -> Result<http::Request<Bytes>, String> {
    let v: Value = serde_json::from_str(input).map_err(|e| format!("request JSON: {e}"))?;
    let obj = v.as_object().ok_or("request JSON: expected an object")?;
    let method = obj
        .get("method")
        .and_then(Value::as_str)
        .ok_or("request JSON: missing \"method\"")?;
    let url = obj
        .get("url")
        .and_then(Value::as_str)
        .ok_or("request JSON: missing \"url\"")?;
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return Err("request JSON: \"body\" must be a string or null".into()),
    };
    let mut builder = http::Request::builder().method(method).uri(url);
    if let Some(headers) = obj.get("headers") {
        let headers = headers
            .as_object()
            .ok_or("request JSON: \"headers\" must be an object")?;
        for (name, value) in headers {
            let value = value
                .as_str()
                .ok_or_else(|| format!("request JSON: header {name} must be a string"))?;
            builder = builder.header(name.as_str(), value);
        }
    }
    builder
        .body(body)
        .map_err(|e| format!("request JSON: invalid request: {e}"))
}

/// Writes a request back to its JSON form (header names lower-case; a
/// repeated header keeps its values joined with `, `).
pub fn request_to_json(req: &http::Request<Bytes>) -> Value {
    let mut headers = Map::new();
    for name in req.headers().keys() {
        let joined = req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        headers.insert(name.as_str().to_owned(), Value::String(joined));
    }
    let body = if req.body().is_empty() {
        Value::Null
    } else {
        Value::String(String::from_utf8_lossy(req.body()).into_owned())
    };
    serde_json::json!({
        "method": req.method().as_str(),
        "url": req.uri().to_string(),
        "headers": headers,
        "body": body,
    })
}

/// Parses an RFC 3339 timestamp (`2021-04-20T02:07:55Z`, optional
/// fraction, `Z` or `±hh:mm`) with the library's own reader.
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    archipel::vocab::DateTime::new_unchecked(s)
        .to_system_time()
        .ok_or_else(|| format!("--now: `{s}` is not an RFC 3339 timestamp"))
}
