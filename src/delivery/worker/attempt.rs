//! One attempt at one job: breaker admission, the retry an RFC 9421
//! `Accept-Signature` challenge asks for (or, when it asks for nothing or
//! for what this sender cannot make, the double-knock), classification,
//! settling the job in the queue, reporting.

use std::sync::Arc;

use http::StatusCode;
use tracing::Instrument as _;

use super::status::{AttemptFacts, Settled};
use super::{DeadHostAction, Shared};
use crate::delivery::{
    Admission, AttemptRecord, ClaimedJob, DeliveryError, DeliveryEvent, GiveUpReason, SendRequest,
    Spec, Transition, Verdict, classify_error, classify_status, is_host_failure_status,
    parse_retry_after,
};
use crate::signatures::accept_signature::{
    AcceptSignature, AcceptSignatureError, SignatureRequest,
};

/// Runs one claimed job to a settled state, then frees its slots.
pub(super) async fn run(shared: Arc<Shared>, claimed: ClaimedJob) {
    let span = tracing::info_span!(
        "archipel.delivery.attempt",
        job = %claimed.job.id,
        inbox = %claimed.job.inbox,
        attempt = claimed.job.attempts + 1,
        status = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let (lease, host, id) = (claimed.lease, claimed.job.host.clone(), claimed.job.id);
    let (created_at, attempts) = (claimed.job.created_at, claimed.job.attempts);
    // Its own task, so that a panicking attempt (a `Delivery` or client
    // that panics) is a failed attempt, counted and retried with backoff
    // up to the retry policy's limits, not a job claimed again and again
    // as its lease lapses, nor a slot lost. Cancelled with this future
    // (shutdown, abort): the dispatcher then releases or reports the lease.
    let task_shared = shared.clone();
    let handle = tokio::spawn(async move { attempt(&task_shared, claimed).await }.instrument(span));
    let guard = AbortOnDrop(handle.abort_handle());
    let result = handle.await;
    drop(guard);
    if let Err(join) = result {
        settle_panicked(&shared, &lease, created_at, attempts, &join.to_string()).await;
    }
    {
        let mut st = shared.state();
        st.in_flight.remove(&id);
        if let Some(n) = st.busy.get_mut(&host) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.busy.remove(&host);
            }
        }
    }
    shared.wake.notify_one();
}

/// Cancels a task when dropped, so that no task outlives the future that
/// awaits it (an attempt, an inbound handler).
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Settles a job whose attempt panicked as a failed attempt: retried after
/// the policy's backoff, given up once its attempts or age are exhausted.
async fn settle_panicked(
    shared: &Shared,
    lease: &crate::delivery::Lease,
    created_at: crate::delivery::Timestamp,
    attempts: u32,
    panic: &str,
) {
    let attempts = attempts.saturating_add(1);
    tracing::error!(job = %lease.job, panic, "delivery: the attempt panicked");
    let record = AttemptRecord {
        status: None,
        error: Some(format!("the attempt panicked: {panic}")),
        dialect: None,
    };
    let now = shared.now();
    let next = shared
        .config
        .retry
        .next_attempt(now, created_at, attempts, None, lease.job.0);
    let settled = match next {
        Some(at) => shared.queue.retry_at(lease, at, record).await,
        None => shared.queue.give_up(lease, record).await,
    };
    if let Err(e) = settled {
        lost(&e);
    }
}

/// The result of the knock(s): the response or error, the dialect used
/// last, and the signature the inbox asked for if it was made.
struct Knocked {
    result: Result<http::Response<bytes::Bytes>, DeliveryError>,
    dialect: Spec,
    requested: Option<Arc<SignatureRequest>>,
    /// Why the inbox's `Accept-Signature` challenge could not be met.
    unmet: Option<String>,
}

async fn attempt(shared: &Shared, claimed: ClaimedJob) {
    let config = &shared.config;
    let ClaimedJob { lease, job, body } = claimed;
    let now = shared.now();
    let attempts = job.attempts.saturating_add(1);

    let admission = shared.state().breaker.admit(&job.host, now);
    if let Admission::Skip { until } = admission {
        let too_old = until.saturating_since(job.created_at) > config.retry.max_age;
        if config.dead_host == DeadHostAction::GiveUp || too_old {
            shared.state().observed.attempt(
                AttemptFacts {
                    job: job.id,
                    host: &job.host,
                    inbox: job.inbox.as_str(),
                    attempts: job.attempts,
                    status: job.last_status,
                    reason: Some(GiveUpReason::HostDead.to_string()),
                    took: None,
                    now,
                },
                Settled::GaveUp { gone: false },
            );
            settle_give_up(
                shared,
                &lease,
                job.inbox.as_str(),
                job.attempts,
                job.last_status,
                None,
                GiveUpReason::HostDead,
            )
            .await;
        } else {
            match shared.queue.defer(&lease, until).await {
                Ok(()) => shared.emit(DeliveryEvent::Deferred {
                    job: job.id,
                    inbox: job.inbox.to_string(),
                    until,
                }),
                Err(e) => lost(&e),
            }
            tracing::Span::current().record("outcome", "deferred");
        }
        return;
    }

    let (remembered, learnt) = {
        let st = shared.state();
        (st.dialects.get(&job.host), st.dialects.requested(&job.host))
    };
    let first = remembered.or(job.dialect).unwrap_or(config.first_dialect);
    // The form the host asked for before, if it is the dialect tried first.
    let first_form = learnt.filter(|_| first == Spec::Rfc9421);
    // The attempt's latency, both knocks included, as the operator sees it.
    let started = std::time::Instant::now();
    let mut result = send(shared, knock(&job, &body, first, first_form.as_deref())).await;
    if let Some(form) = &first_form {
        // The form was learnt from another actor's delivery: its `alg` may
        // not fit this actor's key. Signing failed locally, before any
        // request: sign without the `alg`, then in the usual form. The
        // host's form stays remembered either way.
        if form.alg.is_some() && matches!(result, Err(DeliveryError::Signing { .. })) {
            let any_alg = form.as_ref().clone().without_alg();
            result = send(shared, knock(&job, &body, first, Some(&any_alg))).await;
        }
        if matches!(result, Err(DeliveryError::Signing { .. })) {
            tracing::debug!("delivery: the host's form cannot be made with this key");
            result = send(shared, knock(&job, &body, first, None)).await;
        }
    }
    let mut knocked = Knocked {
        result,
        dialect: first,
        requested: first_form.clone(),
        unmet: None,
    };
    let mut blind =
        config.double_knock && second_knock_warranted(&knocked.result, remembered.is_some());
    if let Some(challenge) = challenge(&knocked.result) {
        // The inbox said what it wants: one retry in that form, at once,
        // instead of guessing with the other dialect. Only a challenge this
        // sender cannot meet (or read) leaves the guess to double-knocking.
        match challenge {
            Ok(wanted) => {
                tracing::debug!(label = %wanted.label, "delivery: signing as the inbox asked");
                match send(shared, knock(&job, &body, Spec::Rfc9421, Some(&wanted))).await {
                    Err(DeliveryError::Signing { reason, .. }) => knocked.unmet = Some(reason),
                    result => {
                        blind = false;
                        knocked = Knocked {
                            result,
                            dialect: Spec::Rfc9421,
                            requested: Some(Arc::new(wanted)),
                            unmet: None,
                        };
                    }
                }
            }
            Err(e) => knocked.unmet = Some(e.to_string()),
        }
    }
    if blind {
        tracing::debug!(first = ?first, "delivery: knocking again with the other dialect");
        let other = first.other();
        let second = send(shared, knock(&job, &body, other, None)).await;
        // A dialect this build cannot sign is no answer from the host: keep
        // the first knock's result then.
        let first_was_local = matches!(knocked.result, Err(DeliveryError::Signing { .. }));
        if first_was_local || !matches!(second, Err(DeliveryError::Signing { .. })) {
            knocked = Knocked {
                result: second,
                dialect: other,
                requested: None,
                // Still the reason to give if this knock is refused too.
                unmet: knocked.unmet.take(),
            };
        }
    }

    let took = started.elapsed();
    // Breaker and dialect memory.
    let now = shared.now();
    let transition = {
        let mut st = shared.state();
        match &knocked.result {
            Ok(resp) if resp.status().is_success() => {
                st.dialects
                    .remember(&job.host, knocked.dialect, knocked.requested.clone());
                st.breaker.record_success(&job.host)
            }
            Ok(resp) if !is_host_failure_status(resp.status()) => {
                st.breaker.record_success(&job.host)
            }
            Ok(_)
            | Err(DeliveryError::Timeout { .. })
            | Err(DeliveryError::Connect { .. })
            | Err(DeliveryError::Transport { .. }) => st.breaker.record_failure(&job.host, now),
            Err(_) => None,
        }
    };
    match transition {
        Some(Transition::Died) => {
            tracing::warn!(host = %job.host, "delivery: host marked dead");
            shared.emit(DeliveryEvent::HostDead {
                host: job.host.clone(),
            });
        }
        Some(Transition::Revived) => {
            tracing::info!(host = %job.host, "delivery: host revived");
            shared.emit(DeliveryEvent::HostRevived {
                host: job.host.clone(),
            });
        }
        None => {}
    }

    let (verdict, status, error) = match &knocked.result {
        Ok(resp) => {
            let retry_after = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now));
            (
                classify_status(resp.status(), retry_after),
                Some(resp.status().as_u16()),
                None,
            )
        }
        Err(e) => {
            let status = match e {
                DeliveryError::Redirected { status, .. } => Some(*status),
                _ => None,
            };
            (classify_error(e), status, Some(e.to_string()))
        }
    };
    if let Some(s) = status {
        tracing::Span::current().record("status", s);
    }
    let record = AttemptRecord {
        status,
        error: error.clone(),
        dialect: Some(knocked.dialect),
    };
    // Why it failed, for the operator: the transport error, or the status.
    let failure = match (&error, status, &verdict) {
        (_, _, Verdict::Delivered) => None,
        (Some(e), _, _) => Some(e.clone()),
        (None, Some(s), _) => Some(format!("HTTP {s}")),
        (None, None, _) => Some("no answer".to_owned()),
    };
    let facts = |reason: Option<String>| AttemptFacts {
        job: job.id,
        host: &job.host,
        inbox: job.inbox.as_str(),
        attempts,
        status,
        reason,
        took: Some(took),
        now,
    };
    match verdict {
        Verdict::Delivered => {
            shared
                .state()
                .observed
                .attempt(facts(None), Settled::Delivered);
            tracing::Span::current().record("outcome", "delivered");
            match shared.queue.ack(&lease, record).await {
                Ok(()) => shared.emit(DeliveryEvent::Delivered {
                    job: job.id,
                    inbox: job.inbox.to_string(),
                    attempts,
                    status: status.unwrap_or(200),
                    dialect: knocked.dialect,
                }),
                Err(e) => lost(&e),
            }
        }
        Verdict::Gone => {
            let reason = GiveUpReason::Gone;
            shared.state().observed.attempt(
                facts(Some(give_up_text(&reason, failure.as_deref()))),
                Settled::GaveUp { gone: true },
            );
            settle_give_up(
                shared,
                &lease,
                job.inbox.as_str(),
                attempts,
                status,
                Some(record),
                reason,
            )
            .await;
        }
        Verdict::Permanent => {
            let reason = redirected(&knocked.result).unwrap_or_else(|| match (status, &error) {
                (Some(status), _) if knocked.unmet.is_some() => GiveUpReason::SignatureChallenge {
                    status,
                    reason: knocked.unmet.clone().unwrap_or_default(),
                },
                (Some(status), _) => GiveUpReason::Rejected { status },
                (None, Some(e)) => GiveUpReason::Refused { reason: e.clone() },
                (None, None) => GiveUpReason::Refused {
                    reason: "unknown".to_owned(),
                },
            });
            shared.state().observed.attempt(
                facts(Some(give_up_text(&reason, failure.as_deref()))),
                Settled::GaveUp { gone: false },
            );
            settle_give_up(
                shared,
                &lease,
                job.inbox.as_str(),
                attempts,
                status,
                Some(record),
                reason,
            )
            .await;
        }
        Verdict::Retry { retry_after } => {
            if let Some(ra) = retry_after {
                // The host asked everyone to wait: pause the whole host.
                let until = now.saturating_add(ra.min(config.retry.max_retry_after));
                let mut st = shared.state();
                let entry = st.paused.entry(job.host.clone()).or_insert(until);
                *entry = (*entry).max(until);
            }
            let next =
                config
                    .retry
                    .next_attempt(now, job.created_at, attempts, retry_after, job.id.0);
            match next {
                Some(at) => {
                    shared
                        .state()
                        .observed
                        .attempt(facts(failure), Settled::Retry { at });
                    tracing::Span::current().record("outcome", "retry");
                    match shared.queue.retry_at(&lease, at, record).await {
                        Ok(()) => shared.emit(DeliveryEvent::Retrying {
                            job: job.id,
                            inbox: job.inbox.to_string(),
                            attempts,
                            status,
                            error,
                            at,
                        }),
                        Err(e) => lost(&e),
                    }
                }
                None => {
                    let reason = GiveUpReason::Exhausted { attempts };
                    shared.state().observed.attempt(
                        facts(Some(give_up_text(&reason, failure.as_deref()))),
                        Settled::GaveUp { gone: false },
                    );
                    settle_give_up(
                        shared,
                        &lease,
                        job.inbox.as_str(),
                        attempts,
                        status,
                        Some(record),
                        reason,
                    )
                    .await;
                }
            }
        }
    }
}

/// The request of one knock: `job` signed in `dialect`, in the form an
/// inbox asked for when `requested` is given. A function rather than a
/// closure so that each knock borrows its form for itself.
fn knock<'a>(
    job: &'a crate::delivery::JobRecord,
    body: &'a crate::delivery::PreparedBody,
    dialect: Spec,
    requested: Option<&'a SignatureRequest>,
) -> SendRequest<'a> {
    SendRequest {
        job: job.id,
        activity_id: &job.activity_id,
        inbox: &job.inbox,
        key_id: &job.key_id,
        body,
        dialect,
        collection_sync: job.collection_sync.as_deref(),
        requested,
    }
}

/// The operator's text for a give-up: the reason, and the attempt's own
/// failure when it says more ("gave up after 8 attempts: HTTP 500").
fn give_up_text(reason: &GiveUpReason, failure: Option<&str>) -> String {
    let reason = reason.to_string();
    match failure {
        Some(f) if !reason.contains(f) => format!("{reason}: {f}"),
        _ => reason,
    }
}

/// The RFC 9421 `Accept-Signature` challenge of a `401` or `400` answer,
/// if it carries one: the first signature it asks for, or why the field is
/// unusable. Only the first requested signature is made: a request carries
/// one signature.
fn challenge(
    result: &Result<http::Response<bytes::Bytes>, DeliveryError>,
) -> Option<Result<SignatureRequest, AcceptSignatureError>> {
    let resp = result.as_ref().ok()?;
    if resp.status() != StatusCode::UNAUTHORIZED && resp.status() != StatusCode::BAD_REQUEST {
        return None;
    }
    Some(
        AcceptSignature::from_headers(resp.headers())?.and_then(|f| {
            f.requests
                .into_iter()
                .next()
                .ok_or(AcceptSignatureError::Empty)
        }),
    )
}

/// Whether the first knock's result calls for the other dialect: 400/401/403
/// always (the signature may have been refused), 5xx only at the first knock
/// on a host with no remembered dialect (some servers crash on a signature
/// format they do not know instead of answering 401), and a local failure
/// to sign in the first dialect.
fn second_knock_warranted(
    result: &Result<http::Response<bytes::Bytes>, DeliveryError>,
    remembered: bool,
) -> bool {
    match result {
        Ok(resp) => {
            let s = resp.status();
            s == StatusCode::BAD_REQUEST
                || s == StatusCode::UNAUTHORIZED
                || s == StatusCode::FORBIDDEN
                || (!remembered && s.is_server_error())
        }
        Err(DeliveryError::Signing { .. }) => true,
        Err(_) => false,
    }
}

/// The give-up reason when the attempt ended on a redirect: a 3xx response
/// from a custom [`Delivery`](crate::delivery::Delivery), or the redirect
/// errors of [`SignedDelivery`](crate::delivery::SignedDelivery).
fn redirected(
    result: &Result<http::Response<bytes::Bytes>, DeliveryError>,
) -> Option<GiveUpReason> {
    match result {
        Ok(resp) if resp.status().is_redirection() => Some(GiveUpReason::Redirected {
            status: Some(resp.status().as_u16()),
            location: crate::delivery::signed::location(resp),
        }),
        Err(DeliveryError::Redirected {
            status, location, ..
        }) => Some(GiveUpReason::Redirected {
            status: Some(*status),
            location: location.clone(),
        }),
        Err(DeliveryError::RedirectFollowed { final_url, .. }) => Some(GiveUpReason::Redirected {
            status: None,
            location: final_url.clone(),
        }),
        _ => None,
    }
}

async fn send(
    shared: &Shared,
    request: SendRequest<'_>,
) -> Result<http::Response<bytes::Bytes>, DeliveryError> {
    let inbox = request.inbox.as_str().to_owned();
    match tokio::time::timeout(shared.config.attempt_timeout, shared.delivery.send(request)).await {
        Ok(result) => result,
        Err(_) => Err(DeliveryError::Timeout { inbox }),
    }
}

async fn settle_give_up(
    shared: &Shared,
    lease: &crate::delivery::Lease,
    inbox: &str,
    attempts: u32,
    status: Option<u16>,
    record: Option<AttemptRecord>,
    reason: GiveUpReason,
) {
    tracing::Span::current().record("outcome", "gave_up");
    tracing::info!(%reason, "delivery: giving up");
    let record = record.unwrap_or(AttemptRecord {
        status,
        error: Some(reason.to_string()),
        dialect: None,
    });
    match shared.queue.give_up(lease, record).await {
        Ok(()) => shared.emit(DeliveryEvent::GaveUp {
            job: lease.job,
            inbox: inbox.to_owned(),
            attempts,
            status,
            reason,
        }),
        Err(e) => lost(&e),
    }
}

/// A settle call failed: the lease lapsed and another worker holds the job
/// (or the backend failed); that worker will report it.
fn lost(e: &DeliveryError) {
    tracing::warn!(error = %e, "delivery: could not settle job");
}
