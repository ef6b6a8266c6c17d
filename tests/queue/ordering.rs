//! Conformance cases of the ordering rule, checkpoints and the oldest
//! pending job, run against every backend by `ordering_cases!` (invoked in
//! `conformance.rs` beside the base suite).
//!
//! The ordering rule: a job with an ordering key is not claimed while an
//! older job with the same key to the same inbox is unsettled (pending,
//! leased, or waiting for a retry), so a `Delete` never overtakes the
//! `Create` it follows.

use archipel::delivery::queue::MAX_PROGRESS;
use archipel::delivery::{AttemptRecord, DeliveryError, JobId, Lease, NewActivity};

use crate::support::queue::conformance::{Subject, activity, req, t};

const INBOX: &str = "https://b.example/users/bob/inbox";
const NOTE: &str = "https://a.example/notes/1";

/// An activity about `object` to `inboxes`, keyed as `DeliveryPlan` keys it.
fn about(id: &str, object: &str, inboxes: &[&str]) -> NewActivity {
    activity(id, inboxes).with_order_key(object)
}

fn ok() -> AttemptRecord {
    AttemptRecord {
        status: Some(202),
        ..AttemptRecord::default()
    }
}

fn failed() -> AttemptRecord {
    AttemptRecord {
        status: Some(503),
        ..AttemptRecord::default()
    }
}

/// The ids of the jobs a claim at `now` hands out (room for ten).
async fn claim_ids(s: &Subject, now: u64) -> Vec<JobId> {
    let mut ids: Vec<JobId> = s
        .queue
        .claim(&req(now, 10, 10))
        .await
        .unwrap()
        .iter()
        .map(|c| c.job.id)
        .collect();
    ids.sort();
    ids
}

async fn claim_one(s: &Subject, now: u64) -> (JobId, Lease) {
    let mut claimed = s.queue.claim(&req(now, 10, 10)).await.unwrap();
    assert_eq!(claimed.len(), 1, "expected exactly one claimable job");
    let c = claimed.remove(0);
    (c.job.id, c.lease)
}

pub async fn delete_waits_until_the_create_is_acked_even_through_a_retry(s: &Subject) {
    let q = &s.queue;
    let create = q
        .enqueue_activity(about("https://a.example/act/c", NOTE, &[INBOX]), t(0))
        .await
        .unwrap();
    let delete = q
        .enqueue_activity(about("https://a.example/act/d", NOTE, &[INBOX]), t(0))
        .await
        .unwrap();
    let stored = q.get(delete[0]).await.unwrap().unwrap();
    assert_eq!(stored.order_key.as_deref(), Some(NOTE));
    // Only the Create is claimable; the Delete is held while it is leased.
    let (id, lease) = claim_one(s, 0).await;
    assert_eq!(id, create[0]);
    assert_eq!(claim_ids(s, 10).await, []);
    // The Create fails and waits for its retry: the Delete stays held, and
    // an idle worker is told to wake at the retry, not now.
    q.retry_at(&lease, t(5_000), failed()).await.unwrap();
    assert_eq!(claim_ids(s, 100).await, []);
    assert_eq!(q.next_due().await.unwrap(), Some(t(5_000)));
    // Held jobs are still backlog.
    let stats = q.stats(t(100)).await.unwrap();
    assert_eq!((stats.total, stats.due, stats.leased), (2, 1, 0));
    // The retry goes out first; the Delete only once the Create is acked.
    let (id, lease) = claim_one(s, 5_000).await;
    assert_eq!(id, create[0]);
    assert_eq!(claim_ids(s, 5_000).await, []);
    q.ack(&lease, ok()).await.unwrap();
    assert_eq!(q.next_due().await.unwrap(), Some(t(0)));
    let (id, _) = claim_one(s, 5_000).await;
    assert_eq!(id, delete[0]);
}

pub async fn delete_is_released_when_the_create_is_given_up(s: &Subject) {
    let q = &s.queue;
    let create = q
        .enqueue_activity(about("https://a.example/act/c", NOTE, &[INBOX]), t(0))
        .await
        .unwrap();
    let update = q
        .enqueue_activity(about("https://a.example/act/u", NOTE, &[INBOX]), t(1))
        .await
        .unwrap();
    let delete = q
        .enqueue_activity(about("https://a.example/act/d", NOTE, &[INBOX]), t(2))
        .await
        .unwrap();
    let (id, lease) = claim_one(s, 10).await;
    assert_eq!(id, create[0]);
    q.give_up(&lease, failed()).await.unwrap();
    // The Update is next; the Delete still waits behind it.
    let (id, lease) = claim_one(s, 10).await;
    assert_eq!(id, update[0]);
    assert_eq!(claim_ids(s, 10).await, []);
    // A lapsed lease hands the Update out again, never the Delete.
    let (id, lease2) = claim_one(s, 1_010).await;
    assert_eq!((id, lease2.job), (update[0], update[0]));
    assert_ne!(lease2.token, lease.token);
    q.ack(&lease2, ok()).await.unwrap();
    let (id, _) = claim_one(s, 1_010).await;
    assert_eq!(id, delete[0]);
}

pub async fn other_inboxes_other_objects_and_unkeyed_jobs_are_not_held(s: &Subject) {
    let q = &s.queue;
    let other_inbox = "https://c.example/users/carol/inbox";
    let mut expected = Vec::new();
    expected.extend(
        q.enqueue_activity(about("https://a.example/act/c", NOTE, &[INBOX]), t(0))
            .await
            .unwrap(),
    );
    // The same object to another inbox.
    expected.extend(
        q.enqueue_activity(about("https://a.example/act/d", NOTE, &[other_inbox]), t(0))
            .await
            .unwrap(),
    );
    // Another object to the same inbox.
    expected.extend(
        q.enqueue_activity(
            about(
                "https://a.example/act/e",
                "https://a.example/notes/2",
                &[INBOX],
            ),
            t(0),
        )
        .await
        .unwrap(),
    );
    // No key at all.
    expected.extend(
        q.enqueue_activity(activity("https://a.example/act/f", &[INBOX]), t(0))
            .await
            .unwrap(),
    );
    // Keys are compared exactly: a trailing slash is another object.
    expected.extend(
        q.enqueue_activity(
            about(
                "https://a.example/act/g",
                "https://a.example/notes/1/",
                &[INBOX],
            ),
            t(0),
        )
        .await
        .unwrap(),
    );
    expected.sort();
    assert_eq!(claim_ids(s, 0).await, expected);
}

pub async fn checkpoint_stores_progress_and_extends_the_lease_of_the_holder_only(s: &Subject) {
    let q = &s.queue;
    let ids = q
        .enqueue_activity(activity("https://a.example/act/1", &[INBOX]), t(0))
        .await
        .unwrap();
    let claimed = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
    assert_eq!(claimed.job.progress, None);
    let lease = claimed.lease;
    assert_eq!(lease.until, t(1_000));
    let extended = q
        .checkpoint(&lease, b"cursor-1".to_vec(), t(5_000))
        .await
        .unwrap();
    assert_eq!(
        extended,
        Lease {
            job: ids[0],
            token: lease.token,
            until: t(5_000)
        }
    );
    let seen = q.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(seen.progress.as_deref(), Some(&b"cursor-1"[..]));
    assert_eq!(
        seen.lease.map(|l| (l.token, l.until)),
        Some((lease.token, t(5_000)))
    );
    // The first lease would have lapsed at 1 000; the extended one has not.
    assert_eq!(claim_ids(s, 1_500).await, []);
    assert_eq!(q.next_due().await.unwrap(), Some(t(5_000)));
    // A later checkpoint replaces the progress.
    let extended = q
        .checkpoint(&extended, b"cursor-2".to_vec(), t(6_000))
        .await
        .unwrap();
    assert_eq!(extended.until, t(6_000));
    // The worker crashes: the lease lapses, the next claim resumes there.
    let again = q.claim(&req(6_000, 1, 1)).await.unwrap().remove(0);
    assert_eq!(again.job.id, ids[0]);
    assert_eq!(again.job.claims, 2);
    assert_eq!(again.job.progress.as_deref(), Some(&b"cursor-2"[..]));
    // The stale holder can no longer checkpoint.
    match q.checkpoint(&extended, b"stale".to_vec(), t(9_000)).await {
        Err(DeliveryError::LeaseLost { job }) => assert_eq!(job, ids[0]),
        other => panic!("stale checkpoint accepted: {other:?}"),
    }
    let seen = q.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(seen.progress.as_deref(), Some(&b"cursor-2"[..]));
    // A retry keeps the progress for the next attempt.
    q.retry_at(&again.lease, t(7_000), failed()).await.unwrap();
    let third = q.claim(&req(7_000, 1, 1)).await.unwrap().remove(0);
    assert_eq!(third.job.progress.as_deref(), Some(&b"cursor-2"[..]));
    // Nor can anyone checkpoint a settled job.
    q.ack(&third.lease, ok()).await.unwrap();
    match q.checkpoint(&third.lease, Vec::new(), t(9_000)).await {
        Err(DeliveryError::LeaseLost { job }) => assert_eq!(job, ids[0]),
        other => panic!("checkpoint of a settled job accepted: {other:?}"),
    }
}

pub async fn lapsed_but_unclaimed_lease_may_still_checkpoint(s: &Subject) {
    let q = &s.queue;
    let ids = q
        .enqueue_activity(activity("https://a.example/act/1", &[INBOX]), t(0))
        .await
        .unwrap();
    let lease = q.claim(&req(0, 1, 1)).await.unwrap().remove(0).lease;
    // Lapsed at 1 000, but nobody claimed it since: the holder keeps it.
    let extended = q
        .checkpoint(&lease, b"late".to_vec(), t(4_000))
        .await
        .unwrap();
    assert_eq!(extended.until, t(4_000));
    assert_eq!(claim_ids(s, 2_000).await, []);
    assert_eq!(q.stats(t(2_000)).await.unwrap().leased, 1);
    let again = q.claim(&req(4_000, 1, 1)).await.unwrap().remove(0);
    assert_eq!(again.job.id, ids[0]);
    assert_eq!(again.job.progress.as_deref(), Some(&b"late"[..]));
}

pub async fn oversize_progress_is_refused(s: &Subject) {
    let q = &s.queue;
    let ids = q
        .enqueue_activity(activity("https://a.example/act/1", &[INBOX]), t(0))
        .await
        .unwrap();
    let lease = q.claim(&req(0, 1, 1)).await.unwrap().remove(0).lease;
    match q
        .checkpoint(&lease, vec![7; MAX_PROGRESS + 1], t(2_000))
        .await
    {
        Err(DeliveryError::ProgressTooLarge { job, size, max }) => {
            assert_eq!((job, size, max), (ids[0], 65_537, 65_536))
        }
        other => panic!("oversize progress accepted: {other:?}"),
    }
    // Nothing was stored and the lease was not extended.
    let seen = q.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(seen.progress, None);
    assert_eq!(seen.lease.map(|l| l.until), Some(t(1_000)));
    // Exactly the limit is fine.
    q.checkpoint(&lease, vec![7; MAX_PROGRESS], t(2_000))
        .await
        .unwrap();
    let seen = q.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(seen.progress.map(|p| p.len()), Some(MAX_PROGRESS));
}

pub async fn oldest_created_at_is_the_oldest_unsettled_job(s: &Subject) {
    let q = &s.queue;
    assert_eq!(q.stats(t(0)).await.unwrap().oldest_created_at, None);
    let first = q
        .enqueue_activity(activity("https://a.example/act/1", &[INBOX]), t(10))
        .await
        .unwrap();
    q.enqueue_activity(
        activity("https://a.example/act/2", &["https://c.example/i"]),
        t(20),
    )
    .await
    .unwrap();
    assert_eq!(q.stats(t(30)).await.unwrap().oldest_created_at, Some(t(10)));
    // Leased and waiting-for-retry jobs are still pending.
    let mut claimed = q.claim(&req(30, 10, 10)).await.unwrap();
    claimed.sort_by_key(|c| c.job.id);
    assert_eq!(claimed[0].job.id, first[0]);
    assert_eq!(q.stats(t(30)).await.unwrap().oldest_created_at, Some(t(10)));
    q.retry_at(&claimed[0].lease, t(900), failed())
        .await
        .unwrap();
    assert_eq!(q.stats(t(30)).await.unwrap().oldest_created_at, Some(t(10)));
    // Settled jobs are not (even while a durable backend still keeps them).
    q.ack(&claimed[1].lease, ok()).await.unwrap();
    assert_eq!(q.stats(t(30)).await.unwrap().oldest_created_at, Some(t(10)));
    let again = q.claim(&req(900, 10, 10)).await.unwrap().remove(0);
    q.give_up(&again.lease, failed()).await.unwrap();
    assert_eq!(q.stats(t(900)).await.unwrap().oldest_created_at, None);
}

/// Emits one test per ordering case for the backend whose fresh [`Subject`]
/// `$make` builds.
macro_rules! ordering_cases {
    ($make:ident) => {
        ordering_cases!($make;
            delete_waits_until_the_create_is_acked_even_through_a_retry,
            delete_is_released_when_the_create_is_given_up,
            other_inboxes_other_objects_and_unkeyed_jobs_are_not_held,
            checkpoint_stores_progress_and_extends_the_lease_of_the_holder_only,
            lapsed_but_unclaimed_lease_may_still_checkpoint,
            oversize_progress_is_refused,
            oldest_created_at_is_the_oldest_unsettled_job,
        );
    };
    ($make:ident; $($case:ident),* $(,)?) => {
        mod ordering {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(subject) = super::$make(stringify!($case)).await else { return };
                    crate::ordering::$case(&subject).await;
                    (subject.finish)().await;
                }
            )*
        }
    };
}
