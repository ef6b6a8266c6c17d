//! Linked Data Signatures (`RsaSignature2017`) on a Mastodon-style
//! `Create{Note}` (hashtag, emoji, attachment), next to the bare RSA-2048
//! PKCS#1 v1.5 SHA-256 operation of the same key, in one run, so the cost
//! of JSON-LD expansion and URDNA2015 reads as a ratio.
//!
//! `cargo bench --bench ldsig --features ld-signatures` (the `rsa` crate) and
//! `cargo bench --bench ldsig --features ld-signatures,aws-lc-rs`.
//! After criterion's report, a plain timed loop prints the ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use archipel::ldsig;
use archipel::signatures::{Algorithm, PrivateKey};
use archipel::vocab::Iri;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;

const PEM: &str = include_str!("../tests/interop/keys/rsa-2048-pkcs8.pem");
const NOTE: &str = include_str!("../tests/ldsig/vectors/create_note.json");
const CREATOR: &str = "https://a.example/users/alice#main-key";
const CREATED: &str = "2026-01-01T00:00:00Z";

struct Setup {
    key: PrivateKey,
    creator: Iri,
    document: Value,
    signed: Value,
    /// What an LD signature signs: two hex SHA-256 digests (128 bytes).
    message: Vec<u8>,
    raw: Vec<u8>,
}

fn setup() -> Setup {
    let key = PrivateKey::from_pem(PEM).unwrap();
    let creator = Iri::parse(CREATOR).unwrap();
    let document: Value = serde_json::from_str(NOTE).unwrap();
    let signed = ldsig::sign(&document, &key, &creator, CREATED).unwrap();
    let message = ldsig::signing_input(&signed).unwrap();
    let raw = key.sign(Algorithm::RsaV1_5Sha256, &message).unwrap();
    Setup {
        key,
        creator,
        document,
        signed,
        message,
        raw,
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let public = s.key.public_key();
    let mut g = c.benchmark_group("ldsig");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("verify (RsaSignature2017)", |b| {
        b.iter(|| ldsig::verify_with_key(black_box(&s.signed), &public).unwrap())
    });
    g.bench_function("bare RSA-SHA256 verify", |b| {
        b.iter(|| {
            public
                .verify(Algorithm::RsaV1_5Sha256, black_box(&s.message), &s.raw)
                .unwrap()
        })
    });
    g.bench_function("sign (RsaSignature2017)", |b| {
        b.iter(|| ldsig::sign(black_box(&s.document), &s.key, &s.creator, CREATED).unwrap())
    });
    g.bench_function("bare RSA-SHA256 sign", |b| {
        b.iter(|| {
            s.key
                .sign(Algorithm::RsaV1_5Sha256, black_box(&s.message))
                .unwrap()
        })
    });
    g.finish();
    ratios(&s);
}

/// Mean time per call of `f` over at least `at_least`.
fn per_call(at_least: Duration, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < at_least || n < 10 {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn ratios(s: &Setup) {
    let public = s.key.public_key();
    let window = Duration::from_secs(3);
    let verify = per_call(window, || {
        black_box(ldsig::verify_with_key(&s.signed, &public).unwrap());
    });
    let bare_verify = per_call(window, || {
        black_box(
            public
                .verify(Algorithm::RsaV1_5Sha256, &s.message, &s.raw)
                .unwrap(),
        );
    });
    let sign = per_call(window, || {
        black_box(ldsig::sign(&s.document, &s.key, &s.creator, CREATED).unwrap());
    });
    let bare_sign = per_call(window, || {
        black_box(s.key.sign(Algorithm::RsaV1_5Sha256, &s.message).unwrap());
    });
    println!(
        "ldsig verify {verify:?} vs bare RSA verify {bare_verify:?}: ratio {:.1}",
        verify.as_secs_f64() / bare_verify.as_secs_f64()
    );
    println!(
        "ldsig sign {sign:?} vs bare RSA sign {bare_sign:?}: ratio {:.1}",
        sign.as_secs_f64() / bare_sign.as_secs_f64()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
