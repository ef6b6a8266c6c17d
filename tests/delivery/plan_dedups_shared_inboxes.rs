//! Plan tests at scale: 10,000 followers across 500 hosts, 400 of which
//! advertise a shared inbox.

use archipel::delivery::{DeliveryPlan, PlanOptions, Recipient, SkipReason};
use url::Url;

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn followers() -> Vec<Recipient> {
    let mut out = Vec::new();
    for h in 0..500 {
        for f in 0..20 {
            let actor = format!("https://host{h}.example/users/u{f}");
            let mut r = Recipient::new(Url::parse(&format!("{actor}/inbox")).unwrap())
                .with_id(Url::parse(&actor).unwrap());
            if h < 400 {
                r = r.with_shared_inbox(
                    Url::parse(&format!("https://host{h}.example/inbox")).unwrap(),
                );
            }
            out.push(r);
        }
    }
    out
}

fn activity() -> serde_json::Value {
    serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://me.example/activities/1",
        "type": "Create",
        "actor": "https://me.example/users/alice",
        "to": [PUBLIC],
        "cc": ["https://me.example/users/alice/followers"],
        "bto": ["https://secret.example/users/bto-person"],
        "bcc": ["https://secret.example/users/bcc-person"],
        "object": {
            "id": "https://me.example/notes/1",
            "type": "Note",
            "content": "hello",
            "to": [PUBLIC],
            "bto": ["https://secret.example/users/bto-person"],
            "bcc": ["https://secret.example/users/bcc-person"]
        }
    })
}

#[test]
fn ten_thousand_followers_make_2400_posts() {
    let mut recipients = followers();
    // Duplicates (an actor addressed twice) and the Public collection, as an
    // app that resolved `to`/`cc` naively would pass them.
    recipients.extend(followers().into_iter().take(100));
    for public in [PUBLIC, "as:Public"] {
        recipients.push(Recipient::new(Url::parse(public).unwrap()));
    }
    // The bto/bcc recipients are still delivered to (personal inboxes here).
    recipients.push(Recipient::new(
        Url::parse("https://secret.example/users/bto-person/inbox").unwrap(),
    ));
    recipients.push(Recipient::new(
        Url::parse("https://secret.example/users/bcc-person/inbox").unwrap(),
    ));
    // The sender's own followers on its own server.
    recipients.push(
        Recipient::new(Url::parse("https://me.example/users/bob/inbox").unwrap())
            .with_shared_inbox(Url::parse("https://me.example/inbox").unwrap()),
    );

    let options = PlanOptions::default().with_local_hosts(["me.example"]);
    let plan = DeliveryPlan::new(&activity(), recipients, &options).unwrap();

    // 400 shared inboxes + 100 hosts x 20 personal inboxes + 2 bto/bcc.
    assert_eq!(plan.inboxes().len(), 400 + 2000 + 2);
    let unique: std::collections::HashSet<&str> = plan.inboxes().iter().map(Url::as_str).collect();
    assert_eq!(unique.len(), plan.inboxes().len());
    // No personal inbox on a host that has a shared inbox.
    for inbox in plan.inboxes() {
        let host = inbox.host_str().unwrap();
        let n: usize = host
            .strip_prefix("host")
            .and_then(|h| h.strip_suffix(".example"))
            .map_or(usize::MAX, |n| n.parse().unwrap());
        if n < 400 {
            assert_eq!(inbox.path(), "/inbox", "{inbox}");
        }
        assert!(!archipel::delivery::is_public_iri(inbox.as_str()));
        assert_ne!(host, "me.example");
        assert_ne!(host, "www.w3.org");
    }
    let skipped: Vec<SkipReason> = plan.skipped().iter().map(|(_, r)| *r).collect();
    assert_eq!(
        skipped,
        [SkipReason::Public, SkipReason::Public, SkipReason::Local]
    );

    // bto/bcc gone from the body, everything else kept.
    let body: serde_json::Value = serde_json::from_slice(plan.body().bytes()).unwrap();
    let mut expected = activity();
    for key in ["bto", "bcc"] {
        expected.as_object_mut().unwrap().remove(key);
        expected["object"].as_object_mut().unwrap().remove(key);
    }
    assert_eq!(body, expected);
    let text = std::str::from_utf8(plan.body().bytes()).unwrap();
    assert!(!text.contains("secret.example"));
    assert_eq!(plan.activity_id(), "https://me.example/activities/1");
}

#[test]
fn without_shared_inboxes_every_follower_gets_a_post() {
    let options = PlanOptions::default().with_use_shared_inbox(false);
    let plan = DeliveryPlan::new(&activity(), followers(), &options).unwrap();
    assert_eq!(plan.inboxes().len(), 10_000);
}

#[test]
fn domain_policy_removes_blocked_hosts() {
    let options = PlanOptions::default()
        .with_host_filter(std::sync::Arc::new(|h: &str| !h.starts_with("host1")));
    let plan = DeliveryPlan::new(&activity(), followers(), &options).unwrap();
    // host1, host10..19, host100..199 are blocked: 1 + 10 + 100 = 111 hosts,
    // all with a shared inbox (h < 400).
    assert_eq!(plan.inboxes().len(), 400 - 111 + 2000);
    assert_eq!(plan.skipped().len(), 111);
    assert!(
        plan.skipped()
            .iter()
            .all(|(_, r)| *r == SkipReason::Blocked)
    );
}

#[test]
fn typed_actors_and_activities_plan_like_json() {
    use archipel::vocab::{Activity, Actor};
    let actors: Vec<Actor> = [
        serde_json::json!({"id": "https://b.example/users/bob", "type": "Person",
            "inbox": "https://b.example/users/bob/inbox",
            "endpoints": {"sharedInbox": "https://b.example/inbox"}}),
        serde_json::json!({"id": "https://b.example/users/carol", "type": "Person",
            "inbox": "https://b.example/users/carol/inbox",
            "endpoints": {"sharedInbox": "https://b.example/inbox"}}),
        serde_json::json!({"id": "https://c.example/dave", "type": "Person",
            "inbox": "https://c.example/dave/inbox"}),
        // No inbox: cannot receive.
        serde_json::json!({"id": "https://d.example/eve", "type": "Person"}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    let recipients: Vec<Recipient> = actors.iter().filter_map(Recipient::from_actor).collect();
    assert_eq!(recipients.len(), 3);
    let activity: Activity = serde_json::from_value(activity()).unwrap();
    let plan = DeliveryPlan::new(&activity, recipients, &PlanOptions::default()).unwrap();
    assert_eq!(
        plan.inboxes().iter().map(Url::as_str).collect::<Vec<_>>(),
        ["https://b.example/inbox", "https://c.example/dave/inbox"]
    );
    let body: serde_json::Value = serde_json::from_slice(plan.body().bytes()).unwrap();
    assert!(body.get("bto").is_none() && body.get("bcc").is_none());
    assert!(body["object"].get("bto").is_none() && body["object"].get("bcc").is_none());
    assert_eq!(body["object"]["content"], "hello");
    assert_eq!(plan.activity_id(), "https://me.example/activities/1");
}
