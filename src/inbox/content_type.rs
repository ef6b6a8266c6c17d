//! The `Content-Type` check of the inbox pipeline (ActivityPub §7).
//!
//! ActivityPub servers POST activities with `application/activity+json`, or
//! `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`.
//! Anything else is answered `415 Unsupported Media Type`.

/// The ActivityStreams JSON-LD profile IRI (ActivityPub §3.2).
pub const ACTIVITYSTREAMS_PROFILE: &str = "https://www.w3.org/ns/activitystreams";

/// Longest `Content-Type` value examined; longer values are refused.
const MAX_CONTENT_TYPE_LEN: usize = 1024;

/// Most parameters examined on one media type; more are refused.
const MAX_PARAMS: usize = 16;

/// Whether a `Content-Type` header value names an ActivityStreams document.
///
/// Accepts `application/activity+json` (with any parameters, e.g. a
/// `charset`) and `application/ld+json` whose `profile` parameter lists the
/// ActivityStreams profile (ActivityPub §7, "MUST be…"). Type, subtype and
/// parameter names are compared case-insensitively (RFC 9110 §8.3.1); the
/// profile IRI is compared exactly. Over-long or malformed values are `false`.
///
/// ```
/// use archipel::inbox::is_activity_content_type;
/// assert!(is_activity_content_type("application/activity+json"));
/// assert!(is_activity_content_type(
///     "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
/// ));
/// assert!(!is_activity_content_type("application/ld+json"));
/// assert!(!is_activity_content_type("text/html"));
/// ```
pub fn is_activity_content_type(value: &str) -> bool {
    if value.len() > MAX_CONTENT_TYPE_LEN {
        return false;
    }
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/activity+json") {
        return true;
    }
    if !essence.eq_ignore_ascii_case("application/ld+json") {
        return false;
    }
    for (index, param) in parts.enumerate() {
        if index >= MAX_PARAMS {
            return false;
        }
        let Some((name, raw)) = param.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("profile") {
            continue;
        }
        let raw = raw.trim();
        let unquoted = raw
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(raw);
        // The profile parameter is a space-separated list of IRIs (RFC 6906 §3.1).
        if unquoted
            .split_ascii_whitespace()
            .any(|p| p == ACTIVITYSTREAMS_PROFILE)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_activity_json_with_charset_and_case() {
        assert!(is_activity_content_type(
            "Application/Activity+JSON; charset=utf-8"
        ));
    }

    #[test]
    fn accepts_ld_json_with_profile_among_several() {
        assert!(is_activity_content_type(
            "application/ld+json;profile=\"urn:x https://www.w3.org/ns/activitystreams\""
        ));
        assert!(is_activity_content_type(
            "application/ld+json; PROFILE=https://www.w3.org/ns/activitystreams"
        ));
    }

    #[test]
    fn refuses_other_types_and_wrong_profiles() {
        assert!(!is_activity_content_type("application/json"));
        assert!(!is_activity_content_type(
            "application/ld+json; profile=\"https://example.com/other\""
        ));
        assert!(!is_activity_content_type(""));
        assert!(!is_activity_content_type(&"a".repeat(2000)));
    }
}
