//! Why a signing key could not be had or used.

use super::key_set::KeyId;
use crate::domain::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The vault (KMS) did not answer or throttled; retrying later may succeed.
    #[error("the key vault is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The vault refused: no permission, a disabled or missing key, or a sealed key that is
    /// not its own. Retrying will not help.
    #[error("the key vault refused: {0}")]
    Refused(String),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key set has no key that signs now: no key was ever created.
    #[error("no signing key: create one with `oauth-admin rotate-signing-key`")]
    NoSigningKey,
    /// JWTs cannot be signed here: this instance has no vault to unseal keys with.
    #[error("this instance cannot sign: no key vault is configured")]
    NoVault,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A stored or unsealed key could not be used.
    #[error("unusable signing key {kid}: {reason}")]
    Unusable { kid: KeyId, reason: String },
    /// The operating system's random number generator failed.
    #[error("could not generate a key")]
    Generation,
}
