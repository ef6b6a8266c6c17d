//! RSA through `aws-lc-rs` (feature `aws-lc-rs`): several times faster
//! signing than the pure-Rust backend.

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{self, ParsedPublicKey, RsaKeyPair},
};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, EncodePublicKey as _};

use crate::signatures::SignatureError;

/// An RSA private key ready to sign: aws-lc for 2048 bits and up, the
/// pure-Rust backend for the smaller legacy keys aws-lc refuses (e.g. the
/// 1024-bit draft-cavage test key).
pub(crate) enum RsaSigner {
    Aws { pair: RsaKeyPair, rng: SystemRandom },
    Legacy(Box<super::rsa_rustcrypto::RsaSigner>),
}

fn crypto(e: impl std::fmt::Display) -> SignatureError {
    SignatureError::Crypto(e.to_string())
}

impl RsaSigner {
    pub(crate) fn new(key: &rsa::PrivateKey) -> Result<Self, SignatureError> {
        let der = key.to_pkcs8_der().map_err(crypto)?;
        match RsaKeyPair::from_pkcs8(der.as_bytes()) {
            Ok(pair) => Ok(RsaSigner::Aws {
                pair,
                rng: SystemRandom::new(),
            }),
            Err(_) => Ok(RsaSigner::Legacy(Box::new(
                super::rsa_rustcrypto::RsaSigner::new(key)?,
            ))),
        }
    }

    fn sign(
        pair: &RsaKeyPair,
        rng: &SystemRandom,
        enc: &'static dyn signature::RsaEncoding,
        msg: &[u8],
    ) -> Result<Vec<u8>, SignatureError> {
        let mut out = vec![0u8; pair.public_modulus_len()];
        pair.sign(enc, rng, msg, &mut out).map_err(crypto)?;
        Ok(out)
    }

    pub(crate) fn sign_pkcs1v15_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match self {
            RsaSigner::Aws { pair, rng } => {
                Self::sign(pair, rng, &signature::RSA_PKCS1_SHA256, msg)
            }
            RsaSigner::Legacy(s) => s.sign_pkcs1v15_sha256(msg),
        }
    }

    pub(crate) fn sign_pss_sha512(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match self {
            RsaSigner::Aws { pair, rng } => Self::sign(pair, rng, &signature::RSA_PSS_SHA512, msg),
            RsaSigner::Legacy(s) => s.sign_pss_sha512(msg),
        }
    }
}

/// An RSA public key ready to verify, parsed once for both paddings.
pub(crate) struct RsaVerifier {
    pkcs1: ParsedPublicKey,
    pss: Option<ParsedPublicKey>,
    legacy: super::rsa_rustcrypto::RsaVerifier,
}

impl RsaVerifier {
    pub(crate) fn new(key: &rsa::PublicKey) -> Result<Self, SignatureError> {
        let der = key.to_public_key_der().map_err(crypto)?;
        let pkcs1 = ParsedPublicKey::new(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            der.as_bytes(),
        )
        .map_err(crypto)?;
        // PSS verification needs at least 2048 bits in aws-lc.
        let pss = ParsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA512, der.as_bytes()).ok();
        let legacy = super::rsa_rustcrypto::RsaVerifier::new(key)?;
        Ok(RsaVerifier { pkcs1, pss, legacy })
    }

    pub(crate) fn verify_pkcs1v15_sha256(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.pkcs1.verify_sig(msg, sig).is_ok()
    }

    pub(crate) fn verify_pss_sha512(&self, msg: &[u8], sig: &[u8]) -> bool {
        match &self.pss {
            Some(k) => k.verify_sig(msg, sig).is_ok(),
            None => self.legacy.verify_pss_sha512(msg, sig),
        }
    }
}

/// Generates an RSA key with aws-lc (much faster than the pure-Rust
/// generator) and hands it back as an `rsa` crate key for encoding.
pub(crate) fn generate(bits: usize) -> Result<rsa::PrivateKey, SignatureError> {
    use aws_lc_rs::encoding::AsDer as _;
    let size = match bits {
        2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
        3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
        4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
        8192 => aws_lc_rs::rsa::KeySize::Rsa8192,
        _ => {
            return rsa::PrivateKey::new(&mut getrandom::SysRng, bits).map_err(crypto);
        }
    };
    let pair = RsaKeyPair::generate(size).map_err(crypto)?;
    let der = pair.as_der().map_err(crypto)?;
    rsa::PrivateKey::from_pkcs8_der(der.as_ref()).map_err(crypto)
}
