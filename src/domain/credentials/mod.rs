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
mod error;
mod timing;
mod verifier;

pub use self::argon2::Argon2Settings;
pub use self::error::{CredentialError, Verification};
pub use self::verifier::CredentialVerifier;

/// What the tests of this module's files share.
#[cfg(test)]
mod fixtures {
    use super::{Argon2Settings, CredentialVerifier};
    use crate::domain::model::{Client, GrantType, User};
    use crate::domain::names::{ClientId, Username};
    use crate::domain::scope::Scope;
    use crate::domain::secret::Secret;

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
            username: Username::parse("u").unwrap(),
            password_hash: password_hash.into(),
            created_at: 0,
        }
    }

    /// A client whose stored hash is `secret_hash`, as it is or was imported.
    pub(super) fn client_with_hash(secret_hash: &str) -> Client {
        Client {
            client_id: ClientId::parse("app").unwrap(),
            name: "App".into(),
            secret_hash: secret_hash.into(),
            scope: Scope::default(),
            grant_types: vec![GrantType::Password],
            access_tokens: Default::default(),
            created_at: 0,
            jwks: None,
            credential_version: 0,
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
