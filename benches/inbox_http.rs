//! A real HTTP inbox under load: verified activities per second, and the
//! ratio to bare RSA verifications per second on the same cores, measured
//! in the same run; p50 and p99 latency.
//!
//! Run: `cargo bench --bench inbox_http --features server`. Without
//! `--bench` (`cargo test --benches`) it runs a smoke version: 40 actors,
//! 200 activities, each of which must be accepted and handled.
//!
//! The server is the library's own: a [`Federation`] with its routes on
//! axum (admission, then the inbox's checks: size, media type, digest,
//! signature with the key resolved through the actor cache, key owner ==
//! actor, authority of the embedded object, dedup by id), and the inbound
//! queue: a verified activity is persisted in the queue and answered
//! `202`; inbound workers then dispatch it to a `Create` handler that
//! counts it. It runs on its own 2-thread tokio runtime. Two modes, side
//! by side: the queue in memory, and in SQLite.
//!
//! 1,000 remote actors live on 50 loopback hosts (127.0.0.11 to
//! 127.0.0.60) served by the bench; their `Create{Note}` activities,
//! addressed to the local user, are signed (draft-cavage, RSA-2048) before
//! the clock starts and sent over 64 keep-alive connections by a load
//! generator that writes pre-built request bytes (`inbox_http/load.rs`), as
//! `wrk` does. A first pass sends one activity per actor to fill the
//! server's key cache (one actor fetch each, as a server that has met its
//! peers before); the measured pass sends 20 more per actor, 20,000 in all.
//! The actors share 50 RSA keys (each under its own key id): the server
//! resolves and verifies every key id on its own, so the work is that of
//! 1,000 keys, without generating 1,000 of them.
//!
//! Admission stays on, with its per-origin and per-address budgets raised
//! so they do not bind (every request comes from 127.0.0.1 and 50 origins):
//! the bench measures what admitted traffic costs, admission check included.
//!
//! The baseline, in the same run: bare RSA-2048 PKCS#1 v1.5 SHA-256
//! verifications per second of one fixed signature, on 2 threads, with the
//! crypto backend the server verifies with (`aws-lc-rs` under feature
//! `server`), measured before and after the HTTP passes and averaged, so
//! that the ratio compares figures taken under the same machine load. The
//! issue's target: a ratio of at least 0.5 with `aws-lc-rs`.
//!
//! Beside the wall-clock rates, CPU time (Linux): the server threads' CPU
//! per activity of the measured pass (verification, queueing, and the
//! workers' handling), and the baseline threads' CPU per verification.
//! Their quotient says what share of the server's work the RSA
//! verification is, whatever else ran on the machine meanwhile.
//!
//! The HTTP floor and the ceiling: the same measured requests, answered
//! `202` unread by an empty axum handler on the same runtime, give what
//! HTTP and loopback TCP cost the server per request, and what the load
//! generator costs (it runs in this process, on the same cores). The
//! ceiling printed beside the ratio is the rate of an inbox that did only
//! that floor's work plus one bare verification per request, every core
//! busy all the time: an upper bound for any inbox on this machine, so a
//! ratio is read against it as well as against the target.
//! `INBOX_HTTP_MEMORY_ONLY=1` runs the in-memory mode alone (for `perf`),
//! `INBOX_HTTP_SQLITE_ONLY=1` the SQLite mode alone,
//! and `INBOX_HTTP_PER_ACTOR=N` sends N activities per actor in the
//! measured pass instead of 20 (a longer pass to profile).
//!
//! The global allocator: this binary uses mimalloc, as a server deployed
//! for throughput would; `inbox_http_system_alloc` runs the same bench
//! with the system allocator (glibc malloc here). The library allocates
//! per activity (parsed JSON, IRIs, the queue's job), and glibc's arena
//! locks are contended between the server's threads: run both to see
//! what the choice costs on a machine. The baseline does not allocate, so
//! the two ratios compare.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code)]
#[path = "inbox_throughput/cpu.rs"]
mod cpu;
#[path = "inbox_http/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "inbox_throughput/peers.rs"]
mod peers;
#[path = "inbox_http/run.rs"]
mod run;

pub use run::Res;

fn main() -> std::process::ExitCode {
    run::main("mimalloc")
}
