//! RFC 9530 digest examples and the legacy `Digest` header (RFC 3230).

use archipel::signatures::*;

/// RFC 9530 §2 / Appendix B: `{"hello": "world"}`.
const BODY: &[u8] = br#"{"hello": "world"}"#;
const SHA256: &str = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
const SHA512: &str =
    "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==";

#[test]
fn body_digest_renders_both_headers() {
    let d = BodyDigest::sha256(BODY);
    assert_eq!(d.digest_header(), format!("SHA-256={SHA256}"));
    assert_eq!(d.content_digest_header(), format!("sha-256=:{SHA256}:"));
}

#[test]
fn content_digest_sha256_and_sha512_members_parse() {
    let v = format!("sha-256=:{SHA256}:, sha-512=:{SHA512}:");
    let entries = parse_content_digest(&v).unwrap();
    assert_eq!(
        entries.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512]
    );
    assert_eq!(entries[1].1.len(), 64);
}

#[test]
fn unknown_algorithms_are_skipped_and_reported() {
    let v = format!("unixsum=:AAAA:, sha-512=:{SHA512}:");
    assert_eq!(parse_content_digest(&v).unwrap().len(), 1);
    assert_eq!(
        parse_content_digest("md5=:AAAA:"),
        Err(SignatureError::UnsupportedDigest {
            header: "Content-Digest",
            got: "md5".into()
        })
    );
}

#[test]
fn legacy_digest_header_parses_case_insensitively() {
    let e = parse_digest_header(&format!("sha-256={SHA256}")).unwrap();
    assert_eq!(e[0].0, DigestAlgorithm::Sha256);
    assert_eq!(e[0].1, BodyDigest::sha256(BODY).bytes());
}

#[test]
fn malformed_content_digest_reports_position() {
    assert_eq!(
        parse_content_digest("sha-256=AAAA"),
        Err(SignatureError::MalformedHeader {
            header: "Content-Digest",
            position: 8,
            reason: "expected `:` opening a byte sequence"
        })
    );
}
