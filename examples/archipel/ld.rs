//! `archipel ld-sign --key KEY.pem --creator IRI [--created RFC3339]` and
//! `archipel ld-verify --public-key KEY.pem`: Linked Data Signatures
//! (`RsaSignature2017`, as Mastodon signs public activities) on a document
//! read from stdin.
//!
//! `ld-sign` prints the document with a `signature` added (the key is an RSA
//! private key, PKCS#8 or PKCS#1 PEM; `created` is now unless given).
//! `ld-verify` takes the signer's RSA public key (PEM) and prints
//! `{"verified":true,"creator":…,"created":…,"covers_json":…}` with exit
//! status 0, or `{"verified":false,"reason":…}` with exit status 1 (the
//! reason also on stderr). A signature covers the document's RDF graph:
//! `covers_json` is `false`, with the reason in `uncovered`, when JSON-LD
//! processing drops or moves a member (`ldsig::check_coverage`), so the JSON
//! an application reads says more than what was signed. Contexts are never fetched: a document naming one that is not
//! preloaded is refused, with its URL. Needs `--features ld-signatures`.

use std::io::Write;
use std::process::ExitCode;

#[cfg_attr(not(feature = "ld-signatures"), allow(unused_imports))]
use crate::stdio::{self, flag};

/// Runs `ld-sign` with the process's stdin, stdout and stderr.
pub fn run_sign(args: &[String]) -> ExitCode {
    stdio::on_stdin(args, sign_with)
}

/// Runs `ld-verify` with the process's stdin, stdout and stderr.
pub fn run_verify(args: &[String]) -> ExitCode {
    stdio::on_stdin(args, verify_with)
}

/// Runs `ld-sign` on `input`, writing the signed document to `out`.
pub fn sign_with(
    args: &[String],
    input: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    stdio::report(imp::sign(args, input), out, err)
}

/// Runs `ld-verify` on `input`, writing the verdict to `out`.
pub fn verify_with(
    args: &[String],
    input: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    stdio::verdict(imp::verify(args, input), out, err)
}

#[cfg(feature = "ld-signatures")]
mod imp {
    use archipel::ldsig;
    use archipel::signatures::PublicKey;
    use archipel::vocab::{DateTime, Iri};
    use serde_json::json;

    use super::{flag, stdio};

    pub fn sign(args: &[String], input: &str) -> Result<String, String> {
        let path = flag(args, "--key").ok_or("ld-sign: --key KEY.pem is required")?;
        let creator = flag(args, "--creator").ok_or("ld-sign: --creator IRI is required")?;
        let key = stdio::private_key(path)?;
        let creator = Iri::parse(creator).map_err(|e| format!("--creator {creator}: {e}"))?;
        let created = stdio::created(args)?
            .unwrap_or_else(DateTime::now)
            .to_string();
        let doc = ldsig::parse_document(input.as_bytes()).map_err(|e| e.to_string())?;
        let signed = ldsig::sign(&doc, &key, &creator, &created).map_err(|e| e.to_string())?;
        serde_json::to_string_pretty(&signed).map_err(|e| e.to_string())
    }

    pub fn verify(args: &[String], input: &str) -> Result<String, String> {
        let path =
            flag(args, "--public-key").ok_or("ld-verify: --public-key KEY.pem is required")?;
        let pem = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let key = PublicKey::from_pem(pem.trim()).map_err(|e| format!("{path}: {e}"))?;
        let doc = ldsig::parse_document(input.as_bytes()).map_err(|e| e.to_string())?;
        let sig = ldsig::verify_with_key(&doc, &key).map_err(|e| e.to_string())?;
        // The signature covers the RDF graph; whether that is all the JSON
        // says is a second question, answered beside the verdict so that a
        // reader does not take moved or dropped members as signed.
        let mut verdict = json!({"verified": true, "creator": sig.creator,
                                 "created": sig.created, "covers_json": true});
        if let Err(e) = ldsig::check_coverage(&doc) {
            verdict["covers_json"] = false.into();
            verdict["uncovered"] = e.to_string().into();
        }
        Ok(verdict.to_string())
    }
}

#[cfg(not(feature = "ld-signatures"))]
mod imp {
    const NEEDS: &str = "ld-sign and ld-verify need `--features ld-signatures`";

    pub fn sign(_: &[String], _: &str) -> Result<String, String> {
        Err(NEEDS.into())
    }

    pub fn verify(_: &[String], _: &str) -> Result<String, String> {
        Err(NEEDS.into())
    }
}
