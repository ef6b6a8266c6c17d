//! The shared corpus's payloads carrying an `RsaSignature2017`, verified
//! where the signer's key is in the corpus too.
//!
//! 43 documents carry a top-level `RsaSignature2017` signature (18 more,
//! all PeerTube's, only define the term in their `@context`). Five verify:
//! Friendica's and Smithereen's `create_note`, the self-signed Osada actor
//! (`osada.macgirvin.com/channel/mike`), Mastodon's `accept-activity` and
//! `follow-activity`. The others, each for a reason the table names:
//! the signer's key is not in the corpus; the document names a Hubzilla
//! `apschema` context (never fetched, so refused); the `signatureValue` is
//! the same as another file's (upstream built fixtures from one template
//! and kept its signature); or, for two Mastodon captures whose hosts were
//! replaced upstream, the signature simply does not match any more.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use archipel::ldsig::{self, LdSignatureError};
use archipel::signatures::PublicKey;
use serde_json::Value;

/// `../shared/fixtures/activitypub` beside the checkout, if present;
/// otherwise a skip notice (a failure under `ARCHIPEL_REQUIRE_PEERS=1`).
fn corpus_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/activitypub");
    if dir.is_dir() {
        Some(dir)
    } else {
        crate::support::skip_or_fail(
            "shared fixtures activitypub",
            "no ../shared/fixtures beside the checkout",
        );
        None
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Every `publicKey` found in the corpus: key id → PEM.
fn keys(docs: &[(String, Value)]) -> HashMap<String, String> {
    let mut keys = HashMap::new();
    for (_, doc) in docs {
        let candidates: Vec<&Value> = match &doc["publicKey"] {
            Value::Array(a) => a.iter().collect(),
            v @ Value::Object(_) => vec![v],
            _ => Vec::new(),
        };
        for k in candidates {
            if let (Some(id), Some(pem)) = (k["id"].as_str(), k["publicKeyPem"].as_str()) {
                keys.insert(id.to_owned(), pem.to_owned());
            }
        }
    }
    keys
}

/// Why a signed corpus document verifies or not.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// The signature verifies with the key found in the corpus.
    Verified,
    /// The signer's key (`creator`) is in no corpus document.
    NoKeyInCorpus,
    /// The document names a context that is not preloaded.
    RemoteContext(&'static str),
    /// Does not verify, and its `signatureValue` is also another file's.
    CopiedSignatureValue,
    /// Does not verify, its key is here and its value is its own.
    Invalid,
}

use Outcome::*;

const HUBZILLA_SOMATON: &str = "https://hub.somaton.com/apschema/v1.9";

/// Every corpus document carrying an `RsaSignature2017`, and its outcome.
const EXPECTED: &[(&str, Outcome)] = &[
    (
        "friendica/lemmy-assets__activities_create_note.json",
        Verified,
    ),
    (
        "friendica/lemmy-assets__activities_create_page_2.json",
        NoKeyInCorpus,
    ),
    (
        "friendica/lemmy-assets__activities_delete.json",
        NoKeyInCorpus,
    ),
    (
        "friendica/lemmy-assets__activities_dislike_page.json",
        NoKeyInCorpus,
    ),
    (
        "friendica/lemmy-assets__activities_like_page.json",
        NoKeyInCorpus,
    ),
    (
        "friendica/lemmy-assets__activities_undo_dislike_page.json",
        NoKeyInCorpus,
    ),
    (
        "friendica/lemmy-assets__activities_update_note.json",
        NoKeyInCorpus,
    ),
    (
        "hubzilla/pleroma-fixtures__hubzilla-actor.json",
        RemoteContext(HUBZILLA_SOMATON),
    ),
    (
        "hubzilla/pleroma-fixtures__hubzilla-create-image.json",
        RemoteContext(HUBZILLA_SOMATON),
    ),
    (
        "hubzilla/pleroma-fixtures__hubzilla-follow-activity.json",
        NoKeyInCorpus,
    ),
    (
        "hubzilla/pleroma-fixtures__osada-follow-activity.json",
        NoKeyInCorpus,
    ),
    (
        "hubzilla/pleroma-fixtures__roadhouse-create-activity.json",
        NoKeyInCorpus,
    ),
    (
        "hubzilla/pleroma-fixtures__tesla_mock_https___osada.macgirvin.com_channel_mike.json",
        Verified,
    ),
    (
        "hubzilla/pleroma-fixtures__tesla_mock_kaniini@hubzilla.example.org.json",
        RemoteContext("https://hubzilla.example.org/apschema/v1.2"),
    ),
    (
        "hubzilla/pleroma-fixtures__tesla_mock_osada-user-indio.json",
        NoKeyInCorpus,
    ),
    (
        "mastodon/bonfire-fixtures__mastodon_mastodon-post-activity-contentmaps.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/lemmy-assets__activities_delete.json",
        NoKeyInCorpus,
    ),
    (
        "mastodon/mobilizon-fixtures__mastodon-announce.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/mobilizon-fixtures__mastodon-post-activity-private.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-accept-activity.json",
        Verified,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-announce.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-block-activity.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-create-with-attachment.json",
        Invalid,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-delete.json",
        NoKeyInCorpus,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-follow-activity.json",
        Verified,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-like.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-post-activity-contentmap.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-post-activity-hashtag.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-post-activity-nsfw.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-post-activity.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-reject-activity.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-unblock-activity.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-undo-announce.json",
        Invalid,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-undo-like-compact-object.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-undo-like.json",
        CopiedSignatureValue,
    ),
    (
        "mastodon/pleroma-fixtures__mastodon-unfollow-activity.json",
        CopiedSignatureValue,
    ),
    (
        "mobilizon/mobilizon-fixtures__mobilizon-invite-activity.json",
        NoKeyInCorpus,
    ),
    (
        "mobilizon/mobilizon-fixtures__mobilizon-join-activity.json",
        NoKeyInCorpus,
    ),
    (
        "mobilizon/mobilizon-fixtures__mobilizon-leave-activity.json",
        NoKeyInCorpus,
    ),
    (
        "pleroma/pleroma-fixtures__emoji-reaction-no-emoji.json",
        CopiedSignatureValue,
    ),
    (
        "pleroma/pleroma-fixtures__emoji-reaction-too-long.json",
        CopiedSignatureValue,
    ),
    (
        "pleroma/pleroma-fixtures__emoji-reaction.json",
        CopiedSignatureValue,
    ),
    (
        "smithereen/lemmy-assets__activities_create_note.json",
        Verified,
    ),
];

fn load_corpus(dir: &Path) -> Vec<(String, String, Value)> {
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            (name, text, v)
        })
        .collect()
}

#[test]
fn corpus_ld_signatures_verify_exactly_where_they_can() {
    let Some(dir) = corpus_dir() else { return };
    let docs = load_corpus(&dir);
    let values: Vec<(String, Value)> = docs
        .iter()
        .map(|(n, _, v)| (n.clone(), v.clone()))
        .collect();
    let keys = keys(&values);
    let signed: Vec<&(String, String, Value)> = docs
        .iter()
        .filter(|(_, _, d)| d["signature"]["type"] == "RsaSignature2017")
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, _, d) in &signed {
        *counts
            .entry(d["signature"]["signatureValue"].as_str().unwrap())
            .or_default() += 1;
    }
    let mut table = Vec::new();
    for (name, _, d) in &signed {
        let creator = d["signature"]["creator"].as_str().unwrap();
        let shared = counts[d["signature"]["signatureValue"].as_str().unwrap()] > 1;
        let outcome = match keys.get(creator) {
            None => {
                // Still a typed refusal with some other key, never a pass.
                let other = crate::common::rsa_key();
                let err = ldsig::verify_with_key(d, &other.public_key()).unwrap_err();
                assert!(
                    matches!(
                        err,
                        LdSignatureError::Invalid { .. }
                            | LdSignatureError::RemoteContext { .. }
                            | LdSignatureError::Malformed {
                                field: "signatureValue",
                                ..
                            }
                    ),
                    "{name}: {err:?}"
                );
                NoKeyInCorpus
            }
            Some(pem) => {
                let key = PublicKey::from_pem(pem).unwrap();
                match ldsig::verify_with_key(d, &key) {
                    Ok(sig) => {
                        assert_eq!(sig.creator.as_str(), creator, "{name}");
                        Verified
                    }
                    Err(LdSignatureError::RemoteContext { url }) => {
                        let url: &'static str = EXPECTED
                            .iter()
                            .find_map(|(_, o)| match o {
                                RemoteContext(u) if *u == url => Some(*u),
                                _ => None,
                            })
                            .unwrap_or_else(|| panic!("{name}: unexpected context {url}"));
                        RemoteContext(url)
                    }
                    Err(LdSignatureError::Invalid { .. }) if shared => CopiedSignatureValue,
                    Err(LdSignatureError::Invalid { .. }) => Invalid,
                    Err(e) => panic!("{name}: {e:?}"),
                }
            }
        };
        table.push((name.clone(), outcome));
    }
    for (name, outcome) in &table {
        println!("{name} -> {outcome:?}");
    }
    let expected: Vec<(String, Outcome)> = EXPECTED
        .iter()
        .map(|(n, o)| (n.to_string(), o.clone()))
        .collect();
    assert_eq!(table, expected);
    // The corpus's other mentions of the type are PeerTube's contexts.
    let mentions: Vec<&str> = docs
        .iter()
        .filter(|(_, text, d)| text.contains("RsaSignature2017") && d["signature"].is_null())
        .map(|(n, _, _)| n.as_str())
        .collect();
    assert_eq!(mentions.len(), 18, "{mentions:?}");
    assert!(
        mentions.iter().all(|n| n.starts_with("peertube/")),
        "{mentions:?}"
    );
}
