//! [`PrivateKey`] and [`PublicKey`]: RSA or Ed25519, whichever backend.
//!
//! Keys are parsed once (PEM → backend key) and then shared cheaply: both
//! types are an `Arc` inside, `Clone + Send + Sync`.

pub(crate) mod pem;
#[cfg(feature = "aws-lc-rs")]
#[path = "keys/rsa_awslc.rs"]
mod rsa_backend;
#[cfg(not(feature = "aws-lc-rs"))]
use rsa_rustcrypto as rsa_backend;
#[cfg_attr(feature = "aws-lc-rs", allow(dead_code))]
mod rsa_rustcrypto;

use std::sync::Arc;

use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
use rsa::pkcs8::EncodePublicKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _};

use super::{Algorithm, SignatureError};

/// Multicodec prefix (varint) of an Ed25519 public key, FEP-521a.
const MULTICODEC_ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Multicodec prefix (varint of 0x1205) of an RSA public key (PKCS#1 DER).
const MULTICODEC_RSA_PUB: [u8; 2] = [0x85, 0x24];

/// `id-RSASSA-PSS` (RFC 4055): a key meant for PSS only.
const ID_RSASSA_PSS: rsa::pkcs8::ObjectIdentifier =
    rsa::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

fn spki_is_pss(der: &[u8]) -> bool {
    rsa::pkcs8::SubjectPublicKeyInfoRef::try_from(der)
        .is_ok_and(|s| s.algorithm.oid == ID_RSASSA_PSS)
}

fn pkcs8_is_pss(der: &[u8]) -> bool {
    rsa::pkcs8::PrivateKeyInfoRef::try_from(der).is_ok_and(|p| p.algorithm.oid == ID_RSASSA_PSS)
}

fn invalid(e: impl std::fmt::Display) -> SignatureError {
    SignatureError::InvalidKey(e.to_string())
}

/// A private signing key: RSA (PKCS#1 v1.5 or PSS) or Ed25519.
///
/// Parse it once at start-up with [`PrivateKey::from_pem`] (PKCS#8
/// `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`), or create one
/// for a new actor with [`PrivateKey::generate_rsa_2048`]. Cloning is a
/// reference-count bump.
///
/// ```
/// use archipel::signatures::PrivateKey;
/// let key = PrivateKey::from_pem(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-pkcs8.pem"))).unwrap();
/// let pem = key.public_key().to_spki_pem();
/// assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
/// ```
#[derive(Clone)]
pub struct PrivateKey(Arc<PrivateInner>);

// Lives behind one `Arc`: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum PrivateInner {
    Rsa {
        key: rsa::PrivateKey,
        signer: rsa_backend::RsaSigner,
        public: PublicKey,
    },
    #[cfg(feature = "ed25519")]
    Ed25519 {
        key: ed25519_dalek::SigningKey,
        public: PublicKey,
    },
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    fn from_rsa(key: rsa::PrivateKey) -> Result<Self, SignatureError> {
        Self::from_rsa_with(key, false)
    }

    fn from_rsa_with(key: rsa::PrivateKey, pss: bool) -> Result<Self, SignatureError> {
        let signer = rsa_backend::RsaSigner::new(&key)?;
        let public = PublicKey::from_rsa_with(key.to_public_key(), pss)?;
        Ok(PrivateKey(Arc::new(PrivateInner::Rsa {
            key,
            signer,
            public,
        })))
    }

    #[cfg(feature = "ed25519")]
    fn from_ed25519(key: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey(Arc::new(PublicInner::Ed25519(key.verifying_key())));
        PrivateKey(Arc::new(PrivateInner::Ed25519 { key, public }))
    }

    /// Generates a 2048-bit RSA key, the size Mastodon creates for actors.
    ///
    /// Takes tens to hundreds of milliseconds; call it once per actor and
    /// store [`to_pkcs8_pem`](Self::to_pkcs8_pem).
    pub fn generate_rsa_2048() -> Result<Self, SignatureError> {
        Self::generate_rsa(2048)
    }

    /// Generates an RSA key of `bits` bits (at least 1024) with exponent 65537.
    pub fn generate_rsa(bits: usize) -> Result<Self, SignatureError> {
        Self::from_rsa(rsa_backend::generate(bits)?)
    }

    /// Generates an Ed25519 key from the operating system's random source.
    #[cfg(feature = "ed25519")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
    pub fn generate_ed25519() -> Result<Self, SignatureError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SignatureError::Crypto(e.to_string()))?;
        Ok(Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(
            &seed,
        )))
    }

    /// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, RSA,
    /// RSA-PSS or Ed25519) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        let (label, der) = pem::decode(pem)?;
        match label {
            "RSA PRIVATE KEY" => {
                Self::from_rsa(rsa::PrivateKey::from_pkcs1_der(&der).map_err(invalid)?)
            }
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            other => Err(invalid(format!(
                "unexpected PEM label `{other}` for a private key"
            ))),
        }
    }

    /// Reads a PEM RSA private key whose two primes differ in size (such as
    /// RFC 9421's `test-key-rsa`), which [`from_pem`](Self::from_pem)
    /// rejects with the default `rsa` backend.
    ///
    /// The `rsa` crate asks that this choice be explicit configuration,
    /// not a retry after a failed import, so that loading never reveals
    /// the factors' shape; such keys sign more slowly with that backend.
    pub fn from_pem_unbalanced(pem: &str) -> Result<Self, SignatureError> {
        use rsa::pkcs1::der::Decode as _;
        let (label, der) = pem::decode(pem)?;
        let pkcs1_der: Vec<u8> = match label {
            "RSA PRIVATE KEY" => der,
            "PRIVATE KEY" => rsa::pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
                .map_err(invalid)?
                .private_key
                .as_bytes()
                .to_vec(),
            other => {
                return Err(invalid(format!(
                    "unexpected PEM label `{other}` for a private key"
                )));
            }
        };
        let k = rsa::pkcs1::RsaPrivateKeyRef::from_der(&pkcs1_der).map_err(invalid)?;
        let n_bytes = k.modulus.as_bytes();
        let bits = u32::try_from(n_bytes.len().saturating_mul(8)).map_err(invalid)?;
        let uint = |b: &[u8]| rsa::BoxedUint::from_be_slice(b, bits).map_err(invalid);
        let e_bytes = k.public_exponent.as_bytes();
        let e_bits = u32::try_from(e_bytes.len().saturating_mul(8)).map_err(invalid)?;
        let e = rsa::BoxedUint::from_be_slice(e_bytes, e_bits).map_err(invalid)?;
        let key = rsa::PrivateKey::from_components_with_wide_primes(
            uint(n_bytes)?,
            e,
            uint(k.private_exponent.as_bytes())?,
            vec![uint(k.prime1.as_bytes())?, uint(k.prime2.as_bytes())?],
        )
        .map_err(invalid)?;
        Self::from_rsa(key)
    }

    /// Reads a PKCS#8 DER private key (RSA, RSA-PSS or Ed25519).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignatureError> {
        match rsa::PrivateKey::from_pkcs8_der(der) {
            Ok(k) => Self::from_rsa_with(k, pkcs8_is_pss(der)),
            Err(rsa_err) => {
                #[cfg(feature = "ed25519")]
                {
                    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
                    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
                        return Ok(Self::from_ed25519(k));
                    }
                }
                Err(invalid(rsa_err))
            }
        }
    }

    /// Encodes the key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), for storage.
    pub fn to_pkcs8_pem(&self) -> Result<String, SignatureError> {
        let der = match &*self.0 {
            PrivateInner::Rsa { key, .. } => key.to_pkcs8_der().map_err(invalid)?,
            #[cfg(feature = "ed25519")]
            PrivateInner::Ed25519 { key, .. } => {
                use ed25519_dalek::pkcs8::EncodePrivateKey as _;
                key.to_pkcs8_der().map_err(invalid)?
            }
        };
        Ok(pem::encode("PRIVATE KEY", der.as_bytes()))
    }

    /// The matching public key (computed once, at parse time).
    pub fn public_key(&self) -> PublicKey {
        match &*self.0 {
            PrivateInner::Rsa { public, .. } => public.clone(),
            #[cfg(feature = "ed25519")]
            PrivateInner::Ed25519 { public, .. } => public.clone(),
        }
    }

    /// `"rsa"` or `"ed25519"`.
    pub fn kind(&self) -> &'static str {
        match &*self.0 {
            PrivateInner::Rsa { .. } => "rsa",
            #[cfg(feature = "ed25519")]
            PrivateInner::Ed25519 { .. } => "ed25519",
        }
    }

    /// The algorithm this key signs with by default: PKCS#1 v1.5 SHA-256
    /// for RSA (what every Fediverse server verifies), Ed25519 for Ed25519.
    pub fn default_algorithm(&self) -> Algorithm {
        match &*self.0 {
            PrivateInner::Rsa { public, .. } => public.default_algorithm(),
            #[cfg(feature = "ed25519")]
            PrivateInner::Ed25519 { .. } => Algorithm::Ed25519,
        }
    }

    /// Signs `msg` (a signing string or signature base) with `alg`.
    ///
    /// Fails with [`SignatureError::UnsupportedAlgorithm`] when `alg` does
    /// not fit the key type.
    pub fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match (&*self.0, alg) {
            (PrivateInner::Rsa { signer, .. }, Algorithm::RsaV1_5Sha256) => {
                signer.sign_pkcs1v15_sha256(msg)
            }
            (PrivateInner::Rsa { signer, .. }, Algorithm::RsaPssSha512) => {
                signer.sign_pss_sha512(msg)
            }
            #[cfg(feature = "ed25519")]
            (PrivateInner::Ed25519 { key, .. }, Algorithm::Ed25519) => {
                use ed25519_dalek::Signer as _;
                Ok(key.sign(msg).to_bytes().to_vec())
            }
            (_, alg) => Err(SignatureError::UnsupportedAlgorithm(format!(
                "{alg} with a {} key",
                self.kind()
            ))),
        }
    }
}

/// A public verification key: RSA or Ed25519.
///
/// What an actor's `publicKey.publicKeyPem` (SPKI `BEGIN PUBLIC KEY`, or
/// PKCS#1 `BEGIN RSA PUBLIC KEY` from some servers) or FEP-521a
/// `publicKeyMultibase` decodes to. Parsed once; cloning is cheap.
///
/// ```
/// use archipel::signatures::PublicKey;
/// let pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/keys/rsa-2048-spki.pem"));
/// let key = PublicKey::from_pem(pem).unwrap();
/// assert_eq!(PublicKey::from_pem(&key.to_spki_pem()).unwrap(), key);
/// ```
#[derive(Clone)]
pub struct PublicKey(Arc<PublicInner>);

enum PublicInner {
    Rsa {
        key: rsa::PublicKey,
        verifier: rsa_backend::RsaVerifier,
        /// An `id-RSASSA-PSS` key: RFC 9421 verifies it with `rsa-pss-sha512`.
        pss: bool,
    },
    #[cfg(feature = "ed25519")]
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        match (&*self.0, &*other.0) {
            (PublicInner::Rsa { key: a, .. }, PublicInner::Rsa { key: b, .. }) => a == b,
            #[cfg(feature = "ed25519")]
            (PublicInner::Ed25519(a), PublicInner::Ed25519(b)) => a == b,
            #[cfg(feature = "ed25519")]
            _ => false,
        }
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    fn from_rsa(key: rsa::PublicKey) -> Result<Self, SignatureError> {
        Self::from_rsa_with(key, false)
    }

    fn from_rsa_with(key: rsa::PublicKey, pss: bool) -> Result<Self, SignatureError> {
        let verifier = rsa_backend::RsaVerifier::new(&key)?;
        Ok(PublicKey(Arc::new(PublicInner::Rsa { key, verifier, pss })))
    }

    /// Reads a PEM public key: SPKI (`BEGIN PUBLIC KEY`, RSA, RSA-PSS or
    /// Ed25519) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, SignatureError> {
        let (label, der) = pem::decode(pem)?;
        match label {
            "RSA PUBLIC KEY" => {
                Self::from_rsa(rsa::PublicKey::from_pkcs1_der(&der).map_err(invalid)?)
            }
            "PUBLIC KEY" => Self::from_spki_der(&der),
            other => Err(invalid(format!(
                "unexpected PEM label `{other}` for a public key"
            ))),
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (RSA, RSA-PSS or Ed25519).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, SignatureError> {
        match rsa::PublicKey::from_public_key_der(der) {
            Ok(k) => Self::from_rsa_with(k, spki_is_pss(der)),
            Err(rsa_err) => {
                #[cfg(feature = "ed25519")]
                {
                    use ed25519_dalek::pkcs8::DecodePublicKey as _;
                    if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
                        return Ok(PublicKey(Arc::new(PublicInner::Ed25519(k))));
                    }
                }
                Err(invalid(rsa_err))
            }
        }
    }

    /// Reads a FEP-521a / Multikey `publicKeyMultibase` value: `z` +
    /// base58btc of the multicodec-prefixed key (`0xed01` Ed25519, or
    /// `0x1205` RSA with a PKCS#1 DER body).
    pub fn from_multibase(value: &str) -> Result<Self, SignatureError> {
        if value.len() > 2048 {
            return Err(invalid("publicKeyMultibase longer than 2048 characters"));
        }
        let b58 = value
            .strip_prefix('z')
            .ok_or_else(|| invalid("publicKeyMultibase must be base58btc (`z` prefix)"))?;
        let bytes = pem::base58_decode(b58)?;
        if let Some(rest) = bytes.strip_prefix(&MULTICODEC_RSA_PUB) {
            return Self::from_rsa(rsa::PublicKey::from_pkcs1_der(rest).map_err(invalid)?);
        }
        if let Some(rest) = bytes.strip_prefix(&MULTICODEC_ED25519_PUB) {
            #[cfg(feature = "ed25519")]
            {
                let arr: [u8; 32] = rest
                    .try_into()
                    .map_err(|_| invalid("Ed25519 multikey must be 32 bytes"))?;
                let k = ed25519_dalek::VerifyingKey::from_bytes(&arr).map_err(invalid)?;
                return Ok(PublicKey(Arc::new(PublicInner::Ed25519(k))));
            }
            #[cfg(not(feature = "ed25519"))]
            {
                let _ = rest;
                return Err(invalid("Ed25519 keys need the `ed25519` feature"));
            }
        }
        Err(invalid("unknown multicodec key type"))
    }

    /// The same key with a different [`default_algorithm`](Self::default_algorithm):
    /// for a key resolver that knows, say, that an RSA key is meant for
    /// `rsa-pss-sha512` although its SPKI says `rsaEncryption`.
    ///
    /// [`SignatureError::UnsupportedAlgorithm`] if `alg` does not fit the key.
    pub fn with_default_algorithm(&self, alg: Algorithm) -> Result<Self, SignatureError> {
        match (&*self.0, alg) {
            (PublicInner::Rsa { key, .. }, Algorithm::RsaV1_5Sha256) => {
                Self::from_rsa_with(key.clone(), false)
            }
            (PublicInner::Rsa { key, .. }, Algorithm::RsaPssSha512) => {
                Self::from_rsa_with(key.clone(), true)
            }
            #[cfg(feature = "ed25519")]
            (PublicInner::Ed25519(_), Algorithm::Ed25519) => Ok(self.clone()),
            (_, alg) => Err(SignatureError::UnsupportedAlgorithm(format!(
                "{alg} with a {} key",
                self.kind()
            ))),
        }
    }

    /// Encodes the key as FEP-521a `publicKeyMultibase`.
    pub fn to_multibase(&self) -> Result<String, SignatureError> {
        let mut bytes = Vec::new();
        match &*self.0 {
            PublicInner::Rsa { key, .. } => {
                use rsa::pkcs1::EncodeRsaPublicKey as _;
                bytes.extend_from_slice(&MULTICODEC_RSA_PUB);
                bytes.extend_from_slice(key.to_pkcs1_der().map_err(invalid)?.as_bytes());
            }
            #[cfg(feature = "ed25519")]
            PublicInner::Ed25519(k) => {
                bytes.extend_from_slice(&MULTICODEC_ED25519_PUB);
                bytes.extend_from_slice(k.as_bytes());
            }
        }
        Ok(format!("z{}", pem::base58_encode(&bytes)))
    }

    /// Encodes the key as SPKI PEM (`BEGIN PUBLIC KEY`): what an actor's
    /// `publicKeyPem` carries.
    pub fn to_spki_pem(&self) -> String {
        let der = match &*self.0 {
            PublicInner::Rsa { key, .. } => key.to_public_key_der().map(|d| d.into_vec()),
            #[cfg(feature = "ed25519")]
            PublicInner::Ed25519(k) => {
                use ed25519_dalek::pkcs8::EncodePublicKey as _;
                k.to_public_key_der().map(|d| d.into_vec())
            }
        };
        // Encoding a key we hold cannot fail short of allocation failure.
        pem::encode("PUBLIC KEY", &der.unwrap_or_default())
    }

    /// `"rsa"` or `"ed25519"`.
    pub fn kind(&self) -> &'static str {
        match &*self.0 {
            PublicInner::Rsa { .. } => "rsa",
            #[cfg(feature = "ed25519")]
            PublicInner::Ed25519(_) => "ed25519",
        }
    }

    /// The algorithm this key verifies when the signature does not say:
    /// what draft-cavage `hs2019` means with it, and the RFC 9421 default
    /// (`rsa-pss-sha512` for an `id-RSASSA-PSS` key, else PKCS#1 v1.5
    /// SHA-256 for RSA; Ed25519 for Ed25519).
    pub fn default_algorithm(&self) -> Algorithm {
        match &*self.0 {
            PublicInner::Rsa { pss: true, .. } => Algorithm::RsaPssSha512,
            PublicInner::Rsa { .. } => Algorithm::RsaV1_5Sha256,
            #[cfg(feature = "ed25519")]
            PublicInner::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// Verifies `sig` over `msg` with `alg`.
    ///
    /// [`SignatureError::UnsupportedAlgorithm`] when `alg` does not fit the
    /// key type; `Ok(false)` when the signature is wrong.
    pub fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<bool, SignatureError> {
        match (&*self.0, alg) {
            (PublicInner::Rsa { verifier, .. }, Algorithm::RsaV1_5Sha256) => {
                Ok(verifier.verify_pkcs1v15_sha256(msg, sig))
            }
            (PublicInner::Rsa { verifier, .. }, Algorithm::RsaPssSha512) => {
                Ok(verifier.verify_pss_sha512(msg, sig))
            }
            #[cfg(feature = "ed25519")]
            (PublicInner::Ed25519(k), Algorithm::Ed25519) => {
                let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
                    return Ok(false);
                };
                Ok(k.verify_strict(msg, &sig).is_ok())
            }
            (_, alg) => Err(SignatureError::UnsupportedAlgorithm(format!(
                "{alg} with a {} key",
                self.kind()
            ))),
        }
    }
}
