//! Integration tests of `archipel::proof` (FEP-8b32 integrity proofs,
//! `eddsa-jcs-2022`): RFC 8785 canonicalization, the W3C and FEP-8b32
//! published vectors, the Mitra payloads of the shared corpus, key
//! resolution over HTTP, a cross-check with Fedify in both directions, and
//! the command-line `proof` subcommand.
#![cfg(feature = "proof")]

mod support;

// The command-line example's `proof` module, compiled in so `cli` runs
// exactly its code (it also exposes `run` for main.rs; the tests use `run_with`).
#[allow(dead_code)]
#[path = "../examples/archipel/proof.rs"]
mod proof_cli;
#[allow(dead_code)]
#[path = "../examples/archipel/stdio.rs"]
mod stdio;

#[path = "proof/cli.rs"]
mod cli;

#[path = "proof/common.rs"]
mod common;
#[path = "proof/corpus_mitra.rs"]
mod corpus_mitra;
#[path = "proof/fedify.rs"]
mod fedify;
#[path = "proof/jcs_rfc8785.rs"]
mod jcs_rfc8785;
#[cfg(feature = "client")]
#[path = "proof/resolve_over_http.rs"]
mod resolve_over_http;
#[path = "proof/vectors.rs"]
mod vectors;
