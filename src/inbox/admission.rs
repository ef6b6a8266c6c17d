//! Inbound admission: whether an inbox request may be verified at all,
//! decided before any key fetch, signature check or body read.
//!
//! Verifying a delivery costs a key fetch (a request to the sender's
//! server) and an RSA verification; without a bound, a burst of inbox
//! requests spends the whole machine on them and honest peers time out.
//! [`Admission::admit`] looks only at what costs nothing to read:
//!
//! - the **origin** (`host[:port]`) of the signature's `keyId`, parsed from
//!   the `Signature`, `Signature-Input` or `Authorization` header *without
//!   verifying it* (a missing or garbled `keyId` counts as the origin
//!   `unknown`, one shared bucket);
//! - the **remote address** of the connection (an IPv6 address grouped by
//!   its /64), when the server knows it.
//!
//! It refuses, in this order:
//!
//! 1. an origin the [`DomainPolicy`] blocks: `403`, as the inbox would, but
//!    before the body is read; no bucket is touched;
//! 2. an origin over its token bucket ([`AdmissionConfig::per_origin`]) or
//!    an address over its own ([`AdmissionConfig::per_address`]): `429 Too
//!    Many Requests` with `Retry-After` set to the whole seconds (at least
//!    one) until the bucket holds a token again;
//! 3. a request past the global concurrency limit
//!    ([`AdmissionConfig::max_in_flight`]): `429` with `Retry-After: 1`.
//!    Requests in flight finish in milliseconds, so a slot frees up almost
//!    at once; a longer wait would idle a peer for nothing, and a `503`
//!    would count against us in peers' dead-host breakers, where `429`
//!    is retried.
//!
//! An admitted request gets a [`Permit`] that holds its concurrency slot
//! until dropped: keep it while the request is verified and handled.
//!
//! # Defaults, for a 2-core server
//!
//! | setting | default | why |
//! |---|---|---|
//! | per origin | 50/s, burst 200 | a busy peer's fan-out to a small server stays well under it (a post reaches each server once, through its shared inbox), and a burst of 200 absorbs a peer's catch-up after an outage; one origin cannot hold the server's verification time, as each of its new actors also costs a key fetch |
//! | per address | 100/s, burst 400 | a few origins behind one address (a hosting provider's NAT) fit; spoofing many `keyId` origins from one address does not widen the budget |
//! | in flight | 64 | enough to keep two cores busy while key fetches wait on the network, few enough that memory stays small (each holds a body of at most 256 KiB) |
//! | tracked buckets | 100,000 per table | about 100 bytes each: at most ~20 MB for both tables under a flood of spoofed origins |
//!
//! Measured with the soak test (`tests/soak.rs`, debug build, two worker
//! threads, one run): from one address, 8 connections flooding with one
//! origin's validly signed activities sent 3,920 requests in 10 s and 4
//! more connections naming a new `keyId` origin on each request sent
//! 1,491. The defaults admitted 698 of the first and 627 of the second
//! (the address's burst of 400, then 100/s, shared by both), refused the
//! rest with `429` before reading a body (2,172 by origin, 1,914 by
//! address), and the two honest peers' 24 deliveries were all accepted on
//! their first attempt. No request was refused as busy: the 64 slots were
//! never full.
//!
//! A peer over its rate gets `429`, which Mastodon and Misskey
//! retry later, so a legitimate burst past the limits is delayed, not
//! lost.
//!
//! **Behind a reverse proxy** every connection comes from the proxy's
//! address, so the per-address bucket would throttle all peers together:
//! turn it off with [`AdmissionConfig::with_per_address`]`(None)` (the
//! per-origin bucket still applies). A server that does not hand the
//! connection's address to the handler has no per-address bucket.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, UNIX_EPOCH};
//! use archipel::clock::ManualClock;
//! use archipel::inbox::admission::{Admission, AdmissionConfig, Rate, RefusalReason};
//!
//! let clock = Arc::new(ManualClock::new(UNIX_EPOCH));
//! let admission = Admission::new(
//!     AdmissionConfig::default().with_per_origin(Some(Rate::new(1, 2))),
//! )
//! .with_clock(clock.clone());
//! let mut headers = http::HeaderMap::new();
//! headers.insert("signature", r#"keyId="https://a.example/users/a#main-key""#.parse().unwrap());
//!
//! // The burst of two passes; the third waits for a token.
//! let first = admission.admit(&headers, None).unwrap();
//! let _second = admission.admit(&headers, None).unwrap();
//! let refused = admission.admit(&headers, None).unwrap_err();
//! assert_eq!(refused.reason, RefusalReason::Origin);
//! assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
//! assert_eq!(refused.status(), http::StatusCode::TOO_MANY_REQUESTS);
//!
//! // One second refills one token.
//! clock.advance(Duration::from_secs(1));
//! assert!(admission.admit(&headers, None).is_ok());
//! drop(first);
//! assert_eq!(admission.stats().refused_origin, 1);
//! ```

mod origin;
mod table;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::clock::{Clock, SystemClock};
use crate::policy::DomainPolicy;

use table::Table;

/// A token bucket's rate: tokens added at a steady pace, at most `burst`
/// held. A request takes one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    per_minute: u32,
    burst: u32,
}

impl Rate {
    /// `per_second` requests a second on average, `burst` at once after a
    /// quiet spell; both are raised to at least 1 (a bucket that never
    /// admits is a block: use the [`DomainPolicy`] for that).
    pub fn new(per_second: u32, burst: u32) -> Rate {
        Rate::per_minute(per_second.saturating_mul(60), burst)
    }

    /// `per_minute` requests a minute on average (for origins allowed less
    /// than one a second), `burst` at once; both at least 1.
    pub fn per_minute(per_minute: u32, burst: u32) -> Rate {
        Rate {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
        }
    }

    /// Tokens added per minute.
    pub fn tokens_per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Most tokens held.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn per_second_f64(self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    fn burst_f64(self) -> f64 {
        f64::from(self.burst)
    }
}

/// The limits [`Admission`] enforces (see the [module docs](self) for the
/// defaults and why).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmissionConfig {
    /// Whether any limit applies (default `true`); when `false` every
    /// request is admitted, except from a blocked origin.
    pub enabled: bool,
    /// The bucket of each `keyId` origin (default 50/s, burst 200);
    /// `None` for no per-origin limit.
    pub per_origin: Option<Rate>,
    /// The bucket of each remote address, IPv6 by /64 (default 100/s,
    /// burst 400); `None` for no per-address limit (behind a proxy).
    pub per_address: Option<Rate>,
    /// Requests verified and handled at once, over all origins (default
    /// 64).
    pub max_in_flight: usize,
    /// Buckets kept per table (origins, addresses), default 100,000: past
    /// it, refilled buckets are forgotten first, then the fullest.
    pub max_tracked: usize,
}

impl AdmissionConfig {
    /// Limits off: every request is admitted, except from a blocked origin.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets [`AdmissionConfig::enabled`].
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets [`AdmissionConfig::per_origin`].
    pub fn with_per_origin(mut self, rate: Option<Rate>) -> Self {
        self.per_origin = rate;
        self
    }

    /// Sets [`AdmissionConfig::per_address`].
    pub fn with_per_address(mut self, rate: Option<Rate>) -> Self {
        self.per_address = rate;
        self
    }

    /// Sets [`AdmissionConfig::max_in_flight`] (at least 1).
    pub fn with_max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Sets [`AdmissionConfig::max_tracked`] (at least 1).
    pub fn with_max_tracked(mut self, buckets: usize) -> Self {
        self.max_tracked = buckets.max(1);
        self
    }
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            per_origin: Some(Rate::new(50, 200)),
            per_address: Some(Rate::new(100, 400)),
            max_in_flight: 64,
            max_tracked: 100_000,
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The `keyId` origin spent its bucket (`429`).
    Origin,
    /// The remote address spent its bucket (`429`).
    Address,
    /// The global concurrency limit is reached (`429`).
    Busy,
    /// The `keyId` origin is blocked by the domain policy (`403`).
    Blocked,
}

/// A request [`Admission`] refused: answer it with [`Refused::response`]
/// (or, with the `axum` feature, return it as a response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
#[non_exhaustive]
pub struct Refused {
    /// Which limit refused it.
    pub reason: RefusalReason,
    /// When to try again, in whole seconds (at least one); `None` for a
    /// blocked origin, which should not.
    pub retry_after: Option<Duration>,
    /// The origin (`host[:port]`, or `unknown`) or address refused, for
    /// logs; empty for [`RefusalReason::Busy`].
    pub subject: String,
}

fn describe(r: &Refused) -> String {
    let what = match r.reason {
        RefusalReason::Origin => format!("origin {:?} is over its rate limit", r.subject),
        RefusalReason::Address => format!("address {} is over its rate limit", r.subject),
        RefusalReason::Busy => "too many requests in flight".to_owned(),
        RefusalReason::Blocked => format!(
            "domain {:?} is blocked by this server's domain policy",
            r.subject
        ),
    };
    match r.retry_after {
        Some(d) => format!("inbox admission: {what}; retry after {} s", d.as_secs()),
        None => format!("inbox admission: {what}"),
    }
}

impl Refused {
    /// The HTTP status: `403` for a blocked origin, else `429 Too Many
    /// Requests` (RFC 6585 §4).
    pub fn status(&self) -> StatusCode {
        match self.reason {
            RefusalReason::Blocked => StatusCode::FORBIDDEN,
            _ => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The answer to send: the status, `Retry-After` in seconds (RFC 9110
    /// §10.2.3) when there is one, and the message as plain text.
    pub fn response(&self) -> http::Response<Bytes> {
        let mut response = http::Response::new(Bytes::from(self.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(after) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
        }
        response
    }
}

#[cfg(feature = "axum")]
impl ::axum::response::IntoResponse for Refused {
    fn into_response(self) -> ::axum::response::Response {
        self.response().map(::axum::body::Body::from)
    }
}

/// Counters read at scrape time (plain numbers, no metrics crate), since
/// the [`Admission`] was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AdmissionStats {
    /// Requests admitted.
    pub admitted: u64,
    /// Refused: the origin's bucket was spent.
    pub refused_origin: u64,
    /// Refused: the address's bucket was spent.
    pub refused_address: u64,
    /// Refused: too many requests in flight.
    pub refused_busy: u64,
    /// Refused: a blocked origin.
    pub refused_blocked: u64,
    /// Permits held now.
    pub in_flight: usize,
    /// Origin buckets tracked now.
    pub tracked_origins: usize,
}

/// The admission gate of an inbox (see the [module docs](self)); cheap
/// to clone, clones share their buckets and counters.
#[derive(Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

struct Shared {
    config: AdmissionConfig,
    clock: Arc<dyn Clock>,
    policy: Option<DomainPolicy>,
    tables: Mutex<Tables>,
    in_flight: AtomicUsize,
    admitted: AtomicU64,
    refused_origin: AtomicU64,
    refused_address: AtomicU64,
    refused_busy: AtomicU64,
    refused_blocked: AtomicU64,
}

struct Tables {
    origins: Table<String>,
    addresses: Table<IpAddr>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Admission {
    fn default() -> Self {
        Self::new(AdmissionConfig::default())
    }
}

impl Admission {
    /// A gate with `config`, the system clock and no domain policy.
    pub fn new(config: AdmissionConfig) -> Self {
        Self::build(config, Arc::new(SystemClock), None)
    }

    fn build(config: AdmissionConfig, clock: Arc<dyn Clock>, policy: Option<DomainPolicy>) -> Self {
        let tables = Tables {
            origins: Table::new(config.max_tracked),
            addresses: Table::new(config.max_tracked),
        };
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                policy,
                tables: Mutex::new(tables),
                in_flight: AtomicUsize::new(0),
                admitted: AtomicU64::new(0),
                refused_origin: AtomicU64::new(0),
                refused_address: AtomicU64::new(0),
                refused_busy: AtomicU64::new(0),
                refused_blocked: AtomicU64::new(0),
            }),
        }
    }

    /// Reads time from `clock` (for tests); buckets and counters start
    /// afresh.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let policy = self.shared.policy.clone();
        Self::build(self.shared.config.clone(), clock, policy)
    }

    /// Refuses origins `policy` blocks, before their body is read (a
    /// shared handle: blocks added later apply at once); buckets and
    /// counters start afresh.
    pub fn with_domain_policy(self, policy: DomainPolicy) -> Self {
        let clock = self.shared.clock.clone();
        Self::build(self.shared.config.clone(), clock, Some(policy))
    }

    /// The limits in force.
    pub fn config(&self) -> &AdmissionConfig {
        &self.shared.config
    }

    /// Decides on a request from its headers and the remote address of
    /// its connection (`None` when unknown: no per-address bucket). Hold
    /// the [`Permit`] while the request is verified and handled.
    ///
    /// # Errors
    /// [`Refused`], with the reason and when to retry.
    pub fn admit(&self, headers: &HeaderMap, remote: Option<IpAddr>) -> Result<Permit, Refused> {
        let s = &self.shared;
        let origin = origin::key_id_origin(headers);
        if let (Some(policy), Some(host)) = (&s.policy, &origin)
            && !policy.allows(host)
        {
            s.refused_blocked.fetch_add(1, Ordering::Relaxed);
            return Err(Refused {
                reason: RefusalReason::Blocked,
                retry_after: None,
                subject: host.clone(),
            });
        }
        if !s.config.enabled {
            s.in_flight.fetch_add(1, Ordering::AcqRel);
            s.admitted.fetch_add(1, Ordering::Relaxed);
            return Ok(Permit {
                shared: s.clone(),
                charged: None,
            });
        }
        let origin = origin.unwrap_or_else(|| origin::UNKNOWN.to_owned());
        let address = remote.map(origin::address_group);
        let now_ms = self.now_ms();
        let mut tables = s.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rate) = s.config.per_origin {
            let level = tables.origins.level(&origin, rate, now_ms);
            if level < 1.0 {
                s.refused_origin.fetch_add(1, Ordering::Relaxed);
                return Err(Refused {
                    reason: RefusalReason::Origin,
                    retry_after: Some(wait(level, rate)),
                    subject: origin,
                });
            }
        }
        if let (Some(rate), Some(addr)) = (s.config.per_address, address) {
            let level = tables.addresses.level(&addr, rate, now_ms);
            if level < 1.0 {
                s.refused_address.fetch_add(1, Ordering::Relaxed);
                return Err(Refused {
                    reason: RefusalReason::Address,
                    retry_after: Some(wait(level, rate)),
                    subject: addr.to_string(),
                });
            }
        }
        // Only a request that gets a slot spends tokens: one refused as
        // busy has cost nothing and may come back in a second.
        let max = s.config.max_in_flight;
        if s.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            s.refused_busy.fetch_add(1, Ordering::Relaxed);
            return Err(Refused {
                reason: RefusalReason::Busy,
                retry_after: Some(Duration::from_secs(1)),
                subject: String::new(),
            });
        }
        let charged = match s.config.per_origin {
            Some(rate) => {
                tables.origins.take(&origin, rate, now_ms);
                Some(origin)
            }
            None => None,
        };
        if let (Some(rate), Some(addr)) = (s.config.per_address, address) {
            tables.addresses.take(&addr, rate, now_ms);
        }
        drop(tables);
        s.admitted.fetch_add(1, Ordering::Relaxed);
        Ok(Permit {
            shared: s.clone(),
            charged,
        })
    }

    /// The counters and current levels.
    pub fn stats(&self) -> AdmissionStats {
        let s = &self.shared;
        let tracked_origins = s
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .origins
            .len();
        AdmissionStats {
            admitted: s.admitted.load(Ordering::Relaxed),
            refused_origin: s.refused_origin.load(Ordering::Relaxed),
            refused_address: s.refused_address.load(Ordering::Relaxed),
            refused_busy: s.refused_busy.load(Ordering::Relaxed),
            refused_blocked: s.refused_blocked.load(Ordering::Relaxed),
            in_flight: s.in_flight.load(Ordering::Acquire),
            tracked_origins,
        }
    }

    fn now_ms(&self) -> u64 {
        let since = self
            .shared
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Whole seconds until a bucket at `level` holds one token, at least one.
fn wait(level: f64, rate: Rate) -> Duration {
    let secs = ((1.0 - level.max(0.0)) / rate.per_second_f64()).ceil();
    // At most a day, whatever the arithmetic says.
    Duration::from_secs(if secs >= 1.0 {
        secs.min(86_400.0) as u64
    } else {
        1
    })
}

/// An admitted request's concurrency slot, released when dropped.
///
/// The origin's token is taken on the word of an unverified `keyId`, so
/// anyone can name an honest origin and spend its budget. Once the inbox
/// has looked at the request, [`Permit::not_from_origin`] gives the token
/// back when the signature did not prove the request came from that
/// origin (or it was a replay of one already received): an impersonator
/// then spends only its own address's budget, never the origin's.
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct Permit {
    shared: Arc<Shared>,
    /// The origin whose bucket paid for this request, until given back.
    charged: Option<String>,
}

impl Permit {
    /// Gives the origin's token back: the request turned out not to come
    /// from the origin its `keyId` named (its signature did not verify, its
    /// key could not be resolved, or its actor is not the key's owner), or
    /// it repeated an activity already received. The address's token is
    /// kept: the connection did send it. Calling it again does nothing.
    pub fn not_from_origin(&mut self) {
        let (Some(origin), Some(rate)) = (self.charged.take(), self.shared.config.per_origin)
        else {
            return;
        };
        let now_ms = u64::try_from(
            self.shared
                .clock
                .now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(u64::MAX);
        let mut tables = self.shared.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.origins.give_back(&origin, rate, now_ms);
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
