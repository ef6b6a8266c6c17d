//! ActivityStreams media types: the constants archipel sends and the one
//! parser that decides what a `Content-Type` (or a JRD link's `type`) names.
//!
//! ActivityPub §3.2 and §7 name two media types for ActivityStreams
//! documents: `application/activity+json`, and `application/ld+json` with the
//! `profile` parameter `"https://www.w3.org/ns/activitystreams"`. The inbox
//! holds senders to exactly that ([`is_activitystreams`]); the fetcher and
//! WebFinger read what real servers answer, which is looser, through the same
//! parser so that case, parameters and quoting are handled in one place.

use crate::vocab::AS_CONTEXT;

/// The ActivityPub media type (ActivityPub §3.2), what archipel sends.
pub const ACTIVITY_JSON: &str = "application/activity+json";

/// The JSON-LD form of the ActivityStreams media type (ActivityPub §3.2).
pub const LD_JSON_ACTIVITYSTREAMS: &str =
    "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Longest media type value examined; longer values are refused.
const MAX_LEN: usize = 1024;

/// Most parameters examined on one media type; more are refused.
const MAX_PARAMS: usize = 16;

/// What a media type value names, as far as ActivityPub cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    /// `application/activity+json`, with any parameters.
    ActivityJson,
    /// `application/ld+json`; `profile` is `None` without a profile
    /// parameter, else whether it lists the ActivityStreams profile.
    LdJson {
        activitystreams_profile: Option<bool>,
    },
    /// Plain `application/json`.
    Json,
    /// Anything else, or a value too long or with too many parameters.
    Other,
}

impl MediaKind {
    /// Classifies a media type value. Type, subtype and parameter names are
    /// compared case-insensitively (RFC 9110 §8.3.1); the profile IRI is
    /// compared exactly, as one of a space-separated list (RFC 6906 §3.1).
    pub(crate) fn of(value: &str) -> MediaKind {
        if value.len() > MAX_LEN {
            return MediaKind::Other;
        }
        let mut parts = value.split(';');
        let essence = parts.next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case(ACTIVITY_JSON) {
            return MediaKind::ActivityJson;
        }
        if essence.eq_ignore_ascii_case("application/json") {
            return MediaKind::Json;
        }
        if !essence.eq_ignore_ascii_case("application/ld+json") {
            return MediaKind::Other;
        }
        let mut activitystreams_profile = None;
        for (index, param) in parts.enumerate() {
            if index >= MAX_PARAMS {
                return MediaKind::Other;
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
            let listed = unquoted.split_ascii_whitespace().any(|p| p == AS_CONTEXT);
            activitystreams_profile = Some(activitystreams_profile.unwrap_or(false) || listed);
        }
        MediaKind::LdJson {
            activitystreams_profile,
        }
    }
}

/// Whether a `Content-Type` value names an ActivityStreams document, as
/// ActivityPub §7 requires of a POST to an inbox.
///
/// Accepts `application/activity+json` (with any parameters, e.g. a
/// `charset`) and `application/ld+json` whose `profile` parameter lists the
/// ActivityStreams profile. Over-long or malformed values are `false`.
///
/// ```
/// use archipel::media_type::is_activitystreams;
/// assert!(is_activitystreams("application/activity+json"));
/// assert!(is_activitystreams(
///     "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
/// ));
/// assert!(!is_activitystreams("application/ld+json"));
/// assert!(!is_activitystreams("text/html"));
/// ```
pub fn is_activitystreams(value: &str) -> bool {
    matches!(
        MediaKind::of(value),
        MediaKind::ActivityJson
            | MediaKind::LdJson {
                activitystreams_profile: Some(true)
            }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_activity_json_with_charset_and_case() {
        assert!(is_activitystreams(
            "Application/Activity+JSON; charset=utf-8"
        ));
    }

    #[test]
    fn accepts_ld_json_with_profile_among_several() {
        assert!(is_activitystreams(
            "application/ld+json;profile=\"urn:x https://www.w3.org/ns/activitystreams\""
        ));
        assert!(is_activitystreams(
            "application/ld+json; PROFILE=https://www.w3.org/ns/activitystreams"
        ));
        assert!(is_activitystreams(LD_JSON_ACTIVITYSTREAMS));
    }

    #[test]
    fn refuses_other_types_and_wrong_profiles() {
        assert!(!is_activitystreams("application/json"));
        assert!(!is_activitystreams(
            "application/ld+json; profile=\"https://example.com/other\""
        ));
        assert!(!is_activitystreams(""));
        assert!(!is_activitystreams(&"a".repeat(2000)));
    }

    #[test]
    fn classifies_the_looser_forms_servers_answer_with() {
        assert_eq!(MediaKind::of("application/json"), MediaKind::Json);
        assert_eq!(
            MediaKind::of("APPLICATION/LD+JSON"),
            MediaKind::LdJson {
                activitystreams_profile: None
            }
        );
        assert_eq!(
            MediaKind::of("application/ld+json; profile=\"https://w3id.org/security/v1\""),
            MediaKind::LdJson {
                activitystreams_profile: Some(false)
            }
        );
        assert_eq!(MediaKind::of("application/jsonx"), MediaKind::Other);
        let many = format!("application/ld+json{}", ";a=b".repeat(20));
        assert_eq!(MediaKind::of(&many), MediaKind::Other);
    }
}
