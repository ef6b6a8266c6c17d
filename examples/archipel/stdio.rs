//! What the stdin-to-stdout subcommands (`sign`, `verify`, `proof`) share:
//! reading the document, reading a flag, and printing a result.

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
