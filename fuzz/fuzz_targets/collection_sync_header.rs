//! Fuzzes the `Collection-Synchronization` header parser (FEP-8fcf): never
//! a panic, and what parses writes back to a value that parses the same.
#![no_main]

use archipel::federation::followers_sync::{MAX_HEADER_LEN, SyncHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = SyncHeader::parse(s) {
        assert!(s.len() <= MAX_HEADER_LEN);
        let again = SyncHeader::parse(&header.to_header_value());
        assert_eq!(again.as_ref(), Ok(&header));
    }
});
