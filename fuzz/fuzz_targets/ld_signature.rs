//! Fuzz Linked Data Signature handling (`RsaSignature2017`): any bytes
//! either parse or fail with a typed error; a parsed document's signature
//! block reads or fails with a typed error; verifying it against a fixed
//! RSA key (JSON-LD expansion with preloaded contexts, URDNA2015, RSA)
//! fails with a typed error or, never for arbitrary input, passes — but
//! never panics, and stays within the module's bounds.
#![no_main]

use archipel::ldsig;
use archipel::signatures::PublicKey;
use libfuzzer_sys::fuzz_target;

/// The interop tests' RSA key (tests/interop/keys/rsa-2048-spki.pem).
const KEY: &str = include_str!("../../tests/interop/keys/rsa-2048-spki.pem");

fuzz_target!(|data: &[u8]| {
    let Ok(document) = ldsig::parse_document(data) else {
        return;
    };
    let key = PublicKey::from_pem(KEY).expect("the test key parses");
    let _ = ldsig::signature(&document);
    if ldsig::verify_with_key(&document, &key).is_ok() {
        // Only a document signed by the test key can verify: its signature
        // block must read back.
        ldsig::signature(&document).expect("a verified signature parses");
    }
    let _ = ldsig::signing_input(&document);
});
