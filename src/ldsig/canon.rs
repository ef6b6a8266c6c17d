//! JSON-LD to RDF (`json-ld`) and URDNA2015 canonical N-Quads (`rdf-canon`),
//! with preloaded contexts only and bounded work.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
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
/// The most bytes of inline `@context` objects one document may carry, in
/// all: 16 KiB. Mastodon's inline context is about 1.5 KiB. The JSON-LD
/// processor copies a term's IRI into every expanded key that uses it, so a
/// large context used by many keys would cost far more memory than the
/// document's size; this cap, with [`MAX_TERM_IRI_BYTES`], bounds that
/// before any expansion.
pub const MAX_INLINE_CONTEXT_BYTES: usize = 16 * 1024;
/// The longest term, or IRI a term of an inline context stands for: 512
/// bytes (real ones are under 100).
pub const MAX_TERM_IRI_BYTES: usize = 512;
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

/// Runs `work` (JSON-LD processing and canonicalization) on a thread of
/// its own with a large stack (see [`STACK_SIZE`]) and waits for it; a
/// panic in the JSON-LD or canonicalization crates is contained there and
/// reported as an error. This blocks the calling thread: the synchronous
/// entry points ([`verify_with_key`](super::verify_with_key),
/// [`sign`](super::sign)) are CPU-bound.
pub(super) fn on_ld_thread<R: Send>(
    work: impl FnOnce() -> Result<R, LdSignatureError> + Send,
) -> Result<R, LdSignatureError> {
    // The application's own call: no slot to wait for (see `slots`).
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("archipel-ldsig".into())
            .stack_size(STACK_SIZE)
            .spawn_scoped(scope, work)
            .map_err(|e| {
                LdSignatureError::JsonLd(format!("cannot start the JSON-LD thread: {e}"))
            })?;
        worker
            .join()
            .map_err(|_| LdSignatureError::JsonLd("JSON-LD processing panicked".into()))?
    })
}

/// The result slot an [`on_ld_thread_async`] thread fills, and the waker of
/// the task waiting on it.
type Slot<R> = Arc<Mutex<(Option<Result<R, LdSignatureError>>, Option<Waker>)>>;

/// [`on_ld_thread`] for async callers: the work runs on its own large-stack
/// thread and the returned future waits for its result without blocking the
/// executor's thread, so other tasks (other inbox requests) run meanwhile.
/// Works on any executor: the thread wakes the waiting task itself.
pub(super) async fn on_ld_thread_async<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, LdSignatureError> + Send + 'static,
) -> Result<R, LdSignatureError> {
    // At most a few at once, process-wide (see `slots`); the slot goes to
    // the thread and is given back when the work ends, even if this future
    // is dropped meanwhile.
    let permit = super::slots::slots().acquire().await;
    let slot: Slot<R> = Arc::new(Mutex::new((None, None)));
    let filled = Arc::clone(&slot);
    std::thread::Builder::new()
        .name("archipel-ldsig".into())
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let _permit = permit;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| {
                    Err(LdSignatureError::JsonLd(
                        "JSON-LD processing panicked".into(),
                    ))
                });
            let waker = {
                let mut guard = filled.lock().unwrap_or_else(PoisonError::into_inner);
                guard.0 = Some(result);
                guard.1.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        })
        .map_err(|e| LdSignatureError::JsonLd(format!("cannot start the JSON-LD thread: {e}")))?;
    std::future::poll_fn(move |cx| {
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.0.take() {
            Some(result) => Poll::Ready(result),
            None => {
                guard.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

/// The URDNA2015 canonical N-Quads of `document` as JSON-LD, on the calling
/// thread: call it inside [`on_ld_thread`] or [`on_ld_thread_async`], whose
/// stack fits the JSON-LD crate's recursion.
pub(super) fn canonical_nquads(document: &Value) -> Result<String, LdSignatureError> {
    check_contexts(document, &mut 0)?;
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
    let numeric = |t: &IriBuf| t.as_str() == XSD_DOUBLE || t.as_str() == XSD_FLOAT;
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
                    let value = if numeric(&t) {
                        double_as_jsonld(l.value, &numbers)
                    } else {
                        l.value
                    };
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

/// `xsd:double`, the datatype JSON-LD gives a non-integer number.
const XSD_DOUBLE: &str = "http://www.w3.org/2001/XMLSchema#double";
/// `xsd:float`, the datatype ActivityStreams coerces `latitude`,
/// `longitude` and the like to: JSON-LD writes a number under it in the
/// `xsd:double` lexical form as well.
const XSD_FLOAT: &str = "http://www.w3.org/2001/XMLSchema#float";

/// The bit patterns of the document's JSON numbers that JSON-LD turns into
/// `xsd:double` lexical forms (those that are not integers), for a lookup
/// per literal that does not grow with the document.
fn fractional_numbers(value: &Value) -> HashSet<u64> {
    let mut out = HashSet::new();
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if !(n.is_i64() || n.is_u64()) => {
                out.extend(n.as_f64().map(f64::to_bits));
            }
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
/// document's numbers is rewritten. Only `xsd:double` and `xsd:float`
/// literals come here: a string (`xsd:string` or any other datatype) is
/// never rewritten, even when spelled like one of the document's numbers.
pub(super) fn double_as_jsonld(lexical: String, numbers: &HashSet<u64>) -> String {
    if !lexical.contains('E') {
        return lexical;
    }
    let Ok(v) = lexical.parse::<f64>() else {
        return lexical;
    };
    if !v.is_finite() || !numbers.contains(&v.to_bits()) {
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

/// Refuses, before any processing, any `@context` naming a document that is
/// not preloaded (so the error names the URL), and inline contexts past the
/// bounds: [`MAX_INLINE_CONTEXT_BYTES`] in all, terms and their IRIs of at
/// most [`MAX_TERM_IRI_BYTES`], and no scoped context (a term definition
/// with its own `@context`, which the JSON-LD processor would process again
/// at every use of the term). `inline` counts the inline bytes seen so far.
fn check_contexts(value: &Value, inline: &mut usize) -> Result<(), LdSignatureError> {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "@context" {
                    check_context_value(v, inline)?;
                } else {
                    check_contexts(v, inline)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_contexts(v, inline)),
        _ => Ok(()),
    }
}

fn check_context_value(v: &Value, inline: &mut usize) -> Result<(), LdSignatureError> {
    match v {
        Value::String(url) => {
            if contexts::preloaded(url).is_some() {
                Ok(())
            } else {
                Err(LdSignatureError::RemoteContext { url: cut(url) })
            }
        }
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_context_value(v, inline)),
        Value::Object(map) => {
            // The document is at most 1 MiB, so measuring is bounded too.
            *inline =
                inline.saturating_add(serde_json::to_string(v).map_or(usize::MAX, |t| t.len()));
            if *inline > MAX_INLINE_CONTEXT_BYTES {
                return Err(LdSignatureError::TooComplex {
                    what: "inline context bytes",
                    limit: MAX_INLINE_CONTEXT_BYTES,
                });
            }
            for (term, definition) in map {
                check_term_length(term)?;
                match definition {
                    Value::String(iri) => {
                        check_term_length(iri)?;
                        // An `@import` may name a preloaded context only.
                        if term == "@import" {
                            check_context_value(definition, inline)?;
                        }
                    }
                    Value::Array(_) if term == "@import" => {
                        check_context_value(definition, inline)?;
                    }
                    Value::Object(d) => {
                        if d.contains_key("@context") {
                            return Err(LdSignatureError::UnsafeContext {
                                reason: format!(
                                    "term `{}` carries a scoped context, which is not accepted",
                                    cut(term)
                                ),
                            });
                        }
                        for iri in d.values().filter_map(Value::as_str) {
                            check_term_length(iri)?;
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_term_length(s: &str) -> Result<(), LdSignatureError> {
    if s.len() > MAX_TERM_IRI_BYTES {
        return Err(LdSignatureError::TooComplex {
            what: "bytes of a term or its IRI in an inline context",
            limit: MAX_TERM_IRI_BYTES,
        });
    }
    Ok(())
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
