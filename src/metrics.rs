//! Prometheus metrics (feature `metrics`): delivery and inbound numbers in
//! the text exposition format (version 0.0.4), for a `GET /metrics` that
//! a Prometheus server scrapes.
//!
//! The decision this module makes: nothing is counted twice. The delivery
//! worker pool, the inbox admission gate and the inbound queue already keep
//! their own counters (plain numbers, read without a lock held across an
//! await), so a scrape reads them as they stand ([`Scrape::gather`]) and
//! encodes them with the Prometheus organisation's `prometheus-client`
//! crate. No metric lives in a global registry, so two [`Federation`]s in
//! one process (tests, several instances) never mix their numbers, and
//! nothing is recorded when nobody scrapes.
//!
//! The metrics, all prefixed `archipel_`:
//!
//! | metric | type | what |
//! |---|---|---|
//! | `delivery_backlog` | gauge | delivery jobs due and waiting for a worker |
//! | `delivery_unsettled` | gauge | delivery jobs not settled (due, leased, waiting for a retry) |
//! | `delivery_in_flight` | gauge | attempts running now |
//! | `delivery_oldest_pending_age_seconds` | gauge | how long the oldest unsettled job has waited (0 when none) |
//! | `delivery_attempts_total{outcome}` | counter | attempts by outcome: `delivered`, `retry`, `gone`, `gave_up` |
//! | `delivery_deferrals_total` | counter | jobs postponed without an attempt (dead host, shutdown) |
//! | `delivery_hosts{state}` | gauge | tracked hosts by state: `healthy`, `failing`, `paused`, `dead` |
//! | `delivery_attempt_duration_seconds` | histogram | attempt latency, both knocks included |
//! | `inbound_admitted_total` | counter | inbox requests admitted |
//! | `inbound_refused_total{reason}` | counter | refused before any key fetch: `origin`, `address`, `busy`, `blocked` |
//! | `inbound_in_flight` | gauge | admitted requests being handled now |
//! | `inbound_tracked_origins` | gauge | origin buckets tracked by admission |
//! | `inbound_queue_depth` | gauge | inbound activities accepted and not yet processed |
//! | `inbound_queue_leased` | gauge | inbound activities being processed |
//! | `inbound_queue_oldest_age_seconds` | gauge | how long the oldest unprocessed activity has waited |
//! | `inbound_processed_total`, `inbound_retried_total`, `inbound_failed_total` | counter | inbound processing outcomes |
//!
//! A part that does not run (no delivery pool, no inbound queue) is left
//! out of the scrape rather than reported as zeros.
//!
//! ```
//! use archipel::metrics::Scrape;
//! use archipel::inbox::admission::AdmissionStats;
//!
//! let text = Scrape::default()
//!     .with_admission(AdmissionStats::default())
//!     .render()?;
//! assert!(text.contains("# TYPE archipel_inbound_admitted_total counter\n"));
//! assert!(text.contains("archipel_inbound_refused_total{reason=\"busy\"} 0\n"));
//! # Ok::<(), archipel::metrics::MetricsError>(())
//! ```

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::delivery::{DeliveryStatus, HostState, Timestamp};
use crate::federation::Federation;
use crate::inbox::admission::AdmissionStats;
use crate::inbox::queue::InboundStats;

/// The `Content-Type` of [`Scrape::render`]'s text (Prometheus text format
/// version 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Errors of the `metrics` module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The delivery pool's status could not be read (its queue failed).
    #[error("metrics: delivery status unavailable: {0}")]
    Delivery(String),
    /// The inbound queue's counts could not be read.
    #[error("metrics: inbound queue counts unavailable: {0}")]
    Inbound(String),
    /// The text could not be encoded (a metric or label name the encoder
    /// refused).
    #[error("metrics: encoding the exposition failed")]
    Encode,
}

/// The numbers of one scrape, read from a [`Federation`] by
/// [`gather`](Self::gather) or assembled by hand (another framework, a
/// test), then [`render`](Self::render)ed.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Scrape {
    /// The delivery pool's status, when it runs.
    pub delivery: Option<DeliveryStatus>,
    /// The inbox admission gate's counters.
    pub admission: Option<AdmissionStats>,
    /// The inbound queue's counts, when there is one.
    pub inbound: Option<InboundStats>,
    /// "Now" for the inbound queue's oldest age.
    pub now: Option<Timestamp>,
}

impl Scrape {
    /// Reads every part of `fed` that runs: the delivery pool's
    /// [`status`](Federation::delivery_status), the admission gate's
    /// counters and the inbound queue's counts.
    ///
    /// # Errors
    /// When a queue cannot count its jobs.
    pub async fn gather(fed: &Federation) -> Result<Scrape, MetricsError> {
        let delivery = fed
            .delivery_status()
            .await
            .map_err(|e| MetricsError::Delivery(e.to_string()))?;
        let inbound = match fed.inbound() {
            Some(queue) => Some(
                queue
                    .stats()
                    .await
                    .map_err(|e| MetricsError::Inbound(e.to_string()))?,
            ),
            None => None,
        };
        Ok(Scrape {
            delivery,
            admission: Some(fed.admission().stats()),
            inbound,
            now: Some(Timestamp::from_system_time(std::time::SystemTime::now())),
        })
    }

    /// Sets [`delivery`](Self::delivery).
    pub fn with_delivery(mut self, delivery: DeliveryStatus) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// Sets [`admission`](Self::admission).
    pub fn with_admission(mut self, admission: AdmissionStats) -> Self {
        self.admission = Some(admission);
        self
    }

    /// Sets [`inbound`](Self::inbound), its oldest age measured from `now`.
    pub fn with_inbound(mut self, inbound: InboundStats, now: Timestamp) -> Self {
        self.inbound = Some(inbound);
        self.now = Some(now);
        self
    }

    /// The Prometheus text exposition of these numbers.
    ///
    /// # Errors
    /// [`MetricsError::Encode`] if the encoder refuses (not expected with
    /// the fixed names used here).
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut registry = Registry::with_prefix("archipel");
        registry.register_collector(Box::new(self.clone()));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .map_err(|_| MetricsError::Encode)?;
        Ok(text)
    }
}

/// A federation's metrics endpoint: [`render`](Self::render) on each scrape.
///
/// ```no_run
/// # async fn demo(fed: archipel::federation::Federation) -> Result<(), archipel::Error> {
/// let metrics = archipel::metrics::Metrics::new(fed.clone());
/// let body = metrics.render().await?; // serve with `archipel::metrics::CONTENT_TYPE`
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Metrics {
    fed: Federation,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics of `fed` (a clone of the handle: it shares everything).
    pub fn new(fed: Federation) -> Self {
        Metrics { fed }
    }

    /// Gathers and encodes one scrape.
    ///
    /// # Errors
    /// As [`Scrape::gather`] and [`Scrape::render`].
    pub async fn render(&self) -> Result<String, MetricsError> {
        Scrape::gather(&self.fed).await?.render()
    }
}

/// Writes one unlabelled gauge.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: impl prometheus_client::encoding::EncodeGaugeValue,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}

/// Writes one unlabelled counter (the encoder adds `_total`).
fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Writes one family with a single label over `values`.
fn family(
    encoder: &mut DescriptorEncoder<'_>,
    (name, help, kind): (&str, &str, MetricType),
    label: &str,
    values: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (value, n) in values {
        let labels = [(label, *value)];
        let member = metric.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(*n).encode(member)?,
            _ => ConstGauge::new(*n).encode(member)?,
        }
    }
    Ok(())
}

fn seconds(d: Option<Duration>) -> f64 {
    d.map_or(0.0, |d| d.as_secs_f64())
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        if let Some(d) = &self.delivery {
            let backlog = u64::try_from(d.queue.due).unwrap_or(u64::MAX);
            let unsettled = u64::try_from(d.queue.total).unwrap_or(u64::MAX);
            let in_flight = u64::try_from(d.in_flight).unwrap_or(u64::MAX);
            gauge(
                e,
                "delivery_backlog",
                "Delivery jobs due and waiting for a worker.",
                None,
                backlog,
            )?;
            gauge(
                e,
                "delivery_unsettled",
                "Delivery jobs not settled: due, leased or waiting for a retry.",
                None,
                unsettled,
            )?;
            gauge(
                e,
                "delivery_in_flight",
                "Delivery attempts running now.",
                None,
                in_flight,
            )?;
            gauge(
                e,
                "delivery_oldest_pending_age",
                "How long the oldest unsettled delivery job has waited.",
                Some(&Unit::Seconds),
                seconds(d.oldest_pending_age),
            )?;
            let a = d.attempts;
            family(
                e,
                (
                    "delivery_attempts",
                    "Delivery attempts by outcome.",
                    MetricType::Counter,
                ),
                "outcome",
                &[
                    ("delivered", a.delivered),
                    ("retry", a.retried),
                    ("gone", a.gone),
                    ("gave_up", a.gave_up),
                ],
            )?;
            counter(
                e,
                "delivery_deferrals",
                "Delivery jobs postponed without an attempt (dead host, shutdown).",
                a.deferred,
            )?;
            let c = d.host_counts;
            let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
            family(
                e,
                (
                    "delivery_hosts",
                    "Tracked delivery hosts by state.",
                    MetricType::Gauge,
                ),
                "state",
                &[
                    (HostState::Healthy.as_str(), n(c.healthy)),
                    (HostState::Failing.as_str(), n(c.failing)),
                    (HostState::Paused.as_str(), n(c.paused)),
                    (HostState::Dead.as_str(), n(c.dead)),
                ],
            )?;
            let buckets: Vec<(f64, u64)> = d.latency.buckets().collect();
            let mut histogram = e.encode_descriptor(
                "delivery_attempt_duration",
                "Delivery attempt latency, both signature dialects' knocks included.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            histogram.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                d.latency.sum_seconds,
                d.latency.count,
                &buckets,
                None,
            )?;
        }
        if let Some(s) = &self.admission {
            counter(
                e,
                "inbound_admitted",
                "Inbox requests admitted.",
                s.admitted,
            )?;
            family(
                e,
                (
                    "inbound_refused",
                    "Inbox requests refused before any key fetch, by reason.",
                    MetricType::Counter,
                ),
                "reason",
                &[
                    ("origin", s.refused_origin),
                    ("address", s.refused_address),
                    ("busy", s.refused_busy),
                    ("blocked", s.refused_blocked),
                ],
            )?;
            let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
            gauge(
                e,
                "inbound_in_flight",
                "Admitted inbox requests being handled now.",
                None,
                n(s.in_flight),
            )?;
            gauge(
                e,
                "inbound_tracked_origins",
                "Origin buckets the admission gate tracks.",
                None,
                n(s.tracked_origins),
            )?;
        }
        if let Some(q) = &self.inbound {
            let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
            gauge(
                e,
                "inbound_queue_depth",
                "Inbound activities accepted and not yet processed.",
                None,
                n(q.depth),
            )?;
            gauge(
                e,
                "inbound_queue_leased",
                "Inbound activities being processed.",
                None,
                n(q.leased),
            )?;
            let age = match (q.oldest_created_at, self.now) {
                (Some(oldest), Some(now)) => Some(now.saturating_since(oldest)),
                _ => None,
            };
            gauge(
                e,
                "inbound_queue_oldest_age",
                "How long the oldest unprocessed inbound activity has waited.",
                Some(&Unit::Seconds),
                seconds(age),
            )?;
            counter(
                e,
                "inbound_processed",
                "Inbound activities processed.",
                q.processed,
            )?;
            counter(
                e,
                "inbound_retried",
                "Inbound processing attempts scheduled for a retry.",
                q.retried,
            )?;
            counter(
                e,
                "inbound_failed",
                "Inbound activities given up.",
                q.failed,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
