//! Every JRD in the shared real-world corpus parses and round-trips
//! losslessly (unknown members kept). Skips with a notice when the corpus
//! is absent (fails under `ARCHIPEL_REQUIRE_PEERS=1`).

use std::path::Path;

use archipel::webfinger::Jrd;

#[test]
fn corpus_jrds_round_trip() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/activitypub/webfinger"
    ));
    let Ok(entries) = std::fs::read_dir(dir) else {
        crate::support::skip_or_fail("the shared corpus", &format!("{} absent", dir.display()));
        return;
    };
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let jrd = Jrd::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let again: serde_json::Value = serde_json::from_slice(&jrd.to_vec()).unwrap();
        assert_eq!(original, again, "{}", path.display());
        n += 1;
    }
    assert!(n > 0, "no JRD files in {}", dir.display());
    eprintln!("round-tripped {n} JRD documents");
}
