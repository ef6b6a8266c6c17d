//! RSA through the pure-Rust `rsa` crate (the default backend).

use rsa::sha2::{Sha256, Sha512};

use crate::signatures::SignatureError;

/// An RSA private key ready to sign.
pub(crate) struct RsaSigner {
    key: rsa::PrivateKey,
}

impl RsaSigner {
    pub(crate) fn new(key: &rsa::PrivateKey) -> Result<Self, SignatureError> {
        Ok(RsaSigner { key: key.clone() })
    }

    pub(crate) fn sign_pkcs1v15_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        self.key
            .pkcs1v15_sign::<Sha256>(msg)
            .map_err(|e| SignatureError::Crypto(e.to_string()))
    }

    pub(crate) fn sign_pss_sha512(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        self.key
            .pss_sign::<Sha512>(msg)
            .map_err(|e| SignatureError::Crypto(e.to_string()))
    }
}

/// An RSA public key ready to verify.
pub(crate) struct RsaVerifier {
    key: rsa::PublicKey,
}

impl RsaVerifier {
    pub(crate) fn new(key: &rsa::PublicKey) -> Result<Self, SignatureError> {
        Ok(RsaVerifier { key: key.clone() })
    }

    pub(crate) fn verify_pkcs1v15_sha256(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key.pkcs1v15_verify::<Sha256>(msg, sig).is_ok()
    }

    pub(crate) fn verify_pss_sha512(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key.pss_verify::<Sha512>(msg, sig).is_ok()
    }
}

/// Generates an RSA key with the operating system's random source.
pub(crate) fn generate(bits: usize) -> Result<rsa::PrivateKey, SignatureError> {
    rsa::PrivateKey::new(&mut getrandom::SysRng, bits)
        .map_err(|e| SignatureError::Crypto(e.to_string()))
}
