//! The vault port that keeps private keys sealed at rest, and the making of a new sealed key.

use std::future::Future;

use super::error::{KeyError, VaultError};
use super::key_set::{SealedPrivateKey, SigningKeyRecord};
use super::rsa::{PrivateKeyDer, SigningKey};
use crate::domain::clock::UnixSeconds;

/// Seals private keys for storage and unseals them for signing (KMS in production, a key
/// held in process memory for local runs).
pub trait KeyVault: Send + Sync + 'static {
    fn seal(
        &self,
        kid: &str,
        private_key: &PrivateKeyDer,
    ) -> impl Future<Output = Result<SealedPrivateKey, VaultError>> + Send;

    fn unseal(
        &self,
        kid: &str,
        sealed: &SealedPrivateKey,
    ) -> impl Future<Output = Result<PrivateKeyDer, VaultError>> + Send;
}

/// A new key for the set: generated here, its private half sealed by `vault` before it goes
/// anywhere. It signs from `signs_from`.
pub async fn new_signing_key<V: KeyVault>(
    vault: &V,
    now: UnixSeconds,
    signs_from: UnixSeconds,
) -> Result<SigningKeyRecord, KeyError> {
    // RSA key generation takes tens of milliseconds of CPU.
    let key = tokio::task::spawn_blocking(SigningKey::generate)
        .await
        .map_err(|_| KeyError::Generation)??;
    let sealed_private = vault.seal(key.kid(), &key.private_der()?).await?;
    Ok(SigningKeyRecord {
        kid: key.kid().to_owned(),
        public: key.public_jwk(),
        sealed_private,
        created_at: now,
        signs_from,
    })
}
