//! What of a JSON document its Linked Data Signature covers.
//!
//! An `RsaSignature2017` signature covers the document's RDF graph, not its
//! JSON. Applications read the JSON. The two differ wherever JSON-LD
//! processing drops or renames a member: an undefined term is dropped (its
//! value is unsigned), and an inline `@context` can make a term mean
//! something else, or nothing, while the RDF stays the same. With
//! `{"content": null, "c2": "as:content"}` in its `@context`, a signed
//! post's text moves to `c2`, and a forged `content` beside it is dropped
//! from the graph: the signature still verifies, and the JSON says what the
//! forger wrote.
//!
//! [`check_coverage`] refuses such documents, so that a document it passes
//! says, member by member, what the signature covers:
//!
//! * inline contexts may only add terms: never reset one (`null`), alias a
//!   keyword, or set `@vocab`, `@base`, `@import`, `@propagate`,
//!   `@protected`, `@type` or scoped contexts; a term defined twice (inline,
//!   or by two preloaded contexts) must name the same IRI both times;
//! * no `@context` below the top level;
//! * every member (at any depth) is a keyword JSON-LD keeps, a term that
//!   maps to an IRI, or a compact or absolute IRI; every `type` likewise;
//!   an `@id` is absolute. A member a context does not define (Mastodon's
//!   `discoverable` in a document without it) is dropped from the graph,
//!   so it is not covered, and the document is refused.
//!
//! Terms that a preloaded context scopes or wraps in a graph (an integrity
//! `proof`) are not descended into: their contents are not the author's
//! claims about the object.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::error::cut;
use super::{LdSignatureError, MAX_DEPTH, contexts};

/// What a term stands for, as far as coverage is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    /// The expanded IRI or keyword (`@id`, `@type`); `None` when the term
    /// maps to a blank node or to nothing RDF keeps.
    iri: Option<String>,
    /// The term's values are IRIs (`"@type": "@id"` or `"@vocab"`).
    iri_valued: bool,
    /// The term's values are language maps (`"@container": "@language"`).
    language_map: bool,
    /// A scoped context or a graph container: not descended into.
    opaque: bool,
}

type Terms = HashMap<String, Term>;

/// How deeply preloaded contexts may name one another (LitePub's names
/// ActivityStreams, security v1 and WebFinger).
const MAX_CONTEXT_NESTING: usize = 4;

/// The most entries a document's `@context` may list (real documents list
/// at most 5: ActivityStreams, security, and an inline object or two).
const MAX_CONTEXTS: usize = 16;

/// Keywords kept by JSON-LD processing, as members of a node or value.
const KEPT_KEYWORDS: &[&str] = &["@id", "@type", "@value", "@language", "@list", "@set"];

/// Checks that every member of `document` is covered by its Linked Data
/// Signature, so that what an application reads of the JSON is what the
/// signer signed. The top-level `signature` member itself is not checked,
/// nor a top-level integrity `proof` (verified on its own, with
/// [`proof`](crate::proof) where that feature is on).
/// Cheap (one walk, no JSON-LD processing): run it before
/// [`verify`](super::verify).
///
/// A signature covers the document's RDF graph, not its JSON, and the two
/// differ wherever JSON-LD processing drops or renames a member. So this
/// refuses:
///
/// * inline contexts that do more than add terms: a term reset to `null`,
///   aliased to a keyword, mapped to a blank node, or defined twice with
///   two IRIs (two contexts swapping `content` and `summary` keep the
///   graph); `@vocab`, `@base`, `@import`, `@propagate`, `@protected`,
///   scoped contexts;
/// * a `@context` below the top level;
/// * a member, `type` or `@id` the graph does not keep: an undefined term
///   (Mastodon's `discoverable` without its definition), an undefined type
///   name (it becomes a blank node, which canonicalization relabels), a
///   relative `id`.
///
/// Terms that a preloaded context scopes or wraps in a graph (an integrity
/// `proof`) are not descended into.
///
/// ```
/// use archipel::ldsig::{LdSignatureError, check_coverage};
/// let ok = serde_json::json!({
///     "@context": ["https://www.w3.org/ns/activitystreams",
///                  {"toot": "http://joinmastodon.org/ns#", "blurhash": "toot:blurhash"}],
///     "id": "https://a.example/notes/1", "type": "Note",
///     "content": "hello", "blurhash": "UBL_:rOpGG-;"
/// });
/// assert!(check_coverage(&ok).is_ok());
///
/// // The signed text moved to `c2`; `content` now maps to nothing.
/// let forged = serde_json::json!({
///     "@context": ["https://www.w3.org/ns/activitystreams", {"content": null, "c2": "as:content"}],
///     "id": "https://a.example/notes/1", "type": "Note",
///     "c2": "hello", "content": "forged"
/// });
/// assert!(matches!(check_coverage(&forged), Err(LdSignatureError::UnsafeContext { .. })));
/// ```
///
/// # Errors
/// [`LdSignatureError::UnsafeContext`] for a context that can make the JSON
/// and the graph differ, [`LdSignatureError::Uncovered`] for a member the
/// graph does not keep, [`LdSignatureError::RemoteContext`] for a context
/// that is not preloaded, [`LdSignatureError::TooDeep`] past
/// [`MAX_DEPTH`], [`LdSignatureError::NotAnObject`] for a non-object.
pub fn check_coverage(document: &Value) -> Result<(), LdSignatureError> {
    let map = document
        .as_object()
        .ok_or_else(|| LdSignatureError::NotAnObject {
            what: "document",
            found: super::json_kind(document),
        })?;
    let mut terms = Terms::new();
    if let Some(context) = map.get("@context") {
        // A document may list contexts only so many times: each costs a
        // walk of its definitions, and a 1 MiB list of context URLs would
        // otherwise cost seconds before any key is fetched.
        let entries = context.as_array().map_or(1, Vec::len);
        if entries > MAX_CONTEXTS {
            return Err(unsafe_context(format!(
                "{entries} contexts, more than {MAX_CONTEXTS}"
            )));
        }
        let mut applied = HashSet::new();
        apply_context(context, &mut terms, &mut applied, false, 0)?;
    }
    for (key, value) in map {
        // The signature itself, and an integrity proof beside it (signed
        // first, as Fedify and archipel do): each is verified on its own,
        // and neither is a claim about the object.
        if key == "@context" || key == "signature" || key == "proof" {
            continue;
        }
        check_member(key, value, &terms, 1)?;
    }
    Ok(())
}

fn unsafe_context(reason: String) -> LdSignatureError {
    LdSignatureError::UnsafeContext { reason }
}

/// Adds the definitions of a `@context` value to `terms`. `trusted` is set
/// for the compiled-in contexts, whose keyword aliases (`id` for `@id`)
/// and scoped terms are taken as they are.
fn apply_context(
    context: &Value,
    terms: &mut Terms,
    applied: &mut HashSet<&'static str>,
    trusted: bool,
    nesting: usize,
) -> Result<(), LdSignatureError> {
    if nesting > MAX_CONTEXT_NESTING {
        return Err(unsafe_context("contexts nest too deeply".to_owned()));
    }
    match context {
        Value::String(url) => {
            let name = contexts::preloaded(url)
                .ok_or_else(|| LdSignatureError::RemoteContext { url: cut(url) })?;
            // Applying a preloaded context again adds nothing: its terms
            // are already there, with the same IRIs.
            if !applied.insert(name) {
                return Ok(());
            }
            let inner = preloaded_context(name)?;
            apply_context(inner, terms, applied, true, nesting + 1)
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| apply_context(item, terms, applied, trusted, nesting)),
        Value::Object(definitions) => apply_definitions(definitions, terms, trusted),
        Value::Null => Err(unsafe_context(
            "a null context resets every term".to_owned(),
        )),
        other => Err(unsafe_context(format!(
            "a context that is a {}",
            super::json_kind(other)
        ))),
    }
}

/// The `@context` member of a compiled-in context document, parsed once
/// per process.
fn preloaded_context(name: &str) -> Result<&'static Value, LdSignatureError> {
    static PARSED: OnceLock<HashMap<&'static str, Value>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        contexts::ALL
            .iter()
            .filter_map(|(n, text)| {
                let mut doc: Value = serde_json::from_str(text).ok()?;
                Some((*n, doc.get_mut("@context").map(Value::take)?))
            })
            .collect()
    });
    parsed
        .get(name)
        .ok_or_else(|| LdSignatureError::RemoteContext { url: cut(name) })
}

fn apply_definitions(
    definitions: &Map<String, Value>,
    terms: &mut Terms,
    trusted: bool,
) -> Result<(), LdSignatureError> {
    // Terms naming absolute IRIs first: a compact IRI (`ostatus:atomUri`)
    // may use a prefix defined later in the same object.
    let absolute = |d: &Value| {
        let target = match d {
            Value::String(s) => Some(s.as_str()),
            Value::Object(parts) => parts.get("@id").and_then(Value::as_str),
            _ => None,
        };
        target.is_some_and(|t| t.contains("://"))
    };
    let ordered = definitions
        .iter()
        .filter(|(_, d)| absolute(d))
        .chain(definitions.iter().filter(|(_, d)| !absolute(d)));
    for (key, definition) in ordered {
        if key.starts_with('@') {
            match key.as_str() {
                "@version" | "@language" => continue,
                // The compiled-in ActivityStreams context sets `@vocab` to
                // a blank node prefix: undefined terms then map to nothing
                // RDF keeps, which is how `Term { iri: None }` reads them.
                "@vocab" if trusted => continue,
                // The Data Integrity context protects its terms: a later
                // context cannot redefine them, which only narrows.
                "@protected" if trusted => continue,
                _ => {
                    return Err(unsafe_context(format!(
                        "`{}` in an inline context",
                        cut(key)
                    )));
                }
            }
        }
        let term = define(key, definition, terms, trusted)?;
        if let Some(existing) = terms.get(key)
            && existing.iri != term.iri
        {
            return Err(unsafe_context(format!(
                "term `{}` is redefined from {} to {}",
                cut(key),
                cut(existing.iri.as_deref().unwrap_or("nothing")),
                cut(term.iri.as_deref().unwrap_or("nothing"))
            )));
        }
        terms.insert(key.clone(), term);
    }
    Ok(())
}

fn define(
    key: &str,
    definition: &Value,
    terms: &Terms,
    trusted: bool,
) -> Result<Term, LdSignatureError> {
    let refuse = |why: &str| Err(unsafe_context(format!("term `{}` {why}", cut(key))));
    let mut term = Term {
        iri: None,
        iri_valued: false,
        language_map: false,
        opaque: false,
    };
    match definition {
        Value::Null => return refuse("is reset to null"),
        Value::String(target) => {
            if target.starts_with('@') && !trusted {
                return refuse("aliases a keyword");
            }
            term.iri = expand(target, terms);
        }
        Value::Object(parts) => {
            for (part, value) in parts {
                match (part.as_str(), value) {
                    ("@id", Value::String(target)) => {
                        if target.starts_with('@') && !trusted {
                            return refuse("aliases a keyword");
                        }
                        term.iri = expand(target, terms);
                    }
                    ("@type", Value::String(t)) => {
                        term.iri_valued = t == "@id" || t == "@vocab";
                    }
                    ("@container", c) => {
                        let has = |name: &str| match c {
                            Value::String(s) => s == name,
                            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(name)),
                            _ => false,
                        };
                        term.language_map = has("@language");
                        term.opaque |= has("@graph") || has("@index") || has("@id");
                    }
                    ("@context", _) | ("@reverse", _) if trusted => term.opaque = true,
                    ("@protected", _) | ("@prefix", _) if trusted => {}
                    _ => return refuse(&format!("has `{}` in its definition", cut(part))),
                }
            }
            if !parts.contains_key("@id") {
                // Without `@id`, a term is its own IRI when it is one.
                term.iri = expand(key, terms).filter(|iri| iri != key || key.contains(':'));
            }
        }
        _ => return refuse("has a definition that is neither a string nor an object"),
    }
    if term.iri.is_none() && !trusted {
        return refuse("maps to a blank node or to nothing");
    }
    Ok(term)
}

/// The IRI `value` expands to, as a term or a compact or absolute IRI;
/// `None` for a blank node, a relative reference, or an undefined term.
fn expand(value: &str, terms: &Terms) -> Option<String> {
    if value.starts_with("_:") {
        return None;
    }
    if value.starts_with('@') {
        return Some(value.to_owned());
    }
    if let Some(term) = terms.get(value) {
        return term.iri.clone();
    }
    let (prefix, suffix) = value.split_once(':')?;
    if suffix.starts_with("//") {
        return Some(value.to_owned());
    }
    match terms.get(prefix) {
        Some(Term {
            iri: Some(base), ..
        }) if !base.starts_with('@') => Some(format!("{base}{suffix}")),
        Some(_) => None,
        // An undefined prefix: JSON-LD reads `scheme:rest` as an absolute
        // IRI (`urn:`, `did:`, `mailto:`).
        None if is_scheme(prefix) => Some(value.to_owned()),
        None => None,
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn uncovered(member: &str) -> LdSignatureError {
    LdSignatureError::Uncovered {
        member: cut(member),
    }
}

fn check_member(
    key: &str,
    value: &Value,
    terms: &Terms,
    depth: usize,
) -> Result<(), LdSignatureError> {
    if depth > MAX_DEPTH {
        return Err(LdSignatureError::TooDeep { limit: MAX_DEPTH });
    }
    if key == "@context" {
        return Err(unsafe_context(
            "a `@context` below the top level".to_owned(),
        ));
    }
    let (meaning, term) = if key.starts_with('@') {
        (key.to_owned(), None)
    } else {
        let term = terms.get(key);
        let iri = match term {
            Some(t) => t.iri.clone(),
            None => expand(key, terms),
        };
        (iri.ok_or_else(|| uncovered(key))?, term)
    };
    match meaning.as_str() {
        "@type" => return each_string(value, |t| check_type(t, terms)),
        "@id" => return each_string(value, |id| check_id(key, id)),
        "@value" | "@language" => return Ok(()),
        "@list" | "@set" => return check_value(value, terms, depth + 1),
        k if k.starts_with('@') && !KEPT_KEYWORDS.contains(&k) => {
            return Err(uncovered(key));
        }
        _ => {}
    }
    match term {
        Some(t) if t.opaque => Ok(()),
        Some(t) if t.language_map => match value {
            Value::Object(map) => map.values().try_for_each(|v| match v {
                Value::String(_) | Value::Null => Ok(()),
                Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
                _ => Err(uncovered(key)),
            }),
            _ => check_value(value, terms, depth + 1),
        },
        Some(t) if t.iri_valued => {
            each_string(value, |id| check_id(key, id))?;
            check_value(value, terms, depth + 1)
        }
        _ => check_value(value, terms, depth + 1),
    }
}

fn check_value(value: &Value, terms: &Terms, depth: usize) -> Result<(), LdSignatureError> {
    if depth > MAX_DEPTH {
        return Err(LdSignatureError::TooDeep { limit: MAX_DEPTH });
    }
    match value {
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_member(k, v, terms, depth + 1)),
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| check_value(item, terms, depth + 1)),
        _ => Ok(()),
    }
}

/// Applies `check` to a string, or to each string of an array (other
/// values are checked as nodes by the caller).
fn each_string(
    value: &Value,
    mut check: impl FnMut(&str) -> Result<(), LdSignatureError>,
) -> Result<(), LdSignatureError> {
    match value {
        Value::String(s) => check(s),
        Value::Array(items) => items.iter().filter_map(Value::as_str).try_for_each(check),
        _ => Ok(()),
    }
}

/// A `type` the graph keeps: a defined term or a compact or absolute IRI
/// (an undefined name becomes a blank node, relabelled by
/// canonicalization, so any other undefined name would verify too).
fn check_type(name: &str, terms: &Terms) -> Result<(), LdSignatureError> {
    match expand(name, terms) {
        Some(iri) if !iri.starts_with('@') => Ok(()),
        _ => Err(uncovered(&format!("type {name}"))),
    }
}

/// An identifier the graph keeps: absolute (a relative reference is
/// dropped when there is no base, and a blank node is relabelled).
fn check_id(member: &str, id: &str) -> Result<(), LdSignatureError> {
    match id.split_once(':') {
        Some((scheme, _)) if is_scheme(scheme) => Ok(()),
        _ => Err(uncovered(&format!("{member} {id}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const AS: &str = "https://www.w3.org/ns/activitystreams";
    const SEC: &str = "https://w3id.org/security/v1";

    fn mastodon_create() -> Value {
        json!({
            "@context": [AS, SEC, {
                "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
                "sensitive": "as:sensitive",
                "toot": "http://joinmastodon.org/ns#",
                "Emoji": "toot:Emoji",
                "blurhash": "toot:blurhash",
                "atomUri": "ostatus:atomUri",
                "ostatus": "http://ostatus.org#",
                "conversation": "ostatus:conversation"
            }],
            "id": "https://a.example/users/alice/statuses/1/activity",
            "type": "Create",
            "actor": "https://a.example/users/alice",
            "published": "2026-01-01T00:00:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://a.example/users/alice/followers"],
            "object": {
                "id": "https://a.example/users/alice/statuses/1",
                "type": "Note",
                "attributedTo": "https://a.example/users/alice",
                "content": "<p>hello</p>",
                "contentMap": {"en": "<p>hello</p>"},
                "sensitive": false,
                "atomUri": "https://a.example/users/alice/statuses/1",
                "conversation": "tag:a.example,2026-01-01:objectId=1:objectType=Conversation",
                "tag": [{"type": "Emoji", "name": ":x:", "icon": {"type": "Image", "url": "https://a.example/x.png"}}],
                "attachment": [],
                "replies": {"id": "https://a.example/r", "type": "Collection",
                            "first": {"type": "CollectionPage", "items": []}}
            },
            "signature": {"type": "RsaSignature2017", "creator": "https://a.example/users/alice#main-key",
                          "created": "2026-01-01T00:00:00Z", "signatureValue": "x"}
        })
    }

    fn with_context(extra: Value) -> Value {
        let mut doc = mastodon_create();
        if let Some(list) = doc["@context"].as_array_mut() {
            list.push(extra);
        }
        doc
    }

    #[test]
    fn a_mastodon_create_is_covered() {
        check_coverage(&mastodon_create()).unwrap();
    }

    #[test]
    fn resetting_a_term_is_refused() {
        let doc = with_context(json!({"content": null, "c2": "as:content"}));
        let err = check_coverage(&doc).unwrap_err();
        assert!(
            matches!(&err, LdSignatureError::UnsafeContext { reason } if reason.contains("`content` is reset")),
            "{err}"
        );
    }

    #[test]
    fn redefining_a_term_to_another_iri_is_refused_and_to_the_same_is_not() {
        let doc = with_context(json!({"content": "http://evil.example/nothing"}));
        let err = check_coverage(&doc).unwrap_err();
        assert!(
            matches!(&err, LdSignatureError::UnsafeContext { reason } if reason.contains("`content` is redefined")),
            "{err}"
        );
        check_coverage(&with_context(json!({"content": "as:content"}))).unwrap();
    }

    #[test]
    fn keyword_aliases_vocab_and_scoped_contexts_are_refused() {
        for (extra, why) in [
            (json!({"t": "@type"}), "aliases a keyword"),
            (json!({"i": {"@id": "@id"}}), "aliases a keyword"),
            (json!({"@vocab": "http://evil.example/"}), "`@vocab`"),
            (json!({"@base": "http://evil.example/"}), "`@base`"),
            (json!({"@propagate": true}), "`@propagate`"),
            (
                json!({"x": {"@id": "http://e.example/x", "@context": {"content": null}}}),
                "has `@context`",
            ),
            (json!({"blank": "_:b"}), "blank node"),
        ] {
            let err = check_coverage(&with_context(extra.clone())).unwrap_err();
            assert!(
                matches!(&err, LdSignatureError::UnsafeContext { reason } if reason.contains(why)),
                "{extra}: {err}"
            );
        }
    }

    #[test]
    fn an_undefined_member_or_type_is_uncovered() {
        let mut doc = mastodon_create();
        doc["object"]["discoverable"] = json!(true);
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::Uncovered { member }) if member == "discoverable"
        ));
        let mut doc = mastodon_create();
        doc["object"]["type"] = json!("Article2");
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::Uncovered { member }) if member == "type Article2"
        ));
        let mut doc = mastodon_create();
        doc["object"]["id"] = json!("statuses/1");
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::Uncovered { member }) if member == "id statuses/1"
        ));
        let mut doc = mastodon_create();
        doc["object"]["@reverse"] = json!({});
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::Uncovered { member }) if member == "@reverse"
        ));
    }

    #[test]
    fn a_top_level_proof_is_set_aside_but_not_one_inside_the_object() {
        let mut doc = mastodon_create();
        doc["proof"] = json!({"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022"});
        check_coverage(&doc).unwrap();
        doc["object"]["proof"] = json!({"type": "DataIntegrityProof"});
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::Uncovered { member }) if member == "proof"
        ));
    }

    #[test]
    fn swapping_two_terms_is_refused() {
        let doc = with_context(json!({"content": "as:summary", "summary": "as:content"}));
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::UnsafeContext { reason }) if reason.contains("redefined")
        ));
    }

    #[test]
    fn a_nested_context_is_refused() {
        let mut doc = mastodon_create();
        doc["object"]["@context"] = json!({"content": null});
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::UnsafeContext { reason }) if reason.contains("below the top level")
        ));
    }

    #[test]
    fn compact_and_absolute_iris_are_covered_and_a_remote_context_is_not() {
        let mut doc = mastodon_create();
        doc["object"]["as:summary"] = json!("cw");
        doc["object"]["http://schema.org/value"] = json!("v");
        check_coverage(&doc).unwrap();
        let mut doc = mastodon_create();
        doc["@context"] = json!([AS, "https://evil.example/context"]);
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::RemoteContext { .. })
        ));
    }

    #[test]
    fn a_language_map_keeps_its_tags_but_not_nested_objects() {
        let mut doc = mastodon_create();
        doc["object"]["contentMap"] = json!({"en": "a", "de": ["b"]});
        check_coverage(&doc).unwrap();
        doc["object"]["contentMap"] = json!({"en": {"hidden": "x"}});
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::Uncovered { member }) if member == "contentMap"
        ));
    }

    #[test]
    fn a_long_list_of_contexts_is_refused_and_a_repeated_one_applied_once() {
        let mut doc = mastodon_create();
        doc["@context"] = json!(vec![AS; 17]);
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::UnsafeContext { reason }) if reason.contains("17 contexts")
        ));
        let litepub = "https://litepub.social/litepub/context.jsonld";
        doc["@context"] = json!([AS, litepub, AS, SEC, litepub, {"blurhash": "http://joinmastodon.org/ns#blurhash", "ostatus": "http://ostatus.org#", "atomUri": "ostatus:atomUri", "conversation": "ostatus:conversation", "sensitive": "as:sensitive", "manuallyApprovesFollowers": "as:manuallyApprovesFollowers"}]);
        check_coverage(&doc).unwrap();
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let mut v = json!("x");
        for _ in 0..200 {
            v = json!({ "content": v });
        }
        let doc =
            json!({"@context": AS, "id": "https://a.example/1", "type": "Note", "content": v});
        assert!(matches!(
            check_coverage(&doc),
            Err(LdSignatureError::TooDeep { .. })
        ));
    }
}
