//! A small server for the quote tests, built only on the library: the
//! post store, quote posts with their routes, follows accepted. It records
//! what its quote handlers decided, so tests can wait for it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use archipel::federation::quotes::{PostTargets, QuoteDecision, QuoteOutcome, Quotes};
use archipel::federation::store::{MemoryPosts, Posts};
use archipel::federation::{Federation, LocalActor};
use archipel::vocab::{Iri, Object};
use serde_json::Value;

/// One running server.
pub struct Node {
    pub fed: Federation,
    pub posts: Posts,
    pub quotes: Quotes,
    /// What `QuoteRequest`s were decided, in order.
    pub decisions: Arc<Mutex<Vec<QuoteDecision>>>,
    /// What answers to this server's requests did, in order (an error as
    /// its message).
    pub outcomes: Arc<Mutex<Vec<Result<QuoteOutcome, String>>>>,
    /// Quote posts of this server whose authorization was revoked.
    pub revoked: Arc<Mutex<Vec<Iri>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts a server with these users on 127.0.0.1, port chosen by the OS.
pub async fn start(users: &[&str]) -> Node {
    let (listener, fed) = crate::support::loopback::federation(users, true).await;
    let posts = Posts::new(Arc::new(MemoryPosts::new()), fed.graph().clone());
    let quotes = Quotes::new(&fed).with_targets(Arc::new(PostTargets::new(&fed, posts.clone())));
    let decisions = Arc::new(Mutex::new(Vec::new()));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let revoked = Arc::new(Mutex::new(Vec::new()));
    let dispatcher = crate::support::loopback::accepting_follows(&fed)
        .on_quote_request({
            let (quotes, decisions) = (quotes.clone(), decisions.clone());
            move |_cx, request| {
                let (quotes, decisions) = (quotes.clone(), decisions.clone());
                async move {
                    let decision = quotes.handle_request(request).await?;
                    decisions.lock().unwrap().push(decision);
                    Ok(())
                }
            }
        })
        .on_quote_reply({
            let (quotes, outcomes) = (quotes.clone(), outcomes.clone());
            move |cx, reply| {
                let (quotes, outcomes) = (quotes.clone(), outcomes.clone());
                async move {
                    let outcome = quotes.handle_reply(cx.actor(), &reply).await;
                    outcomes
                        .lock()
                        .unwrap()
                        .push(outcome.map_err(|e| e.to_string()));
                    Ok(())
                }
            }
        })
        .on_delete({
            let (quotes, revoked) = (quotes.clone(), revoked.clone());
            move |cx, delete| {
                let (quotes, revoked) = (quotes.clone(), revoked.clone());
                async move {
                    if let Some(quote) =
                        quotes.handle_revocation(cx.actor(), &delete.object).await?
                    {
                        revoked.lock().unwrap().push(quote);
                    }
                    Ok(())
                }
            }
        });
    let app = fed
        .routes(dispatcher)
        .with_objects(Arc::new(posts.clone()))
        .with_quotes(quotes.clone())
        .into_router();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Node {
        fed,
        posts,
        quotes,
        decisions,
        outcomes,
        revoked,
        server,
    }
}

impl Node {
    pub fn user(&self, name: &str) -> LocalActor {
        self.fed.local(name).unwrap()
    }

    /// `user` posts `note` (a client-to-server `Note`) through the outbox;
    /// returns the object as stored.
    pub async fn post(&self, user: &str, note: Value) -> Object {
        let author = self.user(user);
        let body = serde_json::to_vec(&note).unwrap();
        let (posted, _sent) = self.posts.post(&self.fed, &author, &body).await.unwrap();
        posted.object().unwrap().as_object().unwrap().clone()
    }
}

/// Waits (at most 20 s) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
