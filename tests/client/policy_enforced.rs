//! The reqwest `HttpClient` enforces its `FetchPolicy` against real servers
//! on 127.0.0.1: redirects (re-checked every hop), body cap while streaming,
//! timeouts, private-address refusal (literal and resolved), domain policy,
//! scheme and User-Agent.
#![cfg(feature = "client")]

use crate::support;

use std::time::{Duration, Instant};

use archipel::client::{AddressClass, ClientError, FinalUrl, HttpClient, ReqwestClient};
use archipel::policy::DomainPolicy;
use bytes::Bytes;
use support::{Reply, TestServer, local_policy};

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

#[tokio::test]
async fn follows_redirects_and_reports_final_url() {
    let s = TestServer::start().await;
    s.route("/a", Reply::redirect(301, "/b"))
        .route("/b", Reply::redirect(307, "{base}/c"))
        .route("/c", Reply::json(r#"{"ok":true}"#));
    let client =
        ReqwestClient::new(local_policy().user_agent("archipel-test/1 (+https://t.example)"))
            .unwrap();
    let resp = client.execute(get(&s.url("/a"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), br#"{"ok":true}"#);
    assert_eq!(
        resp.extensions().get::<FinalUrl>().unwrap().0.as_str(),
        s.url("/c")
    );
    let reqs = s.requests();
    assert_eq!(
        reqs.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(),
        ["/a", "/b", "/c"]
    );
    for r in &reqs {
        assert_eq!(
            r.header("user-agent"),
            Some("archipel-test/1 (+https://t.example)")
        );
    }
}

#[tokio::test]
async fn too_many_redirects_is_refused() {
    let s = TestServer::start().await;
    s.route("/loop", Reply::redirect(302, "/loop"));
    let client = ReqwestClient::new(local_policy().max_redirects(3)).unwrap();
    let err = client.execute(get(&s.url("/loop"))).await.unwrap_err();
    assert!(
        matches!(err, ClientError::TooManyRedirects { limit: 3, .. }),
        "{err:?}"
    );
    assert_eq!(s.requests().len(), 4);
}

#[tokio::test]
async fn redirect_to_private_addresses_is_refused_before_connecting() {
    let s = TestServer::start().await;
    for (target, addr, class) in [
        ("http://10.0.0.1/x", "10.0.0.1", AddressClass::Private),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
            AddressClass::LinkLocal,
        ),
        ("http://127.0.0.2:1/", "127.0.0.2", AddressClass::Loopback),
        ("http://[::1]:1/", "::1", AddressClass::Loopback),
        (
            "http://[::ffff:192.168.1.1]/",
            "::ffff:192.168.1.1",
            AddressClass::Private,
        ),
        ("http://[fd00::1]/", "fd00::1", AddressClass::UniqueLocal),
    ] {
        s.route("/r", Reply::redirect(302, target));
        let client = ReqwestClient::new(local_policy()).unwrap();
        let err = client.execute(get(&s.url("/r"))).await.unwrap_err();
        match err {
            ClientError::PrivateAddress {
                addr: a, class: c, ..
            } => {
                assert_eq!(a, addr.parse::<std::net::IpAddr>().unwrap(), "{target}");
                assert_eq!(c, class, "{target}");
            }
            other => panic!("{target}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn resolved_addresses_are_checked_not_only_literals() {
    let s = TestServer::start().await;
    s.route("/", Reply::json("{}"));
    // http allowed but no address opt-in: `localhost` resolves to loopback.
    let client =
        ReqwestClient::new(archipel::client::FetchPolicy::default().allow_http(true)).unwrap();
    let url = format!("http://localhost:{}/", s.addr.port());
    let err = client.execute(get(&url)).await.unwrap_err();
    match err {
        ClientError::PrivateAddress { host, class, .. } => {
            assert_eq!(host, "localhost");
            assert_eq!(class, AddressClass::Loopback);
        }
        other => panic!("{other:?}"),
    }
    assert!(s.requests().is_empty(), "no connection may be made");
    // Opting in to private addresses makes the same request work.
    let open = ReqwestClient::new(
        archipel::client::FetchPolicy::default()
            .allow_http(true)
            .allow_private_addresses(true),
    )
    .unwrap();
    let resp = open.execute(get(&url)).await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn streamed_body_past_the_cap_stops_reading() {
    let s = TestServer::start().await;
    let total = 256 * 1024 * 1024;
    s.route(
        "/big",
        Reply::Stream {
            total,
            chunk: 16 * 1024,
        },
    );
    let client = ReqwestClient::new(local_policy().max_body_bytes(64 * 1024)).unwrap();
    let err = client.execute(get(&s.url("/big"))).await.unwrap_err();
    assert!(
        matches!(err, ClientError::BodyTooLarge { limit: 65536 }),
        "{err:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        s.streamed_bytes() < total / 4,
        "client kept reading: {} bytes sent",
        s.streamed_bytes()
    );
}

#[tokio::test]
async fn declared_length_past_the_cap_is_refused() {
    let s = TestServer::start().await;
    s.route("/big", Reply::json(vec![b' '; 10_000]));
    let client = ReqwestClient::new(local_policy().max_body_bytes(1000)).unwrap();
    let err = client.execute(get(&s.url("/big"))).await.unwrap_err();
    assert!(
        matches!(err, ClientError::BodyTooLarge { limit: 1000 }),
        "{err:?}"
    );
    // Exactly at the cap is fine.
    s.route("/fit", Reply::json(vec![b' '; 1000]));
    let resp = client.execute(get(&s.url("/fit"))).await.unwrap();
    assert_eq!(resp.body().len(), 1000);
}

#[tokio::test]
async fn slow_server_hits_the_total_timeout() {
    let s = TestServer::start().await;
    s.route(
        "/slow",
        Reply::Slow {
            delay: Duration::from_secs(10),
            then: Box::new(Reply::json("{}")),
        },
    );
    let client =
        ReqwestClient::new(local_policy().total_timeout(Duration::from_millis(300))).unwrap();
    let start = Instant::now();
    let err = client.execute(get(&s.url("/slow"))).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(5));
    match &err {
        ClientError::Timeout { after, url } => {
            assert_eq!(*after, Duration::from_millis(300));
            assert_eq!(*url, s.url("/slow"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
}

#[tokio::test]
async fn blocked_domains_are_never_contacted() {
    let s = TestServer::start().await;
    s.route("/r", Reply::redirect(302, "http://sub.blocked.example/x"));
    let domains = DomainPolicy::new();
    domains.block("Blocked.Example").unwrap();
    let client = ReqwestClient::new(local_policy().with_domain_policy(domains.clone())).unwrap();
    let err = client.execute(get(&s.url("/r"))).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::BlockedDomain { host } if host == "sub.blocked.example"),
        "{err:?}"
    );
    // The policy is a shared handle: a block added later applies to the
    // client already built.
    domains.block("127.0.0.1").unwrap();
    let before = s.requests().len();
    let err = client.execute(get(&s.url("/r"))).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::BlockedDomain { host } if host == "127.0.0.1"),
        "{err:?}"
    );
    assert_eq!(s.requests().len(), before);
}

#[tokio::test]
async fn schemes_are_checked_on_every_hop() {
    let s = TestServer::start().await;
    s.route("/r", Reply::redirect(302, "ftp://files.example/x"));
    let client = ReqwestClient::new(local_policy()).unwrap();
    let err = client.execute(get(&s.url("/r"))).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Scheme { scheme, .. } if scheme == "ftp"),
        "{err:?}"
    );
    let https_only = ReqwestClient::new(
        archipel::client::FetchPolicy::default().allow_address("127.0.0.1".parse().unwrap()),
    )
    .unwrap();
    let err = https_only.execute(get(&s.url("/r"))).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Scheme { scheme, .. } if scheme == "http"),
        "{err:?}"
    );
    s.route("/empty", Reply::redirect(302, ""));
    let err = client.execute(get(&s.url("/empty"))).await.unwrap_err();
    assert!(
        matches!(err, ClientError::InvalidRedirect { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn see_other_turns_post_into_get_and_cross_origin_drops_signatures() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    a.route("/inbox", Reply::redirect(303, b.url("/done")));
    b.route("/done", Reply::json("{}"));
    let client = ReqwestClient::new(local_policy()).unwrap();
    let req = http::Request::post(a.url("/inbox"))
        .header("content-type", "application/activity+json")
        .header("signature", "keyId=\"k\",signature=\"x\"")
        .body(Bytes::from_static(b"{\"type\":\"Follow\"}"))
        .unwrap();
    let resp = client.execute(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let ra = &a.requests()[0];
    assert_eq!(ra.method, "POST");
    assert!(ra.header("signature").is_some());
    let rb = &b.requests()[0];
    assert_eq!(rb.method, "GET");
    assert_eq!(rb.header("signature"), None);
    assert_eq!(rb.header("content-type"), None);
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind then drop to get a port with nothing listening.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let client = ReqwestClient::new(local_policy()).unwrap();
    let err = client
        .execute(get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Connect { host, .. } if host == "127.0.0.1"),
        "{err:?}"
    );
    assert!(err.is_transient());
}
