#![no_main]
//! The inbox pipeline on arbitrary requests: content type, digest, signature
//! header and body (see `tests/support/inbox_fuzz_input.rs` for the layout).

#[path = "../../tests/support/inbox_fuzz_input.rs"]
mod inbox_fuzz_input;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = inbox_fuzz_input::run(data);
});
