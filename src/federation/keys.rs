//! Local actors' private keys, and where they are kept ([`KeyStore`]).

use crate::signatures::PrivateKey;

/// The private keys of one local actor: the RSA key every server
/// understands (`publicKey`, `#main-key`), and optionally an Ed25519 key
/// published as an FEP-521a `Multikey` in `assertionMethod` (`#ed25519-key`).
#[derive(Clone)]
pub struct ActorKeys {
    /// The RSA key (PKCS#1 v1.5 SHA-256), published as `publicKey`.
    pub rsa: PrivateKey,
    /// The Ed25519 key, published in `assertionMethod`, if any.
    pub ed25519: Option<PrivateKey>,
}

impl std::fmt::Debug for ActorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("ActorKeys")
            .field("rsa", &self.rsa.kind())
            .field("ed25519", &self.ed25519.as_ref().map(|k| k.kind()))
            .finish()
    }
}
