//! Fault injection against an inbox farm of real HTTP servers on loopback:
//! transient 500s, 429 with Retry-After, 410, hanging hosts, refused
//! connections and single-dialect hosts. Every job must end delivered or
//! given up with a reason, every request must carry a valid signature, no
//! host may see more concurrent requests than the per-host limit, and the
//! report must account for every planned delivery.
#![cfg(all(feature = "delivery", feature = "client"))]

use crate::support::farm;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use archipel::client::{FetchPolicy, ReqwestClient};
use archipel::delivery::{
    BreakerConfig, DeadHostAction, DeliveryPlan, DeliveryQueue, GiveUpReason, JobOutcome,
    MemoryQueue, NewActivity, PlanOptions, Recipient, RetryPolicy, SignedDelivery, SignerMap,
    Timestamp, WorkerConfig, Workers,
};
use archipel::signatures::{PrivateKey, Signer, Spec};
use archipel::vocab::Iri;
use farm::Behavior;

const KEY_ID: &str = "https://sender.example/users/alice#main-key";
const PER_HOST: usize = 2;
const INBOXES_PER_HOST: usize = 6;

fn key() -> PrivateKey {
    PrivateKey::from_pem(include_str!("../interop/keys/rsa-2048-pkcs8.pem")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_ends_delivered_or_given_up_with_a_reason() {
    let key = key();
    let mut behaviors = Vec::new();
    behaviors.extend(std::iter::repeat_n(Behavior::Accept, 8));
    behaviors.extend(std::iter::repeat_n(
        Behavior::Slow(Duration::from_millis(40)),
        4,
    ));
    behaviors.extend(std::iter::repeat_n(Behavior::FailThenAccept(3), 4));
    behaviors.extend(std::iter::repeat_n(
        Behavior::RetryAfter { times: 1, secs: 2 },
        3,
    ));
    behaviors.extend(std::iter::repeat_n(Behavior::Gone, 3));
    behaviors.extend(std::iter::repeat_n(Behavior::Hang, 3));
    behaviors.extend(std::iter::repeat_n(Behavior::Refuse, 3));
    // The `delivery` feature signs both dialects: a failure to sign RFC 9421
    // is a regression, which these hosts catch (their jobs would not deliver).
    behaviors.extend(std::iter::repeat_n(Behavior::OnlyDialect(Spec::Rfc9421), 3));
    let hosts = farm::start(behaviors, KEY_ID, key.public_key()).await;

    // Plan: personal inboxes only (the farm has no shared inboxes).
    let recipients: Vec<Recipient> = hosts
        .iter()
        .flat_map(|h| (0..INBOXES_PER_HOST).map(move |i| Recipient::new(h.inbox(i))))
        .collect();
    let activity = serde_json::json!({
        "id": "https://sender.example/activities/fault-1",
        "type": "Create",
        "actor": "https://sender.example/users/alice",
        "bcc": ["https://hidden.example/users/x"],
        "object": {"type": "Note", "content": "fault injection"}
    });
    let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
    let planned = plan.inboxes().len();
    assert_eq!(planned, hosts.len() * INBOXES_PER_HOST);

    let client = ReqwestClient::new(
        FetchPolicy::default()
            .allow_private_addresses(true)
            .allow_http(true)
            .max_redirects(0)
            // Generous for a loaded machine: only the hanging hosts reach it.
            .connect_timeout(Duration::from_secs(2))
            .total_timeout(Duration::from_secs(2)),
    )
    .unwrap();
    let signers: SignerMap = [Signer::new(KEY_ID, key)].into_iter().collect();
    let delivery = Arc::new(SignedDelivery::new(client, signers));
    let config = WorkerConfig::default()
        .with_concurrency(16)
        .with_per_host(PER_HOST)
        .with_lease(Duration::from_secs(5))
        .with_poll_interval(Duration::from_millis(20))
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_initial_delay(Duration::from_millis(50))
                .with_factor(2.0)
                .with_max_delay(Duration::from_secs(1))
                .with_jitter(0.25)
                .with_max_retry_after(Duration::from_secs(2))
                .with_max_age(Duration::from_secs(10)),
        )
        .with_breaker(
            BreakerConfig::default()
                .with_dead_after(Duration::from_millis(600))
                .with_probe_after(Duration::from_millis(200))
                .with_max_hosts(1000),
        )
        .with_dead_host(DeadHostAction::GiveUp);
    let queue = Arc::new(MemoryQueue::new());
    let workers = Workers::start(queue.clone(), delivery, config);
    let started = Instant::now();
    let ids = workers
        .enqueue(NewActivity::from_plan(&plan, Iri::new_unchecked(KEY_ID)))
        .await
        .unwrap();
    assert_eq!(ids.len(), planned);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = Timestamp::from_system_time(std::time::SystemTime::now());
        if queue.stats(now).await.unwrap().total == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queue did not drain: {:?}",
            queue.stats(now).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let report = workers.shutdown().await.report;

    // Nothing lost: every planned job reached a final state, counted once.
    assert_eq!(report.jobs.len(), planned);
    assert_eq!(report.pending(), 0);
    assert_eq!(report.delivered + report.gone + report.given_up, planned);

    for (h, host) in hosts.iter().enumerate() {
        let stats = &host.stats;
        let outcomes: Vec<&JobOutcome> = (0..INBOXES_PER_HOST)
            .map(|i| &report.jobs[&ids[h * INBOXES_PER_HOST + i]].outcome)
            .collect();
        let max = stats.max_in_flight.load(Ordering::SeqCst);
        // A hanging host only notices that the sender gave up on a request
        // when it processes the closed connection, which can race with the
        // sender's next request on a fresh connection: there the server may
        // briefly count an abandoned request too. Everywhere else the
        // server-side count is exact.
        let limit = if let Behavior::Hang = host.behavior {
            2 * PER_HOST
        } else {
            PER_HOST
        };
        assert!(
            max <= limit,
            "{} {:?}: {max} concurrent requests",
            host.base,
            host.behavior
        );
        assert!(max >= 1 || matches!(host.behavior, Behavior::Refuse));
        if let Behavior::Slow(_) = host.behavior {
            // The limit is reached, not just respected by accident.
            assert_eq!(max, PER_HOST, "{}", host.base);
        }
        assert_eq!(
            stats.bad_signatures.load(Ordering::SeqCst),
            0,
            "{}: bad signature",
            host.base
        );
        assert_eq!(
            stats.verified.load(Ordering::SeqCst),
            stats.requests.load(Ordering::SeqCst),
            "{}: unverified request",
            host.base
        );
        let accepted: HashSet<String> = stats.accepted.lock().unwrap().iter().cloned().collect();
        match &host.behavior {
            Behavior::Accept
            | Behavior::Slow(_)
            | Behavior::FailThenAccept(_)
            | Behavior::RetryAfter { .. }
            | Behavior::OnlyDialect(_) => {
                assert!(
                    outcomes.iter().all(|o| **o == JobOutcome::Delivered),
                    "{} {:?}: {outcomes:?}",
                    host.base,
                    host.behavior
                );
                // Each inbox accepted exactly once.
                assert_eq!(accepted.len(), INBOXES_PER_HOST);
                assert_eq!(stats.accepted.lock().unwrap().len(), INBOXES_PER_HOST);
            }
            Behavior::Gone => {
                assert!(
                    outcomes
                        .iter()
                        .all(|o| **o == JobOutcome::GaveUp(GiveUpReason::Gone))
                );
                assert_eq!(stats.requests.load(Ordering::SeqCst), INBOXES_PER_HOST);
            }
            Behavior::Hang | Behavior::Refuse => {
                for o in &outcomes {
                    assert!(
                        matches!(
                            o,
                            JobOutcome::GaveUp(GiveUpReason::Exhausted { attempts: 4 })
                                | JobOutcome::GaveUp(GiveUpReason::HostDead)
                        ),
                        "{} {:?}: {o:?}",
                        host.base,
                        host.behavior
                    );
                }
            }
        }
        let log = stats.log.lock().unwrap();
        assert!(
            log.iter()
                .all(|(id, ..)| id == "https://sender.example/activities/fault-1")
        );
        match &host.behavior {
            Behavior::RetryAfter { secs, .. } => {
                // The 429 paused the whole host: between it and the end of
                // the delay, only requests the sender had started before it
                // read the 429 may arrive: the one in flight beside it, and
                // one more whose slot freed in between (2 * PER_HOST - 1 at
                // most; seen: 0 to 2). Without the pause all five other jobs
                // of the host arrive. A count, not a time window, so a loaded
                // machine cannot fail it.
                let throttled = stats.throttled_at.lock().unwrap()[0];
                // The sender's pause starts when it reads the 429, after
                // `throttled`, so `resumes` errs on the safe side.
                let resumes = throttled + Duration::from_secs(*secs) - Duration::from_millis(50);
                let during: Vec<_> = log
                    .iter()
                    .filter(|(.., at)| *at > throttled && *at < resumes)
                    .map(|(.., at)| at.duration_since(throttled))
                    .collect();
                assert!(
                    during.len() < 2 * PER_HOST,
                    "{}: {} requests during the pause, at {during:?} after the 429",
                    host.base,
                    during.len()
                );
                assert!(log.iter().any(|(.., at)| *at >= resumes));
            }
            Behavior::OnlyDialect(spec) => {
                // Double-knock: at most one wasted knock per concurrent first job.
                let wrong = log.iter().filter(|(_, _, s, _)| s != spec).count();
                assert!(
                    (1..=PER_HOST).contains(&wrong),
                    "{}: {wrong} wrong-dialect knocks",
                    host.base
                );
            }
            _ => {}
        }
    }
    // The bcc'd party is never revealed to any host: search every body that
    // went on the wire (the activity id says nothing about the audience).
    let mut bodies = 0;
    for host in &hosts {
        for body in host.stats.bodies.lock().unwrap().iter() {
            let text = String::from_utf8_lossy(body);
            assert!(
                text.contains("fault injection"),
                "{}: not the activity: {text}",
                host.base
            );
            assert!(
                !text.contains("hidden.example") && !text.contains("\"bcc\""),
                "{}: bcc revealed on the wire: {text}",
                host.base
            );
            bodies += 1;
        }
    }
    // Every job to a host that accepts connections sent its body at least once.
    let reachable = hosts
        .iter()
        .filter(|h| !matches!(h.behavior, Behavior::Refuse))
        .count()
        * INBOXES_PER_HOST;
    assert!(
        bodies >= reachable,
        "only {bodies} bodies seen for {reachable} reachable jobs"
    );
    eprintln!(
        "fault farm: {planned} jobs in {elapsed:?}: {} delivered, {} gone, {} given up, {} retries, {} hosts dead",
        report.delivered, report.gone, report.given_up, report.retries, report.hosts_dead
    );
    assert!(elapsed < Duration::from_secs(20));
}
