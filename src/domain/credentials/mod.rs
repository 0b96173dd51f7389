//! Checking and hashing the secrets people and clients present: Argon2id, off the async executor.
//! Hashes imported from Django, and Argon2 hashes made under other settings than the current
//! ones, are checked too and replaced once they verify.
//!
//! [`CredentialVerifier`] is the entry point. Beside it, by concern: `argon2` (the settings new
//! hashes are made with, hashing, verifying PHC strings), `timing` (refusals that take as long as
//! a verification), `cache` (client secrets verified before) and [`django`] (Django's hashes).

mod argon2;
mod cache;
pub mod django;
mod timing;

use std::sync::Arc;
use std::time::{Duration, Instant};

// `::argon2` is the crate; `self::argon2` the module beside this one.
use ::argon2::Argon2;
use ::argon2::password_hash;

pub use self::argon2::Argon2Settings;
use self::argon2::{PhcVerification, current_argon2, hash_argon2, replacement_for, verify_phc};
use self::cache::ClientSecretCache;
use self::django::{DjangoHashError, verify_django};
use self::timing::{RecentDurations, dummy_hash};
use super::crypto::RandomnessUnavailable;
use super::model::{Client, User};
use super::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParameters(::argon2::Error),
    #[error("a stored hash is not a valid PHC string: {0}")]
    MalformedStoredHash(password_hash::Error),
    /// Refused before any work is done, so a corrupt hash costs nothing.
    #[error("a stored Django hash is malformed: {0}")]
    MalformedDjangoHash(#[from] DjangoHashError),
    #[error("hashing failed: {0}")]
    Hashing(password_hash::Error),
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    #[error("the hashing task did not finish: {0}")]
    TaskFailed(#[from] tokio::task::JoinError),
}

/// What checking a presented secret against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// It matched a hash made otherwise than new ones are: imported from Django, or Argon2
    /// under other settings (see `argon2::is_current`). Holds an Argon2id hash of the same
    /// secret, made with the current settings, to store in the old one's place.
    MatchedOutdated {
        replacement: String,
    },
}

impl Verification {
    pub fn matched(&self) -> bool {
        !matches!(self, Verification::Mismatch)
    }
}

/// Hashes new secrets and verifies presented ones.
///
/// Cheap to clone; clones share the client-secret cache.
#[derive(Clone)]
pub struct CredentialVerifier {
    argon2: Argon2<'static>,
    /// A well-formed hash no input matches, verified for unknown users so that an unknown
    /// username costs the same Argon2 time as a wrong password.
    dummy_hash: Arc<str>,
    client_secrets: Arc<ClientSecretCache>,
    /// How long recent verifications took here.
    recent_verifications: Arc<RecentDurations>,
}

impl CredentialVerifier {
    pub fn new(settings: Argon2Settings) -> Result<Self, CredentialError> {
        let argon2 = current_argon2(settings)?;
        Ok(Self {
            dummy_hash: dummy_hash(argon2.params())?.into(),
            argon2,
            client_secrets: Arc::default(),
            recent_verifications: Arc::default(),
        })
    }

    /// Hashes a secret into an Argon2id PHC string with a fresh random salt.
    pub fn hash(&self, secret: &Secret) -> Result<String, CredentialError> {
        hash_argon2(&self.argon2, secret)
    }

    /// Checks a user's password. `None` (no such user) is verified against the dummy hash and
    /// always fails, at the same cost.
    pub async fn verify_password(
        &self,
        user: Option<&User>,
        password: &Secret,
    ) -> Result<Verification, CredentialError> {
        match user {
            Some(user) => {
                self.verify_off_executor(&user.password_hash, password)
                    .await
            }
            None => {
                self.verify_off_executor(&self.dummy_hash, password).await?;
                Ok(Verification::Mismatch)
            }
        }
    }

    /// Checks a client secret, accepting any of `candidates` (the Basic header can be read in
    /// two ways, see `http::client_auth`).
    ///
    /// Client secrets are long random strings, so a successful Argon2 verification is
    /// remembered in-process: keyed by client and by the exact stored hash, holding the SHA-256
    /// of the accepted secret. Rotating the secret, or replacing an outdated hash, changes the
    /// stored hash and so misses the cache; failures are never cached.
    pub async fn verify_client_secret(
        &self,
        client: &Client,
        candidates: &[Secret],
    ) -> Result<Verification, CredentialError> {
        for candidate in candidates {
            if self.client_secrets.accepts(client, candidate) {
                return Ok(Verification::Match);
            }
        }
        for candidate in candidates {
            let verification = self
                .verify_off_executor(&client.secret_hash, candidate)
                .await?;
            if verification.matched() {
                self.client_secrets.remember(client, candidate);
                return Ok(verification);
            }
        }
        Ok(Verification::Mismatch)
    }

    /// Argon2 takes milliseconds of CPU, Django's PBKDF2 a tenth of a second; running them on a
    /// blocking thread keeps the async workers free for other requests.
    async fn verify_off_executor(
        &self,
        stored_hash: &str,
        presented: &Secret,
    ) -> Result<Verification, CredentialError> {
        let stored_hash = stored_hash.to_owned();
        let presented = presented.clone();
        if django::is_pbkdf2_sha256(&stored_hash) {
            let argon2 = self.argon2.clone();
            // Not timed: imitations stand in for the Argon2 verifications every user has once
            // their imported hash is replaced.
            return tokio::task::spawn_blocking(move || {
                verify_django(&argon2, &stored_hash, &presented)
            })
            .await?;
        }
        let current = self.argon2.params().clone();
        let started = Instant::now();
        let (verified, presented) = tokio::task::spawn_blocking(move || {
            (verify_phc(&stored_hash, &presented, &current), presented)
        })
        .await?;
        self.observe_verification(started.elapsed());
        Ok(match verified? {
            PhcVerification::Mismatch => Verification::Mismatch,
            PhcVerification::Match => Verification::Match,
            // Hashed after the timing, so that imitations copy the verification alone.
            PhcVerification::MatchedOutdated => {
                let argon2 = self.argon2.clone();
                tokio::task::spawn_blocking(move || replacement_for(&argon2, &presented)).await?
            }
        })
    }

    fn observe_verification(&self, elapsed: Duration) {
        self.recent_verifications.record(elapsed);
    }
}

/// What the tests of this module's files share.
#[cfg(test)]
mod fixtures {
    use super::{Argon2Settings, CredentialVerifier, Secret};
    use crate::domain::{Client, GrantType, Scope, User};

    /// Cheap parameters: these tests check logic, not cost.
    pub(super) fn verifier() -> CredentialVerifier {
        CredentialVerifier::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap_or_else(|error| panic!("{error}"))
    }

    pub(super) fn user(password_hash: &str) -> User {
        User {
            username: "u".into(),
            password_hash: password_hash.into(),
            created_at: 0,
        }
    }

    /// A client whose stored hash is `secret_hash`, as it is or was imported.
    pub(super) fn client_with_hash(secret_hash: &str) -> Client {
        Client {
            client_id: "app".into(),
            name: "App".into(),
            secret_hash: secret_hash.into(),
            scope: Scope::default(),
            grant_types: vec![GrantType::Password],
            access_tokens: Default::default(),
            created_at: 0,
        }
    }

    /// A client whose secret `verifier` hashed.
    pub(super) fn client(verifier: &CredentialVerifier, secret: &str) -> Client {
        client_with_hash(
            &verifier
                .hash(&Secret::new(secret))
                .unwrap_or_else(|error| panic!("{error}")),
        )
    }

    /// Made by Django 5.2: `PBKDF2PasswordHasher().encode("correct horse ünïcode ✓",
    /// "seasalt2024", 1000)`.
    pub(super) const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000$seasalt2024$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    pub(super) const DJANGO_PASSWORD: &str = "correct horse ünïcode ✓";
}
