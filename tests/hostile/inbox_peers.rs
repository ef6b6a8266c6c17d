//! Two origins on loopback for the inbox attacks: `victim`, a multi-user
//! server (bob, who signs nothing, and mallory, who has an account there)
//! serving actor documents and bob's real note, and `evil` (eve). An
//! [`Inbox`] verifies their requests, fetching keys over HTTP with the
//! library's own `ActorKeyResolver`.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use archipel::client::ReqwestClient;
use archipel::fetch::Fetcher;
use archipel::inbox::{ActorKeyResolver, Inbox, MemorySeenStore};
use archipel::signatures::{PrivateKey, Signer, Verifier, VerifyPolicy};
use archipel::vocab::Iri;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::support::{Reply, TestServer, local_policy};

/// Where the inbox under attack says it lives (requests are signed for it).
pub const INBOX: &str = "https://home.example/inbox";

/// The words of bob's real note on the victim server.
pub const REAL_WORDS: &str = "bob's real words";

/// Eve's and mallory's keys, generated once (RSA is slow in debug builds).
fn keys() -> &'static (PrivateKey, PrivateKey) {
    static KEYS: OnceLock<(PrivateKey, PrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            PrivateKey::generate_rsa_2048().unwrap(),
            PrivateKey::generate_rsa_2048().unwrap(),
        )
    })
}

/// The two origins and the inbox under attack.
pub struct Peers {
    pub victim: TestServer,
    pub evil: TestServer,
    pub inbox: Inbox,
    /// The inbox's dedup store, to check that nothing was recorded.
    pub seen: Arc<MemorySeenStore>,
    /// A fetcher as an application would use to follow an IRI.
    pub fetcher: Fetcher,
}

fn actor_doc(base: &str, name: &str, key: &PrivateKey) -> Vec<u8> {
    let id = format!("{base}/users/{name}");
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "preferredUsername": name,
        "inbox": format!("{id}/inbox"),
        "publicKey": {
            "id": format!("{id}#main-key"), "owner": id,
            "publicKeyPem": key.public_key().to_spki_pem()
        }
    })
    .to_string()
    .into_bytes()
}

impl Peers {
    pub async fn start() -> Peers {
        let (eve_key, mallory_key) = keys();
        let victim = TestServer::start().await;
        let evil = TestServer::start().await;
        let v = victim.base();
        // Bob has a key too (mallory's key material, published under bob's
        // name: irrelevant, bob signs nothing here).
        victim.route(
            "/users/bob",
            Reply::ok(
                "application/activity+json",
                actor_doc(&v, "bob", mallory_key),
            ),
        );
        victim.route(
            "/users/mallory",
            Reply::ok(
                "application/activity+json",
                actor_doc(&v, "mallory", mallory_key),
            ),
        );
        victim.route(
            "/notes/1",
            Reply::ok(
                "application/activity+json",
                json!({
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": format!("{v}/notes/1"), "type": "Note",
                    "attributedTo": format!("{v}/users/bob"), "content": REAL_WORDS
                })
                .to_string(),
            ),
        );
        evil.route(
            "/users/eve",
            Reply::ok(
                "application/activity+json",
                actor_doc(&evil.base(), "eve", eve_key),
            ),
        );
        let client = Arc::new(ReqwestClient::new(local_policy()).unwrap());
        let verifier = Verifier::new(
            ActorKeyResolver::new(client.clone()),
            VerifyPolicy::default(),
        );
        let seen = Arc::new(MemorySeenStore::new(1000));
        let inbox = Inbox::new(Arc::new(verifier))
            .with_public_base(url::Url::parse("https://home.example").unwrap())
            .with_seen_store(seen.clone());
        Peers {
            victim,
            evil,
            inbox,
            seen,
            fetcher: Fetcher::new(client),
        }
    }

    pub fn bob(&self) -> String {
        self.victim.url("/users/bob")
    }

    pub fn mallory(&self) -> String {
        self.victim.url("/users/mallory")
    }

    pub fn eve(&self) -> String {
        self.evil.url("/users/eve")
    }

    /// Bob's real note, on the victim server.
    pub fn bobs_note(&self) -> String {
        self.victim.url("/notes/1")
    }

    /// `activity` signed by eve (evil origin), as received by the inbox.
    pub fn signed_by_eve(&self, activity: Value) -> http::Request<Bytes> {
        signed(activity, &format!("{}#main-key", self.eve()), &keys().0)
    }

    /// `activity` signed by mallory (victim origin), as received.
    pub fn signed_by_mallory(&self, activity: Value) -> http::Request<Bytes> {
        signed(activity, &format!("{}#main-key", self.mallory()), &keys().1)
    }
}

/// An `Iri` of a string, for the accessors that take one.
pub fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

fn signed(activity: Value, key_id: &str, key: &PrivateKey) -> http::Request<Bytes> {
    let mut request = http::Request::post(INBOX)
        .header("content-type", "application/activity+json")
        .header("host", "home.example")
        .body(Bytes::from(activity.to_string()))
        .unwrap();
    Signer::new(key_id, key.clone()).sign(&mut request).unwrap();
    let (mut parts, body) = request.into_parts();
    parts.uri = "/inbox".parse().unwrap();
    http::Request::from_parts(parts, body)
}
