//! A post to 100,000 followers on 5,000 hosts, through the two-stage
//! fan-out of `archipel::federation`, on the durable stores a server runs
//! with (SQLite follow graph, actor cache, fan-out queue and delivery
//! queue, in a temporary directory), delivered to a loopback farm.
//!
//! Run: `cargo bench --bench fanout --features server`. Without `--bench`
//! (e.g. `cargo test --benches`) it only checks that a tiny fan-out works.
//!
//! The followers' actors are in the cache before the post (nothing is
//! fetched), each with its own inbox and no shared inbox, so that every
//! follower costs one signed delivery and the drain compares with bare
//! signing (with shared inboxes the same post is one delivery per host).
//! The 5,000 hosts are names (`h{n}.fanout.bench`); the sender's HTTP
//! client maps every name to one of a few axum servers on 127.0.0.1,
//! which answer 202 to any host and path. Per-host limits, the breaker and
//! the queue see 5,000 hosts; the sockets are shared by the few servers,
//! so connection set-up per host is not part of the figure.
//!
//! Measured in one run, and printed with a PASS or FAIL line each (the
//! process exits non-zero on a FAIL):
//! 1. the time `Federation::send` takes, as the poster sees it (≤ 50 ms);
//! 2. the peak resident set of this process over the whole run, the farm
//!    and the stores' caches included (`getrusage` maxrss; ≤ 150 MB);
//! 3. the drain rate, deliveries per second from the post until every
//!    delivery is acknowledged, over the bare RSA-2048 signing capacity of
//!    aws-lc-rs on all cores, measured before and after (≥ 0.8).
//!
//! Beside the ratio it prints what bounds it on this machine: the CPU the
//! process spent per delivery during the drain, and an HTTP floor measured
//! after it — the same number of POSTs of the same size, unsigned, through
//! the same client to the same farm — whose CPU per request plus one bare
//! signature's is the least any delivery can cost here, so
//! `signature / (signature + floor)` is the ratio's ceiling.
//!
//! Then a signed floor: as many deliveries signed and sent by a
//! `SignedDelivery` alone (its signing threads, the same client, farm and
//! body), with no queue, worker or expansion. On two cores its signatures
//! share the cores with the HTTP stack's threads, which preempt them, so
//! they cost more than bare ones: its ratio is what sending alone reaches
//! here, and the drain's share of it is what the queue machinery costs.

use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use archipel::client::{
    ClientError, FetchPolicy, FinalUrl, HttpClient, RedirectMode, ReqwestClient,
};
use archipel::delivery::{DeliveryQueue, SqliteQueue, Timestamp, WorkerConfig};
use archipel::federation::fanout::FanoutConfig;
use archipel::federation::graph::{Graph, SqliteGraph};
use archipel::federation::keys::{ActorKeys, KeyStore, MemoryKeyStore};
use archipel::federation::remote::{ActorStore, SqliteActorStore, StoredActor};
use archipel::federation::{Federation, LocalActor};
use archipel::signatures::PrivateKey;
use archipel::vocab::{AnyObject, Audience, Iri, Object};
use bytes::Bytes;

const PEM: &str = include_str!("../tests/interop/keys/rsa-2048-pkcs8.pem");

/// A signing string of the size delivery signs (draft-cavage-12).
const MSG: &[u8] = b"(request-target): post /users/1/inbox\nhost: h1.fanout.bench\ndate: Wed, 25 Nov 2026 12:00:00 GMT\ndigest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\ncontent-type: application/activity+json";

/// The issue's targets.
const MAX_ENQUEUE: Duration = Duration::from_millis(50);
const MAX_RSS_BYTES: u64 = 150 * 1024 * 1024;
const MIN_RATIO: f64 = 0.8;

#[derive(Clone, Copy)]
struct Shape {
    followers: usize,
    hosts: usize,
    farm_ports: usize,
    sample: Duration,
}

const BENCH: Shape = Shape {
    followers: 100_000,
    hosts: 5_000,
    farm_ports: 4,
    sample: Duration::from_secs(3),
};
const SMOKE: Shape = Shape {
    followers: 200,
    hosts: 10,
    farm_ports: 2,
    sample: Duration::from_millis(200),
};

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Bare RSA-2048 PKCS#1 v1.5 SHA-256 signing with aws-lc-rs, on the
/// backend crate directly (as `benches/delivery.rs` does).
struct Bare {
    pair: aws_lc_rs::signature::RsaKeyPair,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl Bare {
    fn new(pem: &str) -> Bare {
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

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
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

    /// Signatures per second on all cores over `at_least`.
    fn rate(&self, at_least: Duration) -> f64 {
        let start = Instant::now();
        let deadline = start + at_least;
        let n: u64 = std::thread::scope(|s| {
            let threads: Vec<_> = (0..cores())
                .map(|_| {
                    s.spawn(|| {
                        let mut n = 0u64;
                        loop {
                            std::hint::black_box(self.sign(std::hint::black_box(MSG)));
                            n += 1;
                            if Instant::now() >= deadline {
                                return n;
                            }
                        }
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        n as f64 / start.elapsed().as_secs_f64()
    }
}

/// CPU time (user + system) of this whole process so far.
fn process_cpu() -> Option<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let micros = |t: nix::sys::time::TimeVal| -> Option<u64> {
        Some(u64::try_from(t.tv_sec()).ok()? * 1_000_000 + u64::try_from(t.tv_usec()).ok()?)
    };
    Some(Duration::from_micros(
        micros(u.user_time())? + micros(u.system_time())?,
    ))
}

/// The peak resident set of this process so far, in bytes.
fn max_rss() -> Option<u64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let u = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    // Linux reports kilobytes.
    u64::try_from(u.max_rss()).ok().map(|kb| kb * 1024)
}

/// Requests the farm answered.
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// The farm: `n` axum servers on 127.0.0.1 answering 202 to anything.
async fn farm(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    for _ in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let app = axum::Router::new().fallback(|body: Bytes| async move {
            std::hint::black_box(body);
            ANSWERED.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(http::StatusCode::ACCEPTED)
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    ports
}

/// The sender's client: every `h{n}.fanout.bench` is one of the farm's
/// ports on 127.0.0.1; the request keeps its `Host` (which is signed).
struct Loopback {
    inner: ReqwestClient,
    ports: Vec<u16>,
}

#[async_trait::async_trait]
impl HttpClient for Loopback {
    async fn execute(
        &self,
        mut request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        let uri = request.uri().clone();
        let host = uri.host().unwrap_or_default().to_owned();
        let n: usize = host
            .strip_prefix('h')
            .and_then(|h| h.split('.').next())
            .and_then(|h| h.parse().ok())
            .unwrap_or(0);
        let port = self.ports[n % self.ports.len()];
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        *request.uri_mut() = format!("http://127.0.0.1:{port}{path}").parse().unwrap();
        if !request.headers().contains_key(http::header::HOST) {
            request
                .headers_mut()
                .insert(http::header::HOST, host.parse().unwrap());
        }
        let mut response = self.inner.execute(request).await?;
        // The name was resolved here, as DNS would: the URL fetched is the
        // one asked for (delivery treats any other as a redirect).
        if let Ok(url) = url::Url::parse(&uri.to_string()) {
            response.extensions_mut().insert(FinalUrl(url));
        }
        Ok(response)
    }
}

struct Figures {
    enqueue: Duration,
    drain: Duration,
    /// Process CPU from the post until drained.
    drain_cpu: Option<Duration>,
    /// The HTTP floor: requests, wall time, process CPU.
    floor: (usize, Duration, Option<Duration>),
    /// The signed floor: requests, wall time, process CPU.
    signed_floor: (usize, Duration, Option<Duration>),
    deliveries: u64,
    signs_per_sec: f64,
    max_rss: Option<u64>,
    preload: Duration,
}

fn run(shape: Shape) -> Figures {
    let dir = std::env::temp_dir().join(format!("archipel-bench-fanout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .enable_all()
        .build()
        .unwrap();
    let bare = Bare::new(PEM);
    let signs_before = bare.rate(shape.sample);

    let figures = rt.block_on(async {
        let ports = farm(shape.farm_ports).await;
        let policy = FetchPolicy::default()
            .allow_private_addresses(true)
            .allow_http(true)
            .max_redirects(0);
        let client = Arc::new(Loopback {
            inner: ReqwestClient::new(policy).unwrap(),
            ports,
        });
        let keys = Arc::new(MemoryKeyStore::new());
        let rsa = PrivateKey::from_pem(PEM).unwrap();
        keys.store("alice", &ActorKeys { rsa, ed25519: None })
            .await
            .unwrap();
        let graph = Arc::new(
            SqliteGraph::open(dir.join("graph.sqlite3"))
                .unwrap()
                .with_max_followers(shape.followers),
        );
        let actors = Arc::new(
            SqliteActorStore::open(dir.join("actors.sqlite3"))
                .unwrap()
                .with_max_rows(shape.followers),
        );
        let fanout: Arc<dyn DeliveryQueue> =
            Arc::new(SqliteQueue::open(dir.join("fanout.sqlite3")).await.unwrap());
        let delivery: Arc<dyn DeliveryQueue> = Arc::new(
            SqliteQueue::open(dir.join("delivery.sqlite3"))
                .await
                .unwrap(),
        );
        let fed = Federation::builder("https://a.example".parse().unwrap())
            .with_client(client.clone())
            .with_key_store(keys)
            .with_graph(graph.clone())
            .with_actor_store(actors.clone())
            .with_queue(delivery.clone())
            .with_fanout_queue(fanout)
            .with_fanout_config(FanoutConfig::default())
            .build()
            .await
            .unwrap();
        let alice = fed.actor("alice").await.unwrap();

        let preloading = Instant::now();
        preload(&shape, &alice, graph.as_ref(), actors.as_ref()).await;
        let preload = preloading.elapsed();
        eprintln!("fanout bench: preloaded in {:.1} s", preload.as_secs_f64());
        fed.start_delivery(
            WorkerConfig::default()
                .with_concurrency(128)
                .with_poll_interval(Duration::from_millis(50)),
        )
        .await;

        let mut note = Object::new("Note").with_content("fan-out benchmark ".repeat(20));
        Audience::public(alice.followers().clone()).apply(&mut note);
        let create = fed.create(&alice, AnyObject::from(note)).unwrap();
        let answered = ANSWERED.load(Ordering::SeqCst);
        let cpu_before = process_cpu();
        let posting = Instant::now();
        let sent = fed.send(&alice, &create).await.unwrap();
        let enqueue = posting.elapsed();
        assert!(sent.fanout.is_some() && sent.jobs.is_empty());
        let deadline = Instant::now() + Duration::from_secs(900);
        let mut expanded_at = None;
        loop {
            let now = Timestamp::from_system_time(SystemTime::now());
            let expanded = fed.fanout_stats().expanded == 1;
            if expanded && expanded_at.is_none() {
                // When the last delivery job was enqueued: a drain that ends
                // right after it waited on the expansion, not on sending.
                expanded_at = Some(posting.elapsed());
            }
            // The queue's count is a scan of its pending rows: asked only
            // once the farm has answered every delivery, so that the bench's
            // own polling is not part of the drain it measures.
            let all_answered = ANSWERED.load(Ordering::SeqCst) - answered >= shape.followers as u64;
            if expanded && all_answered && delivery.stats(now).await.unwrap().total == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the fan-out did not drain in 900 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let drain = posting.elapsed();
        let drain_cpu = cpu_before
            .zip(process_cpu())
            .map(|(before, after)| after.saturating_sub(before));
        eprintln!(
            "fanout bench: expanded into delivery jobs after {:.2} s, drained after {:.2} s",
            expanded_at.unwrap_or(drain).as_secs_f64(),
            drain.as_secs_f64()
        );
        let stopped = fed.stop_delivery().await.unwrap();
        let report = stopped.report;
        let deliveries = ANSWERED.load(Ordering::SeqCst) - answered;
        assert_eq!(
            (report.delivered, report.given_up, report.gone),
            (shape.followers, 0, 0),
            "first job: {:?}",
            report.jobs.values().next()
        );
        assert_eq!(deliveries, shape.followers as u64);
        let body = Bytes::from(serde_json::to_vec(&create).unwrap());
        let floor = http_floor(&client, &shape, &alice, &body).await;
        let signed_floor = signed_floor(&client, &shape, &alice, &body).await;
        Figures {
            enqueue,
            drain,
            drain_cpu,
            floor,
            signed_floor,
            deliveries,
            signs_per_sec: 0.0,
            max_rss: None,
            preload,
        }
    });
    let signs_after = bare.rate(shape.sample);
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    Figures {
        signs_per_sec: (signs_before + signs_after) / 2.0,
        max_rss: max_rss(),
        ..figures
    }
}

/// One of the floors: a request to every follower's inbox, addressed as
/// the drain addresses them, 128 at a time (the drain's worker
/// concurrency), each made by `send`, which answers the farm's status.
/// Answers the requests sent, the wall time and the process CPU they took.
async fn floor<F, Fut>(shape: &Shape, send: F) -> (usize, Duration, Option<Duration>)
where
    F: Fn(u64, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = http::StatusCode> + Send + 'static,
{
    const CONCURRENCY: usize = 128;
    let next = Arc::new(AtomicU64::new(0));
    let (n, hosts) = (shape.followers as u64, shape.hosts as u64);
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (send, next) = (send.clone(), next.clone());
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let inbox = format!("http://h{}.fanout.bench/users/{i}/inbox", i % hosts);
                assert_eq!(send(i, inbox).await, http::StatusCode::ACCEPTED);
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    let wall = started.elapsed();
    let cpu = cpu_before
        .zip(process_cpu())
        .map(|(before, after)| after.saturating_sub(before));
    (shape.followers, wall, cpu)
}

/// The HTTP floor: as many POSTs as the drain sent, unsigned, of the post's
/// own body and with headers as large as a signed delivery's, through the
/// same client to the same farm.
async fn http_floor(
    client: &Arc<Loopback>,
    shape: &Shape,
    alice: &LocalActor,
    body: &Bytes,
) -> (usize, Duration, Option<Duration>) {
    // The size of a draft-cavage `Signature` header with an RSA-2048 key.
    let signature: Arc<str> = format!(
        "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\"{}\"",
        alice.key_id(),
        "A".repeat(344)
    )
    .into();
    let (client, body) = (client.clone(), body.clone());
    floor(shape, move |_, inbox| {
        let (client, body, signature) = (client.clone(), body.clone(), signature.clone());
        async move {
            let request = http::Request::post(inbox)
                .header(http::header::CONTENT_TYPE, "application/activity+json")
                .header(http::header::DATE, "Wed, 25 Nov 2026 12:00:00 GMT")
                .header(
                    "digest",
                    "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
                )
                .header("signature", &*signature)
                // As deliveries are sent: redirects are not followed.
                .extension(RedirectMode::Manual)
                .body(body)
                .unwrap();
            client.execute(request).await.unwrap().status()
        }
    })
    .await
}

/// The signed floor: as many deliveries as the drain made, each signed with
/// alice's signer and sent by a `SignedDelivery` as the workers' (its
/// signing threads, the same client and farm, the post's own body), with no queue, worker,
/// breaker or expansion. What it reaches is the most any drain can reach
/// on this machine: the signatures run on the cores the HTTP stack also
/// needs, so they are slower than bare ones.
async fn signed_floor(
    client: &Arc<Loopback>,
    shape: &Shape,
    alice: &LocalActor,
    body: &Bytes,
) -> (usize, Duration, Option<Duration>) {
    use archipel::delivery::{
        Delivery, JobId, PreparedBody, SendRequest, SignedDelivery, SignerMap,
    };
    let signers: SignerMap = [alice.signer().as_ref().clone()].into_iter().collect();
    let delivery = Arc::new(SignedDelivery::new(client.clone(), signers));
    let body = Arc::new(PreparedBody::new(body.clone()));
    let ids = Arc::new((
        alice.key_id().clone(),
        Iri::parse("https://a.example/activities/1").unwrap(),
    ));
    floor(shape, move |i, inbox| {
        let (delivery, body, ids) = (delivery.clone(), body.clone(), ids.clone());
        async move {
            let (key_id, activity_id) = &*ids;
            let inbox = url::Url::parse(&inbox).unwrap();
            let request = SendRequest {
                job: JobId(i),
                activity_id,
                inbox: &inbox,
                key_id,
                body: &body,
                dialect: archipel::signatures::Spec::Cavage,
                collection_sync: None,
                requested: None,
            };
            delivery.send(request).await.unwrap().status()
        }
    })
    .await
}

/// Puts `shape.followers` followers of alice in the graph and their actors
/// in the cache: follower `i` is `/users/{i}` on host `i % hosts`.
async fn preload(shape: &Shape, alice: &LocalActor, graph: &dyn Graph, actors: &dyn ActorStore) {
    for i in 0..shape.followers {
        let host = format!("h{}.fanout.bench", i % shape.hosts);
        let id = format!("http://{host}/users/{i}");
        let doc = format!(
            r#"{{"id":"{id}","type":"Person","inbox":"{id}/inbox","preferredUsername":"u{i}"}}"#
        );
        actors
            .put(StoredActor::decode(&doc, SystemTime::now()).unwrap())
            .await
            .unwrap();
        graph
            .add_follower(alice.id(), &Iri::parse(&id).unwrap())
            .await
            .unwrap();
    }
}

fn main() -> ExitCode {
    let bench = std::env::args().any(|a| a == "--bench");
    let shape = if bench { BENCH } else { SMOKE };
    let f = run(shape);
    let rate = f.deliveries as f64 / f.drain.as_secs_f64();
    let ratio = rate / f.signs_per_sec;
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "fanout: {} followers on {} hosts, one inbox each (preloaded in {:.1} s)",
        shape.followers,
        shape.hosts,
        f.preload.as_secs_f64()
    );
    println!(
        "  enqueue as the poster sees it: {:.2} ms",
        f.enqueue.as_secs_f64() * 1000.0
    );
    println!(
        "  drain: {} deliveries in {:.2} s = {rate:.0}/s; bare RSA-2048 signing (aws-lc-rs, {} cores): {:.0}/s; ratio {ratio:.2}",
        f.deliveries,
        f.drain.as_secs_f64(),
        cores(),
        f.signs_per_sec
    );
    match f.max_rss {
        Some(b) => println!("  peak RSS of the process: {:.1} MB", mb(b)),
        None => println!("  peak RSS of the process: n/a"),
    }
    let per = |cpu: Duration, n: usize| cpu.as_secs_f64() * 1e6 / n as f64;
    let sign_us = cores() as f64 * 1e6 / f.signs_per_sec;
    if let Some(cpu) = f.drain_cpu {
        println!(
            "  drain CPU: {:.0} µs per delivery (one bare signature: {sign_us:.0} µs), the process busy {:.0}% of {} cores",
            per(cpu, shape.followers),
            100.0 * cpu.as_secs_f64() / f.drain.as_secs_f64() / cores() as f64,
            cores()
        );
    }
    let (n, wall, cpu) = f.floor;
    if let Some(cpu) = cpu {
        let floor_us = per(cpu, n);
        println!(
            "  HTTP floor ({n} unsigned POSTs of the same size, same client and farm): {:.0}/s, {floor_us:.0} µs of CPU per request",
            n as f64 / wall.as_secs_f64()
        );
        println!(
            "  ceiling on this machine (HTTP floor {floor_us:.0} µs + one bare signature {sign_us:.0} µs of CPU per delivery, on {} cores): ratio {:.2}",
            cores(),
            sign_us / (sign_us + floor_us)
        );
    }
    let (n, wall, cpu) = f.signed_floor;
    let signed_rate = n as f64 / wall.as_secs_f64();
    println!(
        "  signed floor ({n} deliveries signed and sent by SignedDelivery alone, no queue): {signed_rate:.0}/s{}, ratio {:.2}; the drain at {:.2} of it",
        cpu.map_or(String::new(), |c| format!(
            ", {:.0} µs of CPU each",
            per(c, n)
        )),
        signed_rate / f.signs_per_sec,
        rate / signed_rate
    );
    if !bench {
        println!(
            "smoke run: every follower received the post (targets are checked under --bench only)"
        );
        return ExitCode::SUCCESS;
    }
    let mut ok = true;
    let mut line = |pass: bool, text: String| {
        ok &= pass;
        println!("{}: {text}", if pass { "PASS" } else { "FAIL" });
    };
    line(
        f.enqueue <= MAX_ENQUEUE,
        format!(
            "enqueue took {:.2} ms (target at most {} ms)",
            f.enqueue.as_secs_f64() * 1000.0,
            MAX_ENQUEUE.as_millis()
        ),
    );
    line(
        f.max_rss.is_some_and(|b| b <= MAX_RSS_BYTES),
        format!(
            "peak RSS {} (target at most {:.0} MB)",
            f.max_rss
                .map_or("n/a".into(), |b| format!("{:.1} MB", mb(b))),
            mb(MAX_RSS_BYTES)
        ),
    );
    line(
        ratio >= MIN_RATIO,
        format!("drain at {ratio:.2} of bare signing capacity (target at least {MIN_RATIO})"),
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
