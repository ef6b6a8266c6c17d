//! What the stdin-to-stdout subcommands (`sign`, `verify`, `proof`,
//! `ld-sign`, `ld-verify`) share: reading the document, a flag, a key file
//! and `--created`, and printing a result or a verdict.

use std::io::{Read as _, Write};
use std::process::ExitCode;

/// The signature of a subcommand's testable entry point.
pub type RunWith = fn(&[String], &str, &mut dyn Write, &mut dyn Write) -> ExitCode;

/// Reads stdin whole, then runs `run_with` with the process's stdout and
/// stderr.
pub fn on_stdin(args: &[String], run_with: RunWith) -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("error: reading stdin: {e}");
        return ExitCode::FAILURE;
    }
    run_with(args, &input, &mut std::io::stdout(), &mut std::io::stderr())
}

/// Prints `result`: the output on `out` (exit 0), or the error on `err`
/// (exit 1).
pub fn report(
    result: Result<String, String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    match result {
        Ok(text) => {
            let _ = writeln!(out, "{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `name` in `args`.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Prints a verification's verdict: the report on `out` (exit 0), or
/// `{"verified":false,"reason":…}` on `out` and the reason on `err`
/// (exit 1), so scripts read one JSON line either way.
pub fn verdict(
    result: Result<String, String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    match result {
        Ok(report) => {
            let _ = writeln!(out, "{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"verified": false, "reason": e})
            );
            let _ = writeln!(err, "error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The private key in the PEM file at `path`.
#[cfg_attr(
    not(any(feature = "proof", feature = "ld-signatures")),
    allow(dead_code)
)]
pub fn private_key(path: &str) -> Result<archipel::signatures::PrivateKey, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    archipel::signatures::PrivateKey::from_pem(&pem).map_err(|e| format!("{path}: {e}"))
}

/// `--created`, if given, checked as an RFC 3339 date-time.
#[cfg_attr(
    not(any(feature = "proof", feature = "ld-signatures")),
    allow(dead_code)
)]
pub fn created(args: &[String]) -> Result<Option<archipel::vocab::DateTime>, String> {
    match flag(args, "--created") {
        None => Ok(None),
        Some(c) => {
            let t = archipel::vocab::DateTime::new_unchecked(c);
            match t.unix_seconds() {
                Some(_) => Ok(Some(t)),
                None => Err(format!("--created {c}: not an RFC 3339 date-time")),
            }
        }
    }
}
