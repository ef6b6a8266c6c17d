//! The `minimal_server` example's inbox answers bad deliveries over real
//! HTTP with the right status: unsigned 401, wrong key owner 401, replayed
//! activity id 202 (processed once), oversize body 413, wrong content type
//! 415; and a correctly signed one 202, verified against the key fetched
//! from the sender's actor document.
#![cfg(all(feature = "axum", feature = "client", feature = "delivery"))]

use crate::minimal_server as support;

use crate::app::Running;
use bytes::Bytes;
use serde_json::{Value, json};
use support::*;

/// POSTs `body` to `inbox`, signed by `signer` unless `None`, with `content_type`.
async fn deliver(
    inbox: &str,
    body: Bytes,
    signer: Option<&archipel::signatures::Signer>,
    content_type: &str,
) -> u16 {
    let mut request = http::Request::post(inbox)
        .header("content-type", content_type)
        .body(body.clone())
        .unwrap();
    if let Some(signer) = signer {
        signer.sign(&mut request).unwrap();
    }
    let mut post = http().post(inbox).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    post.send().await.unwrap().status().as_u16()
}

fn like(id: &str, actor: &str, object: &str) -> Bytes {
    Bytes::from(
        json!({"@context": "https://www.w3.org/ns/activitystreams",
               "id": id, "type": "Like", "actor": actor, "object": object})
        .to_string(),
    )
}

fn likes_of(server: &Running, object: &str) -> Vec<String> {
    reactions_of(server, "Like", object)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_statuses_over_http() {
    let a = start("127.0.0.1", &["alice"], &[], &[]).await;
    let b = start("127.0.0.1", &["bob", "carol"], &[], &[]).await;
    let inbox = format!("{}/inbox", a.app.base());
    // A post of alice's to like (a Like of an IRI naming nothing is not counted).
    let (status, object) =
        post_outbox(&a, "alice", json!({"type": "Note", "content": "likeable"})).await;
    assert_eq!(status, 201, "{object}");
    let object = a
        .app
        .store
        .post(&archipel::vocab::Iri::parse(object.as_str()).unwrap())
        .await
        .and_then(|p| {
            p.object
                .as_activity()?
                .object_id()
                .map(|o| o.as_str().to_owned())
        })
        .unwrap();
    let unknown = format!("{}/objects/x", a.app.base());
    let bob = b.app.actor_iri("bob");
    let carol = b.app.actor_iri("carol");
    let bob_signer = signer(&b, "bob");
    const AP: &str = "application/activity+json";

    // Correctly signed: 202, and the Like is counted once.
    let body = like(&format!("{bob}#likes/1"), &bob, &object);
    assert_eq!(
        deliver(&inbox, body.clone(), Some(&bob_signer), AP).await,
        202
    );
    // Replayed (same id, freshly signed): 202 again, but not processed twice.
    assert_eq!(deliver(&inbox, body, Some(&bob_signer), AP).await, 202);
    assert_eq!(likes_of(&a, &object), vec![bob.clone()]);
    // A Like of a local IRI that names no post: accepted, not counted.
    let body = like(&format!("{bob}#likes/0"), &bob, &unknown);
    assert_eq!(deliver(&inbox, body, Some(&bob_signer), AP).await, 202);
    assert_eq!(likes_of(&a, &unknown), Vec::<String>::new());

    // Unsigned: 401.
    let body = like(&format!("{bob}#likes/2"), &bob, &object);
    assert_eq!(deliver(&inbox, body, None, AP).await, 401);

    // Signed by bob's key but claiming carol as actor: 401.
    let body = like(&format!("{carol}#likes/3"), &carol, &object);
    assert_eq!(deliver(&inbox, body, Some(&bob_signer), AP).await, 401);

    // Wrong content type: 415.
    let body = like(&format!("{bob}#likes/4"), &bob, &object);
    assert_eq!(
        deliver(&inbox, body, Some(&bob_signer), "application/json").await,
        415
    );

    // Oversize body (over the default 256 KiB): 413.
    let big = json!({"id": format!("{bob}#big"), "type": "Create", "actor": bob,
                     "object": {"type": "Note", "content": "x".repeat(300 * 1024)}});
    assert_eq!(
        deliver(&inbox, Bytes::from(big.to_string()), Some(&bob_signer), AP).await,
        413
    );

    // Only the two valid Likes were processed (once the inbound queue has
    // run them), and one counted.
    inbound_settled(&a).await;
    assert_eq!(likes_of(&a, &object), vec![bob.clone()]);
    assert_eq!(verification_count(&a), 2);
    let verification = a.app.store.verification(&format!("{bob}#likes/1")).unwrap();
    assert!(verification.ends_with(&format!("{bob}#main-key")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_documents_negotiate_html_and_json() {
    let a = start("127.0.0.1", &["alice"], &["alice"], &[]).await;
    let alice = a.app.actor_iri("alice");
    let json_response = http()
        .get(&alice)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_response.headers()["content-type"],
        "application/activity+json"
    );
    let doc: Value = serde_json::from_str(&json_response.text().await.unwrap()).unwrap();
    assert_eq!(doc["id"], alice.as_str());
    assert_eq!(doc["manuallyApprovesFollowers"], true);
    assert_eq!(doc["publicKey"]["owner"], alice.as_str());
    assert_eq!(
        doc["endpoints"]["sharedInbox"],
        format!("{}/inbox", a.app.base())
    );
    assert!(
        doc["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );

    let html = http()
        .get(&alice)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let port = a.addr.port();
    let jrd = http()
        .get(format!(
            "{}/.well-known/webfinger?resource=acct:alice@127.0.0.1:{port}",
            a.app.base()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(jrd.headers()["content-type"], "application/jrd+json");
    let jrd: Value = serde_json::from_str(&jrd.text().await.unwrap()).unwrap();
    assert_eq!(jrd["links"][0]["href"], alice.as_str());

    // NodeInfo discovery, then the 2.1 document with its schema profile.
    let links: Value = serde_json::from_str(
        &http()
            .get(format!("{}/.well-known/nodeinfo", a.app.base()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let href = links["links"][0]["href"].as_str().unwrap().to_owned();
    assert_eq!(href, format!("{}/nodeinfo/2.1", a.app.base()));
    let nodeinfo = http().get(&href).send().await.unwrap();
    assert_eq!(
        nodeinfo.headers()["content-type"],
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\""
    );
    let nodeinfo: Value = serde_json::from_str(&nodeinfo.text().await.unwrap()).unwrap();
    assert_eq!(nodeinfo["software"]["name"], "archipel-minimal-server");
    assert_eq!(nodeinfo["usage"]["users"]["total"], 1);
    assert_eq!(nodeinfo["protocols"], json!(["activitypub"]));

    // The followers collection pages (OrderedCollection → first page).
    let followers: Value = serde_json::from_str(
        &http()
            .get(format!("{alice}/followers"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(followers["type"], "OrderedCollection");
    assert_eq!(followers["totalItems"], 0);
    assert_eq!(followers["first"], format!("{alice}/followers?page=true"));

    // The inbox reader needs the token.
    let denied = http().get(format!("{alice}/inbox")).send().await.unwrap();
    assert_eq!(denied.status().as_u16(), 401);
}
