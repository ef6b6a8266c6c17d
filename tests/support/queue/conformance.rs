//! The `DeliveryQueue` conformance suite: the same cases run against every
//! backend (in-memory, SQLite, PostgreSQL) through [`Subject`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use archipel::delivery::{
    AttemptRecord, ClaimRequest, DeliveryError, DeliveryQueue, JobId, Lease, LeaseInfo,
    NewActivity, PreparedBody, QueueStats, Timestamp,
};
use archipel::signatures::Spec;
use archipel::vocab::Iri;
use bytes::Bytes;

pub type Hook = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A fresh, empty queue of one backend, with that backend's housekeeping.
pub struct Subject {
    /// The queue under test.
    pub queue: Arc<dyn DeliveryQueue>,
    /// Deletes settled jobs and unreferenced bodies (no-op for memory).
    pub prune: Hook,
    /// Releases the queue's storage (drops the test schema, deletes the file).
    pub finish: Hook,
}

pub fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

pub fn activity(id: &str, inboxes: &[&str]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked(id),
        PreparedBody::new(Bytes::from(format!(
            "{{\"id\":\"{id}\",\"type\":\"Create\"}}"
        ))),
        Iri::new_unchecked("https://a.example/users/alice#main-key"),
        inboxes
            .iter()
            .map(|s| url::Url::parse(s).unwrap())
            .collect(),
    )
}

pub fn req(now: u64, limit: usize, per_host: usize) -> ClaimRequest {
    ClaimRequest {
        now: t(now),
        limit,
        lease_for: Duration::from_millis(1_000),
        per_host_limit: per_host,
        busy: BTreeMap::new(),
        paused: BTreeSet::new(),
    }
}

fn lease_lost(r: Result<(), DeliveryError>, job: JobId) {
    match r {
        Err(DeliveryError::LeaseLost { job: j }) => assert_eq!(j, job),
        other => panic!("expected LeaseLost for {job}, got {other:?}"),
    }
}

pub async fn enqueue_persists_one_job_per_inbox_and_one_body(s: &Subject) {
    let q = &s.queue;
    let mut a = activity(
        "https://a.example/act/1",
        &[
            "https://b.example/inbox",
            "https://c.example:8443/users/x/inbox",
            "https://d.example/inbox",
        ],
    );
    a.dialect = Some(Spec::Rfc9421);
    let ids = q.enqueue_activity(a, t(42)).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3);
    let job = q.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(job.id, ids[1]);
    assert_eq!(job.inbox.as_str(), "https://c.example:8443/users/x/inbox");
    assert_eq!(job.host, "c.example:8443");
    assert_eq!(job.activity_id, "https://a.example/act/1");
    assert_eq!(job.key_id, "https://a.example/users/alice#main-key");
    assert_eq!((job.attempts, job.claims), (0, 0));
    assert_eq!(job.created_at, t(42));
    assert_eq!(job.next_attempt_at, t(42));
    assert_eq!(job.lease, None);
    assert_eq!(job.dialect, Some(Spec::Rfc9421));
    let jobs = [
        q.get(ids[0]).await.unwrap().unwrap(),
        q.get(ids[2]).await.unwrap().unwrap(),
    ];
    assert!(
        jobs.iter().all(|j| j.body_id == job.body_id),
        "one body per activity"
    );
    assert_eq!(
        q.stats(t(42)).await.unwrap(),
        QueueStats {
            total: 3,
            due: 3,
            leased: 0,
            bodies: 1,
            oldest_created_at: Some(t(42)),
        }
    );
    assert_eq!(q.stats(t(41)).await.unwrap().due, 0);
    // No inboxes: nothing stored.
    assert!(
        q.enqueue_activity(activity("https://a.example/act/2", &[]), t(50))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(q.stats(t(50)).await.unwrap().bodies, 1);
    assert_eq!(q.get(JobId(987_654_321)).await.unwrap(), None);
}

pub async fn claim_hands_out_due_jobs_oldest_first_with_body_and_lease(s: &Subject) {
    let q = &s.queue;
    let first = q
        .enqueue_activity(
            activity(
                "https://a.example/act/1",
                &["https://b.example/1", "https://c.example/1"],
            ),
            t(0),
        )
        .await
        .unwrap();
    let later = q
        .enqueue_activity(
            activity("https://a.example/act/2", &["https://d.example/1"]),
            t(10),
        )
        .await
        .unwrap();
    let claimed = q.claim(&req(5, 10, 10)).await.unwrap();
    let ids: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
    assert_eq!(ids, first, "only due jobs, in due order");
    let c = &claimed[0];
    assert_eq!(
        c.body.bytes().as_ref(),
        b"{\"id\":\"https://a.example/act/1\",\"type\":\"Create\"}"
    );
    assert_eq!(
        c.body.sha256(),
        PreparedBody::new(c.body.bytes().clone()).sha256()
    );
    assert_eq!(c.lease.job, c.job.id);
    assert_eq!(c.lease.until, t(1_005));
    assert_eq!(c.job.claims, 1);
    assert_eq!(
        c.job.lease,
        Some(LeaseInfo {
            token: c.lease.token,
            until: t(1_005)
        })
    );
    assert_ne!(claimed[0].lease.token, claimed[1].lease.token);
    let seen = q.get(c.job.id).await.unwrap().unwrap();
    assert_eq!(
        seen.lease,
        Some(LeaseInfo {
            token: c.lease.token,
            until: t(1_005)
        })
    );
    assert_eq!(seen.claims, 1);
    assert_eq!(
        q.stats(t(5)).await.unwrap(),
        QueueStats {
            total: 3,
            due: 0,
            leased: 2,
            bodies: 2,
            oldest_created_at: Some(t(0)),
        }
    );
    // Claimed jobs are not handed out again while leased.
    assert!(q.claim(&req(9, 10, 10)).await.unwrap().is_empty());
    let rest = q.claim(&req(10, 10, 10)).await.unwrap();
    assert_eq!(rest.iter().map(|c| c.job.id).collect::<Vec<_>>(), later);
    assert_eq!(
        rest[0].body.bytes().as_ref(),
        b"{\"id\":\"https://a.example/act/2\",\"type\":\"Create\"}"
    );
    // limit is honoured
    q.enqueue_activity(
        activity(
            "https://a.example/act/3",
            &[
                "https://e.example/1",
                "https://f.example/1",
                "https://g.example/1",
            ],
        ),
        t(20),
    )
    .await
    .unwrap();
    assert_eq!(q.claim(&req(20, 2, 10)).await.unwrap().len(), 2);
    assert_eq!(q.claim(&req(20, 0, 10)).await.unwrap().len(), 0);
}

pub async fn per_host_limit_counts_busy_and_paused_hosts_are_skipped(s: &Subject) {
    let q = &s.queue;
    q.enqueue_activity(
        activity(
            "https://a.example/act/1",
            &[
                "https://b.example/1",
                "https://b.example/2",
                "https://b.example/3",
                "https://c.example/1",
                "https://d.example/1",
            ],
        ),
        t(0),
    )
    .await
    .unwrap();
    let mut r = req(0, 10, 2);
    r.busy.insert("b.example".into(), 1);
    r.paused.insert("d.example".into());
    let claimed = q.claim(&r).await.unwrap();
    let inboxes: Vec<&str> = claimed.iter().map(|c| c.job.inbox.as_str()).collect();
    assert_eq!(inboxes, ["https://b.example/1", "https://c.example/1"]);
    // Skipped jobs stay due for the next claim.
    let next = q.claim(&req(0, 10, 10)).await.unwrap();
    let inboxes: Vec<&str> = next.iter().map(|c| c.job.inbox.as_str()).collect();
    assert_eq!(
        inboxes,
        [
            "https://b.example/2",
            "https://b.example/3",
            "https://d.example/1"
        ]
    );
}

pub async fn ack_and_give_up_settle_once_and_bodies_go_with_the_last_job(s: &Subject) {
    let q = &s.queue;
    q.enqueue_activity(
        activity(
            "https://a.example/act/1",
            &["https://b.example/1", "https://c.example/1"],
        ),
        t(0),
    )
    .await
    .unwrap();
    q.enqueue_activity(
        activity(
            "https://a.example/act/2",
            &["https://b.example/2", "https://c.example/2"],
        ),
        t(0),
    )
    .await
    .unwrap();
    let c = q.claim(&req(0, 10, 10)).await.unwrap();
    assert_eq!(c.len(), 4);
    let ok = AttemptRecord {
        status: Some(202),
        error: None,
        dialect: Some(Spec::Cavage),
    };
    q.ack(&c[0].lease, ok.clone()).await.unwrap();
    lease_lost(q.ack(&c[0].lease, ok.clone()).await, c[0].job.id);
    assert_eq!(q.get(c[0].job.id).await.unwrap(), None);
    let gone = AttemptRecord {
        status: Some(410),
        error: Some("Gone".into()),
        dialect: None,
    };
    q.give_up(&c[1].lease, gone.clone()).await.unwrap();
    lease_lost(q.give_up(&c[1].lease, gone).await, c[1].job.id);
    lease_lost(
        q.retry_at(&c[1].lease, t(5), AttemptRecord::default())
            .await,
        c[1].job.id,
    );
    lease_lost(q.defer(&c[1].lease, t(5)).await, c[1].job.id);
    assert_eq!(q.get(c[1].job.id).await.unwrap(), None);
    q.ack(&c[2].lease, ok.clone()).await.unwrap();
    (s.prune)().await;
    let st = q.stats(t(0)).await.unwrap();
    assert_eq!((st.total, st.bodies), (1, 1), "activity 2 still has a job");
    q.ack(&c[3].lease, ok).await.unwrap();
    (s.prune)().await;
    assert_eq!(q.stats(t(0)).await.unwrap(), QueueStats::default());
    assert_eq!(q.next_due().await.unwrap(), None);
}

pub async fn retry_at_counts_the_attempt_and_defer_does_not(s: &Subject) {
    let q = &s.queue;
    q.enqueue_activity(
        activity("https://a.example/act/1", &["https://b.example/i"]),
        t(0),
    )
    .await
    .unwrap();
    let c = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
    let rec = AttemptRecord {
        status: Some(503),
        error: Some("busy".into()),
        dialect: Some(Spec::Rfc9421),
    };
    q.retry_at(&c.lease, t(5_000), rec).await.unwrap();
    lease_lost(q.ack(&c.lease, AttemptRecord::default()).await, c.job.id);
    let waiting = q.get(c.job.id).await.unwrap().unwrap();
    assert_eq!(waiting.lease, None);
    assert_eq!(waiting.next_attempt_at, t(5_000));
    assert_eq!(waiting.attempts, 1);
    assert!(q.claim(&req(4_999, 1, 1)).await.unwrap().is_empty());
    assert_eq!(q.next_due().await.unwrap(), Some(t(5_000)));
    assert_eq!(
        q.stats(t(4_999)).await.unwrap(),
        QueueStats {
            total: 1,
            due: 0,
            leased: 0,
            bodies: 1,
            oldest_created_at: Some(t(0)),
        }
    );
    let c2 = q.claim(&req(5_000, 1, 1)).await.unwrap().remove(0);
    assert_eq!(c2.job.id, c.job.id);
    assert_eq!((c2.job.attempts, c2.job.claims), (1, 2));
    assert_eq!(c2.job.last_status, Some(503));
    assert_eq!(c2.job.last_error.as_deref(), Some("busy"));
    assert_eq!(c2.job.dialect, Some(Spec::Rfc9421));
    assert_eq!(c2.body.bytes(), c.body.bytes());
    q.defer(&c2.lease, t(6_000)).await.unwrap();
    lease_lost(q.defer(&c2.lease, t(6_000)).await, c.job.id);
    let c3 = q.claim(&req(6_000, 1, 1)).await.unwrap().remove(0);
    assert_eq!((c3.job.attempts, c3.job.claims), (1, 3));
    assert_eq!(c3.job.next_attempt_at, t(6_000));
    // A retry without a dialect keeps the remembered one.
    q.retry_at(
        &c3.lease,
        t(7_000),
        AttemptRecord {
            status: Some(500),
            error: None,
            dialect: None,
        },
    )
    .await
    .unwrap();
    let j = q.get(c.job.id).await.unwrap().unwrap();
    assert_eq!(
        (j.attempts, j.last_status, j.dialect),
        (2, Some(500), Some(Spec::Rfc9421))
    );
}

pub async fn lapsed_lease_is_reclaimed_and_the_stale_holder_refused(s: &Subject) {
    let q = &s.queue;
    q.enqueue_activity(
        activity("https://a.example/act/1", &["https://b.example/i"]),
        t(0),
    )
    .await
    .unwrap();
    let first = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
    assert!(q.claim(&req(999, 1, 1)).await.unwrap().is_empty());
    assert_eq!(q.stats(t(500)).await.unwrap().leased, 1);
    assert_eq!(q.next_due().await.unwrap(), Some(t(1_000)));
    assert_eq!(
        q.stats(t(1_000)).await.unwrap(),
        QueueStats {
            total: 1,
            due: 1,
            leased: 0,
            bodies: 1,
            oldest_created_at: Some(t(0)),
        }
    );
    let second = q.claim(&req(1_000, 1, 1)).await.unwrap().remove(0);
    assert_eq!(second.job.id, first.job.id);
    assert_ne!(second.lease.token, first.lease.token);
    assert_eq!(second.job.claims, 2);
    assert_eq!(second.lease.until, t(2_000));
    lease_lost(
        q.ack(&first.lease, AttemptRecord::default()).await,
        first.job.id,
    );
    lease_lost(
        q.retry_at(&first.lease, t(9), AttemptRecord::default())
            .await,
        first.job.id,
    );
    lease_lost(q.defer(&first.lease, t(9)).await, first.job.id);
    lease_lost(
        q.give_up(&first.lease, AttemptRecord::default()).await,
        first.job.id,
    );
    // A forged token is refused too.
    let forged = Lease {
        token: second.lease.token.wrapping_add(1),
        ..second.lease
    };
    lease_lost(q.ack(&forged, AttemptRecord::default()).await, first.job.id);
    q.ack(&second.lease, AttemptRecord::default())
        .await
        .unwrap();
    lease_lost(
        q.give_up(&second.lease, AttemptRecord::default()).await,
        first.job.id,
    );
    assert_eq!(q.stats(t(2_000)).await.unwrap().total, 0);
    let unknown = Lease {
        job: JobId(987_654_321),
        token: 1,
        until: t(0),
    };
    lease_lost(
        q.ack(&unknown, AttemptRecord::default()).await,
        JobId(987_654_321),
    );
}

pub async fn lapsed_but_unclaimed_lease_may_still_settle(s: &Subject) {
    let q = &s.queue;
    q.enqueue_activity(
        activity("https://a.example/act/1", &["https://b.example/i"]),
        t(0),
    )
    .await
    .unwrap();
    let first = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
    let mut r = req(2_000, 1, 1);
    r.paused.insert("b.example".into());
    assert!(q.claim(&r).await.unwrap().is_empty());
    assert_eq!(q.stats(t(2_000)).await.unwrap().due, 1);
    q.ack(&first.lease, AttemptRecord::default()).await.unwrap();
    assert_eq!(q.stats(t(2_000)).await.unwrap().total, 0);
    assert_eq!(q.next_due().await.unwrap(), None);
}

/// Issue 12, item 7: a peer answering `429 Retry-After` (paused) or one
/// whose per-host limit is taken by leases (saturated) must not keep every
/// other host waiting, however large its backlog: the healthy host's job,
/// enqueued last, comes out of the very first claim.
pub async fn backlog_of_paused_and_saturated_hosts_does_not_starve_a_healthy_one(s: &Subject) {
    const BACKLOG: usize = 10_000;
    let q = &s.queue;
    let inboxes = |host: &str| -> Vec<String> {
        (0..BACKLOG)
            .map(|i| format!("https://{host}/users/u{i}/inbox"))
            .collect()
    };
    // One enqueue (one transaction) per host keeps the setup fast. The
    // saturated host's jobs come first so that taking its leases below
    // does not itself depend on skipping the paused backlog.
    for (n, host) in ["saturated.example", "paused.example"].iter().enumerate() {
        let list = inboxes(host);
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        let ids = q
            .enqueue_activity(activity(&format!("https://a.example/act/{n}"), &refs), t(0))
            .await
            .unwrap();
        assert_eq!(ids.len(), BACKLOG);
    }
    let healthy = q
        .enqueue_activity(
            activity(
                "https://a.example/act/h",
                &["https://healthy.example/inbox"],
            ),
            t(1),
        )
        .await
        .unwrap();
    // The saturated host's per-host limit is taken by live leases.
    let per_host = 2;
    let mut take = req(1, per_host, per_host);
    take.lease_for = Duration::from_secs(3600);
    take.paused.insert("paused.example".into());
    take.paused.insert("healthy.example".into());
    let leased = q.claim(&take).await.unwrap();
    let hosts: Vec<&str> = leased.iter().map(|c| c.job.host.as_str()).collect();
    assert_eq!(hosts, ["saturated.example"; 2]);

    let mut first = req(2, 16, per_host);
    first.paused.insert("paused.example".into());
    first.busy.insert("saturated.example".into(), leased.len());
    let claimed = q.claim(&first).await.unwrap();
    let ids: Vec<JobId> = claimed.iter().map(|c| c.job.id).collect();
    assert_eq!(ids, healthy, "the healthy host's job, and nothing else");
}

pub async fn concurrent_claimers_never_share_a_job(s: &Subject) {
    let q = &s.queue;
    let inboxes: Vec<String> = (0..240)
        .map(|i| format!("https://h{}.example/inbox/{i}", i % 24))
        .collect();
    let refs: Vec<&str> = inboxes.iter().map(String::as_str).collect();
    let ids = q
        .enqueue_activity(activity("https://a.example/act/fan", &refs), t(0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut r = req(0, 7, 100);
                r.lease_for = Duration::from_secs(3600);
                let batch = q.claim(&r).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                for c in batch {
                    q.ack(&c.lease, AttemptRecord::default()).await.unwrap();
                    mine.push(c.job.id);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let mut expected = ids;
    expected.sort();
    assert_eq!(all, expected, "every job claimed and acked exactly once");
    assert_eq!(q.stats(t(0)).await.unwrap().total, 0);
}

/// Generates one `#[tokio::test]` per case for a backend whose `make()`
/// returns `Option<Subject>` (`None`: backend unavailable, skip).
#[allow(unused_macros)]
macro_rules! conformance_cases {
    ($make:path) => {
        conformance_cases!($make;
            enqueue_persists_one_job_per_inbox_and_one_body,
            claim_hands_out_due_jobs_oldest_first_with_body_and_lease,
            per_host_limit_counts_busy_and_paused_hosts_are_skipped,
            ack_and_give_up_settle_once_and_bodies_go_with_the_last_job,
            retry_at_counts_the_attempt_and_defer_does_not,
            lapsed_lease_is_reclaimed_and_the_stale_holder_refused,
            lapsed_but_unclaimed_lease_may_still_settle,
            concurrent_claimers_never_share_a_job,
            backlog_of_paused_and_saturated_hosts_does_not_starve_a_healthy_one,
        );
    };
    ($make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(subject) = $make(stringify!($case)).await else { return };
                crate::support::queue::conformance::$case(&subject).await;
                (subject.finish)().await;
            }
        )*
    };
}
