//! Fuzzes `acct:` / handle parsing and the WebFinger server's query and
//! resource parsing: no panics, and every accepted value re-parses to
//! itself from its printed form. Replayed by tests/fuzz_replay/webfinger.rs.
#![no_main]

use archipel::webfinger::{Acct, Resource, WebFingerQuery};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = Acct::parse(s) {
        assert_eq!(Acct::parse(&a.to_string()).ok().as_ref(), Some(&a));
        assert_eq!(Acct::parse(&a.to_uri()).ok().as_ref(), Some(&a));
    }
    if let Ok(r) = Resource::parse(s) {
        assert_eq!(Resource::parse(&r.to_string()).ok().as_ref(), Some(&r));
    }
    if let Ok(q) = WebFingerQuery::parse(s) {
        assert!(q.rels.len() <= archipel::webfinger::MAX_RELS);
    }
});
