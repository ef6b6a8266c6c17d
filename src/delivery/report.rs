//! Observability: [`DeliveryEvent`]s as they happen and the aggregated
//! [`DeliveryReport`] (per job: attempts, last status, outcome).

use std::collections::BTreeMap;

use super::{GiveUpReason, JobId, Spec, Timestamp};

/// One thing that happened to a job or a host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum DeliveryEvent {
    /// The inbox accepted the activity.
    Delivered {
        /// The job.
        job: JobId,
        /// The target inbox.
        inbox: String,
        /// Attempts including this one.
        attempts: u32,
        /// The 2xx status.
        status: u16,
        /// The dialect the host accepted.
        dialect: Spec,
    },
    /// The attempt failed transiently; the job is due again at `at`.
    Retrying {
        /// The job.
        job: JobId,
        /// The target inbox.
        inbox: String,
        /// Attempts so far.
        attempts: u32,
        /// The status, if a response came back.
        status: Option<u16>,
        /// The transport error, if none did.
        error: Option<String>,
        /// When it is due again.
        at: Timestamp,
    },
    /// The job was dropped for good.
    GaveUp {
        /// The job.
        job: JobId,
        /// The target inbox.
        inbox: String,
        /// Attempts made.
        attempts: u32,
        /// The last status, if any.
        status: Option<u16>,
        /// Why.
        reason: GiveUpReason,
    },
    /// The job was postponed without an attempt (dead host, shutdown).
    Deferred {
        /// The job.
        job: JobId,
        /// The target inbox.
        inbox: String,
        /// When it is due again.
        until: Timestamp,
    },
    /// A host crossed the breaker's failure span.
    HostDead {
        /// The host.
        host: String,
    },
    /// A dead host answered again.
    HostRevived {
        /// The host.
        host: String,
    },
}

/// The final state of one job as far as the report knows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum JobOutcome {
    /// Still queued (retrying or deferred).
    Pending,
    /// Delivered.
    Delivered,
    /// Given up, and why.
    GaveUp(GiveUpReason),
}

/// Per-job line of a [`DeliveryReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobSummary {
    /// The target inbox.
    pub inbox: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last status seen.
    pub last_status: Option<u16>,
    /// Where the job stands.
    pub outcome: JobOutcome,
}

/// Aggregated events: counts, and the state of every job seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Jobs delivered.
    pub delivered: usize,
    /// Jobs given up because the inbox is gone (410).
    pub gone: usize,
    /// Jobs given up for any other reason.
    pub given_up: usize,
    /// Retries scheduled (attempts that failed transiently).
    pub retries: usize,
    /// Deferrals (jobs postponed without an attempt).
    pub deferrals: usize,
    /// Hosts that were marked dead.
    pub hosts_dead: usize,
    /// Every job seen, by id.
    pub jobs: BTreeMap<JobId, JobSummary>,
}

impl DeliveryReport {
    /// Folds one event into the report.
    pub fn record(&mut self, event: &DeliveryEvent) {
        match event {
            DeliveryEvent::Delivered {
                job,
                inbox,
                attempts,
                status,
                ..
            } => {
                self.delivered += 1;
                self.set(*job, inbox, *attempts, Some(*status), JobOutcome::Delivered);
            }
            DeliveryEvent::Retrying {
                job,
                inbox,
                attempts,
                status,
                ..
            } => {
                self.retries += 1;
                self.set(*job, inbox, *attempts, *status, JobOutcome::Pending);
            }
            DeliveryEvent::GaveUp {
                job,
                inbox,
                attempts,
                status,
                reason,
            } => {
                if *reason == GiveUpReason::Gone {
                    self.gone += 1;
                } else {
                    self.given_up += 1;
                }
                self.set(
                    *job,
                    inbox,
                    *attempts,
                    *status,
                    JobOutcome::GaveUp(reason.clone()),
                );
            }
            DeliveryEvent::Deferred { job, inbox, .. } => {
                self.deferrals += 1;
                let attempts = self.jobs.get(job).map_or(0, |j| j.attempts);
                let status = self.jobs.get(job).and_then(|j| j.last_status);
                self.set(*job, inbox, attempts, status, JobOutcome::Pending);
            }
            DeliveryEvent::HostDead { .. } => self.hosts_dead += 1,
            DeliveryEvent::HostRevived { .. } => {}
        }
    }

    fn set(
        &mut self,
        job: JobId,
        inbox: &str,
        attempts: u32,
        status: Option<u16>,
        outcome: JobOutcome,
    ) {
        self.jobs.insert(
            job,
            JobSummary {
                inbox: inbox.to_owned(),
                attempts,
                last_status: status,
                outcome,
            },
        );
    }

    /// Jobs that reached a final state (delivered, gone, given up).
    pub fn finished(&self) -> usize {
        self.delivered + self.gone + self.given_up
    }

    /// Jobs seen but still pending.
    pub fn pending(&self) -> usize {
        self.jobs
            .values()
            .filter(|j| j.outcome == JobOutcome::Pending)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up() {
        let mut r = DeliveryReport::default();
        let inbox = "https://b.example/inbox".to_owned();
        r.record(&DeliveryEvent::Retrying {
            job: JobId(1),
            inbox: inbox.clone(),
            attempts: 1,
            status: Some(500),
            error: None,
            at: Timestamp::from_millis(10),
        });
        assert_eq!(r.pending(), 1);
        r.record(&DeliveryEvent::Delivered {
            job: JobId(1),
            inbox: inbox.clone(),
            attempts: 2,
            status: 202,
            dialect: Spec::Cavage,
        });
        r.record(&DeliveryEvent::GaveUp {
            job: JobId(2),
            inbox: inbox.clone(),
            attempts: 1,
            status: Some(410),
            reason: GiveUpReason::Gone,
        });
        r.record(&DeliveryEvent::GaveUp {
            job: JobId(3),
            inbox,
            attempts: 1,
            status: Some(403),
            reason: GiveUpReason::Rejected { status: 403 },
        });
        assert_eq!((r.delivered, r.gone, r.given_up, r.retries), (1, 1, 1, 1));
        assert_eq!(r.finished(), 3);
        assert_eq!(r.pending(), 0);
        assert_eq!(r.jobs[&JobId(1)].attempts, 2);
        assert_eq!(r.jobs[&JobId(1)].last_status, Some(202));
    }
}
