//! JSON-LD to RDF (`json-ld`) and URDNA2015 canonical N-Quads (`rdf-canon`),
//! with preloaded contexts only and bounded work.

use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use json_ld::rdf_types::generator::Blank;
use json_ld::rdf_types::{Id, LiteralType, Term};
use json_ld::syntax::Parse as _;
use json_ld::{Iri as LdIri, IriBuf, JsonLdProcessor as _, LoadError, Loader, RemoteDocument};
use oxrdf::{BlankNode, GraphName, Literal, NamedNode, Quad, Subject};
use serde_json::Value;

use super::LdSignatureError;
use super::contexts;
use super::error::cut;

/// The most RDF quads one document may produce: 20,000. A Mastodon
/// activity makes about fifty; a 1 MiB document of short properties a few
/// tens of thousands.
pub const MAX_QUADS: usize = 20_000;
/// The most distinct blank nodes one document may produce: 2,000 (every
/// embedded object without an `id`: tags, attachments, the signature
/// options). URDNA2015's cost grows with the blank nodes that look alike.
pub const MAX_BLANK_NODES: usize = 2_000;
/// The most Hash N-Degree Quads runs of URDNA2015 per document: 256.
/// Real documents need none (their blank nodes, tags and attachments, differ
/// in content) or one per blank node that shares its first-degree hash
/// with another; a crafted graph of look-alike blank nodes needs
/// exponentially many, and is refused when it reaches this, after a few
/// milliseconds of work.
pub const MAX_HNDQ_CALLS: usize = 256;
/// How many times the expansion future is polled before giving up: it
/// never waits on anything (contexts are in memory), so one poll finishes
/// it; the bound is a guard, not a timeout.
const MAX_POLLS: usize = 64;

/// The stack of the thread that runs JSON-LD processing: 64 MiB of
/// address space, touched only as deep as a document needs. The `json-ld`
/// crate recurses through large futures: a debug build needs about 170 KiB
/// per level of nesting, so a 12-level document overflows the 2 MiB
/// default of tokio's workers and the test harness, which aborts the
/// process. Here [`MAX_DEPTH`](super::MAX_DEPTH) levels fit with room to
/// spare, in any build.
const STACK_SIZE: usize = 64 << 20;

/// The URDNA2015 canonical N-Quads of `document` as JSON-LD, computed on a
/// thread of its own with a large stack (see [`STACK_SIZE`]); a panic in
/// the JSON-LD or canonicalization crates is contained there and reported
/// as an error.
pub(crate) fn canonical_nquads(document: &Value) -> Result<String, LdSignatureError> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("archipel-ldsig".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, || canonical_nquads_here(document))
            .map_err(|e| {
                LdSignatureError::JsonLd(format!("cannot start the JSON-LD thread: {e}"))
            })?;
        worker
            .join()
            .map_err(|_| LdSignatureError::JsonLd("JSON-LD processing panicked".into()))?
    })
}

fn canonical_nquads_here(document: &Value) -> Result<String, LdSignatureError> {
    check_contexts(document)?;
    let text = serde_json::to_string(document)
        .map_err(|e| LdSignatureError::NotJson(cut(&e.to_string())))?;
    let (value, _) = json_ld::syntax::Value::parse_str(&text)
        .map_err(|e| LdSignatureError::NotJson(cut(&e.to_string())))?;
    let remote = RemoteDocument::new(None::<IriBuf>, None, value);
    let loader = Preloaded;
    let future = remote.to_rdf(Blank::new(), &loader);
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    let mut polls = 0;
    let mut rdf = loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(result) => {
                break result.map_err(|e| LdSignatureError::JsonLd(cut(&e.to_string())))?;
            }
            Poll::Pending => {
                polls += 1;
                if polls >= MAX_POLLS {
                    return Err(LdSignatureError::JsonLd(
                        "expansion did not complete".into(),
                    ));
                }
            }
        }
    };
    let numbers = fractional_numbers(document);
    let mut quads = Vec::new();
    let mut blanks = std::collections::HashSet::new();
    for json_ld::rdf_types::Quad(s, p, o, _graph) in rdf.quads().cloned() {
        if quads.len() >= MAX_QUADS {
            return Err(LdSignatureError::TooComplex {
                what: "quads",
                limit: MAX_QUADS,
            });
        }
        let subject = match s {
            Id::Iri(iri) => Subject::NamedNode(named(&iri)),
            Id::Blank(b) => Subject::BlankNode(blank(b.suffix(), &mut blanks)?),
        };
        let predicate = match p {
            Id::Iri(iri) => named(&iri),
            // Generalized RDF is off, so a blank predicate never comes out.
            Id::Blank(_) => continue,
        };
        let object: oxrdf::Term = match o {
            Term::Id(Id::Iri(iri)) => named(&iri).into(),
            Term::Id(Id::Blank(b)) => blank(b.suffix(), &mut blanks)?.into(),
            Term::Literal(l) => match l.type_ {
                LiteralType::Any(t) => {
                    let value = double_as_jsonld(l.value, &numbers);
                    Literal::new_typed_literal(value, named(&t)).into()
                }
                LiteralType::LangString(tag) => {
                    Literal::new_language_tagged_literal_unchecked(l.value, tag.as_str()).into()
                }
            },
        };
        // Every quad goes to the default graph, as Mastodon's `RDF::Graph`
        // does with the dataset JSON-LD produces.
        quads.push(Quad::new(
            subject,
            predicate,
            object,
            GraphName::DefaultGraph,
        ));
    }
    let options = rdf_canon::CanonicalizationOptions {
        hndq_call_limit: Some(MAX_HNDQ_CALLS),
    };
    rdf_canon::canonicalize_quads_with::<sha2_010::Sha256>(&quads, &options).map_err(|e| match e {
        rdf_canon::CanonicalizationError::HndqCallLimitExceeded(limit) => {
            LdSignatureError::TooComplex {
                what: "hash-n-degree-quads calls",
                limit,
            }
        }
        other => LdSignatureError::Canonicalization(other.to_string()),
    })
}

/// The document's JSON numbers that JSON-LD turns into `xsd:double`
/// lexical forms (those that are not integers).
fn fractional_numbers(value: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if !(n.is_i64() || n.is_u64()) => out.extend(n.as_f64()),
            Value::Array(a) => stack.extend(a),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    out
}

/// A number's `xsd:double` form as JSON-LD 1.1 writes it (toRdf: the
/// C-style `%1.15E`, trailing zeros of the fraction dropped), which
/// jsonld.js, Ruby's json-ld (Mastodon) and Fedify produce. The `json-ld`
/// crate writes the shortest form instead (`-7.1184902E1` where the others
/// write `-7.118490199999999E1`), so a literal it produced from one of the
/// document's numbers is rewritten. A string literal spelled exactly like
/// one of the document's numbers would be rewritten too; no real document
/// does that.
pub(super) fn double_as_jsonld(lexical: String, numbers: &[f64]) -> String {
    if !lexical.contains('E') {
        return lexical;
    }
    let Ok(v) = lexical.parse::<f64>() else {
        return lexical;
    };
    if !v.is_finite() || !numbers.iter().any(|n| n.to_bits() == v.to_bits()) {
        return lexical;
    }
    let exp = format!("{v:.15E}");
    match exp.split_once('E') {
        Some((mantissa, exponent)) => {
            let mantissa = mantissa.trim_end_matches('0');
            let mantissa = mantissa
                .strip_suffix('.')
                .map_or(mantissa.to_owned(), |m| format!("{m}.0"));
            format!("{mantissa}E{exponent}")
        }
        None => lexical,
    }
}

fn named(iri: &IriBuf) -> NamedNode {
    // `IriBuf` is a valid absolute IRI already.
    NamedNode::new_unchecked(iri.as_str())
}

fn blank(
    suffix: &str,
    seen: &mut std::collections::HashSet<String>,
) -> Result<BlankNode, LdSignatureError> {
    if !seen.contains(suffix) {
        if seen.len() >= MAX_BLANK_NODES {
            return Err(LdSignatureError::TooComplex {
                what: "blank nodes",
                limit: MAX_BLANK_NODES,
            });
        }
        seen.insert(suffix.to_owned());
    }
    // The generator's labels are plain numbers, valid blank node ids.
    Ok(BlankNode::new_unchecked(suffix))
}

/// Refuses any `@context` naming a document that is not preloaded, before
/// any processing, so the error names the URL.
fn check_contexts(value: &Value) -> Result<(), LdSignatureError> {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "@context" {
                    check_context_value(v)?;
                } else {
                    check_contexts(v)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_contexts),
        _ => Ok(()),
    }
}

fn check_context_value(v: &Value) -> Result<(), LdSignatureError> {
    match v {
        Value::String(url) => {
            if contexts::preloaded(url).is_some() {
                Ok(())
            } else {
                Err(LdSignatureError::RemoteContext { url: cut(url) })
            }
        }
        Value::Array(items) => items.iter().try_for_each(check_context_value),
        // An inline context may itself import (`@import`) or nest scoped
        // contexts: look inside it as well.
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "@import" {
                    check_context_value(inner)?;
                } else if let Some(scoped) = inner.as_object().and_then(|d| d.get("@context")) {
                    check_context_value(scoped)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The loader the JSON-LD processor sees: preloaded contexts, nothing else.
struct Preloaded;

/// A context the loader was asked for that is not preloaded.
#[derive(Debug, thiserror::Error)]
#[error("context is not preloaded")]
struct NotPreloaded;

impl Loader for Preloaded {
    async fn load(&self, url: &LdIri) -> Result<RemoteDocument<IriBuf>, LoadError> {
        match parsed(url.as_str()) {
            Some(doc) => Ok(doc.clone()),
            None => Err(LoadError::new(url.to_owned(), NotPreloaded)),
        }
    }
}

/// A preloaded context's canonical URL and its parsed document (`None` if
/// the compiled-in text did not parse, which a unit test rules out).
type Parsed = (&'static str, Option<RemoteDocument<IriBuf>>);

/// The preloaded context `url` stands for, parsed once.
pub(super) fn parsed(url: &str) -> Option<&'static RemoteDocument<IriBuf>> {
    static PARSED: OnceLock<Vec<Parsed>> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        contexts::ALL
            .iter()
            .map(|(name, text)| {
                let doc = json_ld::syntax::Value::parse_str(text)
                    .ok()
                    .and_then(|(v, _)| {
                        let iri = IriBuf::new(name.to_string()).ok()?;
                        Some(RemoteDocument::new(Some(iri), None, v))
                    });
                (*name, doc)
            })
            .collect()
    });
    let name = contexts::preloaded(url)?;
    all.iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, d)| d.as_ref())
}
