//! A small server built only on `archipel::federation` for the migration
//! tests: real axum on 127.0.0.1, real delivery workers, the library's
//! routes and dispatcher with the ready-made `Move` handler. It accepts
//! every Follow, and logs what became of each `Move` it received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::migration::Migration;
use archipel::federation::{Federation, LocalActor};
use archipel::vocab::Iri;

/// What became of one `Move` received: `Ok(actors moved)` or the
/// refusal's `Debug` form (the variant first).
pub type Outcome = Result<Vec<Iri>, String>;

/// One running server.
pub struct Node {
    /// Its handle.
    pub fed: Federation,
    /// What became of each `Move` received, in order.
    pub moves: Arc<Mutex<Vec<Outcome>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a server with these users, in authorized-fetch mode.
pub async fn start(users: &[&str]) -> Node {
    let (listener, fed) = crate::support::loopback::federation(users, true).await;
    let moves = Arc::new(Mutex::new(Vec::new()));
    let migration = Migration::new(&fed);
    let dispatcher = crate::support::loopback::accepting_follows(&fed).on_move({
        let moves = moves.clone();
        move |cx, activity| {
            let (migration, moves) = (migration.clone(), moves.clone());
            async move {
                let outcome = migration.handle(&cx, &activity).await;
                let logged = match &outcome {
                    Ok(done) => Ok(done.moved.clone()),
                    Err(e) => Err(format!("{e:?}")),
                };
                moves.lock().unwrap().push(logged);
                outcome?;
                Ok(())
            }
        }
    });
    let app = fed.routes(dispatcher).into_router();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Node { fed, moves, server }
}

impl Node {
    /// The loaded local actor `name`.
    pub fn user(&self, name: &str) -> LocalActor {
        self.fed.local(name).unwrap()
    }

    /// Whom `name` follows (accepted).
    pub async fn following(&self, name: &str) -> Vec<Iri> {
        self.fed
            .graph()
            .following(self.user(name).id())
            .await
            .unwrap()
    }

    /// Who follows `name`.
    pub async fn followers(&self, name: &str) -> Vec<Iri> {
        self.fed
            .graph()
            .followers(self.user(name).id())
            .await
            .unwrap()
    }

    /// The outcomes of the `Move`s received so far.
    pub fn moves(&self) -> Vec<Outcome> {
        self.moves.lock().unwrap().clone()
    }
}

/// Waits (at most 30 s) until `check` holds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the node's fan-out and delivery queues have nothing left,
/// so a test can then assert that something did *not* happen.
pub async fn drained(node: &Node) {
    eventually("the fan-out and delivery queues drain", || async {
        let now = archipel::delivery::Timestamp::from_system_time(std::time::SystemTime::now());
        let fanout = node.fed.fanout_queue().stats(now).await.unwrap().total;
        fanout == 0 && node.fed.queue().stats(now).await.unwrap().total == 0
    })
    .await;
}

/// POSTs `body` to `inbox`, signed by `author`; the answer's status.
pub async fn post_signed(author: &LocalActor, inbox: &Iri, body: serde_json::Value) -> u16 {
    let body = bytes::Bytes::from(body.to_string());
    let mut request = http::Request::post(inbox.as_str())
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .unwrap();
    author.signer().sign(&mut request).unwrap();
    let mut post = reqwest::Client::new().post(inbox.as_str()).body(body);
    for (name, value) in request.headers() {
        post = post.header(name.as_str(), value.to_str().unwrap());
    }
    post.send().await.unwrap().status().as_u16()
}
