//! Integration tests of the durable delivery queues: one conformance suite
//! for every backend (with the ordering rule, checkpoints and the oldest
//! pending job), crash tests with worker processes killed by SIGKILL,
//! several workers sharing one PostgreSQL queue, ordered delivery through
//! the workers, and upgrades of version-1 files and schemas.

#[macro_use]
mod support;

#[macro_use]
#[path = "queue/ordering.rs"]
mod ordering;

#[path = "queue/conformance.rs"]
mod conformance;
#[path = "queue/crash_sqlite_server_restart.rs"]
mod crash_sqlite_server_restart;
#[path = "queue/crash_worker_sigkill.rs"]
mod crash_worker_sigkill;
#[path = "queue/multiworker_postgres.rs"]
mod multiworker_postgres;
#[path = "queue/ordered_delivery.rs"]
mod ordered_delivery;
#[path = "queue/schema_upgrade.rs"]
mod schema_upgrade;
