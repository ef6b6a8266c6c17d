//! Interoperability with an independent ActivityPub implementation: Fedify
//! (npm `@fedify/fedify`), run by `tests/interop/fedify/peer.mjs` on a
//! loopback port, against the `minimal_server` example run in-process.
//!
//! Both ways: alice (archipel) follows bob (Fedify) by WebFinger handle and
//! gets an Accept; bob follows alice and gets an Accept; each posts a Note
//! the other receives. Fedify verifies archipel's signatures and archipel
//! verifies Fedify's; the run is repeated with each side knocking first in
//! each signature dialect (draft-cavage-12 and RFC 9421). Finally each side
//! undoes its Follow and the other drops the follower.
//!
//! Needs the peer installed: `bash tests/interop/fedify/setup.sh` (npm, Node
//! from npm). Without it the test prints a notice and skips, unless
//! `ARCHIPEL_REQUIRE_PEERS=1` is set, which makes a missing peer a failure.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::minimal_server as support;

use std::path::Path;

use serde_json::{Value, json};
use support::*;

use crate::support::fedify_peer::{self, Peer, control as peer_control, state as peer_state};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn round_trip(
    node: &Path,
    archipel_rfc9421_first: bool,
    fedify_first_knock: &str,
    authorized_fetch: bool,
) {
    let signed_fetch = if authorized_fetch { "1" } else { "0" };
    let peer: Peer = fedify_peer::start(
        node,
        &[
            ("FIRST_KNOCK", fedify_first_knock),
            ("REQUIRE_SIGNED_FETCH", signed_fetch),
        ],
    );
    let a = start_full(
        "127.0.0.1",
        &["alice"],
        &[],
        &[],
        archipel_rfc9421_first,
        authorized_fetch,
    )
    .await;
    let alice = a.app.actor_iri("alice");
    let bob = format!("{}/users/bob", peer.base);
    if authorized_fetch {
        // Both sides really refuse unsigned reads of their actors' documents
        // (ours serves only the key subset, the peer nothing).
        let status = |url: String| async move {
            http()
                .get(url)
                .header("accept", "application/activity+json")
                .send()
                .await
                .unwrap()
        };
        assert_eq!(status(bob.clone()).await.status().as_u16(), 401);
        let ours: Value =
            serde_json::from_str(&status(alice.to_string()).await.text().await.unwrap()).unwrap();
        assert!(ours.get("outbox").is_none(), "{ours}");
    }
    let port = peer.base.rsplit(':').next().unwrap();

    // 1. alice follows bob by WebFinger handle; Fedify verifies and Accepts.
    let (status, body) = post_outbox(
        &a,
        "alice",
        json!({"type": "Follow", "object": format!("acct:bob@127.0.0.1:{port}")}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    eventually("Fedify's bob lists alice as follower", || async {
        strings(&peer_state(&peer).await["followers"]) == vec![alice.clone()]
    })
    .await;
    eventually("alice's follow of bob is accepted", || async {
        following(&a, "alice").await == vec![bob.clone()]
    })
    .await;

    // 2. bob follows alice; archipel verifies and Accepts; Fedify records it.
    peer_control(&peer, "follow", json!({"target": alice})).await;
    eventually("alice has bob as follower", || async {
        followers(&a, "alice").await == vec![bob.clone()]
    })
    .await;
    eventually("bob's follow of alice is accepted", || async {
        strings(&peer_state(&peer).await["following"]) == vec![alice.clone()]
    })
    .await;

    // 3. alice posts; Fedify receives and verifies the Create.
    let (status, _) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "Hello Fedify, from archipel"}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("Fedify received alice's note", || async {
        peer_state(&peer).await["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| {
                n["content"] == "Hello Fedify, from archipel" && n["attributedTo"] == alice.as_str()
            })
    })
    .await;

    // 4. bob posts; alice's inbox receives it with a verified signature.
    let posted = peer_control(
        &peer,
        "post",
        json!({"content": "Hello archipel, from Fedify"}),
    )
    .await;
    let note_id = posted["note"].as_str().unwrap().to_owned();
    eventually("alice received bob's note", || async {
        note_content(&a, &note_id).is_some()
    })
    .await;
    let inbox = read_inbox(&a, "alice").await;
    let create = inbox
        .iter()
        .find(|x| x["type"] == "Create" && x["object"]["id"] == note_id.as_str())
        .expect("the Create is in alice's inbox");
    assert_eq!(create["actor"], bob.as_str());
    let verification = a
        .app
        .store
        .verification(create["id"].as_str().unwrap())
        .unwrap();

    // 5. Undo Follow, both ways.
    peer_control(&peer, "undo-follow", json!({"target": alice})).await;
    eventually("bob no longer follows alice", || async {
        followers(&a, "alice").await.is_empty()
    })
    .await;
    let (status, _) = post_outbox(
        &a,
        "alice",
        json!({"type": "Undo", "object": format!("acct:bob@127.0.0.1:{port}")}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("Fedify's bob no longer lists alice", || async {
        strings(&peer_state(&peer).await["followers"]).is_empty()
    })
    .await;

    // Which dialects were used, each way.
    let state = peer_state(&peer).await;
    assert_eq!(state["errors"], json!([]), "Fedify reported errors");
    let ours: Vec<&str> = state["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"].as_u64().is_some_and(|s| s < 300))
        .map(|r| r["dialect"].as_str().unwrap())
        .collect();
    let expected_ours = if archipel_rfc9421_first {
        "rfc9421"
    } else {
        "draft-cavage-http-signatures-12"
    };
    assert!(!ours.is_empty());
    assert!(
        ours.iter().all(|d| *d == expected_ours),
        "archipel's accepted deliveries used {ours:?}"
    );
    let expected_theirs = if fedify_first_knock == "rfc9421" {
        "rfc9421"
    } else {
        "cavage"
    };
    assert!(
        verification.starts_with(expected_theirs),
        "Fedify's Create was verified as {verification:?}"
    );
    eprintln!("interop ok: archipel→Fedify {expected_ours}, Fedify→archipel {verification}");
}

async fn run(archipel_rfc9421_first: bool, fedify_first_knock: &str, authorized_fetch: bool) {
    let Some(node) = fedify_peer::node_binary() else {
        crate::support::skip_or_fail(
            "the Fedify peer",
            "not installed (run `bash tests/interop/fedify/setup.sh`)",
        );
        return;
    };
    round_trip(
        &node,
        archipel_rfc9421_first,
        fedify_first_knock,
        authorized_fetch,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_interop_cavage_from_archipel_rfc9421_from_fedify() {
    run(false, "rfc9421", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_interop_rfc9421_from_archipel_cavage_from_fedify() {
    run(true, "draft-cavage-http-signatures-12", false).await;
}

/// Both sides require signed fetches: `--authorized-fetch` here, and the
/// peer's actor and followers answer `401` to unsigned GETs and its lookups
/// are signed (`REQUIRE_SIGNED_FETCH=1`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fedify_interop_with_signed_fetches_required_on_both_sides() {
    run(false, "rfc9421", true).await;
}
