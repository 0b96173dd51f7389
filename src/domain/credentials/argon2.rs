//! Argon2: the settings new hashes are made with, hashing secrets into PHC strings, and
//! verifying presented secrets against stored PHC strings, noting those made otherwise than new
//! ones are so that they get replaced.

use std::cell::RefCell;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use super::error::{CredentialError, Verification};
use crate::domain::crypto::fill_random;
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

/// The variant and version of every new hash.
const ALGORITHM: Algorithm = Algorithm::Argon2id;
const VERSION: Version = Version::V0x13;

/// The Argon2id hasher for `settings`, refusing parameters Argon2 does not allow.
pub(super) fn current_argon2(settings: Argon2Settings) -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(CredentialError::InvalidParameters)?;
    Ok(Argon2::new(ALGORITHM, VERSION, params))
}

/// Whether a hash made with `algorithm`, `version` and `params` is what hashing with `current`
/// makes now. The output length is not compared: it is not a setting.
fn is_current(algorithm: Algorithm, version: Version, params: &Params, current: &Params) -> bool {
    algorithm == ALGORITHM
        && version == VERSION
        && params.m_cost() == current.m_cost()
        && params.t_cost() == current.t_cost()
        && params.p_cost() == current.p_cost()
}

thread_local! {
    /// Argon2's working memory (19 MiB at the default cost), kept per blocking thread. The
    /// crate's `verify_password` allocates it afresh on every call, and the page faults of
    /// touching 19 MiB of new memory cost a quarter of the verification again.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn hash_argon2(argon2: &Argon2<'_>, secret: &Secret) -> Result<String, CredentialError> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(CredentialError::Hashing)?;
    argon2
        .hash_password(secret.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(CredentialError::Hashing)
}

/// What a secret that matched an outdated hash is answered with: its hash under the current
/// settings, to store in the old one's place. Made now, the only moment the secret is at hand.
pub(super) fn replacement_for(argon2: &Argon2<'_>, secret: &Secret) -> Verification {
    match hash_argon2(argon2, secret) {
        Ok(replacement) => Verification::MatchedOutdated { replacement },
        // The secret is right either way; the old hash stays and is replaced another time.
        Err(error) => {
            tracing::error!(error = %error, "could not hash the replacement of an outdated hash");
            Verification::Match
        }
    }
}

/// What checking a secret against a PHC string found. A replacement for an outdated hash is
/// made apart, after the verification is timed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct PhcVerification {
    pub(super) matched: bool,
    /// Made otherwise than new hashes are, so it cost what its own parameters cost: known
    /// whether or not it matched, so that a mismatch can be made to take as long as a current one.
    pub(super) outdated: bool,
}

/// Verifies `presented` against a PHC string, with the parameters the string records, so
/// secrets hashed under older settings still verify; those are reported outdated against
/// `current`. The comparison is constant-time.
pub(super) fn verify_phc(
    stored_hash: &str,
    presented: &Secret,
    current: &Params,
) -> Result<PhcVerification, CredentialError> {
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
    let outdated = !is_current(algorithm, version, &params, current);
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
    let matched = bool::from(computed.as_slice().ct_eq(expected.as_bytes()));
    Ok(PhcVerification { matched, outdated })
}

#[cfg(test)]
mod tests {
    use super::super::CredentialVerifier;
    use super::super::fixtures::{client_with_hash, user, verifier};
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

    /// Dearer than the fixtures' `verifier()` in every cost, and still cheap.
    const CURRENT: Argon2Settings = Argon2Settings {
        memory_kib: 256,
        iterations: 2,
        parallelism: 2,
    };

    /// What hashes made under [`CURRENT`] record.
    const MADE_CURRENT: (Algorithm, Option<Version>, u32, u32, u32) =
        (Algorithm::Argon2id, Some(Version::V0x13), 256, 2, 2);

    /// Algorithm, version and parameters of a PHC string, read with the crate's types.
    fn made_with(phc: &str) -> (Algorithm, Option<Version>, u32, u32, u32) {
        let parsed = PasswordHash::new(phc).unwrap_or_else(|error| panic!("{phc}: {error}"));
        let params = Params::try_from(&parsed).unwrap_or_else(|error| panic!("{phc}: {error}"));
        let algorithm =
            Algorithm::try_from(parsed.algorithm).unwrap_or_else(|error| panic!("{phc}: {error}"));
        let version = parsed
            .version
            .and_then(|version| Version::try_from(version).ok());
        (
            algorithm,
            version,
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
        )
    }

    #[tokio::test]
    async fn a_hash_under_cheaper_settings_matches_and_comes_with_a_current_replacement()
    -> Result<(), CredentialError> {
        let cheap = verifier().hash(&Secret::new("pw"))?;
        let current = CredentialVerifier::new(CURRENT)?;
        let Verification::MatchedOutdated { replacement } = current
            .verify_password(Some(&user(&cheap)), &"pw".into())
            .await?
        else {
            panic!("a hash under other settings that matches asks to be replaced");
        };
        assert_eq!(made_with(&replacement), MADE_CURRENT, "{replacement}");
        assert_eq!(
            current
                .verify_password(Some(&user(&replacement)), &"pw".into())
                .await?,
            Verification::Match
        );
        // Client secrets take the same path.
        assert!(matches!(
            current
                .verify_client_secret(&client_with_hash(&cheap), &["pw".into()])
                .await?,
            Verification::MatchedOutdated { .. }
        ));
        Ok(())
    }

    #[tokio::test]
    async fn only_the_right_password_against_an_outdated_hash_asks_for_a_replacement()
    -> Result<(), CredentialError> {
        let current = CredentialVerifier::new(CURRENT)?;
        let outdated = verifier().hash(&Secret::new("pw"))?;
        let up_to_date = current.hash(&Secret::new("pw"))?;
        for (stored, presented, expected) in [
            (&up_to_date, "pw", Verification::Match),
            (&up_to_date, "PW", Verification::Mismatch),
            (&outdated, "PW", Verification::Mismatch),
        ] {
            assert_eq!(
                current
                    .verify_password(Some(&user(stored)), &presented.into())
                    .await?,
                expected,
                "{stored} {presented}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn another_variant_or_version_under_the_current_costs_is_outdated()
    -> Result<(), CredentialError> {
        let current = CredentialVerifier::new(CURRENT)?;
        let params = Params::new(256, 2, 2, None).map_err(CredentialError::InvalidParameters)?;
        for (algorithm, version) in [
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2d, Version::V0x13),
            (Algorithm::Argon2id, Version::V0x10),
        ] {
            let other = hash_argon2(
                &Argon2::new(algorithm, version, params.clone()),
                &"pw".into(),
            )?;
            assert!(
                matches!(
                    current.verify_password(Some(&user(&other)), &"pw".into()).await?,
                    Verification::MatchedOutdated { replacement }
                        if made_with(&replacement) == MADE_CURRENT
                ),
                "{other}"
            );
        }
        Ok(())
    }
}
