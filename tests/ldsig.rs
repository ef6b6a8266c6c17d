//! Integration tests of `archipel::ldsig` (Linked Data Signatures,
//! `RsaSignature2017`): the shared corpus's signed payloads, our own
//! vectors cross-checked with independent implementations, hostile inputs,
//! and the command-line `ld-sign` / `ld-verify` subcommands.
#![cfg(feature = "ld-signatures")]

mod support;

// The command-line example's `ld` module, compiled in so `cli` runs exactly
// its code (it also exposes `run_sign`/`run_verify` for main.rs).
#[allow(dead_code)]
#[path = "../examples/archipel/ld.rs"]
mod ld_cli;
#[allow(dead_code)]
#[path = "../examples/archipel/stdio.rs"]
mod stdio;

#[path = "ldsig/cli.rs"]
mod cli;

#[path = "ldsig/common.rs"]
mod common;
#[path = "ldsig/corpus.rs"]
mod corpus;
#[path = "ldsig/fedify.rs"]
mod fedify;
#[path = "ldsig/fuzz_replay.rs"]
mod fuzz_replay;
#[path = "ldsig/vectors.rs"]
mod vectors;
