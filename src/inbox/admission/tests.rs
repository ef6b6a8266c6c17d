use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, StatusCode, header};

use super::*;
use crate::clock::ManualClock;

fn signed_by(key_id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "signature",
        format!(r#"keyId="{key_id}",algorithm="rsa-sha256",signature="x""#)
            .parse()
            .unwrap(),
    );
    h
}

fn gate(config: AdmissionConfig) -> (Admission, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
    (Admission::new(config).with_clock(clock.clone()), clock)
}

fn origin_only(rate: Rate) -> AdmissionConfig {
    AdmissionConfig::default()
        .with_per_origin(Some(rate))
        .with_per_address(None)
}

#[test]
fn the_burst_passes_then_the_origin_waits_for_its_refill() {
    let (gate, clock) = gate(origin_only(Rate::new(2, 3)));
    let a = signed_by("https://a.example/users/a#main-key");
    for i in 0..3 {
        assert!(gate.admit(&a, None).is_ok(), "burst request {i}");
    }
    let refused = gate.admit(&a, None).unwrap_err();
    assert_eq!(refused.reason, RefusalReason::Origin);
    assert_eq!(refused.subject, "a.example");
    // 2/s: half a second refills one token, then one request passes.
    clock.advance(Duration::from_millis(499));
    assert_eq!(
        gate.admit(&a, None).unwrap_err().reason,
        RefusalReason::Origin
    );
    clock.advance(Duration::from_millis(1));
    assert!(gate.admit(&a, None).is_ok());
    assert_eq!(
        gate.admit(&a, None).unwrap_err().reason,
        RefusalReason::Origin
    );
    // Another origin has its own bucket.
    assert!(gate.admit(&signed_by("https://b.example/k"), None).is_ok());
    let stats = gate.stats();
    assert_eq!((stats.admitted, stats.refused_origin), (5, 3));
    assert_eq!(stats.tracked_origins, 2);
    assert_eq!(stats.in_flight, 0, "every permit was dropped");
}

#[test]
fn retry_after_is_the_whole_seconds_until_a_token() {
    // One token every 10 s.
    let (gate, clock) = gate(origin_only(Rate::per_minute(6, 1)));
    let a = signed_by("https://a.example/k");
    let _p = gate.admit(&a, None).unwrap();
    let r = gate.admit(&a, None).unwrap_err();
    assert_eq!(r.retry_after, Some(Duration::from_secs(10)));
    clock.advance(Duration::from_millis(3_500));
    let r = gate.admit(&a, None).unwrap_err();
    assert_eq!(
        r.retry_after,
        Some(Duration::from_secs(7)),
        "6.5 s rounds up"
    );
    clock.advance(Duration::from_millis(6_400));
    let r = gate.admit(&a, None).unwrap_err();
    assert_eq!(
        r.retry_after,
        Some(Duration::from_secs(1)),
        "never below 1 s"
    );
    let response = r.response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(matches!(
        crate::Error::from(r.clone()),
        crate::Error::Admission(Refused {
            reason: RefusalReason::Origin,
            ..
        })
    ));
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        std::str::from_utf8(response.body()).unwrap(),
        r#"inbox admission: origin "a.example" is over its rate limit; retry after 1 s"#
    );
}

#[test]
fn an_address_bucket_spans_origins_and_an_ipv6_64() {
    let config = AdmissionConfig::default()
        .with_per_origin(None)
        .with_per_address(Some(Rate::new(1, 2)));
    let (gate, _clock) = gate(config);
    let one: IpAddr = "2001:db8:0:1::a".parse().unwrap();
    let same_64: IpAddr = "2001:db8:0:1:ffff::b".parse().unwrap();
    let other_64: IpAddr = "2001:db8:0:2::a".parse().unwrap();
    assert!(
        gate.admit(&signed_by("https://a.example/k"), Some(one))
            .is_ok()
    );
    assert!(
        gate.admit(&signed_by("https://b.example/k"), Some(same_64))
            .is_ok()
    );
    let r = gate
        .admit(&signed_by("https://c.example/k"), Some(one))
        .unwrap_err();
    assert_eq!(r.reason, RefusalReason::Address);
    assert_eq!(r.subject, "2001:db8:0:1::");
    assert_eq!(r.retry_after, Some(Duration::from_secs(1)));
    assert!(
        gate.admit(&signed_by("https://c.example/k"), Some(other_64))
            .is_ok()
    );
    // Without a known address there is no address bucket.
    assert!(gate.admit(&signed_by("https://c.example/k"), None).is_ok());
    assert_eq!(gate.stats().refused_address, 1);
}

#[test]
fn an_origin_refusal_spends_no_address_token() {
    let config = AdmissionConfig::default()
        .with_per_origin(Some(Rate::new(1, 1)))
        .with_per_address(Some(Rate::new(1, 2)));
    let (gate, _clock) = gate(config);
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let a = signed_by("https://a.example/k");
    assert!(gate.admit(&a, Some(ip)).is_ok());
    assert_eq!(
        gate.admit(&a, Some(ip)).unwrap_err().reason,
        RefusalReason::Origin
    );
    // The address still holds its second token.
    assert!(
        gate.admit(&signed_by("https://b.example/k"), Some(ip))
            .is_ok()
    );
}

#[test]
fn the_concurrency_limit_holds_until_a_permit_drops_and_spends_nothing() {
    let config = origin_only(Rate::new(1, 3)).with_max_in_flight(2);
    let (gate, _clock) = gate(config);
    let a = signed_by("https://a.example/k");
    let first = gate.admit(&a, None).unwrap();
    let _second = gate.admit(&a, None).unwrap();
    let busy = gate.admit(&a, None).unwrap_err();
    assert_eq!(busy.reason, RefusalReason::Busy);
    assert_eq!(busy.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(gate.stats().in_flight, 2);
    drop(first);
    // The busy refusal took no token: the third of the burst is still there.
    assert!(gate.admit(&a, None).is_ok());
    assert_eq!(gate.stats().refused_busy, 1);
}

#[test]
fn a_blocked_origin_is_refused_with_403_and_touches_no_bucket() {
    let policy = DomainPolicy::new();
    policy.block("spam.example").unwrap();
    let (gate, _clock) = gate(origin_only(Rate::new(1, 1)));
    let gate = gate.with_domain_policy(policy.clone());
    let r = gate
        .admit(&signed_by("https://x.spam.example/k"), None)
        .unwrap_err();
    assert_eq!(r.reason, RefusalReason::Blocked);
    assert_eq!(r.retry_after, None);
    let response = r.response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(gate.stats().tracked_origins, 0);
    // Blocks still apply with the limits off.
    let off = Admission::new(AdmissionConfig::disabled()).with_domain_policy(policy);
    assert_eq!(
        off.admit(&signed_by("https://spam.example/k"), None)
            .unwrap_err()
            .reason,
        RefusalReason::Blocked
    );
}

#[test]
fn disabled_admits_everything_and_still_counts_in_flight() {
    let config = AdmissionConfig::disabled().with_max_in_flight(1);
    let (gate, _clock) = gate(config);
    let a = signed_by("https://a.example/k");
    let permits: Vec<Permit> = (0..10).map(|_| gate.admit(&a, None).unwrap()).collect();
    let stats = gate.stats();
    assert_eq!((stats.admitted, stats.in_flight), (10, 10));
    drop(permits);
    assert_eq!(gate.stats().in_flight, 0);
}

#[test]
fn requests_without_a_key_id_share_the_unknown_bucket() {
    let (gate, _clock) = gate(origin_only(Rate::new(1, 1)));
    assert!(gate.admit(&HeaderMap::new(), None).is_ok());
    let r = gate.admit(&signed_by("not a url"), None).unwrap_err();
    assert_eq!(
        (r.reason, r.subject.as_str()),
        (RefusalReason::Origin, "unknown")
    );
}

#[test]
fn a_flood_of_spoofed_origins_keeps_the_table_bounded() {
    let config = origin_only(Rate::new(1, 5)).with_max_tracked(64);
    let (gate, clock) = gate(config);
    let hostile = signed_by("https://hostile.example/k");
    for _ in 0..5 {
        assert!(gate.admit(&hostile, None).is_ok());
    }
    for i in 0..10_000 {
        let spoofed = signed_by(&format!("https://h{i}.example/k"));
        assert!(gate.admit(&spoofed, None).is_ok());
        assert!(gate.stats().tracked_origins <= 64);
        if i % 100 == 0 {
            // 0.1 s in all: not enough to refill one hostile token.
            clock.advance(Duration::from_millis(1));
        }
    }
    // The spent bucket was the emptiest: it was kept, not reset.
    assert_eq!(
        gate.admit(&hostile, None).unwrap_err().reason,
        RefusalReason::Origin
    );
}

#[test]
fn a_request_not_from_its_origin_gives_the_origin_its_token_back() {
    let config = origin_only(Rate::new(1, 2)).with_per_address(Some(Rate::new(1, 3)));
    let (gate, _clock) = gate(config);
    let honest = signed_by("https://honest.example/users/a#main-key");
    let impostor: IpAddr = "192.0.2.7".parse().unwrap();
    // An impostor names the honest origin twice; both fail verification,
    // so the route gives the origin's tokens back.
    for _ in 0..2 {
        let mut permit = gate.admit(&honest, Some(impostor)).unwrap();
        permit.not_from_origin();
        permit.not_from_origin(); // a second call gives nothing more
    }
    // The honest origin still has its whole burst of two...
    let _one = gate.admit(&honest, None).unwrap();
    let _two = gate.admit(&honest, None).unwrap();
    assert_eq!(
        gate.admit(&honest, None).unwrap_err().reason,
        RefusalReason::Origin
    );
    // ...while the impostor's address paid for both of its requests.
    let refused = gate.admit(&honest, Some(impostor)).unwrap_err();
    assert_eq!(refused.reason, RefusalReason::Origin);
    let other = signed_by("https://other.example/k");
    let _three = gate.admit(&other, Some(impostor)).unwrap();
    assert_eq!(
        gate.admit(&signed_by("https://third.example/k"), Some(impostor))
            .unwrap_err()
            .reason,
        RefusalReason::Address
    );
}
