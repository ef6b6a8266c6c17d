//! Worker processes for crash and multi-worker tests: a test re-runs its
//! own binary (`current_exe`) selecting itself, with `ARCHIPEL_QUEUE_CHILD`
//! set; in that process the same test function sees [`is_child`] and takes
//! the child role ([`child_main`]): a delivery worker (or a whole server
//! that also enqueues the fan-out) that exits once the queue is empty. The
//! parent kills it with SIGKILL to simulate a crash. There is no separate
//! "child" test, so nothing reports a pass without having checked anything.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::{
    DeliveryQueue, NewActivity, PreparedBody, Timestamp, WorkerConfig, Workers,
};
use archipel::vocab::Iri;
use bytes::Bytes;

use super::farm::HttpPost;

pub const CHILD_ENV: &str = "ARCHIPEL_QUEUE_CHILD";

/// Which queue a child opens.
#[derive(Clone, Debug)]
pub enum Backend {
    #[allow(dead_code)]
    Sqlite(std::path::PathBuf),
    #[allow(dead_code)]
    Postgres { url: String, schema: String },
}

/// What a child does.
#[derive(Clone, Debug)]
pub struct Spec {
    pub backend: Backend,
    pub worker: String,
    pub lease_ms: u64,
    pub concurrency: usize,
    pub per_host: usize,
    /// Enqueue one activity to this many inboxes over `hosts` first (server mode).
    pub enqueue: usize,
    pub hosts: Vec<String>,
}

/// Whether this process is a child started by [`spawn`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Starts the child: `test` is the full path of the calling test, as
/// `concat!(module_path!(), "::its_name")` gives it (the crate name in front
/// is dropped: libtest names tests without it). That test must begin with
/// `if child::is_child() { return child::child_main().await; }`.
pub fn spawn(test: &str, spec: &Spec) -> Child {
    let test = test.split_once("::").map_or(test, |(_, path)| path);
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        test,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .env(CHILD_ENV, "1")
    .env("CHILD_WORKER", &spec.worker)
    .env("CHILD_LEASE_MS", spec.lease_ms.to_string())
    .env("CHILD_CONCURRENCY", spec.concurrency.to_string())
    .env("CHILD_PER_HOST", spec.per_host.to_string())
    .env("CHILD_ENQUEUE", spec.enqueue.to_string())
    .env("CHILD_HOSTS", spec.hosts.join(","))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit());
    match &spec.backend {
        Backend::Sqlite(path) => cmd.env("CHILD_SQLITE", path),
        Backend::Postgres { url, schema } => {
            cmd.env("CHILD_PG_URL", url).env("CHILD_PG_SCHEMA", schema)
        }
    };
    cmd.spawn().unwrap()
}

/// Waits for a child to exit on its own, failing after `timeout`.
pub fn wait(child: &mut Child, timeout: Duration) {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "worker process failed: {status}");
            return;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("worker process did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The fan-out a server-mode child enqueues.
pub fn fan_out(n: usize, hosts: &[String]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked("https://me.example/activities/fan-out"),
        PreparedBody::new(Bytes::from_static(
            b"{\"id\":\"https://me.example/activities/fan-out\",\"type\":\"Create\"}",
        )),
        Iri::new_unchecked("https://me.example/users/alice#main-key"),
        (0..n)
            .map(|i| {
                let host = &hosts[i % hosts.len()];
                url::Url::parse(&format!("http://{host}/users/f{i}/inbox")).unwrap()
            })
            .collect(),
    )
}

async fn open(env: impl Fn(&str) -> String) -> Arc<dyn DeliveryQueue> {
    #[cfg(feature = "sqlite")]
    if let Ok(path) = std::env::var("CHILD_SQLITE") {
        let _ = &env;
        return Arc::new(
            archipel::delivery::queue::sqlite::SqliteQueue::open(path)
                .await
                .unwrap(),
        );
    }
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("CHILD_PG_URL") {
        use archipel::delivery::queue::postgres::{PostgresOptions, PostgresQueue};
        let options = PostgresOptions {
            schema: env("CHILD_PG_SCHEMA"),
            ..PostgresOptions::default()
        };
        return Arc::new(PostgresQueue::connect_with(&url, options).await.unwrap());
    }
    let _ = env;
    panic!("child: no queue backend configured");
}

/// The child role of a test (see [`is_child`]): runs the workers described
/// by the environment until the queue is empty.
pub async fn child_main() {
    assert!(is_child(), "child_main outside a child process");
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("child: {k} not set"));
    {
        let queue = open(env).await;
        let worker = env("CHILD_WORKER");
        let config = WorkerConfig::default()
            .with_concurrency(env("CHILD_CONCURRENCY").parse().unwrap())
            .with_per_host(env("CHILD_PER_HOST").parse().unwrap())
            .with_lease(Duration::from_millis(
                env("CHILD_LEASE_MS").parse().unwrap(),
            ))
            .with_poll_interval(Duration::from_millis(25));
        let workers = Workers::start(queue.clone(), Arc::new(HttpPost::new(&worker)), config);
        let n: usize = env("CHILD_ENQUEUE").parse().unwrap();
        if n > 0 {
            let hosts: Vec<String> = env("CHILD_HOSTS").split(',').map(str::to_owned).collect();
            workers.enqueue(fan_out(n, &hosts)).await.unwrap();
        }
        loop {
            tokio::time::sleep(Duration::from_millis(25)).await;
            let now = Timestamp::from_system_time(std::time::SystemTime::now());
            if queue.stats(now).await.unwrap().total == 0 {
                break;
            }
        }
        let stopped = workers.shutdown().await;
        eprintln!(
            "worker {worker}: delivered {}, retries {}, given up {}",
            stopped.report.delivered, stopped.report.retries, stopped.report.given_up
        );
    }
}
