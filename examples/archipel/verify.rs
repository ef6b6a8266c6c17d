//! `archipel verify --public-key PUBLIC.pem [--owner URL] [--now RFC3339]`:
//! reads a signed request as JSON on stdin; exits 0 printing
//! `{"verified":true,"key_id":…,"spec":…,"algorithm":…}`, or 1 with the
//! typed error on stderr.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use archipel::clock::FixedClock;
use archipel::signatures::{
    KeyResolver, PublicKey, ResolvedKey, SignatureError, Verifier, VerifyPolicy,
};

use super::sign::request_json::{parse_request, parse_rfc3339};
use crate::stdio::{self, flag};

/// Answers every key id with the one key given on the command line.
struct OneKey {
    key: PublicKey,
    owner: Option<String>,
}

#[async_trait::async_trait]
impl KeyResolver for OneKey {
    async fn resolve(&self, key_id: &str, _refresh: bool) -> Result<ResolvedKey, SignatureError> {
        // Without --owner, the owner is the key id up to its fragment.
        let owner = self
            .owner
            .clone()
            .unwrap_or_else(|| key_id.split('#').next().unwrap_or(key_id).to_owned());
        Ok(ResolvedKey::new(self.key.clone(), owner))
    }
}

/// Runs `verify` with the process's stdin, stdout and stderr.
pub fn run(args: &[String]) -> ExitCode {
    stdio::on_stdin(args, run_with)
}

/// Runs `verify` on `input`.
pub fn run_with(
    args: &[String],
    input: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    stdio::report(verify(args, input), out, err)
}

fn verify(args: &[String], input: &str) -> Result<String, String> {
    let path = flag(args, "--public-key").ok_or("verify: --public-key PUBLIC.pem is required")?;
    let pem = std::fs::read_to_string(path).map_err(|e| format!("verify: {path}: {e}"))?;
    let key = PublicKey::from_pem(&pem).map_err(|e| format!("verify: {path}: {e}"))?;
    let resolver = OneKey {
        key,
        owner: flag(args, "--owner").map(str::to_owned),
    };
    let mut verifier = Verifier::new(resolver, VerifyPolicy::default());
    if let Some(now) = flag(args, "--now") {
        verifier = verifier.clock(Arc::new(FixedClock(parse_rfc3339(now)?)));
    }
    let req = parse_request(input)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("verify: runtime: {e}"))?;
    let v = rt
        .block_on(verifier.verify(&req))
        .map_err(|e| format!("{e:?}: {e}"))?;
    Ok(serde_json::json!({
        "verified": true,
        "key_id": v.key_id,
        "owner": v.owner,
        "spec": v.spec.as_str(),
        "algorithm": v.algorithm.as_str(),
    })
    .to_string())
}
