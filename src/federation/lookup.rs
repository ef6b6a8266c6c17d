//! Finding a remote actor from what a person types
//! ([`Federation::lookup_actor`]): an actor IRI, or a handle (`@bob@host`,
//! `bob@host`, `acct:bob@host`) resolved with WebFinger (RFC 7033 §4).
//!
//! The decision: the actor is then fetched through the remote actor cache
//! ([`RemoteActors`](super::remote::RemoteActors): origin-checked, signed
//! by the instance actor, bounded), so a follow or a mention only goes to
//! an actor that exists and answers, and its inbox and keys are known
//! before anything is sent. WebFinger uses `http://` only when this
//! server's own base is `http://` (development on loopback); the client's
//! fetch policy still decides which addresses may be reached.
//!
//! ```no_run
//! use archipel::federation::Federation;
//! # async fn demo(fed: Federation) -> Result<(), archipel::federation::lookup::LookupError> {
//! let bob = fed.lookup_actor("@bob@b.example").await?;
//! println!("{} reads {}", bob.id(), bob.inbox());
//! # Ok(()) }
//! ```

use super::hub::Federation;
use super::remote::{RemoteActor, RemoteError};
use crate::vocab::Iri;
use crate::webfinger::{Acct, Resolver, WebFingerError};

/// The longest input [`Federation::lookup_actor`] reads.
pub const MAX_LOOKUP_INPUT: usize = 1024;

/// Why an actor could not be found. Each message names the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The input is neither an `http(s)` IRI nor a handle.
    #[error("{input:?} is not an actor IRI or a handle: {reason}")]
    Invalid {
        /// The input (at most its first 140 characters).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// WebFinger did not name an actor for the handle.
    #[error("cannot resolve {input:?}: {source}")]
    WebFinger {
        /// The handle.
        input: String,
        /// WebFinger's error.
        source: WebFingerError,
    },
    /// The actor could not be fetched, or failed the cache's checks.
    #[error("cannot fetch actor {iri}: {source}")]
    Fetch {
        /// The actor's IRI.
        iri: Iri,
        /// The cache's error.
        source: RemoteError,
    },
}

impl LookupError {
    /// Whether the fault is the input's (answer `400`), not the remote
    /// server's (answer `502`).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, LookupError::Invalid { .. })
    }
}

impl Federation {
    /// The remote actor an IRI or a handle names, fetched (or taken from
    /// the cache): see the [module docs](super::lookup).
    ///
    /// # Errors
    /// [`LookupError::Invalid`] for input that is neither,
    /// [`LookupError::WebFinger`] when the handle names no actor,
    /// [`LookupError::Fetch`] when the actor cannot be had.
    pub async fn lookup_actor(&self, input: &str) -> Result<RemoteActor, LookupError> {
        let invalid = |reason: String| LookupError::Invalid {
            input: input.chars().take(140).collect(),
            reason,
        };
        let input = input.trim();
        if input.len() > MAX_LOOKUP_INPUT {
            return Err(invalid(format!("longer than {MAX_LOOKUP_INPUT} bytes")));
        }
        let iri = if input.starts_with("http://") || input.starts_with("https://") {
            let iri = Iri::parse(input).map_err(|e| invalid(e.to_string()))?;
            let host = iri.to_url().ok().and_then(|u| u.host_str().map(str::len));
            if host.unwrap_or(0) == 0 {
                return Err(invalid("an actor IRI needs a host".to_owned()));
            }
            iri
        } else {
            let handle = input.strip_prefix('@').unwrap_or(input);
            let acct = Acct::parse(handle).map_err(|e| invalid(e.to_string()))?;
            let resolver = Resolver::new(self.client().clone())
                .local_http(self.paths().base().scheme() == "http");
            let url = resolver
                .resolve(&acct)
                .await
                .map_err(|source| LookupError::WebFinger {
                    input: input.to_owned(),
                    source,
                })?;
            Iri::parse(url.as_str()).map_err(|e| invalid(e.to_string()))?
        };
        self.actors()
            .get(&iri)
            .await
            .map_err(|source| LookupError::Fetch { iri, source })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::client::{ClientError, HttpClient};

    /// A client that records the URLs asked for and answers nothing.
    #[derive(Debug, Default)]
    struct Recorder(std::sync::Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl HttpClient for Recorder {
        async fn execute(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, ClientError> {
            let mut seen = self.0.lock().unwrap();
            seen.push(request.uri().to_string());
            Err(ClientError::Connect {
                host: "any".into(),
                reason: "no network in this test".into(),
            })
        }
    }

    async fn fed(client: Arc<Recorder>) -> Federation {
        Federation::builder("https://a.example".parse().unwrap())
            .with_client(client)
            .build()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn garbage_is_refused_before_any_request() {
        let client = Arc::new(Recorder::default());
        let fed = fed(client.clone()).await;
        let long = format!("bob@{}.example", "x".repeat(2000));
        for input in [
            "",
            "bob",
            "@",
            "ftp://b.example/u",
            "http://",
            long.as_str(),
        ] {
            let got = fed.lookup_actor(input).await;
            assert!(
                matches!(&got, Err(e @ LookupError::Invalid { .. }) if e.is_bad_input()),
                "{input:?}: {got:?}"
            );
        }
        assert_eq!(*client.0.lock().unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_handle_asks_webfinger_over_https_and_an_iri_fetches_the_actor() {
        let client = Arc::new(Recorder::default());
        let fed = fed(client.clone()).await;
        let got = fed.lookup_actor("@bob@b.example").await;
        assert!(matches!(got, Err(LookupError::WebFinger { .. })), "{got:?}");
        let got = fed.lookup_actor("https://c.example/users/carol").await;
        match got {
            Err(LookupError::Fetch { iri, .. }) => {
                assert_eq!(iri.as_str(), "https://c.example/users/carol")
            }
            other => panic!("{other:?}"),
        }
        let seen = client.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                "https://b.example/.well-known/webfinger?resource=acct%3Abob%40b.example",
                // RFC 6415 host-meta, the fallback some servers need.
                "https://b.example/.well-known/host-meta",
                "https://b.example/.well-known/host-meta.json",
                "https://c.example/users/carol"
            ]
        );
    }
}
