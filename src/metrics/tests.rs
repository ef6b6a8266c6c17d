use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::delivery::{
    Delivery, DeliveryError, DeliveryPlan, MemoryQueue, NewActivity, PlanOptions, Recipient,
    SendRequest, WorkerConfig, Workers,
};
use crate::vocab::Iri;

/// One exposition, parsed: samples by `name{labels}`, and each family's
/// HELP and TYPE lines.
#[derive(Debug, Default)]
struct Parsed {
    samples: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
    helps: BTreeMap<String, String>,
}

fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                parsed.types.insert(name.into(), kind.into()).is_none(),
                "{line}"
            );
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.is_empty(), "{line}");
            parsed.helps.insert(name.into(), help.into());
        } else {
            let (key, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(key.starts_with("archipel_"), "{line}");
            assert!(
                parsed.samples.insert(key.into(), value.into()).is_none(),
                "{line}"
            );
        }
    }
    // Every sample belongs to a declared family with its help.
    for key in parsed.samples.keys() {
        let name = key.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| parsed.types.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        assert!(parsed.types.contains_key(family), "no TYPE for {key}");
        assert!(parsed.helps.contains_key(family), "no HELP for {key}");
    }
    parsed
}

impl Parsed {
    fn value(&self, key: &str) -> &str {
        self.samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key} in {:?}", self.samples.keys()))
    }
}

#[test]
fn admission_and_inbound_counters_are_exposed_exactly() {
    let admission = AdmissionStats {
        admitted: 12,
        refused_origin: 3,
        refused_address: 2,
        refused_busy: 1,
        refused_blocked: 7,
        in_flight: 4,
        tracked_origins: 9,
    };
    let inbound = InboundStats {
        depth: 5,
        leased: 2,
        oldest_created_at: Some(Timestamp::from_millis(10_000)),
        processed: 40,
        retried: 6,
        failed: 1,
    };
    let text = Scrape::default()
        .with_admission(admission)
        .with_inbound(inbound, Timestamp::from_millis(12_500))
        .render()
        .unwrap();
    let p = parse(&text);
    assert_eq!(p.types["archipel_inbound_admitted_total"], "counter");
    assert_eq!(p.types["archipel_inbound_refused_total"], "counter");
    assert_eq!(p.types["archipel_inbound_queue_depth"], "gauge");
    assert_eq!(p.value("archipel_inbound_admitted_total"), "12");
    let refused = |reason: &str| {
        p.value(&format!(
            "archipel_inbound_refused_total{{reason=\"{reason}\"}}"
        ))
    };
    assert_eq!(refused("origin"), "3");
    assert_eq!(refused("address"), "2");
    assert_eq!(refused("busy"), "1");
    assert_eq!(refused("blocked"), "7");
    assert_eq!(p.value("archipel_inbound_in_flight"), "4");
    assert_eq!(p.value("archipel_inbound_tracked_origins"), "9");
    assert_eq!(p.value("archipel_inbound_queue_depth"), "5");
    assert_eq!(p.value("archipel_inbound_queue_leased"), "2");
    assert_eq!(p.value("archipel_inbound_queue_oldest_age_seconds"), "2.5");
    assert_eq!(p.value("archipel_inbound_processed_total"), "40");
    assert_eq!(p.value("archipel_inbound_retried_total"), "6");
    assert_eq!(p.value("archipel_inbound_failed_total"), "1");
    // No delivery pool: no delivery metrics rather than zeros.
    assert!(!text.contains("archipel_delivery"), "{text}");
}

/// Answers by host: `ok.example` 202, `gone.example` 410, any other 500.
struct ByHost;

#[async_trait::async_trait]
impl Delivery for ByHost {
    async fn send(&self, request: SendRequest<'_>) -> Result<http::Response<Bytes>, DeliveryError> {
        let status = match request.inbox.host_str() {
            Some("ok.example") => 202,
            Some("gone.example") => 410,
            _ => 500,
        };
        Ok(http::Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap())
    }
}

#[tokio::test]
async fn delivery_status_after_known_attempts_is_exposed_exactly() {
    let config = WorkerConfig::default()
        .with_double_knock(false)
        .with_poll_interval(Duration::from_millis(10));
    let workers = Workers::start(Arc::new(MemoryQueue::new()), Arc::new(ByHost), config);
    let activity = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://me.example/activities/1",
        "type": "Create",
        "actor": "https://me.example/users/alice",
        "object": {"id": "https://me.example/notes/1", "type": "Note", "content": "hi"}
    });
    let recipients = ["ok", "sick", "gone"]
        .map(|h| Recipient::new(url::Url::parse(&format!("https://{h}.example/inbox")).unwrap()));
    let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
    let key_id = Iri::parse("https://me.example/users/alice#main-key").unwrap();
    workers
        .enqueue(NewActivity::from_plan(&plan, key_id))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = workers.status().await.unwrap();
        let a = status.attempts;
        if a.delivered + a.gone + a.retried == 3 {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    workers.abort().await;
    // The sick host's job waits for its retry: one unsettled job.
    assert_eq!(status.queue.total, 1);
    let hosts: Vec<(&str, HostState, Option<&str>)> = status
        .hosts
        .iter()
        .map(|h| (h.host.as_str(), h.state, h.last_error.as_deref()))
        .collect();
    assert_eq!(
        hosts,
        vec![
            ("sick.example", HostState::Failing, Some("HTTP 500")),
            (
                "gone.example",
                HostState::Healthy,
                Some("410 Gone: HTTP 410")
            ),
            ("ok.example", HostState::Healthy, None),
        ]
    );
    let failures: Vec<(&str, &str, bool)> = status
        .recent_failures
        .iter()
        .map(|f| (f.host.as_str(), f.reason.as_str(), f.gave_up))
        .collect();
    assert_eq!(failures.len(), 2);
    assert!(failures.contains(&("sick.example", "HTTP 500", false)));
    assert!(failures.contains(&("gone.example", "410 Gone: HTTP 410", true)));

    let text = Scrape::default().with_delivery(status).render().unwrap();
    let p = parse(&text);
    assert_eq!(p.types["archipel_delivery_attempts_total"], "counter");
    assert_eq!(
        p.types["archipel_delivery_attempt_duration_seconds"],
        "histogram"
    );
    let attempts = |outcome: &str| {
        p.value(&format!(
            "archipel_delivery_attempts_total{{outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(attempts("delivered"), "1");
    assert_eq!(attempts("retry"), "1");
    assert_eq!(attempts("gone"), "1");
    assert_eq!(attempts("gave_up"), "0");
    assert_eq!(p.value("archipel_delivery_unsettled"), "1");
    assert_eq!(p.value("archipel_delivery_backlog"), "0");
    assert_eq!(p.value("archipel_delivery_hosts{state=\"healthy\"}"), "2");
    assert_eq!(p.value("archipel_delivery_hosts{state=\"failing\"}"), "1");
    assert_eq!(p.value("archipel_delivery_hosts{state=\"dead\"}"), "0");
    assert_eq!(
        p.value("archipel_delivery_attempt_duration_seconds_count"),
        "3"
    );
    assert_eq!(
        p.value("archipel_delivery_attempt_duration_seconds_bucket{le=\"+Inf\"}"),
        "3"
    );
    assert!(
        p.samples
            .contains_key("archipel_delivery_oldest_pending_age_seconds")
    );
}
