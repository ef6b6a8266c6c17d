//! The `Fetcher` rules the key resolver relies on, available to every
//! fetch: `same_origin_redirects` refuses a document reached through a
//! redirect to another origin, and `fetch_authoritative` accepts a
//! document only when it is served at its own `id`.

use std::sync::Arc;

use archipel::client::ReqwestClient;
use archipel::fetch::{FetchError, Fetcher};
use url::Url;

use crate::key_fixture::*;

fn fetcher() -> Fetcher {
    Fetcher::new(Arc::new(ReqwestClient::new(local_policy()).unwrap()))
}

#[tokio::test]
async fn cross_origin_redirect_is_refused_when_asked() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    a.route("/go", Reply::redirect(302, b.url("/doc")));
    b.route(
        "/doc",
        Reply::ok(
            "application/activity+json",
            format!(r#"{{"id":"{}","type":"Note"}}"#, b.url("/doc")),
        ),
    );
    let go = Url::parse(&a.url("/go")).unwrap();
    // By default the document is B's own, on B's origin: accepted.
    let doc = fetcher().fetch_value(&go).await.unwrap();
    assert_eq!(doc["id"], b.url("/doc"));
    match fetcher().same_origin_redirects().fetch_value(&go).await {
        Err(FetchError::CrossOriginRedirect { url, final_url }) => {
            assert_eq!(url, a.url("/go"));
            assert_eq!(final_url, b.url("/doc"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn document_must_be_served_at_its_id() {
    let s = TestServer::start().await;
    let person =
        |id: &str, name: &str| format!(r#"{{"id":"{id}","type":"Person","name":"{name}"}}"#);
    // An upload claiming to be alice; alice's real document; an upload
    // claiming to be carol, whose id serves another id again.
    s.route(
        "/media/alice.json",
        Reply::ok("application/json", person(&s.url("/users/alice"), "forged")),
    );
    s.route(
        "/users/alice",
        Reply::ok(
            "application/activity+json",
            person(&s.url("/users/alice"), "real"),
        ),
    );
    s.route(
        "/media/carol.json",
        Reply::ok("application/json", person(&s.url("/users/carol"), "forged")),
    );
    s.route(
        "/users/carol",
        Reply::ok(
            "application/activity+json",
            person(&s.url("/users/dave"), "other"),
        ),
    );
    let f = fetcher();
    let alice = f
        .fetch_authoritative(&Url::parse(&s.url("/media/alice.json")).unwrap())
        .await
        .unwrap();
    assert_eq!(alice["name"], "real", "read from the id, not the upload");
    match f
        .fetch_authoritative(&Url::parse(&s.url("/media/carol.json")).unwrap())
        .await
    {
        Err(FetchError::NotAtItsId { id, fetched }) => {
            assert_eq!(id, s.url("/users/dave"));
            assert_eq!(fetched, s.url("/users/carol"));
        }
        other => panic!("{other:?}"),
    }
    // `fetch_value` keeps its origin-only rule: the upload is returned.
    let upload = f
        .fetch_value(&Url::parse(&s.url("/media/alice.json")).unwrap())
        .await
        .unwrap();
    assert_eq!(upload["name"], "forged");
}
