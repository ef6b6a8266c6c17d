//! Over-limit, malformed and non-object input fails with the exact typed
//! error, never a panic.

use archipel::vocab::{Activity, AnyObject, ParseLimits, VocabError};

fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut s = br#"{"type":"Note","x":"#.to_vec();
    s.extend(std::iter::repeat_n(b'[', depth));
    s.extend(std::iter::repeat_n(b']', depth));
    s.push(b'}');
    s
}

#[test]
fn too_large_is_rejected_before_parsing() {
    let limits = ParseLimits::default().with_max_bytes(10);
    let err = AnyObject::from_slice_with(br#"{"type":"Note"}"#, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            VocabError::TooLarge {
                size: 15,
                limit: 10
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "ActivityStreams document: 15 bytes exceeds the limit of 10 bytes"
    );
}

#[test]
fn depth_limit_is_exact() {
    let limits = ParseLimits::default().with_max_depth(5);
    // Top-level object is depth 1; four arrays inside reach depth 5.
    assert!(AnyObject::from_slice_with(&nested_arrays(4), &limits).is_ok());
    let err = AnyObject::from_slice_with(&nested_arrays(5), &limits).unwrap_err();
    assert!(matches!(err, VocabError::TooDeep { limit: 5 }), "{err:?}");
}

#[test]
fn deep_nesting_under_default_limits() {
    let err = AnyObject::from_slice(&nested_arrays(100)).unwrap_err();
    assert!(matches!(err, VocabError::TooDeep { limit: 64 }), "{err:?}");
    let err = AnyObject::from_slice(&nested_arrays(100_000)).unwrap_err();
    assert!(matches!(err, VocabError::TooDeep { limit: 64 }), "{err:?}");
    // Nested embedded objects count too.
    let mut doc = String::new();
    for _ in 0..80 {
        doc.push_str(r#"{"type":"Announce","object":"#);
    }
    doc.push_str(r#""https://a.example/x""#);
    doc.push_str(&"}".repeat(80));
    let err = AnyObject::from_slice(doc.as_bytes()).unwrap_err();
    assert!(matches!(err, VocabError::TooDeep { limit: 64 }), "{err:?}");
}

#[test]
fn deep_context_counts_toward_the_limit() {
    let limits = ParseLimits::default().with_max_depth(4);
    let ok = br#"{"@context":[{"a":{"@id":"x"}}],"type":"Note"}"#;
    assert!(AnyObject::from_slice_with(ok, &limits).is_ok());
    let deep = br#"{"@context":[{"a":{"@id":["x"]}}],"type":"Note"}"#;
    let err = AnyObject::from_slice_with(deep, &limits).unwrap_err();
    assert!(matches!(err, VocabError::TooDeep { limit: 4 }), "{err:?}");
}

#[test]
fn malformed_json_reports_position() {
    let err = AnyObject::from_slice(b"{\n  \"type\": \"Note\",\n  \"content\": }").unwrap_err();
    let VocabError::Json {
        line,
        column,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*line, *column), (3, 14));
    assert_eq!(message, "expected value");
    let err = AnyObject::from_slice(br#"{"type":"Note"} trailing"#).unwrap_err();
    assert!(
        matches!(
            err,
            VocabError::Json {
                line: 1,
                column: 17,
                ..
            }
        ),
        "{err:?}"
    );
    let err = AnyObject::from_slice(b"").unwrap_err();
    assert!(
        matches!(
            err,
            VocabError::Json {
                line: 1,
                column: 0,
                ..
            }
        ),
        "{err:?}"
    );
    let err = AnyObject::from_slice(b"{\"content\":\"\xff\"}").unwrap_err();
    assert!(matches!(err, VocabError::Json { .. }), "{err:?}");
}

#[test]
fn non_objects_are_rejected() {
    for (doc, found) in [
        (&b"[]"[..], "array"),
        (b"\"https://a.example/note\"", "string"),
        (b"null", "null"),
        (b"42", "number"),
        (b"true", "boolean"),
    ] {
        let err = AnyObject::from_slice(doc).unwrap_err();
        assert!(
            matches!(err, VocabError::NotAnObject { found: f } if f == found),
            "{err:?}"
        );
    }
}

#[test]
fn typed_entry_points_check_the_type() {
    let err = Activity::from_slice(br#"{"type":"Note"}"#).unwrap_err();
    assert!(
        matches!(&err, VocabError::UnexpectedType { expected: "an activity", found } if found == "Note"),
        "{err:?}"
    );
    assert_eq!(
        Activity::from_slice(br#"{"type":"Follow","actor":"https://a.example/u"}"#)
            .unwrap()
            .actor_id()
            .unwrap(),
        "https://a.example/u"
    );
}

#[test]
fn limits_above_the_parser_cap_are_capped() {
    let limits = ParseLimits::default().with_max_depth(1000);
    let err = AnyObject::from_slice_with(&nested_arrays(200), &limits).unwrap_err();
    assert!(matches!(err, VocabError::TooDeep { limit: 127 }), "{err:?}");
}
