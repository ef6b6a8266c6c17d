//! The inbox_http bench itself, shared by its two binaries: `inbox_http`
//! (mimalloc as the global allocator) and `inbox_http_system_alloc` (the
//! system's). See `benches/inbox_http.rs` for what it measures.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use archipel::client::{FetchPolicy, ReqwestClient};
use archipel::delivery::queue::DeliveryQueue;
use archipel::delivery::queue::memory::MemoryQueue;
use archipel::delivery::queue::sqlite::SqliteQueue;
use archipel::federation::Federation;
use archipel::inbox::admission::{AdmissionConfig, Rate};
use archipel::inbox::queue::InboundConfig;
use archipel::vocab::Iri;

use crate::peers::Peers;
use crate::{cpu, load, peers};

/// The bench's error type: any failure ends the run with its message.
pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Size of a run: the full bench, or the smoke run of `cargo test --benches`.
#[derive(Debug, Clone, Copy)]
struct Shape {
    actors: usize,
    hosts: usize,
    keys: usize,
    per_actor: usize,
    connections: usize,
    /// How long each baseline measurement runs.
    baseline: Duration,
}

const BENCH: Shape = Shape {
    actors: 1_000,
    hosts: 50,
    keys: 50,
    per_actor: 20,
    connections: 64,
    baseline: Duration::from_secs(3),
};
const SMOKE: Shape = Shape {
    actors: 40,
    hosts: 4,
    keys: 4,
    per_actor: 5,
    connections: 8,
    baseline: Duration::from_millis(200),
};

/// The target for the ratio to bare verifications, with `aws-lc-rs`.
const MIN_RATIO: f64 = 0.5;
/// Threads of the server runtime, and of the baseline.
const CORES: usize = 2;
/// The name of the load generator's threads.
const CLIENT_THREADS: &str = "bench-client";

/// What one mode measured.
struct Measured {
    warm: load::Outcome,
    outcome: load::Outcome,
    /// Time from the first measured request until the workers had handled
    /// every accepted activity.
    drained: Duration,
    /// The server threads' CPU time per activity of the measured pass,
    /// verification, queueing and handling by the workers included (Linux).
    cpu_per_activity: Option<Duration>,
}

/// Runs the bench (or its smoke version without `--bench`); `allocator`
/// names the process's global allocator in the report.
pub fn main(allocator: &str) -> ExitCode {
    let bench = std::env::args().any(|a| a == "--bench");
    let mut shape = if bench { BENCH } else { SMOKE };
    // A longer measured pass, for profiling it (`perf record -p`).
    if let Some(n) = std::env::var("INBOX_HTTP_PER_ACTOR")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        shape.per_actor = n;
    }
    println!("global allocator: {allocator}");
    match run(shape) {
        Ok(pass) if pass || !bench => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            println!("inbox_http failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize, name: &str) -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()?)
}

fn run(shape: Shape) -> Res<bool> {
    let client_rt = runtime(1, CLIENT_THREADS)?;
    let started = Instant::now();
    let peers = client_rt.block_on(peers::start_with_keys(
        shape.actors,
        shape.hosts,
        shape.keys,
    ))?;
    println!(
        "{} remote actors on {} loopback hosts ({} RSA-2048 keys) ready in {:.1?}",
        shape.actors,
        shape.hosts,
        shape.keys,
        started.elapsed()
    );
    let before = baseline::verifications_per_second(shape.baseline, CORES)?;
    let dir = std::env::temp_dir().join(format!("archipel-inbox-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    if std::env::var_os("INBOX_HTTP_SQLITE_ONLY").is_some() {
        // For profiling the SQLite path alone.
        let sqlite = measure(shape, &peers, &client_rt, Some(dir.join("inbound.sqlite3")));
        let _ = std::fs::remove_dir_all(&dir);
        let sqlite = sqlite?;
        println!(
            "SQLite only: {:.0}/s, server CPU per activity {:?}, p99 {:.2?}; bare verifications {:.0}/s",
            sqlite.outcome.rate(),
            sqlite.cpu_per_activity,
            sqlite.outcome.quantile(0.99),
            before.rate
        );
        return Ok(true);
    }
    let memory = measure(shape, &peers, &client_rt, None)?;
    if std::env::var_os("INBOX_HTTP_MEMORY_ONLY").is_some() {
        // For profiling the in-memory path alone (`perf record`).
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "memory only: {:.0}/s, server CPU per activity {:?}; bare verifications {:.0}/s",
            memory.outcome.rate(),
            memory.cpu_per_activity,
            before.rate
        );
        if std::env::var_os("INBOX_HTTP_FLOOR").is_some() {
            let floor = floor::measure(shape, &peers, &client_rt)?;
            println!(
                "HTTP floor: {:.0}/s, server CPU per request {:?}, load generator CPU per request {:?}; bare CPU per verification {:?}",
                floor.outcome.rate(),
                floor.cpu_per_request,
                floor.client_cpu_per_request,
                before.cpu_per_op
            );
        }
        return Ok(true);
    }
    let sqlite = measure(shape, &peers, &client_rt, Some(dir.join("inbound.sqlite3")));
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite = sqlite?;
    let floor = floor::measure(shape, &peers, &client_rt)?;
    let after = baseline::verifications_per_second(shape.baseline, CORES)?;
    let bare = (before.rate + after.rate) / 2.0;
    let bare_cpu = (before.cpu_per_op + after.cpu_per_op) / 2;

    println!();
    println!(
        "inbox over HTTP: {} distinct signed Create{{Note}} from {} actors, {} connections, server on {CORES} threads",
        memory.outcome.latencies.len(),
        shape.actors,
        shape.connections
    );
    println!(
        "bare RSA-2048 verifications per second on {CORES} threads ({}): {:.0} before, {:.0} after, {bare:.0} mean; CPU per verification {:.1?}",
        baseline::BACKEND,
        before.rate,
        after.rate,
        bare_cpu
    );
    println!("{:<40}{:>14}{:>14}", "inbound queue", "memory", "SQLite");
    let row = |label: &str, f: &dyn Fn(&Measured) -> String| {
        println!("{label:<40}{:>14}{:>14}", f(&memory), f(&sqlite));
    };
    row("verified activities per second", &|m| {
        format!("{:.0}", m.outcome.rate())
    });
    row("ratio to bare verifications", &|m| {
        format!("{:.2}", m.outcome.rate() / bare)
    });
    row("latency p50", &|m| {
        format!("{:.2?}", m.outcome.quantile(0.5))
    });
    row("latency p99", &|m| {
        format!("{:.2?}", m.outcome.quantile(0.99))
    });
    row("server CPU per activity", &|m| {
        m.cpu_per_activity
            .map_or("n/a".to_owned(), |c| format!("{:.1?}", c))
    });
    row("bare verification CPU / server CPU", &|m| {
        m.cpu_per_activity.map_or("n/a".to_owned(), |c| {
            format!("{:.2}", bare_cpu.as_secs_f64() / c.as_secs_f64())
        })
    });
    row("handled by the workers after", &|m| {
        format!("{:.2?}", m.drained)
    });
    row("warm-up pass (key fetches), per second", &|m| {
        format!("{:.0}", m.warm.rate())
    });
    println!(
        "HTTP floor (the same measured requests, answered 202 unread by an empty axum handler on the same runtime): {:.0}/s, ratio {:.2} to bare verifications; server CPU per request {}",
        floor.outcome.rate(),
        floor.outcome.rate() / bare,
        floor
            .cpu_per_request
            .map_or("n/a".to_owned(), |c| format!("{c:.1?}"))
    );
    // The most any inbox could reach here: one that did, per request, only
    // what the empty handler's server did, plus one bare verification,
    // with the load generator's CPU beside it on the same cores, and every
    // core busy all the time. An upper bound: real scheduling only loses.
    if let (Some(server), Some(client)) = (floor.cpu_per_request, floor.client_cpu_per_request) {
        let per_request = server + client + bare_cpu;
        let ceiling = CORES as f64 / per_request.as_secs_f64();
        println!(
            "ceiling on this machine (HTTP floor {server:.1?} + load generator {client:.1?} + one bare verification {bare_cpu:.1?} of CPU per request, on {CORES} cores): {ceiling:.0}/s, ratio {:.2} to bare verifications; by server CPU alone, {:.2}",
            ceiling / bare,
            bare_cpu.as_secs_f64() / (server + bare_cpu).as_secs_f64()
        );
    }
    let pass = memory.outcome.rate() / bare >= MIN_RATIO;
    println!(
        "{}: verified activities at {:.2} of bare verifications (queue in memory; target at least {MIN_RATIO} with aws-lc-rs)",
        if pass { "PASS" } else { "FAIL" },
        memory.outcome.rate() / bare
    );
    Ok(pass)
}

/// Starts a server whose inbound queue is in memory, or in SQLite at
/// `sqlite`; sends the warm-up pass, then the measured pass, and waits
/// for the workers to handle everything accepted.
fn measure(
    shape: Shape,
    peers: &Peers,
    client_rt: &tokio::runtime::Runtime,
    sqlite: Option<PathBuf>,
) -> Res<Measured> {
    let mode = if sqlite.is_some() { "SQLite" } else { "memory" };
    let server_rt = runtime(CORES, "server")?;
    let handled = Arc::new(AtomicUsize::new(0));
    let (addr, alice, fed) = server_rt.block_on(start_server(sqlite, handled.clone()))?;
    let inbox_path = format!("{}/inbox", url::Url::parse(alice.as_str())?.path());

    let total = shape.actors * (1 + shape.per_actor);
    let started = Instant::now();
    let requests = sign_all(peers, shape, &alice, &format!("{alice}/inbox"), &inbox_path)?;
    println!(
        "[{mode}] {total} activities signed in {:.1?}",
        started.elapsed()
    );
    let (warm, measured) = requests.split_at(shape.actors);
    let warm = client_rt.block_on(load::send(addr, Arc::new(warm.to_vec()), shape.connections))?;
    check_refusals(mode, "warm-up", &warm)?;
    println!("[{mode}] warm-up done, measured pass begins");
    let cpu_before = cpu::server_cpu();
    let origin = Instant::now();
    let outcome = client_rt.block_on(load::send(
        addr,
        Arc::new(measured.to_vec()),
        shape.connections,
    ))?;
    check_refusals(mode, "measured", &outcome)?;
    let accepted = warm.latencies.len() + outcome.latencies.len();
    if accepted != total {
        return Err(format!("[{mode}] {accepted} of {total} accepted").into());
    }
    // Everything accepted is handled: the queue loses nothing.
    let deadline = Instant::now() + Duration::from_secs(120);
    while handled.load(Ordering::Relaxed) < total {
        if Instant::now() > deadline {
            let stats = match fed.inbound() {
                Some(queue) => format!("{:?}", server_rt.block_on(queue.stats())),
                None => "no inbound queue".to_owned(),
            };
            return Err(format!(
                "[{mode}] {} of {total} accepted activities handled after 120 s; the queue: {stats}",
                handled.load(Ordering::Relaxed)
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let drained = origin.elapsed();
    let measured_count = u32::try_from(outcome.latencies.len().max(1)).unwrap_or(u32::MAX);
    let cpu_per_activity = cpu::server_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before) / measured_count);
    server_rt.block_on(async {
        fed.stop_inbound().await;
    });
    drop(fed);
    server_rt.shutdown_timeout(Duration::from_secs(10));
    Ok(Measured {
        warm,
        outcome,
        drained,
        cpu_per_activity,
    })
}

fn check_refusals(mode: &str, pass: &str, outcome: &load::Outcome) -> Res<()> {
    match outcome.refused.first() {
        Some((i, status, body)) => Err(format!(
            "[{mode}] {pass} pass: {} refused; the first, #{i}: {status} {body}",
            outcome.refused.len()
        )
        .into()),
        None => Ok(()),
    }
}

/// The server: one local user, `alice`; a `Create` handler that counts.
async fn start_server(
    sqlite: Option<PathBuf>,
    handled: Arc<AtomicUsize>,
) -> Res<(SocketAddr, Iri, Federation)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = archipel::federation::routes::listener_base(addr)?;
    let queue: Arc<dyn DeliveryQueue> = match sqlite {
        Some(path) => Arc::new(SqliteQueue::open(path).await?),
        None => Arc::new(MemoryQueue::new()),
    };
    let client = ReqwestClient::new(
        FetchPolicy::default()
            .allow_private_addresses(true)
            .allow_http(true),
    )?;
    // Budgets that do not bind: everything comes from 127.0.0.1.
    let admission = AdmissionConfig::default()
        .with_per_origin(Some(Rate::new(1_000_000, 1_000_000)))
        .with_per_address(Some(Rate::new(1_000_000, 1_000_000)));
    let fed = Federation::builder(base)
        .with_client(Arc::new(client))
        .with_admission(admission)
        .with_inbound_queue(queue)
        .build()
        .await?;
    let alice = fed.actor("alice").await?;
    let dispatcher = fed.dispatcher().on_create(move |_cx, _create| {
        let handled = handled.clone();
        async move {
            handled.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    });
    if !fed
        .start_inbound(dispatcher.clone(), InboundConfig::default())
        .await
    {
        return Err("the inbound workers did not start".into());
    }
    let router = fed.router(dispatcher);
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            eprintln!("server: {e}");
        }
    });
    Ok((addr, alice.id().clone(), fed))
}

/// Every activity's request bytes, built and signed on every core: first
/// one per actor (the warm-up pass), then actor by actor in turn, so the
/// order interleaves actors the way a busy inbox sees them.
fn sign_all(
    peers: &Peers,
    shape: Shape,
    alice: &Iri,
    inbox: &str,
    path: &str,
) -> Res<Vec<Vec<u8>>> {
    let total = shape.actors * (1 + shape.per_actor);
    let sign_one = |i: usize| -> Res<Vec<u8>> {
        let peer = peers.actors.get(i % shape.actors).ok_or("no such actor")?;
        let activity = peers::create(peer, i / shape.actors, alice)?;
        Ok(load::request_bytes(
            path,
            &peers::sign(peer, inbox, &activity)?,
        ))
    };
    peers::on_every_core(total, sign_one)
}

/// Bare RSA verifications: the floor of what verifying an inbox costs.
mod baseline {
    use std::time::{Duration, Instant};

    use archipel::signatures::{Algorithm, PrivateKey};

    use super::Res;

    /// The backend measured.
    #[cfg(feature = "aws-lc-rs")]
    pub const BACKEND: &str = "aws-lc-rs, the raw verify call";
    /// The backend measured.
    #[cfg(not(feature = "aws-lc-rs"))]
    pub const BACKEND: &str = "the rsa crate, through archipel's PublicKey::verify";

    /// A signing string's worth of bytes, as draft-cavage signs.
    const MESSAGE: &[u8] = b"(request-target): post /users/alice/inbox\nhost: 127.0.0.1:8080\ndate: Tue, 01 Dec 2026 00:00:00 GMT\ndigest: SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    /// What the baseline measured.
    pub struct Baseline {
        /// Verifications per second, all threads together (wall clock).
        pub rate: f64,
        /// CPU time per verification (Linux; the wall clock elsewhere).
        pub cpu_per_op: Duration,
    }

    /// The CPU time of the calling thread so far (Linux), else `None`.
    fn thread_cpu() -> Option<Duration> {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        Some(Duration::from_nanos(
            stat.split_whitespace().next()?.parse().ok()?,
        ))
    }

    /// Verifications of one RSA-2048 PKCS#1 v1.5 SHA-256 signature over
    /// [`MESSAGE`], on `threads` threads for `span`.
    pub fn verifications_per_second(span: Duration, threads: usize) -> Res<Baseline> {
        let key = PrivateKey::generate_rsa_2048()?;
        let signature = key.sign(Algorithm::RsaV1_5Sha256, MESSAGE)?;
        let counts = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (key, signature) = (&key, &signature);
                    scope.spawn(move || verify_for(span, key, signature))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| "baseline panicked")?)
                .collect::<Res<Vec<(u64, Duration)>>>()
        })?;
        let ops: u64 = counts.iter().map(|(n, _)| n).sum();
        let cpu: Duration = counts.iter().map(|(_, c)| *c).sum();
        Ok(Baseline {
            rate: ops as f64 / span.as_secs_f64(),
            cpu_per_op: cpu / u32::try_from(ops.max(1)).unwrap_or(u32::MAX),
        })
    }

    /// Runs `verify_once` for `span`: how many times, and the thread's CPU
    /// time spent (the wall clock where it cannot be read).
    fn count_for(span: Duration, mut verify_once: impl FnMut() -> Res<()>) -> Res<(u64, Duration)> {
        let cpu = thread_cpu();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < span {
            verify_once()?;
            n += 1;
        }
        let spent = match (thread_cpu(), cpu) {
            (Some(after), Some(before)) => after.saturating_sub(before),
            _ => start.elapsed(),
        };
        Ok((n, spent))
    }

    #[cfg(feature = "aws-lc-rs")]
    fn verify_for(span: Duration, key: &PrivateKey, signature: &[u8]) -> Res<(u64, Duration)> {
        use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
        use base64::Engine as _;
        let pem = key.public_key().to_spki_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body)?;
        let public = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der)
            .map_err(|e| format!("public key: {e}"))?;
        count_for(span, || {
            public
                .verify_sig(MESSAGE, signature)
                .map_err(|_| "bare verification failed".into())
        })
    }

    #[cfg(not(feature = "aws-lc-rs"))]
    fn verify_for(span: Duration, key: &PrivateKey, signature: &[u8]) -> Res<(u64, Duration)> {
        let public = key.public_key();
        count_for(span, || {
            if public.verify(Algorithm::RsaV1_5Sha256, MESSAGE, signature)? {
                Ok(())
            } else {
                Err("bare verification failed".into())
            }
        })
    }
}

/// The floor under any inbox on this machine: the same measured requests,
/// sent the same way to an axum server on the same runtime whose handler
/// answers `202` without looking at them. What HTTP and the loopback
/// network cost before the inbox does anything.
mod floor {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use super::{CORES, Res, Shape, runtime};
    use crate::peers::Peers;
    use crate::{cpu, load};

    /// What the floor measured.
    pub struct Floor {
        pub outcome: load::Outcome,
        pub cpu_per_request: Option<Duration>,
        /// The load generator's CPU per request (it shares the cores).
        pub client_cpu_per_request: Option<Duration>,
    }

    pub fn measure(shape: Shape, peers: &Peers, client_rt: &tokio::runtime::Runtime) -> Res<Floor> {
        let server_rt = runtime(CORES, "server")?;
        let addr = server_rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let router = axum::Router::new().route(
                "/{*path}",
                axum::routing::post(|_body: axum::body::Bytes| async {
                    http::StatusCode::ACCEPTED
                }),
            );
            tokio::spawn(async move {
                let service = router.into_make_service_with_connect_info::<SocketAddr>();
                if let Err(e) = axum::serve(listener, service).await {
                    eprintln!("floor server: {e}");
                }
            });
            Res::Ok(addr)
        })?;
        let alice: archipel::vocab::Iri = format!("http://{addr}/users/alice").parse()?;
        let requests = super::sign_all(
            peers,
            shape,
            &alice,
            &format!("{alice}/inbox"),
            "/users/alice/inbox",
        )?;
        let measured = requests.get(shape.actors..).unwrap_or_default().to_vec();
        let before = cpu::server_cpu();
        let client_before = cpu::threads_cpu(super::CLIENT_THREADS);
        let outcome =
            client_rt.block_on(load::send(addr, Arc::new(measured), shape.connections))?;
        let count = u32::try_from(outcome.latencies.len().max(1)).unwrap_or(u32::MAX);
        let cpu_per_request = cpu::server_cpu()
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before) / count);
        let client_cpu_per_request = cpu::threads_cpu(super::CLIENT_THREADS)
            .zip(client_before)
            .map(|(after, before)| after.saturating_sub(before) / count);
        server_rt.shutdown_timeout(Duration::from_secs(5));
        Ok(Floor {
            outcome,
            cpu_per_request,
            client_cpu_per_request,
        })
    }
}
