//! Issue 12, item 6: `bto`/`bcc` hidden below the top level (in an
//! attachment, a tag, the target, the result, a reply, an `Announce`d
//! object) or written in their expanded spellings (`as:bcc`, the full IRI)
//! must be stripped from every body sent, while the hidden recipients still
//! receive the activity.

use archipel::delivery::{DeliveryPlan, PlanOptions, Recipient};

use crate::delivery_peer::{Answer, Peer, deliver, loopback_client};

const HIDDEN: &str = "https://hidden.example/users/secret-friend";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_body_on_the_wire_names_a_hidden_recipient() {
    let public_peer = Peer::start(Answer {
        status: 202,
        location: None,
    })
    .await;
    let hidden_peer = Peer::start(Answer {
        status: 202,
        location: None,
    })
    .await;
    let activity = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://sender.example/activities/bcc-1",
        "type": "Announce",
        "actor": "https://sender.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "as:bcc": [HIDDEN],
        "https://www.w3.org/ns/activitystreams#bto": HIDDEN,
        "target": {"type": "Collection", "id": "https://sender.example/c/1", "bcc": [HIDDEN]},
        "result": {"type": "Note", "as:bto": {"id": HIDDEN}},
        "object": {
            "type": "Create",
            "object": {
                "type": "Note",
                "content": "hello",
                "attachment": [{"type": "Document", "url": "https://sender.example/f.png", "bcc": [HIDDEN]}],
                "tag": [{"type": "Mention", "href": "https://other.example/users/x", "bto": [HIDDEN]}],
                "inReplyTo": {"type": "Note", "id": "https://other.example/n/1", "bcc": HIDDEN},
                "http://www.w3.org/ns/activitystreams#bcc": [{"@id": HIDDEN}]
            }
        }
    });
    let recipients = [
        Recipient::new(public_peer.url("/users/bob/inbox")),
        Recipient::new(hidden_peer.url("/users/secret-friend/inbox")),
    ];
    let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
    let (_, report) = deliver(&plan, loopback_client()).await;
    assert_eq!(report.delivered, 2, "{report:?}");

    let mut bodies = Vec::new();
    for (peer, path) in [
        (&public_peer, "/users/bob/inbox"),
        (&hidden_peer, "/users/secret-friend/inbox"),
    ] {
        let captured = peer.captured();
        assert_eq!(captured.len(), 1, "{path}: {captured:?}");
        assert_eq!(captured[0].method, "POST");
        assert_eq!(captured[0].path, path);
        bodies.push(captured[0].body.clone());
    }
    assert_eq!(bodies[0], bodies[1], "one body for the whole fan-out");
    let text = std::str::from_utf8(&bodies[0]).unwrap();
    for key in [
        "\"bto\"",
        "\"bcc\"",
        "as:bto",
        "as:bcc",
        "activitystreams#bto",
        "activitystreams#bcc",
    ] {
        assert!(!text.contains(key), "{key} on the wire: {text}");
    }
    assert!(
        !text.contains(HIDDEN),
        "hidden recipient on the wire: {text}"
    );
    // Everything else survives.
    let body: serde_json::Value = serde_json::from_str(text).unwrap();
    let note = &body["object"]["object"];
    assert_eq!(note["content"], "hello");
    assert_eq!(note["tag"][0]["href"], "https://other.example/users/x");
    assert_eq!(note["attachment"][0]["url"], "https://sender.example/f.png");
    assert_eq!(note["inReplyTo"]["id"], "https://other.example/n/1");
    assert_eq!(body["target"]["id"], "https://sender.example/c/1");
}
