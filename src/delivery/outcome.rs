//! Classifying the result of one POST: delivered, gone, permanent failure,
//! or retry (RFC 9110 status semantics, with the Fediverse's conventions).

use std::time::Duration;

use http::StatusCode;

use super::DeliveryError;

/// What to do with a job after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// 410 Gone: the inbox (or its actor) no longer exists; drop and report
    /// so the app can remove the follower.
    Gone,
    /// Any other 4xx except 408 and 429, any 3xx (delivery follows no
    /// redirect), or a local refusal: retrying cannot help.
    Permanent,
    /// 5xx, 408, 429, 1xx, timeouts, connection errors: try again later,
    /// not before `retry_after` if the server said so.
    Retry {
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
}

/// Classifies a response status.
///
/// ```
/// use archipel::delivery::{classify_status, Verdict};
/// use http::StatusCode;
/// assert_eq!(classify_status(StatusCode::ACCEPTED, None), Verdict::Delivered);
/// assert_eq!(classify_status(StatusCode::GONE, None), Verdict::Gone);
/// assert_eq!(classify_status(StatusCode::FORBIDDEN, None), Verdict::Permanent);
/// assert_eq!(classify_status(StatusCode::TOO_MANY_REQUESTS, None), Verdict::Retry { retry_after: None });
/// assert_eq!(classify_status(StatusCode::PERMANENT_REDIRECT, None), Verdict::Permanent);
/// ```
pub fn classify_status(status: StatusCode, retry_after: Option<Duration>) -> Verdict {
    if status.is_success() {
        Verdict::Delivered
    } else if status == StatusCode::GONE {
        Verdict::Gone
    } else if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS {
        Verdict::Retry { retry_after }
    } else if status.is_client_error() || status.is_redirection() {
        // A 3xx reaches here because delivery follows no redirect (the
        // signature covers this inbox only); the same URL will answer the
        // same way, so waiting cannot help: the application has to
        // re-resolve the inbox.
        Verdict::Permanent
    } else {
        // 5xx, and the 1xx that should never reach here: transient, as
        // Mastodon treats them.
        Verdict::Retry { retry_after }
    }
}

/// Classifies a failure to get any response.
pub fn classify_error(error: &DeliveryError) -> Verdict {
    match error {
        DeliveryError::Timeout { .. }
        | DeliveryError::Connect { .. }
        | DeliveryError::Transport { .. } => Verdict::Retry { retry_after: None },
        // The key may be loaded later (a worker process that has not loaded
        // a new user yet, an actor not loaded since a restart): retrying
        // within the retry budget loses nothing, giving up would.
        DeliveryError::NoSigner { .. } => Verdict::Retry { retry_after: None },
        _ => Verdict::Permanent,
    }
}

/// Whether a status counts against the host in the worker pool's dead-host
/// breaker (tuned by [`BreakerConfig`](super::BreakerConfig)):
/// the host answered, but not like a working server.
pub fn is_host_failure_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT
}

/// Why a job was given up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// 410 Gone.
    Gone,
    /// A 4xx that retrying cannot fix.
    Rejected {
        /// The status.
        status: u16,
    },
    /// A local refusal (policy, missing signer, unsignable request).
    Refused {
        /// What refused it.
        reason: String,
    },
    /// The retry budget ([`RetryPolicy`](super::RetryPolicy)) ran out.
    Exhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// The host is marked dead and the job could not wait any longer.
    HostDead,
    /// The inbox answered with a redirect, which delivery never follows
    /// (see [`DeliveryError::Redirected`]).
    Redirected {
        /// The 3xx status; `None` when the client followed the redirect
        /// against the request's [`RedirectMode`](crate::client::RedirectMode)
        /// and only the URL that answered is known.
        status: Option<u16>,
        /// Where it pointed (the `Location`, or the URL that answered).
        location: String,
    },
    /// The inbox refused the signature and asked (RFC 9421
    /// `Accept-Signature`) for one this server cannot make, or sent a
    /// challenge that could not be read; and the other dialect, when
    /// double-knocking is on, was refused too.
    SignatureChallenge {
        /// The status the challenge came with.
        status: u16,
        /// Why it could not be met.
        reason: String,
    },
}

impl std::fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GiveUpReason::Gone => f.write_str("410 Gone"),
            GiveUpReason::Rejected { status } => write!(f, "rejected with status {status}"),
            GiveUpReason::Refused { reason } => write!(f, "refused: {reason}"),
            GiveUpReason::Exhausted { attempts } => write!(f, "gave up after {attempts} attempts"),
            GiveUpReason::HostDead => f.write_str("host marked dead"),
            GiveUpReason::Redirected {
                status: Some(status),
                location,
            } => write!(
                f,
                "redirected with status {status} to {location:?}, not followed"
            ),
            GiveUpReason::Redirected {
                status: None,
                location,
            } => write!(f, "answered from {location:?} after a redirect"),
            GiveUpReason::SignatureChallenge { status, reason } => write!(
                f,
                "status {status} with a signature challenge that cannot be met: {reason}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_class() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        let ra = Some(Duration::from_secs(5));
        assert_eq!(classify_status(s(200), ra), Verdict::Delivered);
        assert_eq!(classify_status(s(202), None), Verdict::Delivered);
        assert_eq!(classify_status(s(410), None), Verdict::Gone);
        for n in [
            400, 401, 403, 404, 405, 413, 422, 300, 301, 302, 303, 304, 307, 308,
        ] {
            assert_eq!(classify_status(s(n), None), Verdict::Permanent, "{n}");
        }
        assert_eq!(
            classify_status(s(408), None),
            Verdict::Retry { retry_after: None }
        );
        assert_eq!(
            classify_status(s(429), ra),
            Verdict::Retry { retry_after: ra }
        );
        for n in [500, 502, 503, 504, 100] {
            assert_eq!(
                classify_status(s(n), ra),
                Verdict::Retry { retry_after: ra },
                "{n}"
            );
        }
        assert!(is_host_failure_status(s(503)));
        assert!(!is_host_failure_status(s(429)));
    }

    #[test]
    fn errors() {
        let inbox = "https://b.example/inbox".to_owned();
        assert_eq!(
            classify_error(&DeliveryError::Timeout {
                inbox: inbox.clone()
            }),
            Verdict::Retry { retry_after: None }
        );
        assert_eq!(
            classify_error(&DeliveryError::Connect {
                inbox: inbox.clone(),
                reason: "refused".into()
            }),
            Verdict::Retry { retry_after: None }
        );
        assert_eq!(
            classify_error(&DeliveryError::Refused {
                inbox,
                reason: "private address".into()
            }),
            Verdict::Permanent
        );
        assert_eq!(
            classify_error(&DeliveryError::NoSigner { key_id: "k".into() }),
            Verdict::Retry { retry_after: None }
        );
        assert_eq!(
            classify_error(&DeliveryError::Redirected {
                inbox: "https://b.example/inbox".into(),
                status: 307,
                location: "https://c.example/inbox".into()
            }),
            Verdict::Permanent
        );
        assert_eq!(
            classify_error(&DeliveryError::RedirectFollowed {
                inbox: "https://b.example/inbox".into(),
                final_url: "https://c.example/inbox".into()
            }),
            Verdict::Permanent
        );
    }
}
