//! The ordering rule in the workers' terms: with room for four requests to
//! one host at once, a `Create` whose first attempt fails, then an `Update`
//! and a `Delete` of the same note, reach the inbox in that order (the
//! retry included), as the plans' derived ordering keys demand.
#![cfg(feature = "delivery")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::delivery::{
    Delivery, DeliveryError, DeliveryPlan, DeliveryQueue, MemoryQueue, NewActivity, PlanOptions,
    Recipient, RetryPolicy, SendRequest, Timestamp, WorkerConfig, Workers,
};
use archipel::vocab::Iri;
use bytes::Bytes;
use serde_json::json;

const INBOX: &str = "https://b.example/users/bob/inbox";
const NOTE: &str = "https://me.example/notes/1";

/// An inbox that records each POST as it arrives (activity id and the
/// status it answers) and refuses the first `Create` with a 503.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<(String, u16)>>,
}

#[async_trait::async_trait]
impl Delivery for Recorder {
    async fn send(&self, r: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        let id = r.activity_id.to_string();
        let status = {
            let mut log = self.log.lock().unwrap();
            let first_create = id.ends_with("/create") && !log.iter().any(|(i, _)| *i == id);
            let status = if first_create { 503 } else { 202 };
            log.push((id, status));
            status
        };
        // Long enough that a job claimed alongside would overlap.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(http::Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap())
    }
}

fn planned(kind: &str, object: serde_json::Value) -> NewActivity {
    let activity = json!({
        "id": format!("https://me.example/activities/{}", kind.to_lowercase()),
        "type": kind,
        "actor": "https://me.example/users/alice",
        "object": object,
    });
    let plan = DeliveryPlan::new(
        &activity,
        [Recipient::new(url::Url::parse(INBOX).unwrap())],
        &PlanOptions::default(),
    )
    .unwrap();
    assert_eq!(plan.order_key(), NOTE, "{kind}: key from its object");
    NewActivity::from_plan(
        &plan,
        Iri::new_unchecked("https://me.example/users/alice#main-key"),
    )
}

async fn run(queue: Arc<dyn DeliveryQueue>) -> Vec<(String, u16)> {
    let recorder = Arc::new(Recorder::default());
    let config = WorkerConfig::default()
        .with_concurrency(8)
        .with_per_host(4)
        .with_lease(Duration::from_secs(10))
        .with_poll_interval(Duration::from_millis(10))
        .with_retry(
            RetryPolicy::default()
                .with_initial_delay(Duration::from_millis(50))
                .with_factor(1.0)
                .with_jitter(0.0)
                .with_max_attempts(5),
        );
    let workers = Workers::start(queue.clone(), recorder.clone(), config);
    let note = json!({"id": NOTE, "type": "Note", "content": "hi"});
    workers
        .enqueue(planned("Create", note.clone()))
        .await
        .unwrap();
    workers.enqueue(planned("Update", note)).await.unwrap();
    workers
        .enqueue(planned("Delete", json!({"id": NOTE, "type": "Tombstone"})))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        if queue.stats(now).await.unwrap().total == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue did not drain: {:?}",
            recorder.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workers.shutdown().await;
    recorder.log.lock().unwrap().clone()
}

fn expected() -> Vec<(String, u16)> {
    [
        ("create", 503),
        ("create", 202),
        ("update", 202),
        ("delete", 202),
    ]
    .map(|(k, s)| (format!("https://me.example/activities/{k}"), s))
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_reaches_the_inbox_after_the_retried_create_memory() {
    assert_eq!(run(Arc::new(MemoryQueue::new())).await, expected());
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_reaches_the_inbox_after_the_retried_create_sqlite() {
    use archipel::delivery::queue::sqlite::SqliteQueue;
    let queue = SqliteQueue::open_in_memory().await.unwrap();
    assert_eq!(run(Arc::new(queue)).await, expected());
}
