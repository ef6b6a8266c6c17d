// The inbox fuzz harness, shared by `fuzz/fuzz_targets/inbox_request.rs` and
// the stable replay test `tests/fuzz_replay/inbox.rs`, so both run exactly
// the same code.
//
// Input layout: `CONTENT-TYPE \n DIGEST \n SIGNATURE \n BODY`. The request
// goes through the whole `Inbox::receive` pipeline (size cap, content type,
// digest, envelope, domain policy, signature parsing and key lookup against
// an empty key store); the body also through the follow-consent helpers.

use std::sync::Arc;

use archipel::inbox::{Inbox, InboxConfig, InboxError};
use archipel::policy::DomainPolicy;
use archipel::policy::follow::{BlockEffect, PendingFollow, check_undo};
use archipel::signatures::{MemoryKeyResolver, Verifier, VerifyPolicy};
use archipel::vocab::AnyObject;
use bytes::Bytes;

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Builds the request a fuzz input describes (`None` if a header value is not
/// valid for `http`, which a real server would have refused earlier).
pub fn request_from_bytes(data: &[u8]) -> Option<http::Request<Bytes>> {
    let (content_type, rest) = split_line(data);
    let (digest, rest) = split_line(rest);
    let (signature, body) = split_line(rest);
    let mut builder = http::Request::post("/users/alice/inbox").header("host", "a.example");
    for (name, value) in [
        ("content-type", content_type),
        ("digest", digest),
        ("signature", signature),
    ] {
        if !value.is_empty() {
            builder = builder.header(name, http::HeaderValue::from_bytes(value).ok()?);
        }
    }
    builder.body(Bytes::copy_from_slice(body)).ok()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Runs one input; returns the refusal (there are no keys, so nothing can be accepted).
pub fn run(data: &[u8]) -> Option<InboxError> {
    let request = request_from_bytes(data)?;
    if let Ok(AnyObject::Activity(activity)) = AnyObject::from_slice(request.body()) {
        let _ = check_undo(&activity);
        let _ = PendingFollow::from_follow(&activity);
        let _ = BlockEffect::from_block(&activity);
    }
    let policy = DomainPolicy::new();
    policy.block("blocked.example").ok()?;
    let mut config = InboxConfig::default();
    config.max_body_bytes = 4096;
    let verifier = Verifier::new(MemoryKeyResolver::new(), VerifyPolicy::default());
    let inbox = Inbox::new(Arc::new(verifier))
        .with_domain_policy(policy)
        .with_config(config)
        .with_public_base(url::Url::parse("https://a.example").ok()?);
    match block_on(inbox.receive(&request)) {
        Ok(incoming) => panic!("accepted without any known key: {incoming:?}"),
        Err(e) => {
            // Every refusal maps to one of the documented statuses.
            assert!(matches!(
                e.status().as_u16(),
                400 | 401 | 403 | 413 | 415 | 202
            ));
            Some(e)
        }
    }
}
