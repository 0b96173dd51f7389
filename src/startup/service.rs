//! Building the token service over a store: unsigned, signing, or seeded with the demo data.

use std::sync::Arc;

use crate::config::Config;
use crate::domain::TokenService;
use crate::domain::clock::SystemClock;
use crate::domain::credentials::{CredentialError, CredentialVerifier};
use crate::domain::jose::nonce::DpopNonces;
use crate::domain::signing::{KeyRing, KeySetStore, KeyVault};
use crate::domain::store::Store;
use crate::store::MemoryStore;

use super::demo::{SeedError, demo_store, seed_demo};

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
    let service = TokenService::new(store, verifier, config.lifetimes, Arc::new(SystemClock))
        .with_lockout(config.lockout);
    Ok(match &config.dpop_nonce_secret {
        Some(secret) => service.with_dpop_nonces(DpopNonces::new(secret.expose().as_bytes())),
        None => service,
    })
}

/// The memory store's service for `make run`: seeded with the demo clients and user, and
/// signing JWTs with a key sealed under a key that lives only in this process.
pub async fn demo_service(config: &Config) -> Result<Arc<TokenService<MemoryStore>>, SeedError> {
    let (store, vault) = demo_store().await?;
    seeded_service(store, vault, config, true).await
}

/// [`signing_token_service`]; `demo`: seeded with the demo clients and user.
pub(super) async fn seeded_service<S: Store + KeySetStore + Clone, V: KeyVault>(
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
