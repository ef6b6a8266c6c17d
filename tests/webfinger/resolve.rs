//! WebFinger client against real servers on 127.0.0.1: success, 404,
//! host-meta fallback (XRD and JSON), malformed JRD, non-JSON, no actor,
//! blocked domain.
#![cfg(feature = "client")]

use crate::support;

use std::sync::Arc;

use archipel::client::{ClientError, HttpClient, ReqwestClient};
use archipel::policy::DomainPolicy;
use archipel::webfinger::{Acct, Resolver, Resource, WebFingerError};
use support::{Reply, TestServer, local_policy};

const JRD: &str = r#"{"subject":"acct:alice@HOST","aliases":["{base}/@alice"],
 "links":[{"rel":"http://webfinger.net/rel/profile-page","type":"text/html","href":"{base}/@alice"},
 {"rel":"self","type":"application/activity+json","href":"{base}/users/alice"}]}"#;

fn resolver() -> Resolver {
    let client: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new(local_policy()).unwrap());
    Resolver::new(client).local_http(true)
}

fn acct(s: &TestServer) -> Acct {
    format!("alice@{}", s.authority()).parse().unwrap()
}

#[tokio::test]
async fn resolves_actor_iri() {
    let s = TestServer::start().await;
    s.route(
        "/.well-known/webfinger",
        Reply::ok("application/jrd+json; charset=utf-8", JRD),
    );
    let actor = resolver().resolve(&acct(&s)).await.unwrap();
    assert_eq!(actor.as_str(), s.url("/users/alice"));
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].target,
        format!(
            "/.well-known/webfinger?resource=acct%3Aalice%40127.0.0.1%3A{}",
            s.addr.port()
        )
    );
    assert_eq!(
        reqs[0].header("accept"),
        Some("application/jrd+json, application/json;q=0.9")
    );
}

#[tokio::test]
async fn not_found_is_a_status_error_after_trying_host_meta() {
    let s = TestServer::start().await;
    let err = resolver().resolve(&acct(&s)).await.unwrap_err();
    match err {
        WebFingerError::Status { status, url } => {
            assert_eq!(status, 404);
            assert!(url.starts_with(&s.url("/.well-known/webfinger?resource=")));
        }
        other => panic!("{other:?}"),
    }
    let paths: Vec<String> = s
        .requests()
        .iter()
        .map(|r| r.target.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/.well-known/webfinger",
            "/.well-known/host-meta",
            "/.well-known/host-meta.json"
        ]
    );
}

#[tokio::test]
async fn falls_back_to_host_meta_xrd() {
    let s = TestServer::start().await;
    s.route("/.well-known/webfinger", Reply::status(500));
    s.route(
        "/.well-known/host-meta",
        Reply::ok(
            "application/xrd+xml",
            r#"<?xml version="1.0" encoding="UTF-8"?>
<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">
  <Link rel="lrdd" type="application/jrd+json" template="{base}/legacy/wf?q=1&amp;resource={uri}"/>
</XRD>"#,
        ),
    );
    s.route("/legacy/wf", Reply::ok("application/jrd+json", JRD));
    let actor = resolver().resolve(&acct(&s)).await.unwrap();
    assert_eq!(actor.as_str(), s.url("/users/alice"));
    let last = s.requests().pop().unwrap();
    assert_eq!(
        last.target,
        format!(
            "/legacy/wf?q=1&resource=acct%3Aalice%40127.0.0.1%3A{}",
            s.addr.port()
        )
    );
}

#[tokio::test]
async fn falls_back_to_host_meta_json_and_xrd_answers() {
    let s = TestServer::start().await;
    s.route(
        "/.well-known/host-meta.json",
        Reply::json(r#"{"links":[{"rel":"lrdd","template":"{base}/xrd?uri={uri}"}]}"#),
    );
    // A legacy LRDD endpoint answering in XRD.
    s.route(
        "/xrd",
        Reply::ok(
            "application/xrd+xml",
            r#"<XRD><Subject>acct:alice@x</Subject><Link rel="self" type="application/activity+json" href="{base}/users/alice"/></XRD>"#,
        ),
    );
    let actor = resolver().resolve(&acct(&s)).await.unwrap();
    assert_eq!(actor.as_str(), s.url("/users/alice"));
}

#[tokio::test]
async fn malformed_jrd_is_refused() {
    let s = TestServer::start().await;
    s.route(
        "/.well-known/webfinger",
        Reply::ok("application/jrd+json", r#"{"links": 5}"#),
    );
    let err = resolver().resolve(&acct(&s)).await.unwrap_err();
    match err {
        WebFingerError::InvalidJrd { reason } => {
            assert!(reason.contains("invalid type"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.requests().len(),
        1,
        "a malformed answer does not fall back"
    );
}

#[tokio::test]
async fn non_json_is_refused() {
    let s = TestServer::start().await;
    s.route(
        "/.well-known/webfinger",
        Reply::ok(
            "text/html; charset=utf-8",
            "<html><body>Welcome!</body></html>",
        ),
    );
    let err = resolver().resolve(&acct(&s)).await.unwrap_err();
    match err {
        WebFingerError::NotJson { content_type, .. } => {
            assert_eq!(content_type, "text/html; charset=utf-8")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn jrd_without_actor_link_is_no_actor() {
    let s = TestServer::start().await;
    s.route(
        "/.well-known/webfinger",
        Reply::json(r#"{"subject":"acct:alice@x","links":[{"rel":"self","type":"text/html","href":"https://x/"}]}"#),
    );
    let a = acct(&s);
    let err = resolver().resolve(&a).await.unwrap_err();
    assert!(
        matches!(&err, WebFingerError::NoActor { resource } if *resource == a.to_uri()),
        "{err:?}"
    );
}

#[tokio::test]
async fn url_resources_and_blocked_domains() {
    let s = TestServer::start().await;
    s.route(
        "/.well-known/webfinger",
        Reply::ok("application/jrd+json", JRD),
    );
    let res = Resource::parse(&s.url("/@alice")).unwrap();
    let jrd = resolver().lookup(&res).await.unwrap();
    assert_eq!(jrd.profile_page(), Some(s.url("/@alice").as_str()));

    let d = DomainPolicy::new();
    d.block("127.0.0.1").unwrap();
    let client: Arc<dyn HttpClient> =
        Arc::new(ReqwestClient::new(local_policy().with_domain_policy(d)).unwrap());
    let before = s.requests().len();
    let err = Resolver::new(client)
        .local_http(true)
        .resolve(&acct(&s))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WebFingerError::Client(ClientError::BlockedDomain { host }) if host == "127.0.0.1"),
        "{err:?}"
    );
    assert_eq!(s.requests().len(), before);
}
