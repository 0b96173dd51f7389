//! The adapters of the key vault port ([`crate::domain::signing::KeyVault`]), which keeps the
//! private halves of the JWT signing keys sealed wherever they are stored:
//! [`kms::KmsVault`] for the DynamoDB store (AWS KMS holds the sealing key), and
//! [`InProcessVault`] for the memory store (`make run`, tests), whose sealing key lives and
//! dies with the process, as the memory store's keys do.

pub mod kms;

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::domain::signing::{KeyVault, PrivateKeyDer, SealedPrivateKey, VaultError};

pub use kms::{KmsVault, ensure_kms_key};

/// Seals with AES-256-GCM under a random key generated when it is created and held only in
/// this process's memory. Each seal has a random nonce, stored before the ciphertext; the kid
/// is the additional authenticated data, so a sealed key moved to another kid does not open.
///
/// Cheap to clone; clones share the key, so what one seals the others unseal.
#[derive(Clone)]
pub struct InProcessVault {
    key: Arc<LessSafeKey>,
}

impl fmt::Debug for InProcessVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcessVault([redacted])")
    }
}

const TAG_LEN: usize = 16;

impl InProcessVault {
    /// A vault with a new random key; fails only if the system's random generator does.
    pub fn new() -> Result<Self, VaultError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut_slice()).map_err(|_| random_failed())?;
        let key = UnboundKey::new(&AES_256_GCM, bytes.as_slice())
            .map_err(|_| VaultError::Refused("AES-256-GCM refused a 256-bit key".into()))?;
        Ok(Self {
            key: Arc::new(LessSafeKey::new(key)),
        })
    }
}

fn random_failed() -> VaultError {
    VaultError::Unavailable("the system random number generator failed".into())
}

impl KeyVault for InProcessVault {
    async fn seal(
        &self,
        kid: &str,
        private_key: &PrivateKeyDer,
    ) -> Result<SealedPrivateKey, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| random_failed())?;
        let plaintext = private_key.expose();
        // Room for all of it up front: a reallocation would leave a copy of the plaintext
        // behind in freed memory.
        let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| VaultError::Refused("AES-256-GCM sealing failed".into()))?;
        sealed.extend_from_slice(tag.as_ref());
        Ok(SealedPrivateKey(sealed))
    }

    async fn unseal(
        &self,
        kid: &str,
        sealed: &SealedPrivateKey,
    ) -> Result<PrivateKeyDer, VaultError> {
        let refused = || {
            VaultError::Refused(format!(
                "the sealed key of {kid} does not open with this process's key"
            ))
        };
        let (nonce, ciphertext) = sealed
            .0
            .split_at_checked(NONCE_LEN)
            .filter(|(_, ciphertext)| ciphertext.len() >= TAG_LEN)
            .ok_or_else(refused)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), buffer.as_mut_slice())
            .map_err(|_| refused())?
            .len();
        buffer.truncate(plaintext_len);
        Ok(PrivateKeyDer::new(std::mem::take(&mut *buffer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::signing::SigningKey;

    fn vault() -> InProcessVault {
        InProcessVault::new().unwrap_or_else(|error| panic!("{error}"))
    }

    fn private_key() -> (String, PrivateKeyDer) {
        let key = SigningKey::generate().unwrap_or_else(|error| panic!("{error}"));
        let der = key.private_der().unwrap_or_else(|error| panic!("{error}"));
        (key.kid().to_owned(), der)
    }

    #[tokio::test]
    async fn seals_and_unseals_a_key_under_its_kid_only() {
        let vault = vault();
        let (kid, der) = private_key();
        let sealed = vault
            .seal(&kid, &der)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(sealed.0.len(), NONCE_LEN + der.expose().len() + TAG_LEN);
        assert!(
            !sealed
                .0
                .windows(32)
                .any(|window| der.expose().windows(32).any(|part| part == window)),
            "the sealed key shows part of the private key"
        );
        // A clone unseals; the key reads back as the one the kid names.
        let unsealed = vault
            .clone()
            .unseal(&kid, &sealed)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(unsealed.expose(), der.expose());
        assert!(SigningKey::from_private_der(&kid, &unsealed).is_ok());

        let (other_kid, _) = private_key();
        assert!(matches!(
            vault.unseal(&other_kid, &sealed).await,
            Err(VaultError::Refused(_))
        ));
    }

    #[tokio::test]
    async fn refuses_what_another_vault_sealed_or_anything_altered() {
        let vault = vault();
        let (kid, der) = private_key();
        let sealed = vault
            .seal(&kid, &der)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        // Another process's vault (a restart) has another key.
        assert!(matches!(
            self::vault().unseal(&kid, &sealed).await,
            Err(VaultError::Refused(_))
        ));
        let mut altered = sealed.clone();
        if let Some(byte) = altered.0.last_mut() {
            *byte ^= 1;
        }
        let truncated = SealedPrivateKey(sealed.0[..NONCE_LEN + TAG_LEN - 1].to_vec());
        for bad in [altered, truncated, SealedPrivateKey(Vec::new())] {
            assert!(matches!(
                vault.unseal(&kid, &bad).await,
                Err(VaultError::Refused(_))
            ));
        }
        // Sealing twice gives two ciphertexts: the nonce is fresh each time.
        let again = vault
            .seal(&kid, &der)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_ne!(again, sealed);
    }
}
