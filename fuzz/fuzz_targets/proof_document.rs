//! Fuzz FEP-8b32 proof handling: any bytes either parse or fail with a
//! typed error; a parsed document's proofs verify or fail with a typed
//! error against a fixed Ed25519 key (never a panic); and RFC 8785
//! canonicalization is a fixed point (canonical bytes re-parse to bytes
//! that canonicalize the same).
#![no_main]

use archipel::proof;
use archipel::signatures::PublicKey;
use libfuzzer_sys::fuzz_target;

/// The W3C vc-di-eddsa test vectors' public key.
const KEY: &str = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";

fuzz_target!(|data: &[u8]| {
    let Ok(document) = proof::parse_document(data) else {
        return;
    };
    let key = PublicKey::from_multibase(KEY).expect("the vector key decodes");
    let _ = proof::proofs(&document);
    let _ = proof::verify_with_key(&document, &key);
    if let Ok(canonical) = proof::canonicalize(&document) {
        let again = proof::parse_document(&canonical).expect("canonical JSON parses");
        let twice = proof::canonicalize(&again).expect("canonical JSON canonicalizes");
        assert_eq!(canonical, twice, "canonicalization is not a fixed point");
    }
});
