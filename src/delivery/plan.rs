//! [`DeliveryPlan`]: from an activity and its resolved recipients to the
//! unique set of inboxes to POST to, with the body serialized and digested
//! once for the whole fan-out.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use url::Url;

use super::DeliveryError;
use crate::policy::DomainPolicy;
use crate::signatures::BodyDigest;
use crate::vocab::{Actor, Iri};

/// Whether `iri` names the `Public` collection in any of its spellings (the
/// vocabulary's check, re-exported here for planners).
pub use crate::vocab::audience::is_public_iri;

/// One resolved recipient: an actor's `inbox` and, if it advertises one, its
/// `endpoints.sharedInbox` (ActivityPub §7.1.3).
///
/// Applications resolve `to`/`cc`/`bto`/`bcc`/`audience` (and expand the
/// follower collections they own) into actors, then hand those here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The actor's `id`, when known (used only to recognise `Public`).
    pub id: Option<Url>,
    /// The actor's personal `inbox`.
    pub inbox: Url,
    /// The actor's `endpoints.sharedInbox`, if advertised.
    pub shared_inbox: Option<Url>,
}

impl Recipient {
    /// A recipient with a personal inbox only.
    pub fn new(inbox: Url) -> Self {
        Recipient {
            id: None,
            inbox,
            shared_inbox: None,
        }
    }

    /// The recipient for a fetched [`Actor`]: its `inbox`, its
    /// `endpoints.sharedInbox` and its `id`.
    ///
    /// Returns `None` when the actor has no `inbox` that is a valid URL
    /// (such an actor cannot receive deliveries); an invalid `sharedInbox`
    /// is ignored.
    ///
    /// ```
    /// use archipel::delivery::Recipient;
    /// use archipel::vocab::Actor;
    /// let actor: Actor = serde_json::from_value(serde_json::json!({
    ///     "id": "https://b.example/users/bob", "type": "Person",
    ///     "inbox": "https://b.example/users/bob/inbox",
    ///     "endpoints": {"sharedInbox": "https://b.example/inbox"}
    /// })).unwrap();
    /// let r = Recipient::from_actor(&actor).unwrap();
    /// assert_eq!(r.shared_inbox.unwrap().as_str(), "https://b.example/inbox");
    /// ```
    pub fn from_actor(actor: &Actor) -> Option<Recipient> {
        let inbox = Url::parse(actor.inbox.as_ref()?.as_str()).ok()?;
        Some(Recipient {
            id: actor
                .base
                .id
                .as_ref()
                .and_then(|id| Url::parse(id.as_str()).ok()),
            inbox,
            shared_inbox: actor
                .shared_inbox()
                .and_then(|s| Url::parse(s.as_str()).ok()),
        })
    }

    /// Sets the shared inbox advertised by the actor.
    #[must_use]
    pub fn with_shared_inbox(mut self, shared: Url) -> Self {
        self.shared_inbox = Some(shared);
        self
    }

    /// Sets the actor id.
    #[must_use]
    pub fn with_id(mut self, id: Url) -> Self {
        self.id = Some(id);
        self
    }
}

/// A decision on a single host: `true` to deliver there.
pub type HostFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Options of [`DeliveryPlan::new`].
#[derive(Clone)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Hosts (authority: `host` or `host:port`) that are this server; never
    /// targeted unless [`include_local`](Self::include_local) is set.
    pub local_hosts: Vec<String>,
    /// Deliver to local inboxes too (e.g. when the app relies on its own
    /// inbox route for local fan-out).
    pub include_local: bool,
    /// Use `sharedInbox` where a recipient advertises one (default `true`).
    pub use_shared_inbox: bool,
    /// Domain policy on the way out: hosts for which this returns `false`
    /// are skipped with [`SkipReason::Blocked`].
    pub host_filter: Option<HostFilter>,
    /// Largest serialized body accepted (default 1 MiB).
    pub max_body_bytes: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            local_hosts: Vec::new(),
            include_local: false,
            use_shared_inbox: true,
            host_filter: None,
            max_body_bytes: 1 << 20,
        }
    }
}

/// Builders, one per field: the struct is `#[non_exhaustive]`, so it is
/// built from [`Default`] and adjusted.
impl PlanOptions {
    /// Sets [`local_hosts`](Self::local_hosts).
    pub fn with_local_hosts<I, S>(mut self, local_hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.local_hosts = local_hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`include_local`](Self::include_local).
    pub fn with_include_local(mut self, include_local: bool) -> Self {
        self.include_local = include_local;
        self
    }

    /// Sets [`use_shared_inbox`](Self::use_shared_inbox).
    pub fn with_use_shared_inbox(mut self, use_shared_inbox: bool) -> Self {
        self.use_shared_inbox = use_shared_inbox;
        self
    }

    /// Sets [`host_filter`](Self::host_filter): the hosts to deliver to.
    /// [`with_domain_policy`](Self::with_domain_policy) sets it from a
    /// [`DomainPolicy`].
    pub fn with_host_filter(mut self, filter: HostFilter) -> Self {
        self.host_filter = Some(filter);
        self
    }

    /// Sets [`max_body_bytes`](Self::max_body_bytes).
    pub fn with_max_body_bytes(mut self, max_body_bytes: usize) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }
}

impl PlanOptions {
    /// Applies a [`DomainPolicy`] on the way out: hosts it refuses are
    /// skipped with [`SkipReason::Blocked`]. The policy is a shared handle,
    /// so blocks added later apply to later plans.
    ///
    /// ```
    /// use archipel::delivery::PlanOptions;
    /// use archipel::policy::DomainPolicy;
    /// let policy = DomainPolicy::new();
    /// policy.block("spam.example").unwrap();
    /// let options = PlanOptions::default().with_domain_policy(policy);
    /// assert!(options.host_filter.is_some());
    /// ```
    #[must_use]
    pub fn with_domain_policy(mut self, policy: DomainPolicy) -> Self {
        self.host_filter = Some(Arc::new(move |host: &str| policy.allows(host)));
        self
    }
}

impl std::fmt::Debug for PlanOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanOptions")
            .field("local_hosts", &self.local_hosts)
            .field("include_local", &self.include_local)
            .field("use_shared_inbox", &self.use_shared_inbox)
            .field("host_filter", &self.host_filter.is_some())
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// Why a recipient produced no delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// The inbox is the `Public` collection.
    Public,
    /// The inbox is on this server and local delivery was not asked for.
    Local,
    /// The domain policy refuses the host.
    Blocked,
    /// The inbox is not an `http`/`https` URL with a host.
    NotHttp,
}

/// The serialized activity and its digest, computed once per fan-out.
///
/// Holds a [`BodyDigest`], so the `Digest` and `Content-Digest` header
/// values are also rendered once and shared by every signed request. The
/// digest is computed when first asked for, once for the body and every
/// clone of it (a queue's jobs for one activity share it): a job that is
/// never sent (an inbound queue's, kept in memory) never pays for it.
#[derive(Debug, Clone)]
pub struct PreparedBody {
    bytes: Bytes,
    digest: Arc<OnceLock<BodyDigest>>,
}

/// Equal bodies are equal bytes (the digest is a function of them, whether
/// computed yet or not).
impl PartialEq for PreparedBody {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for PreparedBody {}

impl PreparedBody {
    /// Wraps already-serialized bytes; their SHA-256 is computed when
    /// first needed.
    pub fn new(bytes: Bytes) -> Self {
        PreparedBody {
            bytes,
            digest: Arc::default(),
        }
    }

    /// Rebuilds a body from stored bytes and digest (a queue backend's row).
    ///
    /// Returns `None` when the digest does not match the bytes.
    pub fn from_parts(bytes: Bytes, sha256: [u8; 32]) -> Option<Self> {
        let digest = BodyDigest::sha256(&bytes);
        (digest.bytes() == &sha256).then(|| PreparedBody {
            bytes,
            digest: Arc::new(OnceLock::from(digest)),
        })
    }

    /// The body bytes, as sent.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The SHA-256 of the body.
    pub fn sha256(&self) -> &[u8; 32] {
        self.digest().bytes()
    }

    /// The digest with its rendered header values, for
    /// [`Signer::sign_with_digest`](crate::signatures::Signer::sign_with_digest).
    pub fn digest(&self) -> &BodyDigest {
        self.digest.get_or_init(|| BodyDigest::sha256(&self.bytes))
    }

    /// The draft-cavage `Digest` header value (RFC 3230): `SHA-256=<base64>`.
    pub fn digest_header(&self) -> &str {
        self.digest().digest_header()
    }

    /// The RFC 9530 `Content-Digest` header value: `sha-256=:<base64>:`.
    pub fn content_digest_header(&self) -> &str {
        self.digest().content_digest_header()
    }
}

/// What to send and where: the unique target inboxes of one activity and
/// its body, serialized and digested once.
///
/// Rules (ActivityPub §7.1, §7.1.3): one delivery per shared inbox;
/// personal inboxes only for recipients with no shared inbox; never the
/// `Public` collection; never this server unless asked; domain policy
/// applied; `bto` and `bcc` stripped from the body at every nesting level
/// and in every spelling (their recipients are still in the recipient list,
/// so they still receive it).
///
/// ```
/// use archipel::delivery::{DeliveryPlan, PlanOptions, Recipient};
/// use url::Url;
/// let activity = serde_json::json!({
///     "id": "https://a.example/act/1", "type": "Create",
///     "actor": "https://a.example/u/alice",
///     "to": ["https://www.w3.org/ns/activitystreams#Public"],
///     "bcc": ["https://b.example/u/bob"],
///     "object": {"type": "Note", "content": "hi"}
/// });
/// let shared = Url::parse("https://b.example/inbox").unwrap();
/// let recipients = [
///     Recipient::new(Url::parse("https://b.example/u/bob/inbox").unwrap()).with_shared_inbox(shared.clone()),
///     Recipient::new(Url::parse("https://b.example/u/carol/inbox").unwrap()).with_shared_inbox(shared.clone()),
/// ];
/// let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
/// assert_eq!(plan.inboxes(), &[shared]);
/// assert!(!String::from_utf8_lossy(plan.body().bytes()).contains("bcc"));
/// ```
#[derive(Debug, Clone)]
pub struct DeliveryPlan {
    activity_id: Iri,
    order_key: String,
    body: PreparedBody,
    inboxes: Vec<Url>,
    skipped: Vec<(Url, SkipReason)>,
}

impl DeliveryPlan {
    /// Plans the delivery of `activity` to `recipients`.
    ///
    /// `activity` is anything that serializes to a JSON object with an `id`
    /// (a vocabulary type, or a `serde_json::Value`).
    ///
    /// # Errors
    /// [`DeliveryError::Serialize`] if the activity does not serialize to a
    /// JSON object, [`DeliveryError::MissingActivityId`] if it has no string
    /// `id`, [`DeliveryError::BodyTooLarge`] past
    /// [`PlanOptions::max_body_bytes`].
    pub fn new<A, I>(
        activity: &A,
        recipients: I,
        options: &PlanOptions,
    ) -> Result<Self, DeliveryError>
    where
        A: serde::Serialize + ?Sized,
        I: IntoIterator<Item = Recipient>,
    {
        let mut value =
            serde_json::to_value(activity).map_err(|e| DeliveryError::Serialize(e.to_string()))?;
        let serde_json::Value::Object(map) = &mut value else {
            return Err(DeliveryError::Serialize(
                "activity: expected a JSON object".to_owned(),
            ));
        };
        let activity_id = match map.get("id") {
            // Kept as written, as decoding keeps every IRI (see `Iri`).
            Some(serde_json::Value::String(id)) if !id.is_empty() => Iri::new_unchecked(id.clone()),
            _ => return Err(DeliveryError::MissingActivityId),
        };
        let order_key = order_key_of(map, activity_id.as_str());
        crate::vocab::audience::strip_hidden_audience(&mut value);
        let bytes =
            serde_json::to_vec(&value).map_err(|e| DeliveryError::Serialize(e.to_string()))?;
        if bytes.len() > options.max_body_bytes {
            return Err(DeliveryError::BodyTooLarge {
                size: bytes.len(),
                max: options.max_body_bytes,
            });
        }
        let body = PreparedBody::new(Bytes::from(bytes));

        let mut seen = HashSet::new();
        let mut inboxes = Vec::new();
        let mut skipped = Vec::new();
        for r in recipients {
            let is_public = is_public_iri(r.inbox.as_str())
                || r.id.as_ref().is_some_and(|id| is_public_iri(id.as_str()));
            let target = match (&r.shared_inbox, options.use_shared_inbox) {
                (Some(shared), true) => shared.clone(),
                _ => r.inbox.clone(),
            };
            if !seen.insert(target.as_str().to_owned()) {
                continue;
            }
            let reason = if is_public || is_public_iri(target.as_str()) {
                Some(SkipReason::Public)
            } else if !matches!(target.scheme(), "http" | "https") || target.host_str().is_none() {
                Some(SkipReason::NotHttp)
            } else {
                let authority = crate::client::authority(&target);
                let host = target.host_str().unwrap_or_default();
                if !options.include_local
                    && options
                        .local_hosts
                        .iter()
                        .any(|l| l.eq_ignore_ascii_case(&authority) || l.eq_ignore_ascii_case(host))
                {
                    Some(SkipReason::Local)
                } else if options.host_filter.as_ref().is_some_and(|f| !f(host)) {
                    Some(SkipReason::Blocked)
                } else {
                    None
                }
            };
            match reason {
                Some(reason) => skipped.push((target, reason)),
                None => inboxes.push(target),
            }
        }
        Ok(DeliveryPlan {
            activity_id,
            order_key,
            body,
            inboxes,
            skipped,
        })
    }

    /// The activity's `id`, used by receivers to deduplicate.
    pub fn activity_id(&self) -> &Iri {
        &self.activity_id
    }

    /// The ordering key of the activity's jobs: the `id` of the object it is
    /// about, so that to any one inbox a `Delete` is never sent before the
    /// `Create` or `Update` of the same object enqueued earlier (a queue
    /// holds a keyed job while an older one with the same key to the same
    /// inbox is unsettled, retries included).
    ///
    /// It is the `object`'s IRI, or the `id` of an embedded `object`; for
    /// an `Undo` of an embedded activity, the key that activity had (an
    /// `Undo` of a `Follow` of bob is ordered after that `Follow`, keyed
    /// bob's IRI); with no single object with an id, the activity's own id
    /// (which orders nothing but itself).
    ///
    /// ```
    /// use archipel::delivery::{DeliveryPlan, PlanOptions};
    /// let delete = serde_json::json!({
    ///     "id": "https://a.example/act/9", "type": "Delete",
    ///     "actor": "https://a.example/u/alice",
    ///     "object": {"id": "https://a.example/notes/1", "type": "Tombstone"}
    /// });
    /// let plan = DeliveryPlan::new(&delete, [], &PlanOptions::default()).unwrap();
    /// assert_eq!(plan.order_key(), "https://a.example/notes/1");
    /// ```
    pub fn order_key(&self) -> &str {
        &self.order_key
    }

    /// The body to POST, without `bto`/`bcc`, and its digest.
    pub fn body(&self) -> &PreparedBody {
        &self.body
    }

    /// The unique inboxes to POST to, in first-seen order.
    pub fn inboxes(&self) -> &[Url] {
        &self.inboxes
    }

    /// Targets that were left out, and why.
    pub fn skipped(&self) -> &[(Url, SkipReason)] {
        &self.skipped
    }
}

/// The ordering key of an activity (see [`DeliveryPlan::order_key`]).
fn order_key_of(activity: &serde_json::Map<String, serde_json::Value>, fallback: &str) -> String {
    let Some(object) = single(activity.get("object")) else {
        return fallback.to_owned();
    };
    let object_id = reference_id(object);
    // An `Undo` reverts an earlier activity: it follows what that activity
    // was about. Only one level: an `Undo` is not itself undone.
    if has_type(activity, "Undo")
        && let serde_json::Value::Object(inner) = object
        && let Some(inner_object) = single(inner.get("object"))
        && let Some(id) = reference_id(inner_object)
    {
        return id.to_owned();
    }
    object_id.unwrap_or(fallback).to_owned()
}

/// The one value of a property, if it holds exactly one (a lone value or a
/// one-element array).
fn single(value: Option<&serde_json::Value>) -> Option<&serde_json::Value> {
    match value? {
        serde_json::Value::Array(items) => match items.as_slice() {
            [one] => Some(one),
            _ => None,
        },
        serde_json::Value::Null => None,
        one => Some(one),
    }
}

/// The IRI a reference names: the string itself, or an embedded object's `id`.
fn reference_id(value: &serde_json::Value) -> Option<&str> {
    let id = match value {
        serde_json::Value::String(iri) => iri.as_str(),
        serde_json::Value::Object(object) => object.get("id")?.as_str()?,
        _ => return None,
    };
    (!id.is_empty()).then_some(id)
}

/// Whether `object`'s `type` is (or includes) `kind`.
fn has_type(object: &serde_json::Map<String, serde_json::Value>, kind: &str) -> bool {
    match object.get("type") {
        Some(serde_json::Value::String(t)) => t == kind,
        Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some(kind)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn activity() -> serde_json::Value {
        serde_json::json!({
            "id": "https://me.example/a/1",
            "type": "Create",
            "bto": ["https://x.example/u/x"],
            "object": {"type": "Note", "bcc": ["https://y.example/u/y"], "object": [{"bto": 1}]}
        })
    }

    #[test]
    fn strips_hidden_audience_at_every_nested_object() {
        let plan = DeliveryPlan::new(&activity(), [], &PlanOptions::default()).unwrap();
        let body: serde_json::Value = serde_json::from_slice(plan.body().bytes()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"id": "https://me.example/a/1", "type": "Create",
                "object": {"type": "Note", "object": [{}]}})
        );
    }

    #[test]
    fn strips_hidden_audience_under_every_property_and_spelling() {
        let bob = "https://hidden.example/u/bob";
        let activity = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://me.example/a/2",
            "type": "Create",
            "as:bcc": bob,
            "https://www.w3.org/ns/activitystreams#bto": [bob],
            "http://www.w3.org/ns/activitystreams#bcc": [bob],
            "target": {"id": "https://me.example/c/1", "bcc": [bob]},
            "result": {"as:bto": bob},
            "origin": [{"bto": bob}],
            "instrument": {"bcc": bob},
            "object": {
                "type": "Note",
                "attachment": [{"type": "Document", "bcc": [bob]}],
                "tag": [{"type": "Mention", "href": "https://x.example/u/x", "bto": [bob]}],
                "inReplyTo": {"id": "https://x.example/n/1", "bcc": bob},
                "replies": {"type": "Collection", "items": [[{"bcc": bob}]]},
                "https://www.w3.org/ns/activitystreams#bcc": {"@id": bob}
            }
        });
        let plan = DeliveryPlan::new(&activity, [], &PlanOptions::default()).unwrap();
        let text = String::from_utf8(plan.body().bytes().to_vec()).unwrap();
        assert!(!text.contains(bob), "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": "https://me.example/a/2",
                "type": "Create",
                "target": {"id": "https://me.example/c/1"},
                "result": {},
                "origin": [{}],
                "instrument": {},
                "object": {
                    "type": "Note",
                    "attachment": [{"type": "Document"}],
                    "tag": [{"type": "Mention", "href": "https://x.example/u/x"}],
                    "inReplyTo": {"id": "https://x.example/n/1"},
                    "replies": {"type": "Collection", "items": [[{}]]}
                }
            })
        );
    }

    #[test]
    fn strips_hidden_audience_far_below_any_fixed_depth() {
        let mut deep = serde_json::json!({"type": "Note", "bcc": ["https://hidden.example/u/bob"]});
        for _ in 0..200 {
            deep = serde_json::json!({"type": "Announce", "object": [deep]});
        }
        crate::vocab::audience::strip_hidden_audience(&mut deep);
        assert!(
            !serde_json::to_string(&deep)
                .unwrap()
                .contains("hidden.example")
        );
    }

    #[test]
    fn rejects_activity_without_id() {
        let err = DeliveryPlan::new(
            &serde_json::json!({"type": "Create"}),
            [],
            &PlanOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, DeliveryError::MissingActivityId));
        let err =
            DeliveryPlan::new(&serde_json::json!([1]), [], &PlanOptions::default()).unwrap_err();
        assert!(matches!(err, DeliveryError::Serialize(_)));
    }

    #[test]
    fn skips_public_local_blocked_and_non_http() {
        let options = PlanOptions {
            local_hosts: vec!["me.example".into()],
            host_filter: Some(Arc::new(|h: &str| h != "bad.example")),
            ..PlanOptions::default()
        };
        let recipients = [
            Recipient::new(u("https://www.w3.org/ns/activitystreams#Public")),
            Recipient::new(u("https://me.example/u/self/inbox")),
            Recipient::new(u("https://bad.example/inbox")),
            Recipient::new(u("ftp://files.example/inbox")),
            Recipient::new(u("https://ok.example/inbox")),
            Recipient::new(u("https://ok.example/inbox")),
        ];
        let plan = DeliveryPlan::new(&activity(), recipients, &options).unwrap();
        assert_eq!(plan.inboxes(), &[u("https://ok.example/inbox")]);
        let reasons: Vec<SkipReason> = plan.skipped().iter().map(|(_, r)| *r).collect();
        assert_eq!(
            reasons,
            [
                SkipReason::Public,
                SkipReason::Local,
                SkipReason::Blocked,
                SkipReason::NotHttp
            ]
        );
    }

    #[test]
    fn domain_policy_blocks_subdomains_too() {
        let policy = DomainPolicy::new();
        let options = PlanOptions::default().with_domain_policy(policy.clone());
        // Blocked after the options were built: the shared handle sees it.
        policy.block("bad.example").unwrap();
        let recipients = [
            Recipient::new(u("https://bad.example/inbox")),
            Recipient::new(u("https://sub.bad.example/inbox")),
            Recipient::new(u("https://good.example/inbox")),
        ];
        let plan = DeliveryPlan::new(&activity(), recipients, &options).unwrap();
        assert_eq!(plan.inboxes(), &[u("https://good.example/inbox")]);
        assert_eq!(plan.skipped().len(), 2);
    }

    #[test]
    fn include_local_and_personal_only() {
        let options = PlanOptions {
            local_hosts: vec!["me.example:8443".into()],
            include_local: true,
            use_shared_inbox: false,
            ..PlanOptions::default()
        };
        let recipients = [
            Recipient::new(u("https://me.example:8443/u/a/inbox"))
                .with_shared_inbox(u("https://me.example:8443/inbox")),
            Recipient::new(u("https://me.example:8443/u/b/inbox"))
                .with_shared_inbox(u("https://me.example:8443/inbox")),
        ];
        let plan = DeliveryPlan::new(&activity(), recipients, &options).unwrap();
        assert_eq!(plan.inboxes().len(), 2);
    }

    #[test]
    fn digest_headers_match_known_value() {
        let body = PreparedBody::new(Bytes::from_static(b"{\"hello\": \"world\"}"));
        // RFC 9530 Appendix B example body digest.
        assert_eq!(
            body.content_digest_header(),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        assert_eq!(
            body.digest_header(),
            "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
        );
        // Clones share the digest: computed once for all of them.
        let fresh = PreparedBody::new(body.bytes().clone());
        let clone = fresh.clone();
        assert!(clone.digest.get().is_none());
        let _ = fresh.sha256();
        assert!(
            clone.digest.get().is_some(),
            "computed once for every clone"
        );
        assert!(PreparedBody::from_parts(body.bytes().clone(), [0; 32]).is_none());
        assert_eq!(
            PreparedBody::from_parts(body.bytes().clone(), *body.sha256()),
            Some(body)
        );
    }

    fn key_of(activity: serde_json::Value) -> String {
        DeliveryPlan::new(&activity, [], &PlanOptions::default())
            .unwrap()
            .order_key()
            .to_owned()
    }

    #[test]
    fn order_key_is_the_object_the_activity_is_about() {
        let note = "https://me.example/notes/1";
        let act = |kind: &str, object: serde_json::Value| serde_json::json!({"id": "https://me.example/a/1", "type": kind, "object": object});
        // By reference, embedded, or as a one-element array: the same key.
        assert_eq!(
            key_of(act(
                "Create",
                serde_json::json!({"id": note, "type": "Note"})
            )),
            note
        );
        assert_eq!(
            key_of(act("Update", serde_json::json!([{"id": note}]))),
            note
        );
        assert_eq!(
            key_of(act(
                "Delete",
                serde_json::json!({"id": note, "type": "Tombstone"})
            )),
            note
        );
        assert_eq!(key_of(act("Announce", serde_json::json!(note))), note);
        // An Undo follows the activity it reverts: Undo(Follow bob) is keyed bob.
        let bob = "https://b.example/users/bob";
        assert_eq!(key_of(act("Follow", serde_json::json!(bob))), bob);
        assert_eq!(
            key_of(act(
                "Undo",
                serde_json::json!({"id": "https://me.example/f/1", "type": "Follow", "object": bob})
            )),
            bob
        );
        // An Undo by reference only: keyed by the reverted activity's IRI.
        assert_eq!(
            key_of(act("Undo", serde_json::json!("https://me.example/f/1"))),
            "https://me.example/f/1"
        );
        // No single object with an id: the activity's own id.
        assert_eq!(
            key_of(act("Create", serde_json::json!({"type": "Note"}))),
            "https://me.example/a/1"
        );
        assert_eq!(
            key_of(act(
                "Delete",
                serde_json::json!([note, "https://me.example/notes/2"])
            )),
            "https://me.example/a/1"
        );
        assert_eq!(
            key_of(serde_json::json!({"id": "https://me.example/a/2", "type": "Question"})),
            "https://me.example/a/2"
        );
    }

    #[test]
    fn from_plan_copies_the_order_key() {
        let plan = DeliveryPlan::new(&activity(), [], &PlanOptions::default()).unwrap();
        let jobs = crate::delivery::NewActivity::from_plan(
            &plan,
            Iri::new_unchecked("https://me.example/u/a#main-key"),
        );
        // The test activity embeds a Note without an id.
        assert_eq!(jobs.order_key.as_deref(), Some("https://me.example/a/1"));
    }
}
