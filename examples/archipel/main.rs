//! `archipel`: a small command-line tool over the library.
//!
//! ```text
//! cargo run --example archipel -- parse [FILE|-]
//! cargo run --example archipel --features rfc9421 -- sign --key KEY.pem --key-id URL [--spec cavage|rfc9421] < request.json
//! cargo run --example archipel --features rfc9421 -- verify --public-key PUB.pem [--owner URL] [--now RFC3339] < signed.json
//! cargo run --example archipel --features client -- lookup alice@example.org [--allow-private]
//! cargo run --example archipel --features proof -- proof sign --key KEY.pem --key-id IRI < doc.json
//! cargo run --example archipel --features proof -- proof verify --public-key KEY < signed.json
//! cargo run --example archipel --features ld-signatures -- ld-sign --key KEY.pem --creator IRI < doc.json
//! cargo run --example archipel --features ld-signatures -- ld-verify --public-key KEY.pem < signed.json
//! ```
//!
//! Each subcommand lives in its own module (`examples/archipel/<sub>.rs`)
//! with a `run(args) -> ExitCode` function and one line in `COMMANDS`.

use std::process::ExitCode;

mod ld;
mod lookup;
mod parse;
mod proof;
mod sign;
mod stdio;
mod verify;

/// A subcommand: name, one-line usage, entry point.
type Command = (&'static str, &'static str, fn(&[String]) -> ExitCode);

const COMMANDS: &[Command] = &[
    (
        "parse",
        "parse [FILE|-]   decode an ActivityStreams document and print it re-serialized",
        parse::run,
    ),
    (
        "sign",
        "sign --key PRIVATE.pem --key-id URL [--spec cavage|rfc9421] [--now RFC3339]   sign a request read as JSON on stdin",
        sign::run,
    ),
    (
        "verify",
        "verify --public-key PUBLIC.pem [--owner URL] [--now RFC3339]   verify a signed request read as JSON on stdin",
        verify::run,
    ),
    (
        "lookup",
        "lookup <acct-or-URL> [--allow-private]   WebFinger an account, fetch and summarize the actor",
        lookup::run,
    ),
    (
        "proof",
        "proof sign --key KEY.pem --key-id IRI | proof verify --public-key KEY   add or check an FEP-8b32 integrity proof on a document read on stdin",
        proof::run,
    ),
    (
        "ld-sign",
        "ld-sign --key KEY.pem --creator IRI [--created RFC3339]   add an RsaSignature2017 Linked Data Signature to a document read on stdin",
        ld::run_sign,
    ),
    (
        "ld-verify",
        "ld-verify --public-key KEY.pem   check the RsaSignature2017 of a document read on stdin (exit 0 valid, 1 with the reason)",
        ld::run_verify,
    ),
];

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
