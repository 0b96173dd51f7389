//! [`AdminError`]: why a use case failed.

use crate::admin::import::ExportError;
use crate::domain::FamilyOwner;
use crate::domain::credentials::CredentialError;
use crate::domain::signing::KeyError;
use crate::domain::store::StoreError;
use crate::domain::token::RandomnessUnavailable;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Among others: [`StoreError::AlreadyExists`] and [`StoreError::NotFound`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Argon2 settings are invalid, or hashing failed.
    #[error(transparent)]
    Hashing(#[from] CredentialError),
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    /// The export cannot be read as a dumpdata export; nothing was written.
    #[error(transparent)]
    UnreadableExport(#[from] ExportError),
    /// A signing key could not be made: generating it or sealing it (the vault) failed.
    #[error(transparent)]
    SigningKey(#[from] KeyError),
    /// Another change to the signing key set was saved before each attempt to save this one.
    #[error(
        "the signing key set changed under each of {attempts} attempt(s) to save it; run the command again"
    )]
    KeySetContended { attempts: u32 },
    /// The client would be left with neither a secret nor keys.
    #[error(
        "the client has no keys (give --jwks-file) or no secret (rotate-client-secret first) to keep"
    )]
    NoCredentialLeft,
    /// The change was made, but the tokens issued before it still work until revoked.
    #[error("{change}, but revoking its tokens failed: {source}")]
    NotRevoked {
        change: Change,
        owner: FamilyOwner,
        #[source]
        source: StoreError,
    },
}

/// A change after which a client's or user's tokens are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Change {
    #[error("deleted")]
    Deleted,
    #[error("password replaced")]
    PasswordReplaced,
    #[error("secret replaced")]
    SecretReplaced,
}
