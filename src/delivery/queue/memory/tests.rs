use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::*;
use crate::vocab::Iri;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn activity(inboxes: &[&str]) -> NewActivity {
    NewActivity::new(
        Iri::new_unchecked("https://a.example/act/1"),
        PreparedBody::new(bytes::Bytes::from_static(b"{\"id\":1}")),
        Iri::new_unchecked("https://a.example/u/a#main-key"),
        inboxes
            .iter()
            .map(|s| url::Url::parse(s).unwrap())
            .collect(),
    )
}

fn req(now: u64, limit: usize, per_host: usize) -> ClaimRequest {
    ClaimRequest {
        now: t(now),
        limit,
        lease_for: Duration::from_millis(1_000),
        per_host_limit: per_host,
        busy: BTreeMap::new(),
        paused: BTreeSet::new(),
    }
}

#[test]
fn body_is_stored_once_and_dropped_with_last_job() {
    block_on(async {
        let q = MemoryQueue::new();
        let ids = q
            .enqueue_activity(
                activity(&["https://b.example/i", "https://c.example/i"]),
                t(0),
            )
            .await
            .unwrap();
        assert_eq!(ids, [JobId(1), JobId(2)]);
        assert_eq!(q.stats(t(0)).await.unwrap().bodies, 1);
        let claimed = q.claim(&req(0, 10, 10)).await.unwrap();
        assert_eq!(claimed.len(), 2);
        assert_eq!(claimed[0].job.host, "b.example");
        q.ack(&claimed[0].lease, AttemptRecord::default())
            .await
            .unwrap();
        assert_eq!(q.stats(t(0)).await.unwrap().bodies, 1);
        q.give_up(&claimed[1].lease, AttemptRecord::default())
            .await
            .unwrap();
        assert_eq!(q.stats(t(0)).await.unwrap(), QueueStats::default());
    });
}

#[test]
fn per_host_limit_counts_busy_and_paused_hosts_are_skipped() {
    block_on(async {
        let q = MemoryQueue::new();
        q.enqueue_activity(
            activity(&[
                "https://b.example/1",
                "https://b.example/2",
                "https://b.example/3",
                "https://c.example/1",
                "https://d.example/1",
            ]),
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
    });
}

#[test]
fn retry_at_counts_attempt_and_delays_job() {
    block_on(async {
        let q = MemoryQueue::new();
        q.enqueue_activity(activity(&["https://b.example/i"]), t(0))
            .await
            .unwrap();
        let c = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
        let rec = AttemptRecord {
            status: Some(503),
            error: None,
            dialect: Some(crate::delivery::Spec::Rfc9421),
        };
        q.retry_at(&c.lease, t(5_000), rec).await.unwrap();
        assert!(q.claim(&req(4_999, 1, 1)).await.unwrap().is_empty());
        assert_eq!(q.next_due().await.unwrap(), Some(t(5_000)));
        let c2 = q.claim(&req(5_000, 1, 1)).await.unwrap().remove(0);
        assert_eq!(c2.job.attempts, 1);
        assert_eq!(c2.job.claims, 2);
        assert_eq!(c2.job.last_status, Some(503));
        assert_eq!(c2.job.dialect, Some(crate::delivery::Spec::Rfc9421));
        // defer does not count an attempt
        q.defer(&c2.lease, t(6_000)).await.unwrap();
        let c3 = q.claim(&req(6_000, 1, 1)).await.unwrap().remove(0);
        assert_eq!(c3.job.attempts, 1);
    });
}

#[test]
fn lapsed_lease_is_reclaimed_and_stale_holder_is_refused() {
    block_on(async {
        let q = MemoryQueue::new();
        q.enqueue_activity(activity(&["https://b.example/i"]), t(0))
            .await
            .unwrap();
        let first = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
        // Lease (1 s) still live: nobody else gets it.
        assert!(q.claim(&req(999, 1, 1)).await.unwrap().is_empty());
        assert_eq!(q.stats(t(500)).await.unwrap().leased, 1);
        let second = q.claim(&req(1_000, 1, 1)).await.unwrap().remove(0);
        assert_eq!(second.job.id, first.job.id);
        assert_ne!(second.lease.token, first.lease.token);
        let err = q
            .ack(&first.lease, AttemptRecord::default())
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::LeaseLost { job } if job == first.job.id));
        let err = q
            .retry_at(&first.lease, t(9), AttemptRecord::default())
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::LeaseLost { .. }));
        q.ack(&second.lease, AttemptRecord::default())
            .await
            .unwrap();
        let err = q
            .give_up(&second.lease, AttemptRecord::default())
            .await
            .unwrap_err();
        assert!(matches!(err, DeliveryError::LeaseLost { .. }));
        assert_eq!(q.stats(t(2_000)).await.unwrap().total, 0);
    });
}

#[test]
fn lapsed_but_unclaimed_lease_may_still_settle() {
    block_on(async {
        let q = MemoryQueue::new();
        q.enqueue_activity(activity(&["https://b.example/i"]), t(0))
            .await
            .unwrap();
        let first = q.claim(&req(0, 1, 1)).await.unwrap().remove(0);
        // Another claim call at t=2000 finds the lapsed lease but host is busy elsewhere.
        let mut r = req(2_000, 1, 1);
        r.paused.insert("b.example".into());
        assert!(q.claim(&r).await.unwrap().is_empty());
        assert_eq!(q.stats(t(2_000)).await.unwrap().due, 1);
        q.ack(&first.lease, AttemptRecord::default()).await.unwrap();
        assert_eq!(q.stats(t(2_000)).await.unwrap().total, 0);
        assert_eq!(q.next_due().await.unwrap(), None);
    });
}

#[test]
fn job_record_round_trips_through_json() {
    block_on(async {
        let q = MemoryQueue::new();
        q.enqueue_activity(activity(&["https://b.example:8443/i"]), t(7))
            .await
            .unwrap();
        let c = q.claim(&req(7, 1, 1)).await.unwrap().remove(0);
        let json = serde_json::to_value(&c.job).unwrap();
        assert_eq!(json["host"], "b.example:8443");
        assert_eq!(json["lease"]["until"], 1_007);
        let back: JobRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, c.job);
    });
}

#[test]
fn deep_backlog_on_one_host_does_not_starve_others() {
    block_on(async {
        let q = MemoryQueue::new();
        let deep: Vec<String> = (0..1000)
            .map(|i| format!("https://deep.example/{i}"))
            .collect();
        let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
        q.enqueue_activity(activity(&deep), t(0)).await.unwrap();
        q.enqueue_activity(activity(&["https://other.example/1"]), t(1))
            .await
            .unwrap();
        let mut r = req(5, 10, 3);
        r.busy.insert("deep.example".into(), 1);
        let claimed = q.claim(&r).await.unwrap();
        let hosts: Vec<&str> = claimed.iter().map(|c| c.job.host.as_str()).collect();
        // Two more for the busy deep host (oldest first), then the other host.
        assert_eq!(hosts, ["deep.example", "deep.example", "other.example"]);
        assert_eq!(claimed[0].job.inbox.as_str(), "https://deep.example/0");
        assert_eq!(claimed[1].job.inbox.as_str(), "https://deep.example/1");
        let stats = q.stats(t(5)).await.unwrap();
        assert_eq!((stats.total, stats.due, stats.leased), (1001, 998, 3));
        assert_eq!(q.next_due().await.unwrap(), Some(t(0)));
    });
}

#[test]
fn job_record_serializes_its_inbox_as_text_and_back() {
    block_on(async {
        let q = MemoryQueue::new();
        let ids = q
            .enqueue_activity(activity(&["https://b.example/i?x=1"]), t(0))
            .await
            .unwrap();
        let job = q.get(ids[0]).await.unwrap().unwrap();
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["inbox"], "https://b.example/i?x=1");
        assert_eq!(json["activity_id"], "https://a.example/act/1");
        assert_eq!(json["key_id"], "https://a.example/u/a#main-key");
        let back: JobRecord = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, job);
        let mut bad = json;
        bad["inbox"] = "no scheme".into();
        let err = serde_json::from_value::<JobRecord>(bad).unwrap_err();
        assert_eq!(err.to_string(), "relative URL without a base");
    })
}
