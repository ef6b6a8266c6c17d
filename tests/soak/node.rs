//! A federating server built only on `archipel::federation` for the soak
//! test: real axum on 127.0.0.1, served with the connection's address (so
//! per-address admission applies), the library's routes and dispatcher.
//! It accepts every Follow and records the id of every activity a handler
//! ran for, which is what "processed" means in the test.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::client::ReqwestClient;
use archipel::delivery::{MemoryQueue, WorkerConfig};
use archipel::federation::outbox::Posted;
use archipel::federation::{Federation, LocalActor};
use archipel::inbox::admission::AdmissionConfig;
use archipel::inbox::queue::InboundConfig;

/// One running server.
pub struct Node {
    /// The server's handle.
    pub fed: Federation,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Ids of the activities its handlers ran for.
    pub handled: Arc<Mutex<HashSet<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// How a server handles what its inbox accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// The handler runs before the inbox answers.
    Inline,
    /// The activity is stored in an inbound queue (in memory) and answered
    /// `202`; inbound workers run the handler.
    Queued,
}

/// Starts a server with these users; `admission` replaces the default
/// limits when given.
pub async fn start(users: &[&str], handling: Handling, admission: Option<AdmissionConfig>) -> Node {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = ReqwestClient::new(crate::support::local_policy()).unwrap();
    let mut builder = Federation::builder(base.parse().unwrap()).with_client(Arc::new(client));
    if let Some(config) = admission {
        builder = builder.with_admission(config);
    }
    if handling == Handling::Queued {
        builder = builder.with_inbound_queue(Arc::new(MemoryQueue::new()));
    }
    let fed = builder.build().await.unwrap();
    for user in users {
        fed.actor(user).await.unwrap();
    }
    // A generous attempt timeout: the machine is loaded by the flood, and a
    // timed-out honest delivery would be retried, which the test forbids.
    fed.start_delivery(
        WorkerConfig::default()
            .with_poll_interval(Duration::from_millis(50))
            .with_attempt_timeout(Duration::from_secs(30)),
    )
    .await;

    let handled = Arc::new(Mutex::new(HashSet::new()));
    let dispatcher = fed
        .dispatcher()
        .on_follow({
            let fed = fed.clone();
            move |_cx, follow| {
                let fed = fed.clone();
                async move {
                    let me = fed.local(&follow.name).ok_or("no such user")?;
                    fed.accept(&me, &follow).await?;
                    Ok(())
                }
            }
        })
        // Without a handler a Create would be ignored before its rules run,
        // and unseen by the observer below.
        .on_create(|_cx, _create| async { Ok(()) })
        .on_every({
            let handled = handled.clone();
            move |_cx, activity| {
                let handled = handled.clone();
                async move {
                    if let Some(id) = &activity.id {
                        handled.lock().unwrap().insert(id.as_str().to_owned());
                    }
                    Ok(())
                }
            }
        });
    if handling == Handling::Queued {
        let config = InboundConfig::default().with_poll_interval(Duration::from_millis(50));
        assert!(fed.start_inbound(dispatcher.clone(), config).await);
    }
    let app = fed.router(dispatcher);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Node {
        fed,
        base,
        handled,
        server,
    }
}

impl Node {
    /// The loaded local actor `name`.
    pub fn user(&self, name: &str) -> LocalActor {
        self.fed.local(name).unwrap()
    }

    /// Posts a public note by `name` to its followers, as a client would.
    pub async fn post(&self, name: &str, content: &str) -> Posted {
        let author = self.user(name);
        let body = serde_json::json!({
            "type": "Note",
            "content": content,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [author.followers().as_str()],
        });
        let draft = self
            .fed
            .outbox()
            .prepare(&author, &serde_json::to_vec(&body).unwrap())
            .unwrap();
        let posted = draft.finish(None).unwrap();
        self.fed.publish(&author, &posted).await.unwrap();
        posted
    }

    /// Whether a handler ran for the activity `id`.
    pub fn has_handled(&self, id: &str) -> bool {
        self.handled.lock().unwrap().contains(id)
    }
}
