//! Issue 12, item 5: an inbox answering a delivery with a redirect must not
//! get the activity re-posted elsewhere (307/308 re-send the signed body to
//! a target the signature does not cover) nor have a `GET` counted as the
//! delivery (301/302/303). Each 3xx ends the job as given up with
//! `GiveUpReason::Redirected`, and the redirect target sees nothing.

use archipel::client::{ClientError, HttpClient, RedirectMode};
use archipel::delivery::{
    DeliveryEvent, DeliveryPlan, GiveUpReason, JobOutcome, PlanOptions, Recipient,
};
use bytes::Bytes;

use crate::delivery_peer::{Answer, Peer, deliver, loopback_client};

fn activity() -> serde_json::Value {
    serde_json::json!({
        "id": "https://sender.example/activities/redirect-1",
        "type": "Create",
        "actor": "https://sender.example/users/alice",
        "object": {"type": "Note", "content": "for b only"}
    })
}

/// The redirecting inbox and where it points: a second server that would
/// accept anything.
async fn peers(status: u16) -> (Peer, Peer) {
    let elsewhere = Peer::start(Answer {
        status: 202,
        location: None,
    })
    .await;
    let inbox = Peer::start(Answer {
        status,
        location: Some(elsewhere.url("/inbox").to_string()),
    })
    .await;
    (inbox, elsewhere)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_redirect_status_fails_the_job_and_reaches_nobody_else() {
    for status in [301, 302, 303, 307, 308] {
        let (inbox, elsewhere) = peers(status).await;
        let plan = DeliveryPlan::new(
            &activity(),
            [Recipient::new(inbox.url("/users/bob/inbox"))],
            &PlanOptions::default(),
        )
        .unwrap();
        let (events, report) = deliver(&plan, loopback_client()).await;

        // One signed POST to the inbox, not followed anywhere.
        let at_inbox = inbox.captured();
        assert_eq!(at_inbox.len(), 1, "{status}: {at_inbox:?}");
        assert_eq!(at_inbox[0].method, "POST");
        assert_eq!(at_inbox[0].path, "/users/bob/inbox");
        assert_eq!(&at_inbox[0].body, plan.body().bytes());
        assert_eq!(
            elsewhere.captured().len(),
            0,
            "{status}: the redirect target was contacted: {:?}",
            elsewhere.captured()
        );

        let expected = GiveUpReason::Redirected {
            status: Some(status),
            location: elsewhere.url("/inbox").to_string(),
        };
        let gave_up: Vec<&DeliveryEvent> = events
            .iter()
            .filter(|e| matches!(e, DeliveryEvent::GaveUp { .. }))
            .collect();
        match gave_up.as_slice() {
            [
                DeliveryEvent::GaveUp {
                    attempts,
                    status: s,
                    reason,
                    ..
                },
            ] => {
                assert_eq!(*attempts, 1, "{status}");
                assert_eq!(*s, Some(status), "{status}");
                assert_eq!(reason, &expected, "{status}");
            }
            other => panic!("{status}: expected one GaveUp, got {other:?} in {events:?}"),
        }
        assert_eq!(report.delivered, 0, "{status}: counted as delivered");
        assert_eq!(report.given_up, 1, "{status}");
        let outcomes: Vec<&JobOutcome> = report.jobs.values().map(|j| &j.outcome).collect();
        assert_eq!(outcomes, [&JobOutcome::GaveUp(expected)], "{status}");
    }
}

/// An `HttpClient` that drops the request's redirect mode and lets the
/// default client follow: an application's own client that does not honour
/// `RedirectMode::Manual`.
struct IgnoresRedirectMode(archipel::client::ReqwestClient);

#[async_trait::async_trait]
impl HttpClient for IgnoresRedirectMode {
    async fn execute(
        &self,
        mut req: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, ClientError> {
        req.extensions_mut().insert(RedirectMode::Follow);
        self.0.execute(req).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_follows_anyway_cannot_make_a_redirect_count_as_delivered() {
    for status in [302, 308] {
        let (inbox, elsewhere) = peers(status).await;
        let plan = DeliveryPlan::new(
            &activity(),
            [Recipient::new(inbox.url("/users/bob/inbox"))],
            &PlanOptions::default(),
        )
        .unwrap();
        let (_, report) = deliver(&plan, IgnoresRedirectMode(loopback_client())).await;
        assert_eq!(report.delivered, 0, "{status}: counted as delivered");
        let outcomes: Vec<&JobOutcome> = report.jobs.values().map(|j| &j.outcome).collect();
        assert_eq!(
            outcomes,
            [&JobOutcome::GaveUp(GiveUpReason::Redirected {
                status: None,
                location: elsewhere.url("/inbox").to_string(),
            })],
            "{status}"
        );
    }
}
