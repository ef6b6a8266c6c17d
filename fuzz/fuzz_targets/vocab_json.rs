//! Fuzz the vocabulary decoder: any bytes either decode or fail with a typed
//! error; decoded documents serialize back to the JSON value they came from
//! and re-decode to the same document.
#![no_main]

use archipel::vocab::{AnyObject, ParseLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits::default().with_max_bytes(64 * 1024).with_max_depth(32);
    let Ok(doc) = AnyObject::from_slice_with(data, &limits) else {
        return;
    };
    let out = serde_json::to_vec(&doc).expect("serialize");
    // Lossless: equal to the input as a JSON value, in memory and as text.
    let input: serde_json::Value = serde_json::from_slice(data).expect("decoded input is JSON");
    let output: serde_json::Value = serde_json::from_slice(&out).expect("output is JSON");
    assert_eq!(serde_json::to_value(&doc).ok().as_ref(), Some(&input), "decode lost data");
    assert_eq!(input, output, "round-trip changed the document");
    // Stable: the output decodes to the same document.
    let again = AnyObject::from_slice_with(&out, &ParseLimits::default()).expect("re-decode");
    assert_eq!(serde_json::to_vec(&again).expect("serialize again"), out);
});
