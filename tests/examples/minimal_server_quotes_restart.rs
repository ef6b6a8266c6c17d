//! With `--data-dir`, quote requests survive restarts of both servers: a
//! request awaiting alice's approval on A, and the request bob's server B
//! sent (what B matches A's late `Accept` against), as does alice's quote
//! policy. After both restart, alice approves, and B shows the quote
//! approved.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use archipel::federation::quotes::{QuoteAudience, QuotePolicy, QuoteState};
use archipel::vocab::Iri;
use serde_json::json;

use crate::app::{self, Config, Running};
use crate::minimal_server::{eventually, post_outbox};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

fn iri(s: &str) -> Iri {
    Iri::parse(s).unwrap()
}

/// Removes the data directories however the test ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `user`'s server on `listener`, its state in `dir`.
async fn start_in(listener: tokio::net::TcpListener, user: &str, dir: &Path) -> Running {
    let addr = listener.local_addr().unwrap();
    let config = Config {
        bind: addr,
        base_url: Some(url::Url::parse(&format!("http://{addr}")).unwrap()),
        users: vec![user.into()],
        token: Some(format!("token-{}", addr.port())),
        data_dir: Some(dir.to_path_buf()),
        allow_private_addresses: true,
        ..Config::default()
    };
    app::start_on(listener, config).await.unwrap()
}

/// Stops `server` (its workers, then its listener) and starts it again on
/// the same address and data directory.
async fn restart(server: Running, user: &str, dir: &Path) -> Running {
    let addr = server.addr;
    server.app.fed.stop_delivery().await.unwrap();
    let Running { task, app, .. } = server;
    task.abort();
    let _ = task.await;
    drop(app);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    start_in(listener, user, dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_and_sent_quote_requests_survive_restarts_then_approved() {
    let root = std::env::temp_dir().join(format!(
        "archipel-quotes-restart-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let _cleanup = RemoveOnDrop(root.clone());
    let (dir_a, dir_b) = (root.join("a"), root.join("b"));
    let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
    let a = start_in(bind().await.unwrap(), "alice", &dir_a).await;
    let b = start_in(bind().await.unwrap(), "bob", &dir_b).await;
    let alice = iri(&a.app.actor_iri("alice"));

    // Alice approves quotes herself.
    let update = json!({
        "type": "Update",
        "object": {"id": alice.as_str(), "type": "Person",
                   "interactionPolicy": {"canQuote": {"manualApproval": [PUBLIC]}}}
    });
    let (status, body) = post_outbox(&a, "alice", update).await;
    assert_eq!(status, 201, "{body}");
    let (status, create) = post_outbox(
        &a,
        "alice",
        json!({"type": "Note", "content": "<p>ask me</p>"}),
    )
    .await;
    assert_eq!(status, 201, "{create}");
    let stored = a.app.store.post(&iri(&create)).await.unwrap();
    let quoted = stored
        .object
        .as_activity()
        .unwrap()
        .object_id()
        .unwrap()
        .clone();

    let note = json!({"type": "Note", "content": "<p>look</p>", "quote": quoted.as_str()});
    let (status, create) = post_outbox(&b, "bob", note).await;
    assert_eq!(status, 201, "{create}");
    let stored = b.app.store.post(&iri(&create)).await.unwrap();
    let quote = stored
        .object
        .as_activity()
        .unwrap()
        .object_id()
        .unwrap()
        .clone();
    eventually("the request waits for alice", || async {
        a.app.quotes.quotes.pending(&alice).len() == 1
    })
    .await;
    let request = a.app.quotes.quotes.pending(&alice)[0].request.id.clone();

    // Both servers restart while the request waits.
    let a = restart(a, "alice", &dir_a).await;
    let b = restart(b, "bob", &dir_b).await;
    let pending = a.app.quotes.quotes.pending(&alice);
    assert_eq!(
        pending.iter().map(|p| &p.request.id).collect::<Vec<_>>(),
        vec![&request]
    );
    assert_eq!(pending[0].request.quote, quote);
    assert_eq!(
        a.app.quotes.policy("alice"),
        QuotePolicy::default().with_manual(QuoteAudience::Public)
    );
    assert_eq!(
        b.app.quotes.quotes.state_of(&quote),
        Some(QuoteState::Pending)
    );

    // Alice approves: B matches the late Accept and shows the quote.
    let approve = json!({"type": "Accept", "object": request.as_str()});
    let (status, body) = post_outbox(&a, "alice", approve).await;
    assert_eq!(status, 201, "{body}");
    eventually("bob's server shows the quote approved", || async {
        matches!(
            b.app.quotes.quotes.state_of(&quote),
            Some(QuoteState::Approved { .. })
        )
    })
    .await;
    let Some(QuoteState::Approved { authorization }) = b.app.quotes.quotes.state_of(&quote) else {
        unreachable!()
    };
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{alice}/quote_authorizations/")),
        "{authorization}"
    );
    eventually("bob's note carries the authorization", || async {
        let stored = b.app.store.post(&quote).await;
        stored.and_then(|s| s.object.as_object()?.quote_authorization.clone())
            == Some(authorization.clone())
    })
    .await;
    assert!(a.app.quotes.quotes.pending(&alice).is_empty());
}
