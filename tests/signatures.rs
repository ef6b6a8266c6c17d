//! Integration tests of `archipel::signatures`: keys, draft-cavage-12 and
//! RFC 9421 round trips, published test vectors, rejections, and the
//! command-line example's `sign`/`verify` subcommands.

mod support;

// The CLI example's modules, compiled in so `cli` runs exactly their code
// (they also expose `run` for main.rs; the tests use `run_with`).
// Their shared stdin/stdout helpers, which they reach at the crate root.
#[allow(dead_code)]
#[path = "../examples/archipel/sign.rs"]
mod sign;
#[allow(dead_code)]
#[path = "../examples/archipel/stdio.rs"]
mod stdio;
#[allow(dead_code)]
#[path = "../examples/archipel/verify.rs"]
mod verify;

#[path = "signatures/cli.rs"]
mod cli;
#[path = "signatures/keys.rs"]
mod keys;
#[path = "signatures/roundtrip.rs"]
mod roundtrip;
#[path = "signatures/vectors_cavage.rs"]
mod vectors_cavage;
#[path = "signatures/vectors_rfc9421.rs"]
mod vectors_rfc9421;
#[path = "signatures/vectors_rfc9530.rs"]
mod vectors_rfc9530;
#[path = "signatures/verify_rejects.rs"]
mod verify_rejects;
