//! An in-memory [`Store`]: for `make run` and fast tests. One mutex makes every operation
//! atomic, which gives the same single-use and all-or-nothing semantics as the DynamoDB adapter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{PasswordGrantContext, RefreshGrantContext, Rotation, Store, StoreError};
use crate::domain::clock::UnixSeconds;
use crate::domain::model::{AccessTokenRecord, Client, RefreshTokenRecord, TokenPair, User};
use crate::domain::token::TokenHash;

/// Cheap to clone; clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
}

#[derive(Default)]
struct Data {
    clients: HashMap<String, Client>,
    users: HashMap<String, User>,
    access_tokens: HashMap<TokenHash, AccessTokenRecord>,
    refresh_tokens: HashMap<TokenHash, RefreshTokenRecord>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Data>, StoreError> {
        // A poisoned lock means a thread panicked mid-update; refuse rather than read
        // possibly half-changed data.
        self.data
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    async fn password_grant_context(
        &self,
        client_id: &str,
        username: &str,
    ) -> Result<PasswordGrantContext, StoreError> {
        let data = self.lock()?;
        Ok(PasswordGrantContext {
            client: data.clients.get(client_id).cloned(),
            user: data.users.get(username).cloned(),
        })
    }

    async fn refresh_grant_context(
        &self,
        client_id: &str,
        refresh_token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<RefreshGrantContext, StoreError> {
        let data = self.lock()?;
        Ok(RefreshGrantContext {
            client: data.clients.get(client_id).cloned(),
            refresh_token: data
                .refresh_tokens
                .get(refresh_token)
                .filter(|token| token.is_live_at(now))
                .cloned(),
        })
    }

    async fn issue_token_pair(&self, pair: &TokenPair) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        ensure_unused(&data, pair)?;
        insert_pair(&mut data, pair);
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
    ) -> Result<Rotation, StoreError> {
        let mut data = self.lock()?;
        let usable = data
            .refresh_tokens
            .get(&used.token_hash)
            .is_some_and(|stored| stored.client_id == used.client_id && stored.is_live_at(now))
            && data.users.contains_key(&used.username);
        if !usable {
            return Ok(Rotation::Refused);
        }
        ensure_unused(&data, replacement)?;
        data.refresh_tokens.remove(&used.token_hash);
        data.access_tokens.remove(&used.access_token_hash);
        insert_pair(&mut data, replacement);
        Ok(Rotation::Rotated)
    }

    async fn access_token(
        &self,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let data = self.lock()?;
        Ok(data
            .access_tokens
            .get(token)
            .filter(|record| record.is_live_at(now))
            .cloned())
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        if data.clients.contains_key(&client.client_id) {
            return Err(StoreError::AlreadyExists(format!(
                "client {}",
                client.client_id
            )));
        }
        data.clients
            .insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        if data.users.contains_key(&user.username) {
            return Err(StoreError::AlreadyExists(format!("user {}", user.username)));
        }
        data.users.insert(user.username.clone(), user.clone());
        Ok(())
    }

    async fn set_client_secret_hash(
        &self,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        let client = data
            .clients
            .get_mut(client_id)
            .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
        client.secret_hash = secret_hash.to_owned();
        Ok(())
    }

    async fn set_user_password_hash(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        let user = data
            .users
            .get_mut(username)
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))?;
        user.password_hash = password_hash.to_owned();
        Ok(())
    }

    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        data.clients
            .remove(client_id)
            .map(drop)
            .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))
    }

    async fn delete_user(&self, username: &str) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        data.users
            .remove(username)
            .map(drop)
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))
    }
}

/// Refuses to overwrite, as the DynamoDB adapter's conditional puts do. With 178-bit tokens a
/// collision means a broken random source, not bad luck.
fn ensure_unused(data: &Data, pair: &TokenPair) -> Result<(), StoreError> {
    if data.access_tokens.contains_key(&pair.access.token_hash)
        || data.refresh_tokens.contains_key(&pair.refresh.token_hash)
    {
        return Err(StoreError::Malformed(
            "a new token's hash is already stored".into(),
        ));
    }
    Ok(())
}

fn insert_pair(data: &mut Data, pair: &TokenPair) {
    data.access_tokens
        .insert(pair.access.token_hash.clone(), pair.access.clone());
    data.refresh_tokens
        .insert(pair.refresh.token_hash.clone(), pair.refresh.clone());
}
