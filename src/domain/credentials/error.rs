//! What checking a secret can fail with, and what it finds.

use ::argon2::password_hash;

use crate::domain::crypto::RandomnessUnavailable;

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

/// Django 5.2 uses 1,000,000 iterations, 6.0 1,200,000. A count far above that is a corrupt or
/// hostile hash: one verification would hold a CPU for seconds.
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// The length of the derived key Django stores: SHA-256's output.
pub(super) const DERIVED_KEY_BYTES: usize = 32;

/// Why a string is not a usable Django PBKDF2-SHA256 hash. The messages never quote the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DjangoHashError {
    #[error("not of the form pbkdf2_sha256$<iterations>$<salt>$<hash>")]
    NotPbkdf2Sha256,
    #[error("the iteration count is not a whole number from 1 to {MAX_ITERATIONS}")]
    Iterations,
    #[error("the salt is empty")]
    EmptySalt,
    #[error("the hash is not the base64 of {DERIVED_KEY_BYTES} bytes")]
    DerivedKey,
}
