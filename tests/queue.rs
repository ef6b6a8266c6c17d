//! Integration tests of the durable delivery queues: one conformance suite
//! for every backend, crash tests with worker processes killed by SIGKILL,
//! and several workers sharing one PostgreSQL queue.

#[macro_use]
mod support;

#[path = "queue/conformance.rs"]
mod conformance;
#[path = "queue/crash_sqlite_server_restart.rs"]
mod crash_sqlite_server_restart;
#[path = "queue/crash_worker_sigkill.rs"]
mod crash_worker_sigkill;
#[path = "queue/multiworker_postgres.rs"]
mod multiworker_postgres;
