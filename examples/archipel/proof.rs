//! `archipel proof sign --key KEY.pem --key-id IRI [--created RFC3339]` and
//! `archipel proof verify --public-key KEY`: FEP-8b32 integrity proofs
//! (`eddsa-jcs-2022`) on a document read from stdin.
//!
//! `sign` prints the document with a proof added (the key is Ed25519
//! PKCS#8 PEM). `verify` takes a PEM public key, a `publicKeyMultibase`
//! value, or a Multikey JSON object, and prints
//! `{"verified":true,"proofs":[…]}` with exit status 0, or
//! `{"verified":false,"reason":…}` with exit status 1 (the reason also on
//! stderr). Needs `--features proof`.

use std::io::Write;
use std::process::ExitCode;

#[cfg_attr(not(feature = "proof"), allow(unused_imports))]
use crate::stdio::{self, flag};

/// Runs `proof` with the process's stdin, stdout and stderr.
pub fn run(args: &[String]) -> ExitCode {
    stdio::on_stdin(args, run_with)
}

/// Runs `proof` on `input`, writing the result to `out`.
pub fn run_with(
    args: &[String],
    input: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    match args.split_first() {
        Some((sub, rest)) if sub == "sign" => stdio::report(imp::sign(rest, input), out, err),
        Some((sub, rest)) if sub == "verify" => stdio::verdict(imp::verify(rest, input), out, err),
        _ => {
            let _ = writeln!(
                err,
                "usage: archipel proof sign --key KEY.pem --key-id IRI [--created RFC3339]\n       archipel proof verify --public-key KEY"
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "proof")]
mod imp {
    use archipel::proof::{self, ContextForm, ProofOptions};
    use archipel::signatures::PublicKey;
    use archipel::vocab::Iri;
    use serde_json::json;

    use super::{flag, stdio};

    pub fn sign(args: &[String], input: &str) -> Result<String, String> {
        let path = flag(args, "--key").ok_or("proof sign: --key KEY.pem is required")?;
        let key_id = flag(args, "--key-id").ok_or("proof sign: --key-id IRI is required")?;
        let key = stdio::private_key(path)?;
        let method = Iri::parse(key_id).map_err(|e| format!("--key-id {key_id}: {e}"))?;
        let mut opts = ProofOptions::new(method);
        if let Some(created) = stdio::created(args)? {
            opts = opts.with_created(created);
        }
        let doc = proof::parse_document(input.as_bytes()).map_err(|e| e.to_string())?;
        let signed = proof::sign(&doc, &key, &opts).map_err(|e| e.to_string())?;
        serde_json::to_string_pretty(&signed).map_err(|e| e.to_string())
    }

    /// A PEM public key, a `publicKeyMultibase` value, or a Multikey object.
    fn read_key(path: &str) -> Result<PublicKey, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let text = text.trim();
        let key = if text.starts_with("-----BEGIN") {
            PublicKey::from_pem(text)
        } else if text.starts_with('{') {
            let v: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("{path}: {e}"))?;
            let mb = v["publicKeyMultibase"]
                .as_str()
                .ok_or_else(|| format!("{path}: no publicKeyMultibase"))?;
            PublicKey::from_multibase(mb)
        } else {
            PublicKey::from_multibase(text)
        };
        key.map_err(|e| format!("{path}: {e}"))
    }

    pub fn verify(args: &[String], input: &str) -> Result<String, String> {
        let path =
            flag(args, "--public-key").ok_or("proof verify: --public-key KEY is required")?;
        let key = read_key(path)?;
        let doc = proof::parse_document(input.as_bytes()).map_err(|e| e.to_string())?;
        let verified = proof::verify_with_key(&doc, &key).map_err(|e| e.to_string())?;
        let proofs: Vec<_> = verified
            .iter()
            .map(|v| {
                let form = match v.form {
                    ContextForm::InProof => "context-in-proof",
                    ContextForm::Absent => "no-context",
                    ContextForm::FromDocument => "context-from-document",
                    _ => "other",
                };
                json!({
                    "verificationMethod": v.verification_method,
                    "created": v.created,
                    "form": form,
                })
            })
            .collect();
        Ok(json!({"verified": true, "proofs": proofs}).to_string())
    }
}

#[cfg(not(feature = "proof"))]
mod imp {
    const NEEDS: &str = "the proof subcommand needs `--features proof`";

    pub fn sign(_: &[String], _: &str) -> Result<String, String> {
        Err(NEEDS.into())
    }

    pub fn verify(_: &[String], _: &str) -> Result<String, String> {
        Err(NEEDS.into())
    }
}
