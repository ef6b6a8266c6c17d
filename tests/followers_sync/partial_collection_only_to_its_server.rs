//! `GET /users/alice/followers_synchronization`: 401 unsigned; to a
//! request signed by an actor of server B, alice's followers on B and no
//! one else (not her follower on another server); to server C, nothing.

use archipel::fetch::FetchError;
use archipel::vocab::Iri;

use crate::fed_node::{self, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partial_collection_lists_only_the_signers_server_and_only_to_it() {
    let a = fed_node::start(&["alice"], false).await;
    let b = fed_node::start(&["bob"], false).await;
    let c = fed_node::start(&["carl"], false).await;
    let (alice, bob, carl) = (a.user("alice"), b.user("bob"), c.user("carl"));
    b.fed.follow(&bob, alice.id()).await.unwrap();
    eventually("bob follows alice", || {
        futures_lite(a.fed.graph().is_follower(alice.id(), bob.id()))
    })
    .await;
    // A follower elsewhere, which B and C must never see.
    let elsewhere = Iri::parse("https://elsewhere.example/users/x").unwrap();
    a.fed
        .graph()
        .add_follower(alice.id(), &elsewhere)
        .await
        .unwrap();

    let url = format!("{}/users/alice/followers_synchronization", a.base);
    let unsigned = reqwest::Client::new()
        .get(&url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    assert_eq!(
        unsigned.headers()["www-authenticate"].to_str().unwrap(),
        "Signature"
    );

    let target = url::Url::parse(&url).unwrap();
    // Signed by B's instance actor, then by bob: bob only.
    for fetcher in [b.fed.fetcher().clone(), b.fetcher_signed_by(&bob)] {
        let doc = fetcher.refetch_authoritative(&target).await.unwrap();
        assert_eq!(doc["id"], url.as_str());
        assert_eq!(doc["type"], "OrderedCollection");
        assert_eq!(doc["totalItems"], 1);
        assert_eq!(doc["orderedItems"], serde_json::json!([bob.id().as_str()]));
    }
    // Signed by C: no follower of alice lives there.
    let doc = c
        .fetcher_signed_by(&carl)
        .refetch_authoritative(&target)
        .await
        .unwrap();
    assert_eq!(doc["totalItems"], 0);
    assert_eq!(doc["orderedItems"], serde_json::json!([]));

    // An actor that is not loaded: 404, signed or not.
    let nobody = url::Url::parse(&format!(
        "{}/users/nobody/followers_synchronization",
        a.base
    ))
    .unwrap();
    assert!(matches!(
        b.fed.fetcher().refetch_authoritative(&nobody).await,
        Err(FetchError::NotFound { .. })
    ));
}

/// Runs a graph call to completion from a synchronous check.
fn futures_lite<T>(
    f: impl std::future::Future<Output = Result<T, archipel::federation::graph::GraphError>>,
) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f)).unwrap()
}
