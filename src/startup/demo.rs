//! The demo data of `make run`: the memory store with a first signing key, and the demo
//! clients and user.

use crate::domain::AccessTokenPolicy;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::credentials::CredentialError;
use crate::domain::model::DpopPolicy;
use crate::domain::names::{ClientId, NameError, Username};
use crate::domain::signing::{KeyError, KeySet, KeySetStore, VaultError, new_signing_key};
use crate::domain::store::{Store, StoreError};
use crate::domain::{Client, GrantType, Scope, Secret, TokenFormat, TokenService, User};
use crate::store::MemoryStore;
use crate::vault::InProcessVault;

/// The memory store for `make run`, holding a first signing key sealed under a key that lives
/// only in this process, and that vault.
pub(super) async fn demo_store() -> Result<(MemoryStore, InProcessVault), SeedError> {
    let store = MemoryStore::new();
    let vault = InProcessVault::new()?;
    let now = SystemClock.now();
    let first_key = new_signing_key(&vault, now, now).await?;
    let keys = KeySet::default().with_key(first_key, now);
    store.save_signing_keys(&keys).await?;
    Ok((store, vault))
}

/// The demo client and user that `make run` seeds the memory store with. They are public
/// (printed at start-up and in the README's "Try it") and exist only in the memory store.
pub const DEMO_CLIENT_ID: &str = "demo-client";
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
pub const DEMO_USERNAME: &str = "demo";
pub const DEMO_PASSWORD: &str = "demo-password";
pub const DEMO_SCOPE: &str = "read write";
/// A second demo client, whose access tokens are JWTs.
pub const DEMO_JWT_CLIENT_ID: &str = "demo-jwt-client";
pub const DEMO_JWT_CLIENT_SECRET: &str = "demo-jwt-secret";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Signing(#[from] KeyError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("a demo name is invalid: {0}")]
    Name(#[from] NameError),
}

/// Adds the demo clients (one opaque, one JWT) and user.
pub async fn seed_demo<S: Store>(service: &TokenService<S>) -> Result<(), SeedError> {
    let verifier = service.verifier();
    let demo_clients = [
        (
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            "Demo client",
            TokenFormat::Opaque,
        ),
        (
            DEMO_JWT_CLIENT_ID,
            DEMO_JWT_CLIENT_SECRET,
            "Demo JWT client",
            TokenFormat::Jwt,
        ),
    ];
    for (client_id, secret, name, format) in demo_clients {
        let client = Client {
            client_id: ClientId::parse(client_id)?,
            name: name.into(),
            secret_hash: verifier.hash(&Secret::new(secret))?,
            scope: Scope::parse(DEMO_SCOPE).unwrap_or_default(),
            grant_types: GrantType::ALL.to_vec(),
            access_tokens: AccessTokenPolicy {
                format,
                lifetime: None,
                dpop: DpopPolicy::Allowed,
            },
            // Older than any token: nothing was issued before the store was seeded.
            created_at: 0,
            jwks: None,
            credential_version: 0,
        };
        service.store().create_client(&client).await?;
    }
    service
        .store()
        .create_user(&User {
            username: Username::parse(DEMO_USERNAME)?,
            password_hash: verifier.hash(&Secret::new(DEMO_PASSWORD))?,
            created_at: 0,
        })
        .await?;
    Ok(())
}
