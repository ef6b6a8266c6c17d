//! Fan-out of one activity to 2,000 inboxes on a loopback inbox farm,
//! compared with the machine's bare RSA signing capacity on all cores,
//! both measured in the same run.
//!
//! Run: `cargo bench --bench delivery --features delivery,client`
//! (add `aws-lc-rs` for the faster RSA backend). Prints deliveries/s,
//! bare signs/s and their ratio; signing dominates delivery cost, so the
//! ratio says how much of the CPU the rest of the pipeline (queue, HTTP,
//! the farm's own signature verification) takes.

#[path = "../tests/support_farm/farm.rs"]
mod farm;

use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::client::{FetchPolicy, ReqwestClient};
use archipel::delivery::{
    DeliveryPlan, MemoryQueue, NewActivity, PlanOptions, Recipient, SignedDelivery, SignerMap,
    WorkerConfig, Workers,
};
use archipel::signatures::{Algorithm, PrivateKey, Signer};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const KEY_ID: &str = "https://sender.example/users/alice#main-key";
const HOSTS: usize = 50;
const PER_HOST_INBOXES: usize = 40;
const SIGNS_PER_ITER: u64 = 64;

fn key() -> PrivateKey {
    PrivateKey::from_pem(include_str!("../tests/interop/keys/rsa-2048-pkcs8.pem")).unwrap()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `SIGNS_PER_ITER` RSA signatures spread over all cores.
fn bare_signs(key: &PrivateKey, iters: u64) -> Duration {
    let msg = b"(request-target): post /users/1/inbox\nhost: 127.0.0.1:40000\ndate: Wed, 25 Nov 2026 12:00:00 GMT\ndigest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\ncontent-type: application/activity+json";
    let n = cores() as u64;
    let total = iters * SIGNS_PER_ITER;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..n {
            let share = total / n + u64::from(t < total % n);
            s.spawn(move || {
                for _ in 0..share {
                    std::hint::black_box(key.sign(Algorithm::RsaV1_5Sha256, msg).unwrap());
                }
            });
        }
    });
    start.elapsed()
}

struct FanOut {
    rt: tokio::runtime::Runtime,
    delivery: Arc<SignedDelivery<ReqwestClient>>,
    plan: DeliveryPlan,
}

impl FanOut {
    fn new(key: &PrivateKey) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores())
            .enable_all()
            .build()
            .unwrap();
        let hosts = rt.block_on(farm::start(
            vec![farm::Behavior::Accept; HOSTS],
            KEY_ID,
            key.public_key(),
        ));
        let recipients: Vec<Recipient> = hosts
            .iter()
            .flat_map(|h| (0..PER_HOST_INBOXES).map(move |i| Recipient::new(h.inbox(i))))
            .collect();
        let activity = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://sender.example/activities/bench",
            "type": "Create",
            "actor": "https://sender.example/users/alice",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {"type": "Note", "content": "fan-out benchmark ".repeat(20)}
        });
        let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
        assert_eq!(plan.inboxes().len(), HOSTS * PER_HOST_INBOXES);
        let client = ReqwestClient::new(
            FetchPolicy::default()
                .allow_private_addresses(true)
                .allow_http(true)
                .max_redirects(0),
        )
        .unwrap();
        let signers: SignerMap = [Signer::new(KEY_ID, key.clone())].into_iter().collect();
        FanOut {
            rt,
            delivery: Arc::new(SignedDelivery::new(client, signers)),
            plan,
        }
    }

    fn run(&self) -> Duration {
        self.rt.block_on(async {
            let queue = Arc::new(MemoryQueue::new());
            let config = WorkerConfig {
                concurrency: 128,
                per_host: 8,
                poll_interval: Duration::from_millis(50),
                ..WorkerConfig::default()
            };
            let workers = Workers::start(queue, self.delivery.clone(), config);
            let start = Instant::now();
            let n = workers
                .enqueue(NewActivity::from_plan(&self.plan, KEY_ID))
                .await
                .unwrap()
                .len();
            while workers.report().delivered < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let elapsed = start.elapsed();
            let report = workers.shutdown().await.report;
            assert_eq!((report.delivered, report.given_up, report.gone), (n, 0, 0));
            elapsed
        })
    }
}

/// Signing capacity and fan-out throughput measured in alternation, so
/// that load from other processes on a shared machine hits both alike;
/// returns (signs/s, deliveries/s, ratio) per round.
fn interleaved(key: &PrivateKey, fan_out: &FanOut, rounds: usize) -> Vec<(f64, f64, f64)> {
    let deliveries = (HOSTS * PER_HOST_INBOXES) as f64;
    (0..rounds)
        .map(|_| {
            let t = bare_signs(key, 2);
            let signs = (2 * SIGNS_PER_ITER) as f64 / t.as_secs_f64();
            let d = deliveries / fan_out.run().as_secs_f64();
            let t = bare_signs(key, 2);
            let signs = (signs + (2 * SIGNS_PER_ITER) as f64 / t.as_secs_f64()) / 2.0;
            (signs, d, d / signs)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let key = key();
    let fan_out = FanOut::new(&key);
    // Warm the connection pool once.
    fan_out.run();

    let mut rounds = interleaved(&key, &fan_out, 5);
    for (signs, d, ratio) in &rounds {
        println!("round: {signs:.0} signs/s, {d:.0} deliveries/s, ratio {ratio:.2}");
    }
    rounds.sort_by(|a, b| a.2.total_cmp(&b.2));
    let (signs, d, ratio) = rounds[rounds.len() / 2];
    println!(
        "delivery fan-out (median of {} interleaved rounds): {d:.0} deliveries/s; bare RSA signing on {} cores: {signs:.0} signs/s; ratio {ratio:.2} (target >= 0.70)",
        rounds.len(),
        cores()
    );

    let mut group = c.benchmark_group("delivery");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));

    group.throughput(Throughput::Elements(SIGNS_PER_ITER));
    group.bench_function("bare_rsa_signs_all_cores", |b| {
        b.iter_custom(|iters| bare_signs(&key, iters))
    });

    group.throughput(Throughput::Elements((HOSTS * PER_HOST_INBOXES) as u64));
    group.bench_function("fan_out_2000_inboxes", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| fan_out.run()).sum())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
