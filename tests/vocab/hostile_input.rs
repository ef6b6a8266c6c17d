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

/// Fuzzing found a `@context` holding an out-of-range number accepted while
/// the same number elsewhere is rejected; both are rejected now.
#[test]
fn out_of_range_numbers_are_rejected_everywhere() {
    let err = AnyObject::from_slice(br#"{"@context": 2777E777}"#).unwrap_err();
    let VocabError::Json {
        line: 1, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(message, "@context: number out of range");
    let err = AnyObject::from_slice(br#"{"type": 2777E777}"#).unwrap_err();
    let VocabError::Json {
        line: 1,
        column: 17,
        message,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(message, "number out of range");
    // In-range numbers inside a context are fine and kept verbatim.
    let ok =
        AnyObject::from_slice(br#"{"@context": [{"@version": 1.1}], "type": "Note"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&ok).unwrap(),
        r#"{"@context":[{"@version": 1.1}],"type":"Note"}"#
    );
}

#[test]
fn lone_surrogates_are_rejected_everywhere() {
    let err = AnyObject::from_slice(br#"{"@context": "\ud800"}"#).unwrap_err();
    let VocabError::Json { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(message, "@context: unexpected end of hex escape");
    let err = AnyObject::from_slice(br#"{"type": "\udfff"}"#).unwrap_err();
    assert!(matches!(err, VocabError::Json { line: 1, .. }), "{err:?}");
    // Valid escapes in a context are kept as written.
    let ok = AnyObject::from_slice(br#"{"@context": "https:\/\/www.w3.org\/ns\/activitystreams"}"#)
        .unwrap();
    assert!(
        ok.as_object()
            .unwrap()
            .ld_context
            .as_ref()
            .unwrap()
            .includes("https://www.w3.org/ns/activitystreams")
    );
}

#[test]
fn from_value_bounds_nesting_depth_too() {
    let mut v = serde_json::json!("leaf");
    for _ in 0..200 {
        v = serde_json::json!({ "x": v });
    }
    let mut doc = serde_json::json!({"type": "Note", "id": "https://a.example/1"});
    doc["content"] = v;
    assert!(matches!(
        archipel::vocab::AnyObject::from_value(&doc),
        Err(archipel::vocab::VocabError::TooDeep { limit: 64 })
    ));
}
