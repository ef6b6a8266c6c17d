//! `archipel sign --key PRIVATE.pem --key-id URL [--spec cavage|rfc9421] [--now RFC3339]`:
//! reads a request as JSON on stdin and prints it with `Host`, `Date`, the
//! digest and the signature added.

// The request-as-JSON format, shared with `verify` (which reaches it as
// `super::sign::request_json`), so main.rs needs only `mod sign; mod verify;`.
#[path = "request_json.rs"]
pub mod request_json;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use archipel::clock::FixedClock;
use archipel::signatures::{PrivateKey, Signer, Spec};

use crate::stdio::{self, flag};
use request_json::{parse_request, parse_rfc3339, request_to_json};

/// Runs `sign` with the process's stdin, stdout and stderr.
pub fn run(args: &[String]) -> ExitCode {
    stdio::on_stdin(args, run_with)
}

/// Runs `sign` on `input`, writing the signed request to `out`.
pub fn run_with(
    args: &[String],
    input: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    stdio::report(sign(args, input), out, err)
}

fn sign(args: &[String], input: &str) -> Result<String, String> {
    let key_path = flag(args, "--key").ok_or("sign: --key PRIVATE.pem is required")?;
    let key_id = flag(args, "--key-id").ok_or("sign: --key-id URL is required")?;
    let spec = match flag(args, "--spec").unwrap_or("cavage") {
        "cavage" => Spec::Cavage,
        "rfc9421" => Spec::Rfc9421,
        other => {
            return Err(format!(
                "sign: unknown --spec `{other}` (cavage or rfc9421)"
            ));
        }
    };
    let pem = std::fs::read_to_string(key_path).map_err(|e| format!("sign: {key_path}: {e}"))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("sign: {key_path}: {e}"))?;
    let mut signer = Signer::new(key_id, key).spec(spec);
    if let Some(now) = flag(args, "--now") {
        signer = signer.clock(Arc::new(FixedClock(parse_rfc3339(now)?)));
    }
    let mut req = parse_request(input)?;
    signer.sign(&mut req).map_err(|e| format!("{e:?}: {e}"))?;
    Ok(request_to_json(&req).to_string())
}
