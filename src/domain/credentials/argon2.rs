//! Argon2: the settings new hashes are made with, hashing secrets into PHC strings, and
//! verifying presented secrets against stored PHC strings.

use std::cell::RefCell;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use super::CredentialError;
use crate::domain::secret::Secret;

/// Argon2id cost parameters for newly hashed secrets (verification reads them from each hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's recommendation, which is also the argon2 crate's default: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

/// The Argon2id hasher for `settings`, refusing parameters Argon2 does not allow.
pub(super) fn current_argon2(settings: Argon2Settings) -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(CredentialError::InvalidParameters)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

thread_local! {
    /// Argon2's working memory (19 MiB at the default cost), kept per blocking thread. The
    /// crate's `verify_password` allocates it afresh on every call, and the page faults of
    /// touching 19 MiB of new memory cost a quarter of the verification again.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn hash_argon2(argon2: &Argon2<'_>, secret: &Secret) -> Result<String, CredentialError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(CredentialError::Randomness)?;
    let salt = SaltString::encode_b64(&salt).map_err(CredentialError::Hashing)?;
    argon2
        .hash_password(secret.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(CredentialError::Hashing)
}

/// Verifies `presented` against a PHC string, with the parameters the string records, so
/// secrets hashed under older settings still verify. The comparison is constant-time.
pub(super) fn verify_phc(stored_hash: &str, presented: &Secret) -> Result<bool, CredentialError> {
    let malformed = |error: argon2::Error| CredentialError::MalformedStoredHash(error.into());
    let parsed = PasswordHash::new(stored_hash).map_err(CredentialError::MalformedStoredHash)?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(CredentialError::MalformedStoredHash)?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).map_err(malformed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(CredentialError::MalformedStoredHash)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(CredentialError::MalformedStoredHash(
            argon2::password_hash::Error::PhcStringField,
        ));
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(CredentialError::MalformedStoredHash)?;
    let mut computed = vec![0u8; expected.len()];
    let block_count = params.block_count();
    ARGON2_MEMORY
        .with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < block_count {
                memory.resize(block_count, Block::default());
            }
            Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                presented.expose().as_bytes(),
                salt,
                &mut computed,
                &mut memory[..block_count],
            )
        })
        .map_err(malformed)?;
    Ok(bool::from(computed.as_slice().ct_eq(expected.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::super::CredentialVerifier;
    use super::super::fixtures::{user, verifier};
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() -> Result<(), CredentialError> {
        let verifier = verifier();
        let hash = verifier.hash(&Secret::new("pw"))?;
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        let user = user(&hash);
        assert!(
            verifier
                .verify_password(Some(&user), &"pw".into())
                .await?
                .matched()
        );
        assert!(
            !verifier
                .verify_password(Some(&user), &"PW".into())
                .await?
                .matched()
        );
        Ok(())
    }

    #[tokio::test]
    async fn hashes_made_under_other_settings_still_verify() -> Result<(), CredentialError> {
        let user = user(&verifier().hash(&Secret::new("pw"))?);
        let current = CredentialVerifier::new(Argon2Settings::default())?;
        assert!(
            current
                .verify_password(Some(&user), &"pw".into())
                .await?
                .matched()
        );
        assert!(
            !current
                .verify_password(Some(&user), &"pw ".into())
                .await?
                .matched()
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let outcome = verifier()
            .verify_password(Some(&user("plaintext")), &"plaintext".into())
            .await;
        assert!(matches!(
            outcome,
            Err(CredentialError::MalformedStoredHash(_))
        ));
    }
}
