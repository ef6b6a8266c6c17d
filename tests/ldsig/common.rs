//! What the `ldsig` tests share: one RSA key per test binary.

use std::sync::OnceLock;

use archipel::signatures::PrivateKey;

/// One RSA key per test binary (generating 2048-bit keys is slow in debug).
pub fn rsa_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa_2048().unwrap())
}
