//! Wiring shared by the binaries and the tests: building the service and seeding the demo data.

use std::sync::Arc;

use crate::config::Config;
use crate::domain::AccessTokenPolicy;
use crate::domain::clock::SystemClock;
use crate::domain::credentials::{CredentialError, CredentialVerifier};
use crate::domain::store::{Store, StoreError};
use crate::domain::{Client, GrantType, Scope, Secret, TokenService, User};

/// The token service over `store`, configured from `config`.
pub fn token_service<S: Store>(
    store: S,
    config: &Config,
) -> Result<Arc<TokenService<S>>, CredentialError> {
    let verifier = CredentialVerifier::new(config.argon2)?;
    Ok(Arc::new(
        TokenService::new(store, verifier, config.lifetimes, Arc::new(SystemClock))
            .with_lockout(config.lockout),
    ))
}

/// The demo client and user that `make run` seeds the memory store with. They are public
/// (printed at start-up and in the README) and exist only in the memory store.
pub const DEMO_CLIENT_ID: &str = "demo-client";
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
pub const DEMO_USERNAME: &str = "demo";
pub const DEMO_PASSWORD: &str = "demo-password";
pub const DEMO_SCOPE: &str = "read write";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds the demo client and user.
pub async fn seed_demo<S: Store>(service: &TokenService<S>) -> Result<(), SeedError> {
    let verifier = service.verifier();
    service
        .store()
        .create_client(&Client {
            client_id: DEMO_CLIENT_ID.into(),
            name: "Demo client".into(),
            secret_hash: verifier.hash(&Secret::new(DEMO_CLIENT_SECRET))?,
            scope: Scope::parse(DEMO_SCOPE).unwrap_or_default(),
            grant_types: GrantType::ALL.to_vec(),
            access_tokens: AccessTokenPolicy::default(),
            // Older than any token: nothing was issued before the store was seeded.
            created_at: 0,
        })
        .await?;
    service
        .store()
        .create_user(&User {
            username: DEMO_USERNAME.into(),
            password_hash: verifier.hash(&Secret::new(DEMO_PASSWORD))?,
            created_at: 0,
        })
        .await?;
    Ok(())
}
