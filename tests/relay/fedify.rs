//! Cross-check with an independent implementation: Fedify 2 (npm
//! `@fedify/fedify` 2, on jsonld.js; installed by
//! `tests/interop/fedify2/setup.sh`) verifies, through
//! `fedify_peer.mjs`, a public activity archipel's outbox signed both ways
//! (an `eddsa-jcs-2022` proof, then an `RsaSignature2017` LD signature
//! over the document with the proof), or with an LD signature only, as a
//! relay or a forwarding server passes it on. Skips with a notice when Fedify 2 is not installed (fails
//! under `ARCHIPEL_REQUIRE_PEERS=1`).

use archipel::federation::outbox::ObjectSigning;
use serde_json::{Value, json};

use crate::node::start;
use crate::relay_server::PUBLIC;

/// Fedify's answer on `document` signed by `actor`: `ldSignature`,
/// `proof`, `proofWithoutSignature` (see `fedify_peer.mjs`), within 60 s;
/// `None` when Fedify 2 is not installed.
fn fedify_verifies(document: &Value, actor: &Value) -> Option<Value> {
    crate::support::fedify_script::run(
        crate::support::fedify_script::Install::Fedify2,
        "Fedify 2 (outbox signatures cross-check)",
        "tests/relay/fedify_peer.mjs",
        &json!({"document": document, "actor": actor}),
    )
}

/// Alice's post of `note` through her server's outbox, as served and
/// delivered, and her actor document as her server serves it (publicKey
/// for the LD signature, assertionMethod for the proof).
async fn signed_post(signing: ObjectSigning) -> (Value, Value) {
    let a = start(&["alice"], signing).await;
    let alice = a.user("alice");
    let note = json!({"type": "Note", "content": "<p>hello #books</p>", "sensitive": false,
        "tag": [{"type": "Hashtag", "name": "#books", "href": "https://a.example/tags/books"}],
        "to": [PUBLIC], "cc": [alice.followers().as_str()]});
    let (posted, _) = a
        .posts
        .post(&a.fed, &alice, &serde_json::to_vec(&note).unwrap())
        .await
        .unwrap();
    let signed = serde_json::to_value(posted.activity()).unwrap();
    let actor = reqwest::Client::new()
        .get(alice.id().as_str())
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    (signed, serde_json::from_slice(&actor).unwrap())
}

/// Signed both ways, Fedify believes the activity through its proof, as
/// its inbox checks it (the LD signature set aside first). Its LD check
/// fails: the Data Integrity context puts the proof in a named graph,
/// which jsonld.js hashes as such, while Mastodon (an `RDF::Graph`) and
/// archipel hash every quad in the default graph; Fedify's own doubly
/// signed activities differ from Mastodon's reading the same way. Without
/// that context, Fedify sees no proof at all and its safe-mode JSON-LD
/// refuses the `_:proof` member, so it believed neither.
#[tokio::test(flavor = "multi_thread")]
async fn fedify_believes_a_doubly_signed_public_activity_through_its_proof() {
    let (signed, actor) = signed_post(ObjectSigning::all()).await;
    assert!(signed.get("proof").is_some(), "{signed:#}");
    assert!(signed.get("signature").is_some(), "{signed:#}");
    let Some(answer) = fedify_verifies(&signed, &actor) else {
        return;
    };
    assert_eq!(
        answer,
        json!({"ldSignature": false, "proof": false, "proofWithoutSignature": true}),
        "{signed:#}"
    );
    let mut altered = signed.clone();
    altered["object"]["content"] = "<p>altered</p>".into();
    assert_eq!(
        fedify_verifies(&altered, &actor),
        Some(json!({"ldSignature": false, "proof": false, "proofWithoutSignature": false}))
    );
}

/// With an LD signature only (and the extension terms the outbox
/// defines), Fedify's safe-mode `verifyJsonLd` believes it.
#[tokio::test(flavor = "multi_thread")]
async fn fedify_verifies_the_ld_signature_of_a_public_activity() {
    let (signed, actor) = signed_post(ObjectSigning::default().with_ld_signature(true)).await;
    assert!(signed.get("signature").is_some(), "{signed:#}");
    let Some(answer) = fedify_verifies(&signed, &actor) else {
        return;
    };
    assert_eq!(answer["ldSignature"], true, "{signed:#}");
    let mut altered = signed.clone();
    altered["object"]["content"] = "<p>altered</p>".into();
    assert_eq!(
        fedify_verifies(&altered, &actor).map(|a| a["ldSignature"].clone()),
        Some(json!(false))
    );
}
