//! What a server in authorized-fetch mode serves to whom: the actor's key
//! subset to unsigned and badly signed requests (never a refusal, so peers
//! can always verify its deliveries), the instance actor in full, `401` for
//! collections and objects without a valid signature, `404` for actors it
//! does not have.

use crate::fed_node;

async fn get(url: &str, signature: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .get(url)
        .header("accept", "application/activity+json");
    if let Some(sig) = signature {
        request = request.header("signature", sig).header(
            "date",
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        );
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

const FORGED: &str = r#"keyId="http://127.0.0.1:9/actor#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_are_never_refused_everything_else_needs_a_valid_signature() {
    let a = fed_node::start(&["alice"], true).await;
    let alice = a.user("alice");
    for signature in [None, Some(FORGED)] {
        let (status, doc) = get(alice.id().as_str(), signature).await;
        assert_eq!(status, 200, "{signature:?}");
        assert_eq!(
            doc["publicKey"]["publicKeyPem"]
                .as_str()
                .map(|p| p.starts_with("-----BEGIN PUBLIC KEY")),
            Some(true)
        );
        assert_eq!(doc["inbox"], alice.inbox().as_str());
        assert!(
            doc.get("followers").is_none() && doc.get("outbox").is_none(),
            "{doc}"
        );

        let (status, _) = get(&format!("{}/users/alice/followers", a.base), signature).await;
        assert_eq!(status, 401, "{signature:?}");
        // Nothing stored: 404 before any signature is looked at (as a
        // private object is 404 to whoever may not read it).
        let (status, _) = get(&format!("{}/objects/none", a.base), signature).await;
        assert_eq!(status, 404, "{signature:?}");
    }
    let (status, doc) = get(&format!("{}/actor", a.base), Some(FORGED)).await;
    assert_eq!(status, 200);
    assert_eq!(doc["type"], "Application");
    assert!(
        doc.get("outbox").is_some(),
        "the instance actor in full: {doc}"
    );
    assert_eq!(get(&format!("{}/users/nobody", a.base), None).await.0, 404);

    // WebFinger by handle, the base's port included.
    let authority = a.base.trim_start_matches("http://");
    let (status, jrd) = get(
        &format!(
            "{}/.well-known/webfinger?resource=acct:alice@{authority}",
            a.base
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(jrd["subject"], format!("acct:alice@{authority}"));
    assert_eq!(jrd["links"][0]["href"], alice.id().as_str());
    let (status, _) = get(
        &format!(
            "{}/.well-known/webfinger?resource=acct:alice@elsewhere.example",
            a.base
        ),
        None,
    )
    .await;
    assert_eq!(status, 404);
}
