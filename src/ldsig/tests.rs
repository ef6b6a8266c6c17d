//! Unit tests of the `ldsig` module: signing and verifying, what changes a
//! signature and what does not, and the bounds on hostile documents.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::signatures::MemoryKeyResolver;

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa_2048().unwrap())
}

fn creator() -> Iri {
    Iri::parse("https://a.example/users/alice#main-key").unwrap()
}

fn note() -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {"toot": "http://joinmastodon.org/ns#", "sensitive": "as:sensitive"}
        ],
        "id": "https://a.example/users/alice/statuses/1/activity",
        "type": "Create",
        "actor": "https://a.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": "https://a.example/users/alice/statuses/1",
            "type": "Note",
            "content": "<p>hello</p>",
            "sensitive": false,
            "tag": [{"type": "Hashtag", "name": "#a", "href": "https://a.example/tags/a"}]
        }
    })
}

fn signed() -> Value {
    sign(&note(), key(), &creator(), "2026-01-01T00:00:00Z").unwrap()
}

#[test]
fn sign_writes_mastodons_signature_block() {
    let doc = signed();
    let sig = &doc["signature"];
    assert_eq!(sig["type"], "RsaSignature2017");
    assert_eq!(sig["creator"], "https://a.example/users/alice#main-key");
    assert_eq!(sig["created"], "2026-01-01T00:00:00Z");
    // 2048-bit RSA: 256 bytes, 344 base64 characters.
    assert_eq!(sig["signatureValue"].as_str().unwrap().len(), 344);
    let parsed = signature(&doc).unwrap();
    assert_eq!(parsed.creator, creator());
    assert_eq!(parsed.created.as_deref(), Some("2026-01-01T00:00:00Z"));
}

#[test]
fn a_signed_document_verifies_and_a_changed_one_does_not() {
    let doc = signed();
    assert_eq!(
        verify_with_key(&doc, &key().public_key()).unwrap().creator,
        creator()
    );
    let mut changed = doc.clone();
    changed["object"]["content"] = "<p>bye</p>".into();
    assert!(matches!(
        verify_with_key(&changed, &key().public_key()),
        Err(LdSignatureError::Invalid { creator }) if creator == "https://a.example/users/alice#main-key"
    ));
    // The signature's options are signed too.
    let mut redated = doc.clone();
    redated["signature"]["created"] = "2027-01-01T00:00:00Z".into();
    assert!(matches!(
        verify_with_key(&redated, &key().public_key()),
        Err(LdSignatureError::Invalid { .. })
    ));
}

#[test]
fn key_order_and_undefined_terms_do_not_change_the_signature() {
    let doc = signed();
    // Reordered members: same RDF.
    let mut reordered = serde_json::Map::new();
    for (k, v) in doc.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    verify_with_key(&Value::Object(reordered), &key().public_key()).unwrap();
    // A term no context defines is dropped by JSON-LD expansion, as in
    // Mastodon: it is not signed, and adding it breaks nothing.
    let mut extra = doc.clone();
    extra["discoverable"] = true.into();
    extra["object"]["nickname"] = "x".into();
    verify_with_key(&extra, &key().public_key()).unwrap();
    // A defined one (`sensitive`, mapped inline) is signed.
    let mut flipped = doc.clone();
    flipped["object"]["sensitive"] = true.into();
    assert!(matches!(
        verify_with_key(&flipped, &key().public_key()),
        Err(LdSignatureError::Invalid { .. })
    ));
}

#[test]
fn another_key_does_not_verify_and_an_ed25519_key_is_refused() {
    let doc = signed();
    let other = PrivateKey::generate_rsa_2048().unwrap();
    assert!(matches!(
        verify_with_key(&doc, &other.public_key()),
        Err(LdSignatureError::Invalid { .. })
    ));
    #[cfg(feature = "ed25519")]
    {
        let ed = PrivateKey::generate_ed25519().unwrap();
        assert!(matches!(
            verify_with_key(&doc, &ed.public_key()),
            Err(LdSignatureError::NotRsa {
                kind: "ed25519",
                ..
            })
        ));
        assert!(matches!(
            sign(&note(), &ed, &creator(), "2026-01-01T00:00:00Z"),
            Err(LdSignatureError::NotRsa {
                kind: "ed25519",
                ..
            })
        ));
    }
}

#[test]
fn a_remote_context_is_refused_by_name() {
    let mut doc = note();
    doc["@context"] = json!([
        "https://www.w3.org/ns/activitystreams",
        "https://evil.example/ctx"
    ]);
    let err = sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z").unwrap_err();
    assert!(
        matches!(&err, LdSignatureError::RemoteContext { url } if url == "https://evil.example/ctx"),
        "{err:?}"
    );
    // Nested in an inline context's `@import`; a scoped context is refused
    // whatever it names.
    doc["@context"] = json!([{"@import": "https://evil.example/imported"}]);
    assert!(matches!(
        sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z"),
        Err(LdSignatureError::RemoteContext { url }) if url == "https://evil.example/imported"
    ));
    doc["@context"] =
        json!({"x": {"@id": "https://x.example/x", "@context": "https://evil.example/scoped"}});
    assert!(matches!(
        sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z"),
        Err(LdSignatureError::UnsafeContext { reason }) if reason.contains("`x` carries a scoped context")
    ));
    // Pleroma's per-instance LitePub schema is preloaded.
    doc["@context"] = json!([
        "https://www.w3.org/ns/activitystreams",
        "https://pleroma.example/schemas/litepub-0.1.jsonld"
    ]);
    let signed = sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z").unwrap();
    verify_with_key(&signed, &key().public_key()).unwrap();
}

#[test]
fn a_deep_document_is_refused() {
    let mut deep = json!("leaf");
    for _ in 0..MAX_DEPTH {
        deep = json!({ "content": deep });
    }
    let doc = json!({"@context": "https://www.w3.org/ns/activitystreams", "object": deep});
    assert!(matches!(
        sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z"),
        Err(LdSignatureError::TooDeep { limit: 32 })
    ));
    let text = serde_json::to_vec(&doc).unwrap();
    assert!(matches!(
        parse_document(&text),
        Err(LdSignatureError::TooDeep { limit: 32 })
    ));
}

#[test]
fn a_document_at_the_depth_limit_is_processed() {
    // JSON-LD processing recurses on nesting: the limit must leave room on
    // a test thread's 2 MiB stack (a debug build) for the deepest document
    // accepted.
    let mut deep = json!({"type": "Note", "content": "leaf"});
    for i in 0..MAX_DEPTH - 2 {
        // Each with its own id: a chain of look-alike blank nodes would
        // cost URDNA2015 quadratic work, refused by another bound.
        deep = json!({ "id": format!("https://a.example/notes/{i}"), "type": "Note", "inReplyTo": deep });
    }
    let doc = json!({"@context": "https://www.w3.org/ns/activitystreams", "object": deep});
    let signed = sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z").unwrap();
    verify_with_key(&signed, &key().public_key()).unwrap();
}

#[test]
fn an_oversized_document_is_refused() {
    let big = vec![b' '; ParseLimits::DEFAULT_MAX_BYTES + 1];
    assert!(matches!(
        parse_document(&big),
        Err(LdSignatureError::TooLarge { size, limit: 1_048_576 }) if size == 1_048_577
    ));
}

#[test]
fn a_blank_node_bomb_is_refused_within_the_bound() {
    // Many look-alike blank nodes, each pointing at all others: every
    // first-degree hash collides, and URDNA2015's n-degree step explodes.
    let n = 40;
    let nodes: Vec<Value> = (0..n)
        .map(|i| {
            let links: Vec<Value> = (0..n)
                .filter(|j| *j != i)
                .map(|j| json!({ "@id": format!("_:b{j}") }))
                .collect();
            json!({ "@id": format!("_:b{i}"), "https://x.example/p": links })
        })
        .collect();
    let doc = json!({ "@context": "https://www.w3.org/ns/activitystreams", "@graph": nodes });
    let start = Instant::now();
    let err = sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z").unwrap_err();
    assert!(
        matches!(
            err,
            LdSignatureError::TooComplex {
                what: "hash-n-degree-quads calls",
                limit: MAX_HNDQ_CALLS
            }
        ),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn too_many_blank_nodes_are_refused() {
    let tags: Vec<Value> = (0..MAX_BLANK_NODES + 1)
        .map(|i| json!({ "type": "Hashtag", "name": format!("#{i}") }))
        .collect();
    let doc =
        json!({ "@context": "https://www.w3.org/ns/activitystreams", "type": "Note", "tag": tags });
    assert!(matches!(
        sign(&doc, key(), &creator(), "2026-01-01T00:00:00Z"),
        Err(LdSignatureError::TooComplex {
            what: "blank nodes",
            limit: MAX_BLANK_NODES
        })
    ));
}

#[test]
fn malformed_signatures_are_named() {
    let mut doc = signed();
    doc["signature"]["type"] = "Ed25519Signature2018".into();
    assert!(matches!(
        signature(&doc),
        Err(LdSignatureError::UnsupportedType(t)) if t == "Ed25519Signature2018"
    ));
    let mut doc = signed();
    doc["signature"]["signatureValue"] = "not*base64".into();
    assert!(matches!(
        verify_with_key(&doc, &key().public_key()),
        Err(LdSignatureError::Malformed {
            field: "signatureValue",
            ..
        })
    ));
    let mut doc = signed();
    doc["signature"].as_object_mut().unwrap().remove("creator");
    assert_eq!(
        signature(&doc).unwrap_err().to_string(),
        "signature field `creator`: missing"
    );
    assert!(matches!(
        signature(&note()),
        Err(LdSignatureError::NoSignature)
    ));
}

#[tokio::test]
async fn verify_resolves_the_creator_and_reports_the_owner() {
    let doc = signed();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        "https://a.example/users/alice#main-key",
        key().public_key(),
        "https://a.example/users/alice",
    );
    let verified = verify(&doc, &keys).await.unwrap();
    assert_eq!(verified.creator, creator());
    assert_eq!(verified.owner.as_str(), "https://a.example/users/alice");
    assert_eq!(verified.created.as_deref(), Some("2026-01-01T00:00:00Z"));
    let empty = MemoryKeyResolver::new();
    assert!(matches!(
        verify(&doc, &empty).await,
        Err(LdSignatureError::Key { creator, .. }) if creator == "https://a.example/users/alice#main-key"
    ));
}

#[test]
fn every_preloaded_context_parses() {
    for (url, _) in contexts::ALL {
        assert!(canon::parsed(url).is_some(), "{url}");
    }
    assert_eq!(
        contexts::preloaded("https://akkoma.example/schemas/litepub-0.1.jsonld"),
        Some("https://litepub.social/litepub/context.jsonld")
    );
    assert_eq!(
        contexts::preloaded("https://akkoma.example/schemas/other.jsonld"),
        None
    );
}

/// Serves an old key from its cache first, the current one on refresh.
struct RotatedKey {
    old: PublicKey,
    new: PublicKey,
}

#[async_trait::async_trait]
impl KeyResolver for RotatedKey {
    async fn resolve(
        &self,
        _key_id: &str,
        refresh: bool,
    ) -> Result<crate::signatures::ResolvedKey, crate::signatures::SignatureError> {
        Ok(if refresh {
            crate::signatures::ResolvedKey::new(self.new.clone(), "https://a.example/users/alice")
        } else {
            crate::signatures::ResolvedKey::new(self.old.clone(), "https://a.example/users/alice")
                .cached()
        })
    }
}

#[tokio::test]
async fn a_cached_key_that_fails_is_refreshed_once() {
    let old = PrivateKey::generate_rsa_2048().unwrap().public_key();
    let rotated = RotatedKey {
        old: old.clone(),
        new: key().public_key(),
    };
    let verified = verify(&signed(), &rotated).await.unwrap();
    assert_eq!(verified.owner.as_str(), "https://a.example/users/alice");
    // Refreshed and still wrong: refused.
    let stale = RotatedKey {
        old: old.clone(),
        new: old,
    };
    assert!(matches!(
        verify(&signed(), &stale).await,
        Err(LdSignatureError::Invalid { .. })
    ));
}

#[test]
fn doubles_are_written_as_jsonld_specifies() {
    let nums: std::collections::HashSet<u64> = [-71.184902f64, 25.273962, 1000.5, 0.00001, 94.5]
        .iter()
        .map(|n| n.to_bits())
        .collect();
    let f = |v: f64| canon::double_as_jsonld(format!("{v:E}"), &nums);
    assert_eq!(f(-71.184902), "-7.118490199999999E1");
    assert_eq!(f(25.273962), "2.5273962E1");
    assert_eq!(f(1000.5), "1.0005E3");
    assert_eq!(f(0.00001), "1.0E-5");
    assert_eq!(f(94.5), "9.45E1");
    // Not one of the document's numbers: left alone.
    assert_eq!(
        canon::double_as_jsonld("-7.1184902E1".into(), &Default::default()),
        "-7.1184902E1"
    );
}

#[test]
fn a_string_spelled_like_a_number_of_the_document_is_not_rewritten() {
    let doc = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/places/1",
        "type": "Place",
        "name": "-7.1184902E1",
        "longitude": -71.184902,
    });
    let nquads = canon::on_ld_thread(|| canon::canonical_nquads(&doc)).unwrap();
    // The string as written; the number in JSON-LD's double form.
    assert!(
        nquads.contains("<https://www.w3.org/ns/activitystreams#name> \"-7.1184902E1\" ."),
        "{nquads}"
    );
    assert!(
        nquads.contains("\"-7.118490199999999E1\"^^<http://www.w3.org/2001/XMLSchema#float>"),
        "{nquads}"
    );
}

/// Node objects nested `depth` levels deep under `nonce`, a term identity
/// v1 defines, so JSON-LD expands (and recurses into) every level.
fn nested(depth: usize) -> Value {
    let mut deep = json!("leaf");
    for _ in 0..depth {
        deep = json!({ "nonce": deep });
    }
    deep
}

#[tokio::test]
async fn a_deep_signature_block_is_refused() {
    // The signature block is canonicalized too (as the options): nesting
    // there must be bounded like the document's, or the JSON-LD thread's
    // stack overflows and the process aborts.
    let mut doc = signed();
    doc["signature"]["nonce"] = nested(1_000);
    let too_deep = |r: Result<(), LdSignatureError>| {
        assert!(
            matches!(r, Err(LdSignatureError::TooDeep { limit: 32 })),
            "{r:?}"
        );
    };
    too_deep(verify_with_key(&doc, &key().public_key()).map(drop));
    too_deep(signing_input(&doc).map(drop));
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        "https://a.example/users/alice#main-key",
        key().public_key(),
        "https://a.example/users/alice",
    );
    too_deep(verify(&doc, &keys).await.map(drop));
}

fn with_context(context: Value) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", context],
        "id": "https://a.example/notes/1",
        "type": "Note",
        "content": "hello",
    })
}

#[test]
fn inline_contexts_past_the_bounds_are_refused_before_expansion() {
    let sign_it = |doc: &Value| sign(doc, key(), &creator(), "2026-01-01T00:00:00Z");
    // A long IRI a short term stands for: every key using it would copy it.
    let long = format!("https://x.example/{}", "a".repeat(MAX_TERM_IRI_BYTES));
    let r = sign_it(&with_context(json!({ "p": long })));
    assert!(
        matches!(r, Err(LdSignatureError::TooComplex { limit: 512, .. })),
        "{r:?}"
    );
    let r = sign_it(&with_context(json!({ "p": { "@id": long } })));
    assert!(
        matches!(r, Err(LdSignatureError::TooComplex { limit: 512, .. })),
        "{r:?}"
    );
    // Many short terms, over 16 KiB in all.
    let many: Map<String, Value> = (0..1_000)
        .map(|i| (format!("t{i}"), json!(format!("https://x.example/{i}"))))
        .collect();
    let r = sign_it(&with_context(Value::Object(many)));
    assert!(
        matches!(
            r,
            Err(LdSignatureError::TooComplex {
                what: "inline context bytes",
                limit: 16_384
            })
        ),
        "{r:?}"
    );
    // A scoped context: processed again at every use of the term.
    let r = sign_it(&with_context(
        json!({ "s": { "@id": "https://x.example/s", "@context": { "q": "https://x.example/q" } } }),
    ));
    assert!(
        matches!(&r, Err(LdSignatureError::UnsafeContext { reason }) if reason.contains("`s`")),
        "{r:?}"
    );
    // Mastodon's own inline context is well within the bounds.
    sign_it(&note()).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn verify_does_not_block_the_executor() {
    // On a single-threaded runtime, another task runs only when `verify`
    // yields: it must, while the JSON-LD thread works.
    let doc = signed();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        "https://a.example/users/alice#main-key",
        key().public_key(),
        "https://a.example/users/alice",
    );
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&ticks);
    let ticker = tokio::spawn(async move {
        loop {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    });
    let verified = verify(&doc, &keys).await.unwrap();
    let seen = ticks.load(std::sync::atomic::Ordering::Relaxed);
    ticker.abort();
    assert_eq!(verified.owner.as_str(), "https://a.example/users/alice");
    assert!(seen > 0, "the other task never ran during verify");
}

#[test]
fn at_most_a_few_json_ld_threads_verify_at_once() {
    let slots = super::slots::slots();
    let signed = sign(&note(), key(), &creator(), "2026-01-01T00:00:00Z").unwrap();
    let mut keys = MemoryKeyResolver::new();
    keys.insert(
        creator().as_str(),
        key().public_key(),
        "https://a.example/users/alice",
    );
    let keys = std::sync::Arc::new(keys);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    // Eight times as many verifications at once as there are slots.
    let burst = 8 * slots.max();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..burst)
            .map(|_| {
                let (signed, keys) = (signed.clone(), keys.clone());
                tokio::spawn(async move { verify(&signed, keys.as_ref()).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().is_ok());
        }
    });
    // The burst filled every slot (so verification does take one), and
    // never more.
    let peak = slots.peak();
    assert_eq!(
        peak,
        slots.max(),
        "{peak} threads at once, max {}",
        slots.max()
    );
}
