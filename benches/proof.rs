//! FEP-8b32 `eddsa-jcs-2022` integrity proofs: creating and verifying a
//! proof on a Note-sized `Create` next to the bare Ed25519 operation
//! (ed25519-dalek, the same key) on the document's canonical (RFC 8785)
//! bytes, in one run, so the cost of the proof layer (JCS of the document
//! and of the proof configuration, two SHA-256, multibase, JSON) reads as
//! a ratio.
//!
//! `cargo bench --bench proof --features proof`

use std::hint::black_box;
use std::time::Duration;

use archipel::proof::{self, ProofOptions};
use archipel::signatures::PrivateKey;
use archipel::vocab::Iri;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer as _, SigningKey};

const METHOD: &str = "https://a.example/users/alice#ed25519-key";
/// A fixed Ed25519 seed: the bench is about time, not secrecy.
const SEED: [u8; 32] = [7; 32];

/// A Create{Note} of about 1.5 KiB, as a Mastodon-like server posts one:
/// HTML content, a mention, a hashtag, an attachment, a language map.
fn document() -> serde_json::Value {
    let mut content = String::from(
        "<p><span class=\"h-card\"><a href=\"https://b.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> ",
    );
    while content.len() < 600 {
        content.push_str("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ");
    }
    content.push_str("<a href=\"https://a.example/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>rust</span></a></p>");
    serde_json::from_str(&format!(
        r##"{{
  "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1",
    {{"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"}}],
  "id": "https://a.example/users/alice/statuses/1/activity",
  "type": "Create",
  "actor": "https://a.example/users/alice",
  "published": "2026-12-01T10:00:00Z",
  "to": ["https://www.w3.org/ns/activitystreams#Public"],
  "cc": ["https://a.example/users/alice/followers", "https://b.example/users/bob"],
  "object": {{
    "id": "https://a.example/users/alice/statuses/1",
    "type": "Note",
    "attributedTo": "https://a.example/users/alice",
    "published": "2026-12-01T10:00:00Z",
    "url": "https://a.example/@alice/1",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://a.example/users/alice/followers", "https://b.example/users/bob"],
    "sensitive": false,
    "content": {content:?},
    "contentMap": {{"en": {content:?}}},
    "tag": [
      {{"type": "Mention", "href": "https://b.example/users/bob", "name": "@bob@b.example"}},
      {{"type": "Hashtag", "href": "https://a.example/tags/rust", "name": "#rust"}}
    ],
    "attachment": [{{"type": "Document", "mediaType": "image/png", "url": "https://a.example/media/1.png", "name": "a crab"}}]
  }}
}}"##
    ))
    .unwrap()
}

/// The PKCS#8 v1 DER of an Ed25519 seed (RFC 8410 §7).
fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

/// Times `per` calls of `f`, in nanoseconds per call.
fn time_per_call(per: u32, f: &mut dyn FnMut()) -> f64 {
    let t = std::time::Instant::now();
    for _ in 0..per {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(per)
}

/// Alternates short runs of the bare operation and archipel's (flipping
/// the order every round, for a noisy shared machine) and prints the
/// median per-round ratio with the median absolute times.
fn paired(name: &str, rounds: usize, per: u32, bare: &mut dyn FnMut(), ours: &mut dyn FnMut()) {
    let (mut ratios, mut bares, mut oursv) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let (b, o) = if r % 2 == 0 {
            let b = time_per_call(per, bare);
            (b, time_per_call(per, ours))
        } else {
            let o = time_per_call(per, ours);
            (time_per_call(per, bare), o)
        };
        ratios.push(o / b);
        bares.push(b);
        oursv.push(o);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "paired {name}: archipel/bare = {:.2} (median of {rounds} rounds); bare {:.1} µs, archipel {:.1} µs",
        median(&mut ratios),
        median(&mut bares) / 1000.0,
        median(&mut oursv) / 1000.0
    );
}

fn proofs(c: &mut Criterion) {
    let doc = document();
    let key = PrivateKey::from_pkcs8_der(&pkcs8(&SEED)).unwrap();
    let public = key.public_key();
    let bare = SigningKey::from_bytes(&SEED);
    let bare_public = bare.verifying_key();
    // The same key on both sides.
    assert_eq!(
        public.to_multibase().unwrap(),
        archipel::signatures::PublicKey::from_spki_der(
            &ed25519_dalek::pkcs8::EncodePublicKey::to_public_key_der(&bare_public)
                .unwrap()
                .into_vec()
        )
        .unwrap()
        .to_multibase()
        .unwrap()
    );
    let options = ProofOptions::new(Iri::parse(METHOD).unwrap());
    let canonical = proof::canonicalize(&doc).unwrap();
    println!("document: {} canonical bytes", canonical.len());
    let signed = proof::sign(&doc, &key, &options).unwrap();
    assert_eq!(proof::verify_with_key(&signed, &public).unwrap().len(), 1);
    let bare_sig = bare.sign(&canonical);
    assert!(bare_public.verify_strict(&canonical, &bare_sig).is_ok());

    paired(
        "eddsa-jcs-2022 sign",
        40,
        50,
        &mut || {
            black_box(bare.sign(black_box(&canonical)));
        },
        &mut || {
            black_box(proof::sign(black_box(&doc), &key, &options).unwrap());
        },
    );
    paired(
        "eddsa-jcs-2022 verify",
        40,
        50,
        &mut || {
            assert!(
                bare_public
                    .verify_strict(black_box(&canonical), black_box(&bare_sig))
                    .is_ok()
            )
        },
        &mut || {
            black_box(proof::verify_with_key(black_box(&signed), &public).unwrap());
        },
    );

    let mut g = c.benchmark_group("proof");
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("bare_ed25519_sign", |b| {
        b.iter(|| bare.sign(black_box(&canonical)))
    });
    g.bench_function("eddsa_jcs_2022_sign", |b| {
        b.iter(|| proof::sign(black_box(&doc), &key, &options).unwrap())
    });
    g.bench_function("bare_ed25519_verify", |b| {
        b.iter(|| bare_public.verify_strict(black_box(&canonical), black_box(&bare_sig)))
    });
    g.bench_function("eddsa_jcs_2022_verify", |b| {
        b.iter(|| proof::verify_with_key(black_box(&signed), &public).unwrap())
    });
    g.bench_function("jcs_canonicalize", |b| {
        b.iter(|| proof::canonicalize(black_box(&doc)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, proofs);
criterion_main!(benches);
