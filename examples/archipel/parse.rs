//! `archipel parse [FILE|-]`: read one ActivityStreams document (a file, or
//! stdin for `-` or no argument), print it re-serialized as JSON on stdout
//! and exit 0; on invalid input print the typed error to stderr and exit 1.

use std::io::{Read, Write};
use std::process::ExitCode;

use archipel::vocab::{AnyObject, ParseLimits};

/// Run the subcommand.
pub fn run(args: &[String]) -> ExitCode {
    let input = match args {
        [] => None,
        [one] if one == "-" => None,
        [one] => Some(one.as_str()),
        _ => {
            eprintln!("usage: archipel parse [FILE|-]");
            return ExitCode::from(2);
        }
    };
    let limits = ParseLimits::default();
    let bytes = match read(input, limits.max_bytes) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("archipel parse: {}: {e}", input.unwrap_or("<stdin>"));
            return ExitCode::FAILURE;
        }
    };
    match AnyObject::from_slice_with(&bytes, &limits) {
        Ok(doc) => {
            let mut out = std::io::stdout().lock();
            let written = serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out));
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("archipel parse: writing output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("archipel parse: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Read at most `limit + 1` bytes, so an over-size input is reported by the
/// parser's own `TooLarge` error without reading it all.
fn read(path: Option<&str>, limit: usize) -> std::io::Result<Vec<u8>> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut buf = Vec::new();
    match path {
        Some(p) => std::fs::File::open(p)?.take(cap).read_to_end(&mut buf)?,
        None => std::io::stdin().lock().take(cap).read_to_end(&mut buf)?,
    };
    Ok(buf)
}
