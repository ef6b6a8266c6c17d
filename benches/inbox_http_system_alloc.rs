//! `benches/inbox_http` with the system's global allocator (glibc malloc
//! on Linux) instead of mimalloc: the same bench, the same report. Run:
//! `cargo bench --bench inbox_http_system_alloc --features server`.

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
    run::main("the system allocator")
}
