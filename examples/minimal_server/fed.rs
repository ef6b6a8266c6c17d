//! Federation plumbing, all from archipel: keys, the HTTP client and its
//! fetch policy, the domain policy, the verifying inbox, WebFinger lookups
//! and delivery through the delivery engine's worker pool.

use std::collections::HashMap;
use std::sync::Arc;

use archipel::client::{FetchPolicy, HttpClient, ReqwestClient, authority};
use archipel::delivery::{
    DeliveryEvent, DeliveryPlan, DeliveryQueue, MemoryQueue, NewActivity, PlanOptions, Recipient,
    SignedDelivery, SignerMap, SqliteQueue, WorkerConfig, Workers,
};
use archipel::inbox::{ActorKeyResolver, Inbox};
use archipel::policy::DomainPolicy;
use archipel::signatures::Spec;
use archipel::signatures::{PrivateKey, Signer, Verifier, VerifyPolicy};
use archipel::vocab::Iri;
use archipel::webfinger::{Acct, Resolver};
use serde_json::Value;
use url::Url;

use crate::app::{App, Config};
use crate::store::{Disk, RemoteActor, push_bounded};

/// Keys and network plumbing shared by the whole server.
pub struct Federation {
    keys: HashMap<String, PrivateKey>,
    key_ids: HashMap<String, Iri>,
    client: Arc<dyn HttpClient>,
    policy: DomainPolicy,
    base: Url,
    workers: Workers,
    first_dialect: Spec,
}

impl Federation {
    /// Loads or generates keys and builds the client, policy, inbox and workers.
    ///
    /// With `--data-dir` the delivery queue is the durable SQLite one in that
    /// directory (`delivery.sqlite3`), so a restart resumes every pending
    /// delivery; without it, the in-memory queue.
    pub async fn new(
        base: &Url,
        users: &[String],
        config: &Config,
        disk: &Disk,
    ) -> Result<Self, String> {
        let policy = DomainPolicy::new();
        for domain in &config.blocked_domains {
            policy
                .block(domain)
                .map_err(|e| format!("--block {domain}: {e}"))?;
        }
        let fetch_policy = FetchPolicy::default()
            .allow_http(config.allow_private_addresses || base.scheme() == "http")
            .allow_private_addresses(config.allow_private_addresses)
            .with_domain_policy(policy.clone())
            .user_agent(format!(
                "archipel-minimal-server/{} (+{base})",
                env!("CARGO_PKG_VERSION")
            ));
        let client: Arc<dyn HttpClient> =
            Arc::new(ReqwestClient::new(fetch_policy).map_err(|e| e.to_string())?);
        let mut keys = HashMap::new();
        let mut key_ids = HashMap::new();
        let mut signers = SignerMap::new();
        for user in users {
            let key = match disk.load_key(user).map(|pem| PrivateKey::from_pem(&pem)) {
                Some(Ok(key)) => key,
                _ => {
                    let key = PrivateKey::generate_rsa_2048().map_err(|e| e.to_string())?;
                    if let Ok(pem) = key.to_pkcs8_pem() {
                        disk.save_key(user, &pem);
                    }
                    key
                }
            };
            let key_id = Iri::parse(format!(
                "{}/users/{user}#main-key",
                base.as_str().trim_end_matches('/')
            ))
            .map_err(|e| e.to_string())?;
            signers.insert(Signer::new(key_id.as_str(), key.clone()));
            key_ids.insert(user.clone(), key_id);
            keys.insert(user.clone(), key);
        }
        let first_dialect = if config.rfc9421_first {
            Spec::Rfc9421
        } else {
            Spec::Cavage
        };
        let queue: Arc<dyn DeliveryQueue> = match &config.data_dir {
            Some(dir) => Arc::new(
                SqliteQueue::open(dir.join("delivery.sqlite3"))
                    .await
                    .map_err(|e| format!("delivery queue in {}: {e}", dir.display()))?,
            ),
            None => Arc::new(MemoryQueue::new()),
        };
        let workers = Workers::start(
            queue,
            Arc::new(SignedDelivery::new(client.clone(), signers)),
            WorkerConfig::default().with_first_dialect(first_dialect),
        );
        Ok(Self {
            keys,
            key_ids,
            client,
            policy,
            base: base.clone(),
            workers,
            first_dialect,
        })
    }

    /// The verifying inbox pipeline.
    pub fn inbox(&self) -> Inbox {
        // The key id's host may differ from the actor's: block it too.
        let resolver =
            ActorKeyResolver::new(self.client.clone()).with_domain_policy(self.policy.clone());
        let verifier = Verifier::new(resolver, VerifyPolicy::default());
        Inbox::new(Arc::new(verifier))
            .with_domain_policy(self.policy.clone())
            .with_public_base(self.base.clone())
    }

    /// Logs every delivery outcome (the workers are started by [`Federation::new`]).
    pub fn spawn_workers(&self) {
        let mut events = self.workers.subscribe();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                log_event(&event);
            }
        });
    }

    /// A signer for `user`'s key (the integration tests sign by hand with it).
    #[allow(dead_code)]
    pub fn signer(&self, user: &str) -> Option<Signer> {
        Some(Signer::new(
            self.key_ids.get(user)?.as_str(),
            self.keys.get(user)?.clone(),
        ))
    }

    /// What the delivery workers did so far (read by the integration tests).
    #[allow(dead_code)]
    pub fn delivery_report(&self) -> archipel::delivery::DeliveryReport {
        self.workers.report()
    }

    /// Deliveries queued and not settled (read by the integration tests, to
    /// assert that nothing was sent rather than wait and see).
    #[allow(dead_code)]
    pub async fn delivery_backlog(&self) -> usize {
        self.workers.backlog().await.map_or(usize::MAX, |s| s.total)
    }

    /// A user's public key as SPKI PEM.
    pub fn public_key_pem(&self, user: &str) -> Option<String> {
        Some(self.keys.get(user)?.public_key().to_spki_pem())
    }

    /// Dereferences an ActivityStreams document with the library's
    /// `Fetcher`: content negotiation, and the document's `id` checked
    /// against the URL finally fetched (after redirects), so a server
    /// cannot pass off another origin's document as its own.
    pub async fn fetch_json(&self, iri: &str) -> Result<Value, String> {
        let url = Url::parse(iri).map_err(|e| format!("{iri}: {e}"))?;
        archipel::fetch::Fetcher::new(self.client.clone())
            .fetch_value(&url)
            .await
            .map_err(|e| e.to_string())
    }

    /// Dereferences an object at its origin ([`Federation::fetch_json`]): how an
    /// embedded object the signature does not vouch for is replaced by the
    /// real one.
    pub async fn fetch_object(&self, iri: &archipel::vocab::Iri) -> Option<Value> {
        match self.fetch_json(iri.as_str()).await {
            Ok(doc) => Some(doc),
            Err(e) => {
                eprintln!("cannot fetch {iri} from its origin: {e}");
                None
            }
        }
    }

    /// Resolves `acct:user@host`, `@user@host`, `user@host` or an actor IRI
    /// to an actor IRI (WebFinger, RFC 7033), checking that it is an actor.
    pub async fn resolve_actor(&self, target: &str) -> Result<String, String> {
        let iri = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            let handle = target.trim_start_matches('@');
            let acct = Acct::parse(handle).map_err(|e| e.to_string())?;
            let resolver =
                Resolver::new(self.client.clone()).local_http(self.base.scheme() == "http");
            resolver
                .resolve(&acct)
                .await
                .map_err(|e| e.to_string())?
                .to_string()
        };
        self.remote_actor(&iri).await.map(|_| iri)
    }

    async fn remote_actor(&self, iri: &str) -> Result<RemoteActor, String> {
        let doc = self.fetch_json(iri).await?;
        let inbox = doc
            .get("inbox")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{iri} has no inbox"))?
            .to_owned();
        let shared_inbox = doc
            .get("endpoints")
            .and_then(|e| e.get("sharedInbox"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(RemoteActor {
            inbox,
            shared_inbox,
        })
    }

    /// The author (`attributedTo`) of a remote object.
    pub async fn author_of(&self, object: &str) -> Option<String> {
        let doc = self.fetch_json(object).await.ok()?;
        iri(doc.get("attributedTo")).map(str::to_owned)
    }

    /// Records `activity` as sent by `user` and delivers it to `recipients`
    /// (actor IRIs; their inboxes are looked up and cached).
    pub async fn send(&self, app: &App, user: &str, activity: Value, recipients: &[String]) {
        let Some(key_id) = self.key_ids.get(user) else {
            return;
        };
        let mut targets = Vec::new();
        for actor in recipients {
            if app.local_name(actor).is_some() {
                continue;
            }
            let cached = app.data.lock().await.actors.get(actor).cloned();
            let remote = match cached {
                Some(r) => Ok(r),
                None => self.remote_actor(actor).await,
            };
            match remote {
                Ok(r) => {
                    app.data
                        .lock()
                        .await
                        .actors
                        .insert(actor.clone(), r.clone());
                    let Ok(inbox) = Url::parse(&r.inbox) else {
                        continue;
                    };
                    let mut recipient = Recipient::new(inbox);
                    if let Ok(id) = Url::parse(actor) {
                        recipient = recipient.with_id(id);
                    }
                    if let Some(shared) = r.shared_inbox.as_deref().and_then(|s| Url::parse(s).ok())
                    {
                        recipient = recipient.with_shared_inbox(shared);
                    }
                    targets.push(recipient);
                }
                Err(e) => eprintln!("cannot deliver to {actor}: {e}"),
            }
        }
        {
            let mut data = app.data.lock().await;
            if let Some(id) = activity.get("id").and_then(Value::as_str) {
                data.local_objects.insert(id.to_owned(), activity.clone());
            }
            if let Some(u) = data.users.get_mut(user) {
                push_bounded(&mut u.outbox, activity.clone());
            }
            app.persist(&data);
        }
        let options = PlanOptions::default()
            .with_local_hosts(vec![authority(&self.base)])
            .with_domain_policy(self.policy.clone());
        let plan = match DeliveryPlan::new(&activity, targets, &options) {
            Ok(plan) => plan,
            Err(e) => {
                eprintln!("cannot plan delivery: {e}");
                return;
            }
        };
        for (inbox, reason) in plan.skipped() {
            eprintln!("delivery to {inbox} skipped: {reason:?}");
        }
        if plan.inboxes().is_empty() {
            return;
        }
        let mut job = NewActivity::from_plan(&plan, key_id.clone());
        job.dialect = Some(self.first_dialect);
        if let Err(e) = self.workers.enqueue(job).await {
            eprintln!("cannot enqueue delivery: {e}");
        }
    }
}

fn log_event(event: &DeliveryEvent) {
    match event {
        DeliveryEvent::Delivered {
            inbox,
            status,
            dialect,
            attempts,
            ..
        } => eprintln!("delivered to {inbox}: {status} (signed {dialect:?}, attempt {attempts})"),
        DeliveryEvent::Retrying {
            inbox,
            status,
            error,
            attempts,
            ..
        } => eprintln!(
            "delivery to {inbox} failed (attempt {attempts}: {}), will retry",
            status.map_or_else(|| error.clone().unwrap_or_default(), |s| s.to_string())
        ),
        DeliveryEvent::GaveUp {
            inbox,
            status,
            reason,
            ..
        } => eprintln!("delivery to {inbox} given up ({status:?}): {reason:?}"),
        other => eprintln!("delivery: {other:?}"),
    }
}

/// The IRI of a reference: a string, an object's `id`, or the first of an array.
pub fn iri(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        Value::Array(items) => iri(items.first()),
        _ => None,
    }
}

/// Whether a document is addressed to the public collection.
pub fn addressed_to_public(doc: &Value) -> bool {
    ["to", "cc"].iter().any(|k| match doc.get(*k) {
        Some(Value::String(s)) => is_public(s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(is_public),
        _ => false,
    })
}

fn is_public(s: &str) -> bool {
    archipel::policy::is_public_iri(s)
}

/// Random lowercase hex of `bytes` bytes, from the OS generator.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("OS random generator");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The current time as RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    archipel::vocab::DateTime::now().to_string()
}
