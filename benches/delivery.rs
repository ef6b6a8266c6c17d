//! Fan-out of one activity to 2,000 inboxes on a loopback inbox farm,
//! compared with the machine's bare RSA signing capacity on all cores,
//! both measured in the same run.
//!
//! Run: `cargo bench --bench delivery --features delivery,client`
//! (add `aws-lc-rs` for the faster RSA backend). Prints deliveries/s,
//! bare signs/s and their ratio; signing dominates delivery cost, so the
//! ratio says how much of the CPU the rest of the pipeline (queue, HTTP,
//! the farm's own signature verification) takes.

#[path = "../tests/support/farm.rs"]
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
    fn new(key: &PrivateKey, behavior: farm::Behavior) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores())
            .enable_all()
            .build()
            .unwrap();
        let hosts = rt.block_on(farm::start(vec![behavior; HOSTS], KEY_ID, key.public_key()));
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
            while workers.finished() < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let elapsed = start.elapsed();
            let report = workers.shutdown().await.report;
            assert_eq!((report.delivered, report.given_up, report.gone), (n, 0, 0));
            elapsed
        })
    }
}

/// CPU time (user + system) consumed by this process so far, from
/// `/proc/self/stat` (Linux); `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// One measurement: work done, wall time, CPU time.
struct Sample {
    n: f64,
    wall: Duration,
    cpu: Option<Duration>,
}

fn measure(n: u64, f: impl FnOnce() -> Duration) -> Sample {
    let c0 = cpu_time();
    let wall = f();
    let cpu = match (c0, cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    Sample {
        n: n as f64,
        wall,
        cpu,
    }
}

/// Signing capacity and fan-out throughput measured in alternation, so
/// that load from other processes on a shared machine hits both alike.
/// Returns per round: (signs/s, deliveries/s, wall-clock ratio, CPU ratio).
///
/// The wall-clock ratio is what the target speaks of; on a machine shared
/// with other work, the scheduler gives a process CPU per runnable thread,
/// which favours the multi-threaded fan-out. The CPU ratio (deliveries per
/// CPU-second over signs per CPU-second) does not depend on that load: it
/// is the ratio the wall-clock one converges to on an idle machine when
/// both saturate all cores. The farm's own work (HTTP server, signature
/// verification) runs in this process and is charged to the fan-out.
fn interleaved(
    key: &PrivateKey,
    fan_out: &FanOut,
    rounds: usize,
) -> Vec<(f64, f64, f64, Option<f64>)> {
    let deliveries = (HOSTS * PER_HOST_INBOXES) as u64;
    (0..rounds)
        .map(|_| {
            let s1 = measure(4 * SIGNS_PER_ITER, || bare_signs(key, 4));
            let d = measure(deliveries, || fan_out.run());
            let s2 = measure(4 * SIGNS_PER_ITER, || bare_signs(key, 4));
            let signs = (s1.n + s2.n) / (s1.wall + s2.wall).as_secs_f64();
            let dps = d.n / d.wall.as_secs_f64();
            let cpu_ratio = match (s1.cpu, s2.cpu, d.cpu) {
                (Some(a), Some(b), Some(c)) if !c.is_zero() && !(a + b).is_zero() => {
                    Some((d.n / c.as_secs_f64()) / ((s1.n + s2.n) / (a + b).as_secs_f64()))
                }
                _ => None,
            };
            (signs, dps, dps / signs, cpu_ratio)
        })
        .collect()
}

fn report(label: &str, rounds: &[(f64, f64, f64, Option<f64>)]) {
    for (signs, d, ratio, cpu) in rounds {
        println!(
            "{label} round: {signs:.0} signs/s, {d:.0} deliveries/s, wall ratio {ratio:.2}, CPU ratio {}",
            cpu.map_or("n/a".to_owned(), |c| format!("{c:.2}"))
        );
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let signs = median(rounds.iter().map(|r| r.0).collect());
    let d = median(rounds.iter().map(|r| r.1).collect());
    let ratio = median(rounds.iter().map(|r| r.2).collect());
    let cpu: Vec<f64> = rounds.iter().filter_map(|r| r.3).collect();
    println!(
        "{label}: medians of {} interleaved rounds: {d:.0} deliveries/s; bare RSA signing on {} cores: {signs:.0} signs/s; wall ratio {ratio:.2}; CPU ratio {} (target >= 0.70)",
        rounds.len(),
        cores(),
        if cpu.is_empty() {
            "n/a".to_owned()
        } else {
            format!("{:.2}", median(cpu))
        }
    );
}

fn bench(c: &mut Criterion) {
    let key = key();
    // The farm verifies every signature (its CPU is charged to the fan-out),
    // and a plain farm that only reads and answers (the sender's own cost).
    let verified = FanOut::new(&key, farm::Behavior::Accept);
    let plain = FanOut::new(&key, farm::Behavior::AcceptUnverified);
    // Warm the connection pools once.
    verified.run();
    plain.run();
    report("verifying farm", &interleaved(&key, &verified, 3));
    report("plain farm", &interleaved(&key, &plain, 3));
    let fan_out = verified;

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
