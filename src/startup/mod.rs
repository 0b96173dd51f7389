//! Wiring shared by the binaries and the tests: building the service, choosing the adapters
//! ([`run`] for the token service, [`Deployment`] for `oauth-admin`) and seeding the demo
//! data.

mod deployment;
mod local;
mod serve;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::AccessTokenPolicy;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::credentials::{CredentialError, CredentialVerifier};
use crate::domain::names::{ClientId, NameError, Username};
use crate::domain::signing::{
    KeyError, KeyRing, KeySet, KeySetStore, KeyVault, VaultError, new_signing_key,
};
use crate::domain::store::{Store, StoreError};
use crate::domain::{Client, GrantType, Scope, Secret, TokenFormat, TokenService, User};
use crate::store::MemoryStore;
use crate::vault::InProcessVault;

pub use deployment::{Deployment, DeploymentStore};
pub use serve::{BoxError, ServiceStore, run};

/// The token service over `store`, configured from `config`, without JWT signing: JWT
/// clients get a server error.
pub fn token_service<S: Store>(
    store: S,
    config: &Config,
) -> Result<Arc<TokenService<S>>, CredentialError> {
    Ok(Arc::new(unsigned_service(store, config)?))
}

/// The token service over `store`, configured from `config`, signing JWT access tokens with
/// the key set in `store`, whose private keys `vault` unseals.
pub fn signing_token_service<S: Store + KeySetStore + Clone, V: KeyVault>(
    store: S,
    vault: V,
    config: &Config,
) -> Result<Arc<TokenService<S>>, CredentialError> {
    let key_ring = KeyRing::signing(
        store.clone(),
        vault,
        Arc::new(SystemClock),
        config.signing.key_ring,
    );
    Ok(Arc::new(
        unsigned_service(store, config)?.with_signing_keys(key_ring),
    ))
}

fn unsigned_service<S: Store>(
    store: S,
    config: &Config,
) -> Result<TokenService<S>, CredentialError> {
    let verifier = CredentialVerifier::new(config.argon2)?;
    Ok(
        TokenService::new(store, verifier, config.lifetimes, Arc::new(SystemClock))
            .with_lockout(config.lockout),
    )
}

/// The memory store's service for `make run`: seeded with the demo clients and user, and
/// signing JWTs with a key sealed under a key that lives only in this process.
pub async fn demo_service(config: &Config) -> Result<Arc<TokenService<MemoryStore>>, SeedError> {
    let (store, vault) = demo_store().await?;
    seeded_service(store, vault, config, true).await
}

/// [`signing_token_service`]; `demo`: seeded with the demo clients and user.
async fn seeded_service<S: Store + KeySetStore + Clone, V: KeyVault>(
    store: S,
    vault: V,
    config: &Config,
    demo: bool,
) -> Result<Arc<TokenService<S>>, SeedError> {
    let service = signing_token_service(store, vault, config)?;
    if demo {
        seed_demo(&service).await?;
    }
    Ok(service)
}

/// The memory store for `make run`, holding a first signing key sealed under a key that lives
/// only in this process, and that vault.
async fn demo_store() -> Result<(MemoryStore, InProcessVault), SeedError> {
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
            },
            // Older than any token: nothing was issued before the store was seeded.
            created_at: 0,
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
