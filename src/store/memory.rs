//! An in-memory [`Store`]: for `make run` and fast tests. One mutex makes every operation
//! atomic, which gives the same single-use and all-or-nothing semantics as the DynamoDB adapter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{PasswordGrantContext, RefreshGrantContext, Rotation, Store, StoreError};
use crate::domain::clock::UnixSeconds;
use crate::domain::model::{
    AccessTokenRecord, Client, LoginFailures, PresentedRefreshToken, RefreshTokenRecord, TokenPair,
    UsedRefreshToken, User,
};
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
    refresh_tokens: HashMap<TokenHash, PresentedRefreshToken>,
    /// Failures by username, with when the record is forgotten.
    login_failures: HashMap<String, (LoginFailures, UnixSeconds)>,
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
        now: UnixSeconds,
    ) -> Result<PasswordGrantContext, StoreError> {
        let data = self.lock()?;
        Ok(PasswordGrantContext {
            client: data.clients.get(client_id).cloned(),
            user: data.users.get(username).cloned(),
            failures: data
                .login_failures
                .get(username)
                .filter(|(_, expires_at)| now < *expires_at)
                .map(|(failures, _)| *failures)
                .unwrap_or_default(),
        })
    }

    async fn record_login_failure(
        &self,
        username: &str,
        now: UnixSeconds,
        locked_until: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        let entry = data
            .login_failures
            .entry(username.to_owned())
            .or_insert((LoginFailures::default(), 0));
        // An expired record starts counting again.
        if entry.1 <= now {
            entry.0 = LoginFailures::default();
        }
        entry.0.count = entry.0.count.saturating_add(1);
        entry.0.locked_until = locked_until;
        entry.1 = expires_at;
        Ok(())
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
                .filter(|token| match token {
                    PresentedRefreshToken::Live(live) => live.is_live_at(now),
                    PresentedRefreshToken::Used(used) => now < used.expires_at,
                })
                .cloned(),
        })
    }

    async fn issue_token_pair(
        &self,
        pair: &TokenPair,
        clear_login_failures: bool,
    ) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        ensure_unused(&data, pair)?;
        insert_pair(&mut data, pair);
        if clear_login_failures {
            data.login_failures.remove(&pair.access.username);
        }
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
        used_record_expires_at: UnixSeconds,
    ) -> Result<Rotation, StoreError> {
        let mut data = self.lock()?;
        let usable = matches!(
            data.refresh_tokens.get(&used.token_hash),
            Some(PresentedRefreshToken::Live(stored))
                if stored.client_id == used.client_id && stored.is_live_at(now)
        ) && data.users.contains_key(&used.username);
        if !usable {
            return Ok(Rotation::Refused);
        }
        ensure_unused(&data, replacement)?;
        data.refresh_tokens.insert(
            used.token_hash.clone(),
            PresentedRefreshToken::Used(UsedRefreshToken::after_rotation(
                used,
                replacement,
                now,
                used_record_expires_at,
            )),
        );
        data.access_tokens.remove(&used.access_token_hash);
        insert_pair(&mut data, replacement);
        Ok(Rotation::Rotated)
    }

    async fn reissue_successor(
        &self,
        used: &UsedRefreshToken,
        replacement: &TokenPair,
        now: UnixSeconds,
    ) -> Result<Rotation, StoreError> {
        let mut data = self.lock()?;
        let record_unchanged = matches!(
            data.refresh_tokens.get(&used.token_hash),
            Some(PresentedRefreshToken::Used(stored))
                if !stored.reissued && stored.successor_refresh == used.successor_refresh
                    && now < stored.expires_at
        );
        let successor_unused = matches!(
            data.refresh_tokens.get(&used.successor_refresh),
            Some(PresentedRefreshToken::Live(_))
        );
        if !(record_unchanged && successor_unused && data.users.contains_key(&used.username)) {
            return Ok(Rotation::Refused);
        }
        ensure_unused(&data, replacement)?;
        data.refresh_tokens.remove(&used.successor_refresh);
        data.access_tokens.remove(&used.successor_access);
        insert_pair(&mut data, replacement);
        if let Some(PresentedRefreshToken::Used(stored)) =
            data.refresh_tokens.get_mut(&used.token_hash)
        {
            stored.reissued = true;
            stored.successor_refresh = replacement.refresh.token_hash.clone();
            stored.successor_access = replacement.access.token_hash.clone();
        }
        Ok(Rotation::Rotated)
    }

    async fn revoke_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let mut data = self.lock()?;
        let live: Vec<(TokenHash, TokenHash)> = data
            .refresh_tokens
            .values()
            .filter_map(|token| match token {
                PresentedRefreshToken::Live(live) if live.family_id == family_id => {
                    Some((live.token_hash.clone(), live.access_token_hash.clone()))
                }
                _ => None,
            })
            .collect();
        let mut removed = 0;
        for (refresh, access) in live {
            removed += usize::from(data.refresh_tokens.remove(&refresh).is_some());
            removed += usize::from(data.access_tokens.remove(&access).is_some());
        }
        Ok(removed)
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
    data.refresh_tokens.insert(
        pair.refresh.token_hash.clone(),
        PresentedRefreshToken::Live(pair.refresh.clone()),
    );
}
