//! `archipel`: a small command-line tool over the library.
//!
//! ```text
//! cargo run --example archipel -- parse [FILE|-]
//! ```
//!
//! Each subcommand lives in its own module (`examples/archipel/<sub>.rs`)
//! with a `run(args) -> ExitCode` function and one line in `COMMANDS`.

use std::process::ExitCode;

mod parse;

/// A subcommand: name, one-line usage, entry point.
type Command = (&'static str, &'static str, fn(&[String]) -> ExitCode);

const COMMANDS: &[Command] = &[(
    "parse",
    "parse [FILE|-]   decode an ActivityStreams document and print it re-serialized",
    parse::run,
)];

fn usage() -> ExitCode {
    eprintln!("usage: archipel <command> [args]\n\ncommands:");
    for (_, help, _) in COMMANDS {
        eprintln!("  {help}");
    }
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        return usage();
    };
    match COMMANDS.iter().find(|(name, _, _)| name == cmd) {
        Some((_, _, run)) => run(rest),
        None if cmd == "-h" || cmd == "--help" || cmd == "help" => {
            usage();
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("archipel: unknown command {cmd:?}");
            usage()
        }
    }
}
