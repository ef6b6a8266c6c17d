//! Fuzzes the `Digest` (RFC 3230) and `Content-Digest` (RFC 9530) parsers.
#![no_main]

use archipel::signatures::{parse_content_digest, parse_digest_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for entries in [parse_digest_header(s), parse_content_digest(s)]
        .into_iter()
        .flatten()
    {
        assert!(!entries.is_empty() && entries.len() <= 16);
    }
});
