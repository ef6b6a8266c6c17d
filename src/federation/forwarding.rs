//! Inbox forwarding (ActivityPub §7.1.2), both sides.
//!
//! **Receiving.** A reply forwarded to a thread's followers, or a post a
//! relay repeats, arrives HTTP-signed by a server other than its actor's.
//! [`ForwardedVerifier`] decides whether to believe it anyway, trying in
//! order, and stopping at the first that holds:
//!
//! 1. an `RsaSignature2017` Linked Data Signature (feature
//!    `ld-signatures`) whose key (its `creator`, on the actor's origin:
//!    checked before any fetch) is owned by the actor, on a document whose
//!    every member the signature covers ([`check_coverage`](crate::ldsig::check_coverage));
//! 2. a FEP-8b32 integrity proof (feature `proof`) whose key the actor
//!    lists in its `assertionMethod`, on the document's origin;
//! 3. the same content fetched from the actor's origin: the activity at its
//!    `id`, or when it is not served, the one object of a `Create` or
//!    `Update` (attributed to the actor, addressed as the activity), or the
//!    one object of a `Delete` answering `410 Gone` or served as a
//!    `Tombstone` (a `404` may only mean "not for you").
//!
//! A signature or proof that does not verify is not a refusal by itself
//! (keys rotate; contexts differ); a copy from the origin that *differs* is:
//! [`ForwardedError::ContentMismatch`]. The [`Federation`]'s inbox uses a
//! `ForwardedVerifier` by default, and relays' `Announce`s use
//! [`Federation::verify_forwarded`].
//!
//! Bounded: each forwarded activity costs at most one key fetch for its LD
//! signature (through an [`ActorKeyResolver`], with its cache and its per-host
//! budget; one more to refresh a cached key that failed), one per distinct
//! proof key, and two re-fetches (the activity, then its object); every
//! fetch goes through the [`Fetcher`] (size, time and private-address
//! guards, domain policy), and every key fetch and re-fetch is charged to
//! the forwarder's budget and the fetched origin's
//! ([`ForwardedVerifier::DEFAULT_FETCH_BUDGET`] per minute), past which the
//! inbox answers `503`. The inbox's admission control bounds how many
//! requests a forwarder sends at all.
//!
//! **Sending.** [`Federation::forward`] passes an activity this server
//! received on to the local followers it concerns, unchanged (see its
//! docs for the conditions).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use archipel::federation::Federation;
//! use archipel::inbox::ForwardedError;
//!
//! let fed = Federation::builder("https://b.example".parse()?).build().await?;
//! // Forwarded activities are verified, not refused, by default.
//! assert!(fed.inbox().accepts_forwarded());
//!
//! // A forwarded Like without signature or proof, whose id is not on its
//! // actor's origin, cannot be established.
//! let like = serde_json::json!({
//!     "id": "https://c.example/likes/1", "type": "Like",
//!     "actor": "https://a.example/users/alice",
//!     "object": "https://b.example/notes/1",
//! });
//! assert!(matches!(
//!     fed.verify_forwarded(&like, None).await,
//!     Err(ForwardedError::Unverified { .. })
//! ));
//! # Ok(()) }
//! ```

mod refetch;
mod send;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub use send::{FORWARDS_REMEMBERED, Forwarded, MAX_REPLY_DEPTH, NotForwarded};

use super::Federation;
use crate::fetch::Fetcher;
use crate::inbox::{
    ActorKeyResolver, Authenticity, ForwardedError, HostBudget, VerifyForwarded, echo, host_of,
};
use crate::signatures::KeyResolver;
use crate::vocab::Iri;
use refetch::{Outcome, Refetcher};

/// Largest number of origins whose fetch budget is tracked at once.
const MAX_BUDGET_HOSTS: usize = 4_096;

/// The real [`VerifyForwarded`]: an LD signature, an integrity proof, or
/// the content fetched again from its origin (see the
/// [module docs](self)).
///
/// ```
/// # async fn demo(fetcher: archipel::fetch::Fetcher, inbox: archipel::inbox::Inbox) {
/// use std::sync::Arc;
/// use archipel::federation::forwarding::ForwardedVerifier;
/// let inbox = inbox.with_forwarding(Arc::new(ForwardedVerifier::new(fetcher)));
/// # }
/// ```
pub struct ForwardedVerifier {
    fetcher: Fetcher,
    #[cfg_attr(not(feature = "ld-signatures"), allow(dead_code))]
    keys: Arc<dyn KeyResolver>,
    budgets: Budgets,
    relays: Arc<RelayActors>,
}

/// The actors of the relays this server subscribed to and that accepted,
/// by exact IRI: passing activities on is their job, so what they forward
/// is charged to a relay budget ([`ForwardedVerifier::DEFAULT_RELAY_BUDGET`])
/// instead of the forwarder budget, which would leave a busy relay's posts
/// unchecked after 30 key fetches a minute. Kept by the [`Federation`],
/// rebuilt from its relay store at start and after each change it makes
/// (subscribe, unsubscribe, the relay's `Accept` or `Reject`).
#[derive(Debug, Default)]
pub(crate) struct RelayActors(std::sync::RwLock<std::collections::HashSet<String>>);

impl RelayActors {
    /// Becomes the actors of the accepted relays among `relays`.
    pub(crate) fn replace(&self, relays: &[super::relay::Relay]) {
        let accepted = relays
            .iter()
            .filter(|r| r.state == super::relay::RelayState::Accepted)
            .filter_map(|r| r.actor.as_ref().map(|a| a.as_str().to_owned()))
            .collect();
        if let Ok(mut actors) = self.0.write() {
            *actors = accepted;
        }
    }

    pub(crate) fn contains(&self, actor: &str) -> bool {
        self.0.read().is_ok_and(|a| a.contains(actor))
    }
}

/// Who passed a forwarded activity on, as its fetches are charged.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Forwarder<'a> {
    /// Another server (the host of the HTTP signature's key owner).
    Server(&'a str),
    /// An accepted relay (its actor's IRI).
    Relay(&'a str),
}

/// The fetch budgets of forwarded-activity verification: per fetched
/// origin, per forwarding server and per accepted relay, so one forwarder
/// cannot spend an origin's budget for the others.
pub(crate) struct Budgets {
    origins: Mutex<HostBudget>,
    forwarders: Mutex<HostBudget>,
    relays: Mutex<HostBudget>,
}

impl Budgets {
    /// Charges one fetch of `iri` passed on by `forwarder`: the
    /// forwarder's budget first, so a forwarder past its own is refused
    /// without touching the origin's.
    pub(crate) fn take(
        &self,
        iri: &str,
        forwarder: Option<Forwarder<'_>>,
    ) -> Result<(), ForwardedError> {
        match forwarder {
            Some(Forwarder::Server(host)) => take(&self.forwarders, host, host)?,
            Some(Forwarder::Relay(actor)) => take(
                &self.relays,
                actor,
                &host_of(actor).unwrap_or_else(|| echo(actor)),
            )?,
            None => {}
        }
        let origin = crate::client::origin::host_key(iri);
        take(&self.origins, &origin, &origin)
    }
}

/// A budget of `fetches` a minute per host.
fn per_minute(fetches: u32) -> Mutex<HostBudget> {
    Mutex::new(HostBudget::new(
        fetches,
        Duration::from_secs(60),
        MAX_BUDGET_HOSTS,
    ))
}

/// Replaces `budget` with one of `fetches` per `period` per host.
fn set(budget: &Mutex<HostBudget>, fetches: u32, period: Duration) {
    if let Ok(mut b) = budget.lock() {
        *b = HostBudget::new(fetches, period, MAX_BUDGET_HOSTS);
    }
}

/// One token from `key`'s bucket in `budget`, or
/// [`ForwardedError::OverBudget`] naming `host`.
fn take(budget: &Mutex<HostBudget>, key: &str, host: &str) -> Result<(), ForwardedError> {
    let granted = budget
        .lock()
        .map(|mut b| b.take(key, std::time::Instant::now()))
        .unwrap_or(false);
    if granted {
        Ok(())
    } else {
        Err(ForwardedError::OverBudget {
            host: host.to_owned(),
        })
    }
}

impl std::fmt::Debug for ForwardedVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardedVerifier")
            .field("fetcher", &self.fetcher)
            .finish_non_exhaustive()
    }
}

impl ForwardedVerifier {
    /// The default budget of fetches per origin per minute (proof keys and
    /// re-fetches): 60, as for HTTP signature keys.
    pub const DEFAULT_FETCH_BUDGET: u32 = 60;

    /// The default budget of fetches per forwarder per minute, whatever
    /// the origins fetched: 30, half an origin's, so that no single
    /// forwarder can spend an origin's budget (and make genuine forwards
    /// of its activities wait) on its own. Forwards that carry a valid LD
    /// signature cost no fetch here once the key is cached.
    pub const DEFAULT_FORWARDER_BUDGET: u32 = 30;

    /// A verifier fetching through `fetcher` (use the instance actor's
    /// signed fetcher: servers in authorized-fetch mode refuse unsigned
    /// `GET`s); redirects to another origin are refused whatever `fetcher`
    /// says. LD signature keys are resolved by an [`ActorKeyResolver`]
    /// over the same fetcher.
    pub fn new(fetcher: Fetcher) -> Self {
        let fetcher = fetcher.same_origin_redirects();
        ForwardedVerifier {
            keys: Arc::new(ActorKeyResolver::from_fetcher(fetcher.clone())),
            fetcher,
            relays: Arc::default(),
            budgets: Budgets {
                relays: per_minute(Self::DEFAULT_RELAY_BUDGET),
                origins: per_minute(Self::DEFAULT_FETCH_BUDGET),
                forwarders: per_minute(Self::DEFAULT_FORWARDER_BUDGET),
            },
        }
    }

    /// Resolves LD signature keys with `keys` (e.g. a resolver sharing the
    /// inbox's key cache) instead of a resolver of its own.
    #[must_use]
    pub fn with_key_resolver(mut self, keys: Arc<dyn KeyResolver>) -> Self {
        self.keys = keys;
        self
    }

    /// At most `fetches` fetches per origin per `period` (proof keys and
    /// re-fetches; a token bucket), default
    /// [`ForwardedVerifier::DEFAULT_FETCH_BUDGET`] per minute.
    #[must_use]
    pub fn with_fetch_budget(self, fetches: u32, period: Duration) -> Self {
        set(&self.budgets.origins, fetches, period);
        self
    }

    /// The default budget of fetches per accepted relay per minute: 600,
    /// twenty times a forwarding server's. A relay passes on the public
    /// posts of many servers, most of whose keys this server has not met;
    /// a hostile subscriber of a public relay is still bounded, here and by
    /// each origin's budget.
    pub const DEFAULT_RELAY_BUDGET: u32 = 600;

    /// Forwards from the actors in `relays` are charged to the relay budget
    /// (see [`RelayActors`]).
    #[must_use]
    pub(crate) fn with_relay_actors(mut self, relays: Arc<RelayActors>) -> Self {
        self.relays = relays;
        self
    }

    /// At most `fetches` fetches per accepted relay per `period`, default
    /// [`ForwardedVerifier::DEFAULT_RELAY_BUDGET`] per minute.
    #[must_use]
    pub fn with_relay_budget(self, fetches: u32, period: Duration) -> Self {
        set(&self.budgets.relays, fetches, period);
        self
    }

    /// At most `fetches` fetches per forwarder (the host of whoever passed
    /// the activity on) per `period`, whatever the origins fetched, default
    /// [`ForwardedVerifier::DEFAULT_FORWARDER_BUDGET`] per minute. Keep it
    /// below the per-origin budget, or one forwarder can spend an origin's.
    #[must_use]
    pub fn with_forwarder_budget(self, fetches: u32, period: Duration) -> Self {
        set(&self.budgets.forwarders, fetches, period);
        self
    }

    #[cfg(feature = "ld-signatures")]
    async fn ld_signature(
        &self,
        document: &Value,
        actor: &Iri,
        forwarder: Option<Forwarder<'_>>,
    ) -> Attempt {
        // The key must be the actor's, so on its origin: checked before
        // anything is fetched, or a forwarder would pick the hosts we fetch
        // keys from (and pay nothing for the canonicalization).
        match crate::ldsig::signature(document) {
            Ok(s) if crate::client::same_origin(s.creator.as_str(), actor.as_str()) => {}
            Ok(s) => {
                return Attempt::Failed(format!(
                    "LD signature: its creator {:?} is not on the actor's origin",
                    echo(s.creator.as_str())
                ));
            }
            Err(e) => return Attempt::Failed(format!("LD signature: {e}")),
        }
        // The signature covers the RDF graph, not the JSON the application
        // reads: a member JSON-LD drops (or a context that moves one) would
        // travel unsigned beside a valid signature.
        if let Err(e) = crate::ldsig::check_coverage(document) {
            return Attempt::Failed(format!("LD signature: {e}"));
        }
        let keys = Charged {
            keys: self.keys.as_ref(),
            budgets: &self.budgets,
            forwarder,
            spent: Mutex::new(None),
        };
        let outcome = crate::ldsig::verify(document, &keys).await;
        if let Some(e) = keys.spent.lock().ok().and_then(|mut s| s.take()) {
            return Attempt::Refused(e);
        }
        match outcome {
            Ok(v) if v.owner == *actor => {
                Attempt::Established(Authenticity::LdSignature { creator: v.creator })
            }
            Ok(v) => Attempt::OtherSigner(v.owner),
            Err(e) => Attempt::Failed(format!("LD signature: {e}")),
        }
    }

    #[cfg(feature = "proof")]
    async fn integrity_proof(
        &self,
        document: &Value,
        actor: &Iri,
        forwarder: Option<Forwarder<'_>>,
    ) -> Attempt {
        let methods = match crate::proof::proofs(document) {
            Ok(p) => p,
            Err(e) => return Attempt::Failed(format!("integrity proof: {e}")),
        };
        for m in &methods {
            if let Err(e) = self.budgets.take(m.verification_method.as_str(), forwarder) {
                return Attempt::Refused(e);
            }
        }
        match crate::proof::verify(document, &self.fetcher).await {
            Ok(verified) => match verified
                .iter()
                .find(|p| p.controller.as_ref() == Some(actor))
            {
                Some(p) => Attempt::Established(Authenticity::IntegrityProof {
                    verification_method: p.verification_method.clone(),
                }),
                None => match verified.into_iter().find_map(|p| p.controller) {
                    Some(other) => Attempt::OtherSigner(other),
                    None => Attempt::Failed("integrity proof: no controller".into()),
                },
            },
            Err(e) => Attempt::Failed(format!("integrity proof: {e}")),
        }
    }
}

/// The verifier's key resolver, charging each key fetch an LD signature
/// makes to the forwarder and the key's origin, as proof keys and
/// re-fetches are: a forwarder naming keys on many origins must not make
/// us fetch for free. What the resolver answers from memory (a key held, a
/// refresh of one fetched a minute ago) costs nothing.
#[cfg(feature = "ld-signatures")]
struct Charged<'a> {
    keys: &'a dyn KeyResolver,
    budgets: &'a Budgets,
    forwarder: Option<Forwarder<'a>>,
    /// The budget refusal, kept to end verification with it (the
    /// resolver's own error type cannot carry it).
    spent: Mutex<Option<ForwardedError>>,
}

#[cfg(feature = "ld-signatures")]
#[async_trait::async_trait]
impl KeyResolver for Charged<'_> {
    async fn resolve(
        &self,
        key_id: &str,
        refresh: bool,
    ) -> Result<crate::signatures::ResolvedKey, crate::signatures::SignatureError> {
        if !self.keys.holds(key_id, refresh)
            && let Err(e) = self.budgets.take(key_id, self.forwarder)
        {
            let refusal = crate::signatures::SignatureError::KeyResolution {
                key_id: echo(key_id),
                reason: crate::signatures::KeyRefusal::OverBudget {
                    host: crate::client::origin::host_key(key_id),
                },
            };
            if let Ok(mut spent) = self.spent.lock() {
                *spent = Some(e);
            }
            return Err(refusal);
        }
        self.keys.resolve(key_id, refresh).await
    }

    fn holds(&self, key_id: &str, refresh: bool) -> bool {
        self.keys.holds(key_id, refresh)
    }
}

/// The outcome of one way of establishing a forwarded activity.
#[cfg_attr(
    not(any(feature = "proof", feature = "ld-signatures")),
    allow(dead_code)
)]
enum Attempt {
    Established(Authenticity),
    /// It verified, with a key of someone else.
    OtherSigner(Iri),
    Failed(String),
    /// A refusal that ends verification (a spent budget).
    #[cfg_attr(
        not(any(feature = "proof", feature = "ld-signatures")),
        allow(dead_code)
    )]
    Refused(ForwardedError),
}

#[async_trait::async_trait]
impl VerifyForwarded for ForwardedVerifier {
    async fn verify_forwarded(
        &self,
        document: &Value,
        actor: &Iri,
        forwarder: Option<&Iri>,
    ) -> Result<Authenticity, ForwardedError> {
        // An accepted relay's forwards are charged to the relay budget.
        let host = forwarder.and_then(|f| host_of(f.as_str()));
        let forwarder = match forwarder {
            Some(f) if self.relays.contains(f.as_str()) => Some(Forwarder::Relay(f.as_str())),
            Some(_) => host.as_deref().map(Forwarder::Server),
            None => None,
        };
        let id = document.get("id").and_then(Value::as_str).ok_or_else(|| {
            ForwardedError::Unverified {
                id: String::new(),
                reasons: "the activity has no id".into(),
            }
        })?;
        let mut reasons: Vec<String> = Vec::new();
        let mut other_signer: Option<Iri> = None;
        #[cfg_attr(
            not(any(feature = "proof", feature = "ld-signatures")),
            allow(unused_mut)
        )]
        let mut attempts: Vec<Attempt> = Vec::new();
        #[cfg(feature = "ld-signatures")]
        if document.get("signature").is_some() {
            attempts.push(self.ld_signature(document, actor, forwarder).await);
        }
        #[cfg(feature = "proof")]
        if document.get("proof").is_some() && !established(&attempts) {
            attempts.push(self.integrity_proof(document, actor, forwarder).await);
        }
        for attempt in attempts {
            match attempt {
                Attempt::Established(how) => return Ok(how),
                Attempt::OtherSigner(signer) => {
                    reasons.push(format!("signed by {:?}", echo(signer.as_str())));
                    other_signer = Some(signer);
                }
                Attempt::Failed(why) => reasons.push(why),
                Attempt::Refused(e) => return Err(e),
            }
        }
        let refetcher = Refetcher {
            fetcher: &self.fetcher,
            budgets: &self.budgets,
            forwarder,
        };
        match refetcher.establish(document, id, actor).await {
            Outcome::Established(how) => Ok(how),
            Outcome::Refused(e) => Err(e),
            Outcome::Unknown(why) => match other_signer {
                Some(signer) => Err(ForwardedError::NotTheActor {
                    id: echo(id),
                    signer: echo(signer.as_str()),
                    actor: echo(actor.as_str()),
                }),
                None => {
                    reasons.push(format!("re-fetch: {why}"));
                    Err(ForwardedError::Unverified {
                        id: echo(id),
                        reasons: reasons.join("; "),
                    })
                }
            },
        }
    }
}

/// The first entry of a property that may be one value or an array.
pub(crate) fn first(value: Option<&Value>) -> Option<&Value> {
    match value? {
        Value::Array(a) => a.first(),
        v => Some(v),
    }
}

/// The IRIs of a property that may be one value or an array, of IRIs or
/// embedded objects with an `id`.
pub(crate) fn iris(value: Option<&Value>) -> Vec<&str> {
    fn one(v: &Value) -> Option<&str> {
        match v {
            Value::String(s) => Some(s.as_str()),
            o => o.get("id").and_then(Value::as_str),
        }
    }
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
    }
}

#[cfg(feature = "proof")]
fn established(attempts: &[Attempt]) -> bool {
    attempts
        .iter()
        .any(|a| matches!(a, Attempt::Established(_)))
}

impl Federation {
    /// Establishes that `document`, an activity this server did not get
    /// from its actor (a relay's `Announce` of it, an embedded copy), is
    /// its actor's, as the inbox does for forwarded activities (see
    /// [`ForwardedVerifier`]). `forwarder` is who passed it on (the relay),
    /// when known: what the check fetches is charged to it too.
    ///
    /// # Errors
    /// [`ForwardedError::Unverified`] when nothing establishes it (also for
    /// a document without an `actor`, or whose `id` is not on the actor's
    /// origin), [`ForwardedError::Blocked`] for an actor on a blocked
    /// domain, [`ForwardedError::ContentMismatch`]
    /// when its origin serves other content, and the other
    /// [`ForwardedError`]s.
    pub async fn verify_forwarded(
        &self,
        document: &Value,
        forwarder: Option<&Iri>,
    ) -> Result<Authenticity, ForwardedError> {
        let actor = document
            .get("actor")
            .and_then(|a| match a {
                Value::String(s) => Some(s.as_str()),
                o => o.get("id").and_then(Value::as_str),
            })
            .and_then(|a| Iri::parse(a).ok());
        let id = document.get("id").and_then(Value::as_str);
        let unverified = |reasons: &str| ForwardedError::Unverified {
            id: id.map(echo).unwrap_or_default(),
            reasons: reasons.to_owned(),
        };
        let actor = actor.ok_or_else(|| unverified("the activity has no actor IRI"))?;
        // What the inbox checks before asking its verifier.
        let host = host_of(actor.as_str()).ok_or_else(|| unverified("the actor has no host"))?;
        if let Some(policy) = self.domain_policy()
            && !policy.allows(&host)
        {
            return Err(ForwardedError::Blocked { host });
        }
        if !id.is_some_and(|id| crate::client::same_origin(id, actor.as_str())) {
            return Err(unverified("its id is not on its actor's origin"));
        }
        self.inner
            .forwarded
            .verify_forwarded(document, &actor, forwarder)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::testing::NoNetwork;

    fn relay(actor: &str) -> super::super::relay::Relay {
        let iri = Iri::new_unchecked;
        super::super::relay::Relay {
            id: iri("https://relay.example/inbox"),
            kind: super::super::relay::RelayKind::Mastodon,
            inbox: iri("https://relay.example/inbox"),
            actor: Some(iri(actor)),
            follow: iri("https://b.example/activities/1"),
            follower: iri("https://b.example/actor"),
            state: super::super::relay::RelayState::Accepted,
        }
    }

    #[tokio::test]
    async fn an_accepted_relays_forwards_are_charged_to_the_relay_budget() {
        let client = Arc::new(NoNetwork::default());
        let relays = Arc::new(RelayActors::default());
        relays.replace(&[relay("https://relay.example/actor")]);
        let v = ForwardedVerifier::new(Fetcher::new(client.clone()))
            .with_forwarder_budget(1, Duration::from_secs(3600))
            .with_relay_budget(3, Duration::from_secs(3600))
            .with_relay_actors(relays.clone());
        let alice = Iri::new_unchecked("https://a.example/users/alice");
        let like = |n: u32| {
            serde_json::json!({"id": format!("https://a.example/likes/{n}"), "type": "Like",
                               "actor": alice, "object": "https://b.example/notes/1"})
        };
        let (from_relay, beside_it) = (
            Iri::new_unchecked("https://relay.example/actor"),
            Iri::new_unchecked("https://relay.example/users/mallory"),
        );
        // Past a forwarder budget of one, within the relay's three.
        for n in 0..3 {
            let got = v
                .verify_forwarded(&like(n), &alice, Some(&from_relay))
                .await;
            assert!(
                matches!(&got, Err(ForwardedError::Unverified { .. })),
                "{got:?}"
            );
        }
        assert_eq!(client.requests(), 3);
        let spent = v
            .verify_forwarded(&like(3), &alice, Some(&from_relay))
            .await;
        assert!(
            matches!(&spent, Err(ForwardedError::OverBudget { host }) if host == "relay.example"),
            "{spent:?}"
        );
        // Another actor on the relay's host is an ordinary forwarder.
        assert!(matches!(
            v.verify_forwarded(&like(4), &alice, Some(&beside_it)).await,
            Err(ForwardedError::Unverified { .. })
        ));
        let spent = v.verify_forwarded(&like(5), &alice, Some(&beside_it)).await;
        assert!(
            matches!(&spent, Err(ForwardedError::OverBudget { host }) if host == "relay.example"),
            "{spent:?}"
        );
        assert_eq!(client.requests(), 4);
    }
}
