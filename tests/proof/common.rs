//! Helpers: the shared fixtures directory, base58 and Multikey secret keys.

use std::path::PathBuf;

use archipel::signatures::PrivateKey;

/// `../shared/fixtures/<sub>` beside the checkout, if present; otherwise a
/// skip notice (a failure under `ARCHIPEL_REQUIRE_PEERS=1`) and `None`.
pub fn shared(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        crate::support::skip_or_fail(
            &format!("shared fixtures {sub}"),
            "no ../shared/fixtures beside the checkout",
        );
        None
    }
}

/// Decodes base58btc (Bitcoin alphabet).
pub fn base58(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut out: Vec<u8> = Vec::new();
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c).expect("base58 digit") as u32;
        for b in out.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut v = vec![0; zeros];
    v.extend(out);
    v
}

/// An Ed25519 private key from a Multikey secret (`z` + base58btc of
/// `0x80 0x26` + the 32-byte seed), through PKCS#8.
pub fn secret_multikey(mb: &str) -> PrivateKey {
    let bytes = base58(mb.strip_prefix('z').expect("multibase z"));
    assert_eq!(&bytes[..2], &[0x80, 0x26], "ed25519-priv multicodec");
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&bytes[2..]);
    PrivateKey::from_pkcs8_der(&der).expect("ed25519 PKCS#8")
}
