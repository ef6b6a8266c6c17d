//! The JSON-LD contexts compiled in; sources and licences in
//! `contexts/SOURCES.md`.

/// ActivityStreams 2.0.
pub(crate) const ACTIVITYSTREAMS: &str = "https://www.w3.org/ns/activitystreams";
/// Security vocabulary v1 (`publicKey`, `signature`, `RsaSignature2017`).
pub(crate) const SECURITY_V1: &str = "https://w3id.org/security/v1";
/// Identity v1: the context of a signature's options (Mastodon).
pub(crate) const IDENTITY_V1: &str = "https://w3id.org/identity/v1";
const DATA_INTEGRITY_V1: &str = "https://w3id.org/security/data-integrity/v1";
const MULTIKEY_V1: &str = "https://w3id.org/security/multikey/v1";
const WEBFINGER: &str = "https://purl.archive.org/socialweb/webfinger";
const MASTODON: &str = "http://joinmastodon.org/ns";
const LITEPUB: &str = "https://litepub.social/litepub/context.jsonld";

/// Every preloaded context: its canonical URL and text.
pub(crate) const ALL: &[(&str, &str)] = &[
    (
        ACTIVITYSTREAMS,
        include_str!("contexts/activitystreams.jsonld"),
    ),
    (SECURITY_V1, include_str!("contexts/security-v1.jsonld")),
    (IDENTITY_V1, include_str!("contexts/identity-v1.jsonld")),
    (
        DATA_INTEGRITY_V1,
        include_str!("contexts/security-data-integrity-v1.jsonld"),
    ),
    (
        MULTIKEY_V1,
        include_str!("contexts/security-multikey-v1.jsonld"),
    ),
    (WEBFINGER, include_str!("contexts/webfinger.jsonld")),
    (MASTODON, include_str!("contexts/joinmastodon.jsonld")),
    (LITEPUB, include_str!("contexts/litepub-0.1.jsonld")),
];

/// The canonical URL of the preloaded context `url` stands for, if any.
///
/// Besides exact URLs: ActivityStreams over `http` and with `.jsonld`
/// (both in use), the Mastodon namespace with its `#`, and Pleroma's
/// per-instance `https://HOST/schemas/litepub-0.1.jsonld`, which every
/// Pleroma and Akkoma server serves under its own name.
pub(crate) fn preloaded(url: &str) -> Option<&'static str> {
    if let Some((name, _)) = ALL.iter().find(|(name, _)| *name == url) {
        return Some(name);
    }
    match url {
        "http://www.w3.org/ns/activitystreams"
        | "https://www.w3.org/ns/activitystreams.jsonld"
        | "http://www.w3.org/ns/activitystreams.jsonld" => Some(ACTIVITYSTREAMS),
        "http://w3id.org/security/v1" => Some(SECURITY_V1),
        "http://w3id.org/identity/v1" => Some(IDENTITY_V1),
        "http://joinmastodon.org/ns#" | "https://joinmastodon.org/ns" => Some(MASTODON),
        "http://litepub.social/litepub/context.jsonld" => Some(LITEPUB),
        _ if is_pleroma_schema(url) => Some(LITEPUB),
        _ => None,
    }
}

fn is_pleroma_schema(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    matches!(parsed.scheme(), "https" | "http")
        && parsed.host_str().is_some()
        && parsed.path() == "/schemas/litepub-0.1.jsonld"
        && parsed.query().is_none()
        && parsed.fragment().is_none()
}
