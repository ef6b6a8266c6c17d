//! Fan-out of one activity to 2,000 inboxes (100 hosts × 20) on a loopback
//! inbox farm in another process, over plain HTTP and over HTTPS, compared
//! with the bare RSA-2048 signing capacity of the same backend on all
//! cores, all measured side by side in one run.
//!
//! Run: `cargo bench --bench delivery --features delivery,client` (the `rsa`
//! backend) and `cargo bench --bench delivery --features
//! delivery,client,aws-lc-rs`. Without `--bench` (e.g. `cargo test
//! --benches`) it only checks that a tiny fan-out works.
//!
//! What is measured, per round, in alternation (the order flips every
//! round, so that drifting load from other processes hits all alike):
//! bare signs on all cores for a few seconds; plain-HTTP fan-outs for at
//! least a few seconds; HTTPS fan-outs likewise; bare signs again. Each
//! fan-out starts with a new client, hence no warm connections: keep-alive
//! only within a fan-out, per host, as a real sender has it. CPU time is
//! this process's (`getrusage`), which now holds only the sender; the
//! farm's is asked of the farm process.
//!
//! Reported: the wall-clock ratio (deliveries/s over bare signs/s), the
//! CPU-time ratio (deliveries per sender CPU-second over signs per
//! CPU-second), the sender's CPU utilisation (CPU-seconds / wall-seconds /
//! cores) and the farm's. On a 2-core machine the farm competes with the
//! sender for the cores, which lowers the wall-clock ratio but not the CPU
//! one; the utilisations say how much.

#[path = "delivery/farm.rs"]
mod farm;

use std::sync::Arc;
use std::time::{Duration, Instant};

use archipel::client::{FetchPolicy, ReqwestClient};
use archipel::delivery::{
    DeliveryPlan, MemoryQueue, NewActivity, PlanOptions, Recipient, SignedDelivery, SignerMap,
    WorkerConfig, Workers,
};
use archipel::signatures::{PrivateKey, Signer};
use archipel::vocab::Iri;
use url::Url;

const PEM: &str = include_str!("../tests/interop/keys/rsa-2048-pkcs8.pem");
const KEY_ID: &str = "https://sender.example/users/alice#main-key";
const OWNER: &str = "https://sender.example/users/alice";

/// A signing string of the size delivery signs (draft-cavage-12).
const MSG: &[u8] = b"(request-target): post /users/1/inbox\nhost: 127.0.0.1:40000\ndate: Wed, 25 Nov 2026 12:00:00 GMT\ndigest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\ncontent-type: application/activity+json";

/// Shape and length of a run: the full benchmark, or the smoke test that
/// `cargo test --benches` runs (unoptimised RSA is slow).
struct Shape {
    hosts: usize,
    per_host: usize,
    rounds: usize,
    sample: Duration,
}

const BENCH: Shape = Shape {
    hosts: 100,
    per_host: 20,
    rounds: 3,
    sample: Duration::from_secs(3),
};
const SMOKE: Shape = Shape {
    hosts: 2,
    per_host: 2,
    rounds: 1,
    sample: Duration::ZERO,
};

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The bare RSA-2048 PKCS#1 v1.5 SHA-256 signature of the active backend,
/// called on the backend crate directly (as `benches/signatures.rs` does).
mod bare {
    #[cfg(not(feature = "aws-lc-rs"))]
    pub struct Bare(rsa::PrivateKey);
    #[cfg(not(feature = "aws-lc-rs"))]
    impl Bare {
        pub const NAME: &str = "rsa";
        pub fn new(pem: &str) -> Self {
            use rsa::pkcs8::DecodePrivateKey as _;
            Bare(rsa::PrivateKey::from_pkcs8_pem(pem).unwrap())
        }
        pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
            self.0.pkcs1v15_sign::<rsa::sha2::Sha256>(msg).unwrap()
        }
    }

    #[cfg(feature = "aws-lc-rs")]
    pub struct Bare {
        pair: aws_lc_rs::signature::RsaKeyPair,
        rng: aws_lc_rs::rand::SystemRandom,
    }
    #[cfg(feature = "aws-lc-rs")]
    impl Bare {
        pub const NAME: &str = "aws-lc-rs";
        pub fn new(pem: &str) -> Self {
            use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
            let der = rsa::PrivateKey::from_pkcs8_pem(pem)
                .unwrap()
                .to_pkcs8_der()
                .unwrap();
            Bare {
                pair: aws_lc_rs::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).unwrap(),
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
    }
}

/// Bare signs on all cores until `at_least` has passed (at least one per
/// core); returns how many.
fn bare_signs(bare: &bare::Bare, at_least: Duration) -> u64 {
    let deadline = Instant::now() + at_least;
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..cores())
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    loop {
                        std::hint::black_box(bare.sign(std::hint::black_box(MSG)));
                        n += 1;
                        if Instant::now() >= deadline {
                            return n;
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Plain,
    Tls,
}

struct Sender {
    rt: tokio::runtime::Runtime,
    signers: SignerMap,
    plain: DeliveryPlan,
    tls: DeliveryPlan,
    ca_pem: String,
}

impl Sender {
    fn new(key: &PrivateKey, farm: &farm::Farm, per_host: usize) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores())
            .enable_all()
            .build()
            .unwrap();
        let activity = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://sender.example/activities/bench",
            "type": "Create",
            "actor": OWNER,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {"type": "Note", "content": "fan-out benchmark ".repeat(20)}
        });
        let plan = |scheme: &str, ports: &[u16]| {
            let recipients: Vec<Recipient> = ports
                .iter()
                .flat_map(|port| {
                    (0..per_host).map(move |i| {
                        let url = format!("{scheme}://127.0.0.1:{port}/users/{i}/inbox");
                        Recipient::new(Url::parse(&url).unwrap())
                    })
                })
                .collect();
            let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
            assert_eq!(plan.inboxes().len(), ports.len() * per_host);
            plan
        };
        Sender {
            rt,
            signers: [Signer::new(KEY_ID, key.clone())].into_iter().collect(),
            plain: plan("http", &farm.plain),
            tls: plan("https", &farm.tls),
            ca_pem: farm.ca_pem.clone(),
        }
    }

    /// One fan-out with a new client (cold connection pools); returns the
    /// number of deliveries, all of which must have succeeded.
    fn fan_out(&self, transport: Transport) -> u64 {
        let policy = FetchPolicy::default()
            .allow_private_addresses(true)
            .max_redirects(0);
        let (client, plan) = match transport {
            Transport::Plain => (
                ReqwestClient::new(policy.allow_http(true)).unwrap(),
                &self.plain,
            ),
            Transport::Tls => (
                ReqwestClient::with_root_certificates(policy, self.ca_pem.as_bytes()).unwrap(),
                &self.tls,
            ),
        };
        let delivery = Arc::new(SignedDelivery::new(client, self.signers.clone()));
        self.rt.block_on(async {
            let config = WorkerConfig::default()
                .with_concurrency(128)
                .with_per_host(8)
                .with_poll_interval(Duration::from_millis(50));
            let workers = Workers::start(Arc::new(MemoryQueue::new()), delivery, config);
            let n = workers
                .enqueue(NewActivity::from_plan(plan, Iri::new_unchecked(KEY_ID)))
                .await
                .unwrap()
                .len();
            let deadline = Instant::now() + Duration::from_secs(300);
            while workers.finished() < n {
                assert!(Instant::now() < deadline, "fan-out did not finish in 300 s");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let report = workers.shutdown().await.report;
            assert_eq!((report.delivered, report.given_up, report.gone), (n, 0, 0));
            n as u64
        })
    }
}

/// Work done, wall time, this process's CPU time, the farm's CPU time and
/// the connections it accepted.
#[derive(Default, Clone, Copy)]
struct Sample {
    n: u64,
    wall: Duration,
    cpu: Option<Duration>,
    farm_cpu: Option<Duration>,
    connections: u64,
}

impl Sample {
    fn take(farm: &mut farm::Farm, f: impl FnOnce() -> u64) -> Sample {
        let (c0, (f0, k0), t0) = (farm::process_cpu(), farm.stats(), Instant::now());
        let n = f();
        let wall = t0.elapsed();
        let diff = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
        let cpu = diff(c0, farm::process_cpu());
        let (f1, k1) = farm.stats();
        Sample {
            n,
            wall,
            cpu,
            farm_cpu: diff(f0, f1),
            connections: k1 - k0,
        }
    }

    fn merge(self, o: Sample) -> Sample {
        let add = |a: Option<Duration>, b: Option<Duration>| Some(a? + b?);
        Sample {
            n: self.n + o.n,
            wall: self.wall + o.wall,
            cpu: add(self.cpu, o.cpu),
            farm_cpu: add(self.farm_cpu, o.farm_cpu),
            connections: self.connections + o.connections,
        }
    }

    fn per_sec(&self) -> f64 {
        self.n as f64 / self.wall.as_secs_f64()
    }

    fn per_cpu_sec(&self) -> Option<f64> {
        Some(self.n as f64 / self.cpu?.as_secs_f64())
    }

    /// CPU-seconds per wall-second per core.
    fn utilisation(cpu: Option<Duration>, wall: Duration) -> Option<f64> {
        Some(cpu?.as_secs_f64() / wall.as_secs_f64() / cores() as f64)
    }
}

/// The figures of one transport in one round.
#[derive(Clone, Copy)]
struct Figures {
    deliveries_per_sec: f64,
    wall_ratio: f64,
    cpu_ratio: Option<f64>,
    sender_util: Option<f64>,
    farm_util: Option<f64>,
    deliveries_per_connection: f64,
}

impl Figures {
    fn new(signs: &Sample, d: &Sample) -> Figures {
        Figures {
            deliveries_per_sec: d.per_sec(),
            wall_ratio: d.per_sec() / signs.per_sec(),
            cpu_ratio: d.per_cpu_sec().zip(signs.per_cpu_sec()).map(|(d, s)| d / s),
            sender_util: Sample::utilisation(d.cpu, d.wall),
            farm_util: Sample::utilisation(d.farm_cpu, d.wall),
            deliveries_per_connection: d.n as f64 / d.connections.max(1) as f64,
        }
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |x| format!("{:.0} %", x * 100.0))
}

fn two(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |x| format!("{x:.2}"))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn main() {
    let key = PrivateKey::from_pem(PEM).unwrap();
    if let Ok(hosts) = std::env::var(farm::FARM_ENV) {
        farm::serve(hosts.parse().unwrap(), KEY_ID, OWNER, key.public_key());
        return;
    }
    let shape = if std::env::args().any(|a| a == "--bench") {
        BENCH
    } else {
        SMOKE
    };
    let bare = bare::Bare::new(PEM);
    let mut farm = farm::Farm::spawn(shape.hosts);
    let sender = Sender::new(&key, &farm, shape.per_host);
    let load_before = load_average();

    // Warm-up, not measured: page in code, grow the allocator.
    sender.fan_out(Transport::Plain);
    sender.fan_out(Transport::Tls);
    bare_signs(&bare, shape.sample / 3);

    let fan_outs = |t: Transport| {
        let start = Instant::now();
        let mut n = 0;
        while n == 0 || start.elapsed() < shape.sample {
            n += sender.fan_out(t);
        }
        n
    };
    let mut rounds: Vec<(Sample, Figures, Figures)> = Vec::new();
    for r in 0..shape.rounds {
        let s1 = Sample::take(&mut farm, || bare_signs(&bare, shape.sample));
        let order = if r % 2 == 0 {
            [Transport::Plain, Transport::Tls]
        } else {
            [Transport::Tls, Transport::Plain]
        };
        let mut d = [Sample::default(); 2];
        for t in order {
            d[usize::from(t == Transport::Tls)] = Sample::take(&mut farm, || fan_outs(t));
        }
        let s2 = Sample::take(&mut farm, || bare_signs(&bare, shape.sample));
        let signs = s1.merge(s2);
        let (plain, tls) = (Figures::new(&signs, &d[0]), Figures::new(&signs, &d[1]));
        println!(
            "round {}: bare {:.0} signs/s ({} signs, CPU {}); plain {:.0} deliveries/s ({}, CPU {}), ratios wall {} CPU {}; https {:.0} deliveries/s ({}, CPU {}), ratios wall {} CPU {}",
            r + 1,
            signs.per_sec(),
            signs.n,
            pct(Sample::utilisation(signs.cpu, signs.wall)),
            plain.deliveries_per_sec,
            d[0].n,
            pct(plain.sender_util),
            two(Some(plain.wall_ratio)),
            two(plain.cpu_ratio),
            tls.deliveries_per_sec,
            d[1].n,
            pct(tls.sender_util),
            two(Some(tls.wall_ratio)),
            two(tls.cpu_ratio),
        );
        rounds.push((signs, plain, tls));
    }

    let signs = median(rounds.iter().map(|r| r.0.per_sec()).collect());
    let sign_util = median(
        rounds
            .iter()
            .filter_map(|r| Sample::utilisation(r.0.cpu, r.0.wall))
            .collect(),
    );
    println!(
        "\ndelivery bench, backend {}, {} cores, {} hosts x {} inboxes, new client per fan-out; load average before {}, after {}",
        bare::Bare::NAME,
        cores(),
        shape.hosts,
        shape.per_host,
        load_before,
        load_average(),
    );
    println!(
        "  bare RSA-2048 signs on all cores: {} /s, CPU {} of the cores (median of {} rounds)",
        signs.map_or("n/a".into(), |s| format!("{s:.0}")),
        pct(sign_util),
        rounds.len()
    );
    if sign_util.is_some_and(|u| u < 0.9) {
        // The fan-out runs on more threads than the bare loop's one per
        // core (its signing threads beside the runtime's): under load the
        // scheduler's per-thread shares favour the fan-out.
        println!(
            "  (other processes held the cores: the wall-clock ratios below are skewed, the CPU-time ratios much less)"
        );
    }
    for (label, pick) in [
        (
            "plain HTTP",
            (|r: &(Sample, Figures, Figures)| r.1) as fn(&_) -> Figures,
        ),
        ("HTTPS     ", |r| r.2),
    ] {
        let f: Vec<Figures> = rounds.iter().map(pick).collect();
        let m = |g: fn(&Figures) -> Option<f64>| median(f.iter().filter_map(g).collect());
        println!(
            "  {label}: {:.0} deliveries/s; wall-clock ratio {}; CPU-time ratio {}; sender CPU {} of the cores; farm CPU {}; {:.1} deliveries per connection",
            m(|f| Some(f.deliveries_per_sec)).unwrap_or(f64::NAN),
            two(m(|f| Some(f.wall_ratio))),
            two(m(|f| f.cpu_ratio)),
            pct(m(|f| f.sender_util)),
            pct(m(|f| f.farm_util)),
            m(|f| Some(f.deliveries_per_connection)).unwrap_or(f64::NAN),
        );
    }
}
