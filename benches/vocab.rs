//! Typed decode/encode of a realistic Mastodon `Create{Note}` (mentions,
//! hashtag, custom emoji, image attachment with blurhash and focal point,
//! `contentMap`, replies collection), side by side with `serde_json::Value`
//! on the same bytes.
//!
//! `cargo bench --bench vocab -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use archipel::vocab::AnyObject;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

/// Remove insignificant whitespace, keeping string contents (and their
/// escapes) byte for byte, as a server would send the document.
fn minify(pretty: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pretty.len());
    let (mut in_str, mut esc) = (false, false);
    for &b in pretty {
        if in_str {
            out.push(b);
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if !b.is_ascii_whitespace() {
            in_str = b == b'"';
            out.push(b);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let doc = minify(include_bytes!("../tests/data/mastodon_create_note.json"));
    let typed = AnyObject::from_slice(&doc).unwrap();
    let value: Value = serde_json::from_slice(&doc).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), value);

    let mut g = c.benchmark_group(format!("create_note_{}B", doc.len()));
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("parse/typed", |b| {
        b.iter(|| AnyObject::from_slice(black_box(&doc)).unwrap())
    });
    g.bench_function("parse/value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&doc)).unwrap())
    });
    g.bench_function("serialize/typed", |b| {
        b.iter(|| serde_json::to_vec(black_box(&typed)).unwrap())
    });
    g.bench_function("serialize/value", |b| {
        b.iter(|| serde_json::to_vec(black_box(&value)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
