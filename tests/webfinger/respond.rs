//! The WebFinger server helper: status codes, media type, CORS, `rel`
//! filtering, and interoperability with our own client parser.

use archipel::webfinger::{Jrd, JrdLink, Resource, respond};
use bytes::Bytes;

fn lookup_jrd(res: &Resource) -> Option<Jrd> {
    match res {
        Resource::Acct(a) if a.user() == "alice" && a.host() == "example.com" => {
            let mut jrd = Jrd {
                subject: Some(a.to_uri()),
                aliases: Some(vec!["https://example.com/@alice".into()]),
                ..Jrd::default()
            };
            jrd.push_link(JrdLink::new(
                "http://webfinger.net/rel/profile-page",
                Some("text/html"),
                "https://example.com/@alice",
            ));
            jrd.push_link(JrdLink::new(
                "self",
                Some("application/activity+json"),
                "https://example.com/users/alice",
            ));
            Some(jrd)
        }
        _ => None,
    }
}

async fn call(method: &str, target: &str) -> http::Response<Bytes> {
    let req = http::Request::builder()
        .method(method)
        .uri(target)
        .body(())
        .unwrap();
    respond(&req, |r| async move { lookup_jrd(&r) }).await
}

#[tokio::test]
async fn answers_with_jrd_and_cors() {
    let resp = call(
        "GET",
        "/.well-known/webfinger?resource=acct%3Aalice%40example.com",
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/jrd+json");
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let jrd = Jrd::from_slice(resp.body()).unwrap();
    assert_eq!(jrd.subject.as_deref(), Some("acct:alice@example.com"));
    assert_eq!(
        jrd.actor_id().unwrap().as_str(),
        "https://example.com/users/alice"
    );
    assert_eq!(jrd.links().len(), 2);
}

#[tokio::test]
async fn accepts_the_handle_forms_clients_send() {
    for q in [
        "resource=acct:alice@example.com",
        "resource=alice@example.com",
        "resource=acct:alice@EXAMPLE.com",
    ] {
        let resp = call("GET", &format!("/.well-known/webfinger?{q}")).await;
        assert_eq!(resp.status(), 200, "{q}");
    }
}

#[tokio::test]
async fn filters_links_by_rel() {
    let resp = call(
        "GET",
        "/.well-known/webfinger?resource=acct:alice@example.com&rel=self",
    )
    .await;
    let jrd = Jrd::from_slice(resp.body()).unwrap();
    assert_eq!(jrd.links().len(), 1);
    assert_eq!(jrd.links()[0].rel, "self");
    // Aliases and subject are not subject to rel filtering (RFC 7033 §4.3).
    assert_eq!(jrd.aliases(), ["https://example.com/@alice"]);
}

#[tokio::test]
async fn error_statuses() {
    let missing = call("GET", "/.well-known/webfinger").await;
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        std::str::from_utf8(missing.body()).unwrap(),
        "invalid WebFinger query: missing resource parameter"
    );
    let bad = call("GET", "/.well-known/webfinger?resource=acct:nobody").await;
    assert_eq!(bad.status(), 400);
    let unknown = call(
        "GET",
        "/.well-known/webfinger?resource=acct:bob@example.com",
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let post = call(
        "POST",
        "/.well-known/webfinger?resource=acct:alice@example.com",
    )
    .await;
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    let head = call(
        "HEAD",
        "/.well-known/webfinger?resource=acct:alice@example.com",
    )
    .await;
    assert_eq!(head.status(), 200);
    assert!(head.body().is_empty());
}
