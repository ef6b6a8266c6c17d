//! The start every loopback server built on `archipel::federation` shares
//! (the `federation`, `followers_sync`, `migration`, `quotes` and
//! `interop_quotes` nodes): a `Federation` on 127.0.0.1 with its users and
//! delivery workers, a dispatcher that accepts every Follow, and a store of
//! posted objects served by the object route.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use archipel::client::ReqwestClient;
use archipel::delivery::WorkerConfig;
use archipel::federation::dispatch::Dispatcher;
use archipel::federation::routes::ObjectSource;
use archipel::federation::serve::StoredObject;
use archipel::federation::{Federation, FederationBuilder, LocalActor};
use archipel::vocab::{AnyObject, Iri};

/// A `Federation` for these users on 127.0.0.1 (port chosen by the OS),
/// private addresses allowed, its delivery workers polling every 50 ms;
/// and the listener to serve its routes on.
pub async fn federation(
    users: &[&str],
    authorized_fetch: bool,
) -> (tokio::net::TcpListener, Federation) {
    federation_with("127.0.0.1", users, |b| {
        b.with_authorized_fetch(authorized_fetch)
    })
    .await
}

/// [`federation`], known as `http://{host}:{port}` (`host` names
/// 127.0.0.1: `127.0.0.1` or `localhost`), with `configure` applied to the
/// builder.
pub async fn federation_with(
    host: &str,
    users: &[&str],
    configure: impl FnOnce(FederationBuilder) -> FederationBuilder,
) -> (tokio::net::TcpListener, Federation) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://{host}:{port}");
    let client = ReqwestClient::new(super::local_policy()).unwrap();
    let builder = Federation::builder(base.parse().unwrap()).with_client(Arc::new(client));
    let fed = configure(builder).build().await.unwrap();
    for user in users {
        fed.actor(user).await.unwrap();
    }
    fed.start_delivery(
        WorkerConfig::default()
            .with_poll_interval(Duration::from_millis(50))
            .with_attempt_timeout(Duration::from_secs(10)),
    )
    .await;
    (listener, fed)
}

/// `fed`'s dispatcher, accepting every Follow of a local user.
pub fn accepting_follows(fed: &Federation) -> Dispatcher {
    let fed = fed.clone();
    fed.dispatcher().on_follow(move |_cx, follow| {
        let fed = fed.clone();
        async move {
            let me = fed.local(&follow.name).ok_or("no such user")?;
            fed.accept(&me, &follow).await?;
            Ok(())
        }
    })
}

/// The objects a node's users posted, as stored (never with bto/bcc),
/// served by the object route.
#[derive(Default)]
pub struct Objects(Mutex<HashMap<String, StoredObject>>);

#[async_trait::async_trait]
impl ObjectSource for Objects {
    async fn object(&self, id: &Iri) -> Option<StoredObject> {
        self.get(id)
    }
}

impl Objects {
    /// The stored object `id`.
    pub fn get(&self, id: &Iri) -> Option<StoredObject> {
        self.0.lock().unwrap().get(id.as_str()).cloned()
    }

    /// Stores `object` (it has an id) as `author`'s.
    pub fn put(&self, object: AnyObject, author: &Iri) {
        let id = object.id().unwrap().as_str().to_owned();
        self.0.lock().unwrap().insert(
            id,
            StoredObject {
                object,
                author: author.clone(),
            },
        );
    }
}

/// POSTs `body` to `inbox`, HTTP-signed (draft-cavage) by `by`; the
/// answer's status.
pub async fn post_signed(inbox: &str, by: &LocalActor, body: &serde_json::Value) -> u16 {
    let url = url::Url::parse(inbox).unwrap();
    let mut request = http::Request::post(inbox)
        .header("content-type", "application/activity+json")
        .header("host", url.authority())
        .body(bytes::Bytes::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    by.signer().sign(&mut request).unwrap();
    let mut send = reqwest::Client::new().post(inbox);
    for (name, value) in request.headers() {
        if name != http::header::HOST {
            send = send.header(name.as_str(), value.to_str().unwrap());
        }
    }
    let answer = send.body(request.into_body()).send().await.unwrap();
    answer.status().as_u16()
}
