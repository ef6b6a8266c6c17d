//! The request-as-JSON format shared by `sign` and `verify`:
//! `{"method":"POST","url":"https://…","headers":{"content-type":"…"},"body":"…"}`
//! (`body` may be null or absent), and a hand-rolled RFC 3339 reader for
//! `--now`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The value following `flag` in `args`.
pub fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Parses an RFC 3339 timestamp (`2021-04-20T02:07:55Z`, optional
/// fraction, `Z` or `±hh:mm`).
pub fn parse_rfc3339(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("--now: `{s}` is not an RFC 3339 timestamp");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        s.get(r).and_then(|x| x.parse().ok()).ok_or_else(bad)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let oh: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let om: i64 = rest[4..6].parse().map_err(|_| bad())?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    // Days from civil (proleptic Gregorian), after H. Hinnant's algorithm.
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}
