//! Reading a key out of a fetched document: an actor's `publicKey`
//! (draft security vocabulary) or `assertionMethod` (FEP-521a
//! `Multikey`), or a standalone key document, and checking that an owner's
//! actor document lists a key.

use serde_json::Value;

use crate::signatures::{KeyRefusal, PublicKey};

/// Most entries read from `publicKey` or `assertionMethod`.
const MAX_ENTRIES: usize = 16;

/// What a document says about a key id.
#[derive(Debug)]
pub(crate) enum Found {
    /// The document is the owner's actor document and publishes the key.
    Owned { key: PublicKey, owner: String },
    /// The document is a standalone key document naming `owner`: the key
    /// counts only if the owner's actor document lists it.
    NeedsOwner { key: PublicKey, owner: String },
}

/// The entries of a property that may be one value or an array.
fn entries<'d>(doc: &'d Value, property: &str) -> Vec<&'d Value> {
    match doc.get(property) {
        Some(Value::Array(items)) => items.iter().take(MAX_ENTRIES).collect(),
        Some(v @ (Value::Object(_) | Value::String(_))) => vec![v],
        _ => Vec::new(),
    }
}

/// The IRI a value names: a string, or an object's `id`.
fn iri(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// Decodes the key material of an entry: `publicKeyPem`, or a Multikey's
/// `publicKeyMultibase` (Ed25519 needs the `ed25519` feature).
fn key_material(entry: &Value) -> Result<PublicKey, KeyRefusal> {
    if let Some(pem) = entry.get("publicKeyPem").and_then(Value::as_str) {
        return PublicKey::from_pem(pem)
            .map_err(|e| KeyRefusal::InvalidKey(format!("publicKeyPem: {e}")));
    }
    if let Some(mb) = entry.get("publicKeyMultibase").and_then(Value::as_str) {
        return PublicKey::from_multibase(mb)
            .map_err(|e| KeyRefusal::InvalidKey(format!("publicKeyMultibase: {e}")));
    }
    Err(KeyRefusal::InvalidKey(
        "key has neither publicKeyPem nor publicKeyMultibase".into(),
    ))
}

/// Who an entry says owns it: `owner` (security vocabulary) or
/// `controller` (Multikey), as a string or an object with an `id`.
fn owner_of(entry: &Value) -> Option<&str> {
    entry
        .get("owner")
        .or_else(|| entry.get("controller"))
        .and_then(iri)
}

/// Finds `key_id` in `doc`, a document already checked to be served at
/// its own `id` on the origin it came from.
pub(crate) fn find_key(key_id: &str, doc: &Value) -> Result<Found, KeyRefusal> {
    let doc_id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
    let published = entries(doc, "publicKey")
        .into_iter()
        .chain(entries(doc, "assertionMethod"))
        .find(|entry| entry.is_object() && iri(entry) == Some(key_id));
    if let Some(entry) = published {
        // An embedded key without owner belongs to the document's actor.
        let owner = owner_of(entry).unwrap_or(doc_id);
        if owner != doc_id {
            return Err(KeyRefusal::OwnerMismatch {
                owner: owner.to_owned(),
                document: doc_id.to_owned(),
            });
        }
        return Ok(Found::Owned {
            key: key_material(entry)?,
            owner: doc_id.to_owned(),
        });
    }
    // A standalone key document is the key itself, naming its owner.
    let standalone = doc_id == key_id
        && (doc.get("publicKeyPem").is_some() || doc.get("publicKeyMultibase").is_some());
    match owner_of(doc) {
        Some(owner) if standalone && owner != doc_id => Ok(Found::NeedsOwner {
            key: key_material(doc)?,
            owner: owner.to_owned(),
        }),
        _ => Err(KeyRefusal::NotPublished {
            document: doc_id.chars().take(512).collect(),
        }),
    }
}

/// Whether `actor` (the owner's actor document) lists `key_id` in
/// `publicKey` or `assertionMethod`, embedded or by reference.
pub(crate) fn lists_key(actor: &Value, key_id: &str) -> bool {
    entries(actor, "publicKey")
        .into_iter()
        .chain(entries(actor, "assertionMethod"))
        .any(|entry| iri(entry) == Some(key_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signatures::PrivateKey;
    use serde_json::json;

    fn pem() -> String {
        PrivateKey::generate_rsa(1024)
            .unwrap()
            .public_key()
            .to_spki_pem()
    }

    const BOB: &str = "https://a.example/users/bob";
    const KEY: &str = "https://a.example/users/bob#main-key";

    #[test]
    fn finds_key_in_actor_and_in_array() {
        let doc = json!({"id": BOB, "publicKey": [
            {"id": "https://a.example/users/bob#other", "owner": BOB, "publicKeyPem": pem()},
            {"id": KEY, "owner": BOB, "publicKeyPem": pem()}
        ]});
        match find_key(KEY, &doc).unwrap() {
            Found::Owned { owner, .. } => assert_eq!(owner, BOB),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_a_key_owned_by_someone_else() {
        let doc = json!({"id": BOB, "publicKey":
            {"id": KEY, "owner": "https://evil.example/users/x", "publicKeyPem": pem()}});
        assert_eq!(
            find_key(KEY, &doc).unwrap_err(),
            KeyRefusal::OwnerMismatch {
                owner: "https://evil.example/users/x".into(),
                document: BOB.into()
            }
        );
    }

    #[test]
    fn refuses_an_actor_that_does_not_publish_the_key() {
        let doc = json!({"id": BOB, "publicKey":
            {"id": "https://a.example/users/bob#other", "owner": BOB, "publicKeyPem": pem()}});
        assert_eq!(
            find_key(KEY, &doc).unwrap_err(),
            KeyRefusal::NotPublished {
                document: BOB.into()
            }
        );
    }

    #[test]
    fn standalone_key_needs_its_owner() {
        let key_id = "https://a.example/keys/1";
        let doc = json!({"id": key_id, "owner": BOB, "publicKeyPem": pem()});
        match find_key(key_id, &doc).unwrap() {
            Found::NeedsOwner { owner, .. } => assert_eq!(owner, BOB),
            other => panic!("{other:?}"),
        }
        let actor = json!({"id": BOB, "publicKey": key_id});
        assert!(lists_key(&actor, key_id));
        let actor = json!({"id": BOB, "assertionMethod": [{"id": key_id}]});
        assert!(lists_key(&actor, key_id));
        let actor = json!({"id": BOB, "publicKey": {"id": KEY}});
        assert!(!lists_key(&actor, key_id));
    }

    #[cfg(feature = "ed25519")]
    #[test]
    fn reads_a_multikey_from_assertion_method() {
        let mb = PrivateKey::generate_ed25519()
            .unwrap()
            .public_key()
            .to_multibase()
            .unwrap();
        let key_id = "https://a.example/users/bob#ed25519-key";
        let doc = json!({"id": BOB, "assertionMethod": [{
            "id": key_id, "type": "Multikey", "controller": BOB, "publicKeyMultibase": mb
        }]});
        match find_key(key_id, &doc).unwrap() {
            Found::Owned { key, owner } => {
                assert_eq!(owner, BOB);
                assert_eq!(key.kind(), "ed25519");
            }
            other => panic!("{other:?}"),
        }
    }
}
