//! The `tracing` span of one received activity (feature `delivery`, which
//! brings `tracing`): `archipel.inbox.receive`, with the signing key's
//! host, the activity's id and type, and the outcome, so an operator can
//! follow a flood or a refusal to its origin in the logs.

use std::future::Future;

use tracing::Instrument as _;
use tracing::field::Empty;

use super::{InboxError, Incoming, host_of};

/// Runs `pipeline` (the inbox's checks on the request to `path`) inside
/// the span and records how it ended.
pub(super) async fn receive(
    path: &str,
    pipeline: impl Future<Output = Result<Incoming, InboxError>>,
) -> Result<Incoming, InboxError> {
    let span = tracing::info_span!(
        "archipel.inbox.receive",
        path = %path,
        key_host = Empty,
        activity = Empty,
        kind = Empty,
        outcome = Empty,
        status = Empty,
        error = Empty,
    );
    let result = pipeline.instrument(span.clone()).await;
    // Nothing listens (no subscriber, or one filtering the span out): the
    // fields would be thrown away, and the key's host costs a URL parse.
    if span.is_disabled() {
        return result;
    }
    match &result {
        Ok(incoming) => {
            if let Some(host) = host_of(incoming.verified.key_id.as_str()) {
                span.record("key_host", host.as_str());
            }
            span.record("activity", incoming.id.as_str());
            span.record("kind", incoming.kind.as_str());
            span.record("outcome", "accepted");
        }
        Err(e) => {
            span.record("outcome", "refused");
            span.record("status", e.status().as_u16());
            span.record("error", tracing::field::display(e));
            // Refusals of a flood are many: debug, not info.
            tracing::debug!(parent: &span, error = %e, "inbox: refused");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use crate::inbox::{Inbox, InboxError, VerifyRequest};
    use crate::signatures::{Algorithm, SignatureError, Spec, Verified};
    use crate::vocab::Iri;

    /// The fields of every `archipel.inbox.receive` span, as recorded.
    #[derive(Clone, Default)]
    struct Spans(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().into(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().into(), value.into());
        }
    }

    impl Subscriber for Spans {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut spans = self.0.lock().unwrap();
            let mut fields = BTreeMap::new();
            fields.insert("name".into(), span.metadata().name().into());
            span.record(&mut Fields(&mut fields));
            spans.push(fields);
            Id::from_u64(spans.len() as u64)
        }
        fn record(&self, span: &Id, values: &Record<'_>) {
            let mut spans = self.0.lock().unwrap();
            let fields = &mut spans[span.into_u64() as usize - 1];
            values.record(&mut Fields(fields));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Vouches for every request as signed by alice's key on keys.example.
    struct Vouches;

    #[async_trait::async_trait]
    impl VerifyRequest for Vouches {
        async fn verify_request(
            &self,
            _: &http::Request<bytes::Bytes>,
        ) -> Result<Verified, SignatureError> {
            Ok(Verified {
                key_id: Iri::parse("https://keys.example/alice#main-key").unwrap(),
                owner: Iri::parse("https://a.example/users/alice").unwrap(),
                spec: Spec::Cavage,
                algorithm: Algorithm::RsaV1_5Sha256,
            })
        }
    }

    fn post(signed: bool) -> http::Request<bytes::Bytes> {
        let body = r#"{"@context":"https://www.w3.org/ns/activitystreams",
            "id":"https://a.example/follows/1","type":"Follow",
            "actor":"https://a.example/users/alice","object":"https://b.example/users/bob"}"#;
        let mut request = http::Request::post("https://b.example/inbox")
            .header("content-type", "application/activity+json");
        if signed {
            request = request.header("signature", "keyId=\"https://keys.example/alice#main-key\"");
        }
        request.body(bytes::Bytes::from(body)).unwrap()
    }

    #[test]
    fn one_span_per_activity_with_its_key_host_id_kind_and_outcome() {
        let spans = Spans::default();
        let inbox = Inbox::new(Arc::new(Vouches));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(spans.clone(), || {
            runtime.block_on(async {
                let accepted = inbox.receive(&post(true)).await.unwrap();
                assert_eq!(accepted.kind, "Follow");
                let refused = inbox.receive(&post(false)).await;
                assert!(matches!(refused, Err(InboxError::Unsigned)), "{refused:?}");
            })
        });
        let seen: Vec<BTreeMap<String, String>> = spans
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == "archipel.inbox.receive")
            .cloned()
            .collect();
        let field = |i: usize, name: &str| seen[i].get(name).cloned().unwrap_or_default();
        assert_eq!(seen.len(), 2);
        assert_eq!(field(0, "key_host"), "keys.example");
        assert_eq!(field(0, "activity"), "https://a.example/follows/1");
        assert_eq!(field(0, "kind"), "Follow");
        assert_eq!(field(0, "outcome"), "accepted");
        assert_eq!(field(1, "outcome"), "refused");
        assert_eq!(field(1, "status"), "401");
        assert_eq!(field(1, "key_host"), "");
    }
}
