//! Sign and verify a Mastodon-style inbox POST (1 KiB body) next to the
//! bare RSA-2048 operation of the same backend, in one run, so the
//! overhead of archipel's HTTP-signature layer reads as a ratio.
//!
//! `cargo bench --bench signatures` (the `rsa` crate) and
//! `cargo bench --bench signatures --features aws-lc-rs,rfc9421`.

use std::hint::black_box;
use std::time::Duration;

use archipel::signatures::*;
use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const PEM: &str = include_str!("../tests/interop/keys/rsa-2048-pkcs8.pem");
const KEY_ID: &str = "https://a.example/users/alice#main-key";

fn body() -> Bytes {
    // A 1 KiB Create{Note}, as Mastodon delivers.
    let mut s = String::from(
        r#"{"@context":["https://www.w3.org/ns/activitystreams"],"id":"https://a.example/users/alice/statuses/1/activity","type":"Create","actor":"https://a.example/users/alice","to":["https://www.w3.org/ns/activitystreams#Public"],"object":{"id":"https://a.example/users/alice/statuses/1","type":"Note","content":""#,
    );
    while s.len() < 1000 {
        s.push_str("lorem ipsum ");
    }
    s.push_str(r#""}}"#);
    Bytes::from(s)
}

fn request(body: &Bytes) -> http::Request<Bytes> {
    http::Request::post("https://b.example/users/bob/inbox")
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .unwrap()
}

/// Polls a future that never waits (the in-memory resolver) to completion.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("in-memory resolver never waits"),
    }
}

/// The bare RSA-2048 PKCS#1 v1.5 SHA-256 operations of the active backend,
/// called on the backend crate directly.
mod bare {
    #[cfg(not(feature = "aws-lc-rs"))]
    pub struct Bare {
        key: rsa::PrivateKey,
        public: rsa::PublicKey,
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    impl Bare {
        pub fn new(pem: &str) -> Self {
            use rsa::pkcs8::DecodePrivateKey as _;
            let key = rsa::PrivateKey::from_pkcs8_pem(pem).unwrap();
            let public = key.to_public_key();
            Bare { key, public }
        }
        pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
            self.key.pkcs1v15_sign::<rsa::sha2::Sha256>(msg).unwrap()
        }
        pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            self.public
                .pkcs1v15_verify::<rsa::sha2::Sha256>(msg, sig)
                .is_ok()
        }
    }

    #[cfg(feature = "aws-lc-rs")]
    pub struct Bare {
        pair: aws_lc_rs::signature::RsaKeyPair,
        public: aws_lc_rs::signature::ParsedPublicKey,
        rng: aws_lc_rs::rand::SystemRandom,
    }
    #[cfg(feature = "aws-lc-rs")]
    impl Bare {
        pub fn new(pem: &str) -> Self {
            use aws_lc_rs::signature::{self, KeyPair as _};
            use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
            let der = rsa::PrivateKey::from_pkcs8_pem(pem)
                .unwrap()
                .to_pkcs8_der()
                .unwrap();
            let pair = signature::RsaKeyPair::from_pkcs8(der.as_bytes()).unwrap();
            let public = signature::ParsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            )
            .unwrap();
            Bare {
                pair,
                public,
                rng: aws_lc_rs::rand::SystemRandom::new(),
            }
        }
        pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
            let mut out = vec![0; self.pair.public_modulus_len()];
            self.pair
                .sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    msg,
                    &mut out,
                )
                .unwrap();
            out
        }
        pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            self.public.verify_sig(msg, sig).is_ok()
        }
    }
}

/// Times `per` calls of `f`, in nanoseconds per call.
fn time_per_call(per: u32, f: &mut dyn FnMut()) -> f64 {
    let t = std::time::Instant::now();
    for _ in 0..per {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(per)
}

/// Side-by-side ratio for a noisy, shared machine: alternate short runs
/// of the bare operation and archipel's, flip the order every round, and
/// report the median per-round ratio with the median absolute times.
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
        "paired {name}: archipel/bare = {:.3} (median of {rounds} rounds); bare {:.1} µs, archipel {:.1} µs",
        median(&mut ratios),
        median(&mut bares) / 1000.0,
        median(&mut oursv) / 1000.0
    );
}

fn signatures(c: &mut Criterion) {
    let backend = if cfg!(feature = "aws-lc-rs") {
        "aws-lc-rs"
    } else {
        "rsa"
    };
    let key = PrivateKey::from_pem(PEM).unwrap();
    let body = body();
    assert!(body.len() >= 1000 && body.len() <= 1100, "{}", body.len());
    let bare = bare::Bare::new(PEM);
    // A signing string of the size archipel signs for this request.
    let mut probe = request(&body);
    let signer = Signer::new(KEY_ID, key.clone());
    signer.sign(&mut probe).unwrap();
    let signing_string = format!(
        "(request-target): post /users/bob/inbox\nhost: b.example\ndate: {}\ndigest: {}\ncontent-type: application/activity+json",
        probe.headers()["date"].to_str().unwrap(),
        probe.headers()["digest"].to_str().unwrap()
    );
    let bare_sig = bare.sign(signing_string.as_bytes());
    assert!(bare.verify(signing_string.as_bytes(), &bare_sig));

    let mut keys = MemoryKeyResolver::new();
    keys.insert(KEY_ID, key.public_key(), "https://a.example/users/alice");
    let verifier = Verifier::new(keys, VerifyPolicy::default());
    let digest = BodyDigest::sha256(&body);

    let verify_ratio_req = probe.clone();
    paired(
        &format!("{backend} cavage verify"),
        60,
        40,
        &mut || assert!(bare.verify(black_box(signing_string.as_bytes()), black_box(&bare_sig))),
        &mut || {
            ready(verifier.verify(black_box(&verify_ratio_req))).unwrap();
        },
    );
    let mut template = request(&body);
    template.headers_mut().reserve(8);
    paired(
        &format!("{backend} cavage sign"),
        30,
        4,
        &mut || {
            black_box(bare.sign(black_box(signing_string.as_bytes())));
        },
        &mut || {
            let mut r = template.clone();
            signer.sign(&mut r).unwrap();
            black_box(r);
        },
    );
    paired(
        &format!("{backend} cavage sign_with_digest (fan-out)"),
        30,
        4,
        &mut || {
            black_box(bare.sign(black_box(signing_string.as_bytes())));
        },
        &mut || {
            let mut r = template.clone();
            signer.sign_with_digest(&mut r, &digest).unwrap();
            black_box(r);
        },
    );

    let mut g = c.benchmark_group(format!("signatures/{backend}"));
    g.sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    g.bench_function("bare_rsa2048_sign", |b| {
        b.iter(|| bare.sign(black_box(signing_string.as_bytes())))
    });
    g.bench_function("cavage_sign_inbox_post", |b| {
        b.iter_batched(
            || request(&body),
            |mut r| signer.sign(&mut r).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("cavage_sign_with_digest_fanout", |b| {
        b.iter_batched(
            || request(&body),
            |mut r| signer.sign_with_digest(&mut r, &digest).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("bare_rsa2048_verify", |b| {
        b.iter(|| bare.verify(black_box(signing_string.as_bytes()), black_box(&bare_sig)))
    });
    let public = key.public_key();
    g.bench_function("public_key_verify", |b| {
        b.iter(|| {
            public
                .verify(
                    Algorithm::RsaV1_5Sha256,
                    black_box(signing_string.as_bytes()),
                    black_box(&bare_sig),
                )
                .unwrap()
        })
    });
    g.bench_function("sha256_1kib_body", |b| {
        b.iter(|| BodyDigest::sha256(black_box(&body)))
    });
    g.bench_function("cavage_verify_inbox_post", |b| {
        b.iter(|| ready(verifier.verify(black_box(&probe))).unwrap())
    });
    #[cfg(feature = "rfc9421")]
    {
        let mut r9 = request(&body);
        signer.clone().spec(Spec::Rfc9421).sign(&mut r9).unwrap();
        g.bench_function("rfc9421_sign_inbox_post", |b| {
            let s = signer.clone().spec(Spec::Rfc9421);
            b.iter_batched(
                || request(&body),
                |mut r| s.sign(&mut r).unwrap(),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("rfc9421_verify_inbox_post", |b| {
            b.iter(|| ready(verifier.verify(black_box(&r9))).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
