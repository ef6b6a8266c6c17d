//! Fuzzes the RFC 9421 `Signature-Input` parser: whatever parses must
//! re-serialize to a member that parses back to the same value.
#![no_main]

use archipel::signatures::parse_signature_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(inputs) = parse_signature_input(s) {
        for input in inputs {
            let member = input.to_header_member();
            let again = parse_signature_input(&member).expect("re-serialized member parses");
            assert_eq!(again, vec![input]);
        }
    }
});
