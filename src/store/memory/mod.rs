//! An in-memory store, every port of [`crate::domain::store`] and [`KeySetStore`], for `make run`
//! and fast tests. One mutex makes every operation atomic, which gives the same single-use and
//! all-or-nothing semantics as the DynamoDB adapter.
//!
//! It forgets what DynamoDB's TTL would delete: every so many writes (at least as many as the
//! last sweep kept tokens and attempt counters), one sweep drops expired tokens, families and
//! attempt counters. A long local run also holds at most
//! [`USED_RECORDS_KEPT`] used-refresh-token records, the oldest going first: an older used token
//! then reads as unknown, as it would after its retention in DynamoDB. So memory stays flat
//! under any load.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::domain::clock::UnixSeconds;
use crate::domain::login_record::LoginRecord;
use crate::domain::login_throttle::Settlement;
use crate::domain::model::{
    AccessTokenRecord, CREATION_CLOCK_SKEW, Client, FamilyOwner, RefreshTokenRecord, StoredToken,
    TokenFamily, TokenPair, UsedRefreshToken, User,
};
use crate::domain::names::{ClientId, Username};
use crate::domain::signing::{KeySet, KeySetSaved, KeySetStore};
use crate::domain::store::{
    AccessTokenStore, AdminStore, ClientChanges, GrantStore, HashReplacement, LoginAttemptStore,
    PasswordGrantContext, Rotation, StoreError, TokenContext, namesake_client, namesake_user,
};
use crate::domain::token::TokenHash;

/// Cheap to clone; clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
    /// Used `jti`s, apart: they are written on other paths than tokens.
    replays: Arc<Mutex<replay::ReplayRecords>>,
    /// Woken whenever a password attempt ends, for the attempts waiting on it.
    attempt_settled: Arc<Notify>,
}

#[derive(Default)]
struct Data {
    clients: HashMap<ClientId, Client>,
    users: HashMap<Username, User>,
    /// Every kind of token by hash, as in the DynamoDB tokens table.
    tokens: HashMap<TokenHash, StoredToken>,
    families: HashMap<String, FamilyRecord>,
    /// Password attempts by username (its digest).
    login_records: HashMap<String, LoginRecord>,
    /// Used-refresh-token records, oldest first, to forget the oldest past the cap.
    used_records: VecDeque<TokenHash>,
    /// Writes since the last sweep.
    writes_since_sweep: usize,
    /// Tokens and attempt counters the last sweep kept: the next one waits for as many writes.
    kept_by_last_sweep: usize,
    /// The JWT signing key set; version 0 until saved.
    signing_keys: KeySet,
}

/// The fewest writes between two sweeps of what has expired. A sweep looks at everything, so
/// after one that kept more records the next waits for as many writes: a sweep then costs
/// each write a few records looked at, however large the store (a fixed spacing made it grow
/// with the store: 4.6 µs per refresh with 100,000 used records kept, more as tokens piled up).
const WRITES_PER_SWEEP: usize = 4096;

/// The most used-refresh-token records kept (about 300 bytes each).
pub const USED_RECORDS_KEPT: usize = 100_000;

impl Data {
    /// Counts a write at `now`, and drops what has expired every [`WRITES_PER_SWEEP`] writes,
    /// or every as many as the last sweep kept tokens and attempt counters if that is more.
    fn wrote(&mut self, now: UnixSeconds) {
        self.writes_since_sweep += 1;
        if self.writes_since_sweep < WRITES_PER_SWEEP.max(self.kept_by_last_sweep) {
            return;
        }
        self.writes_since_sweep = 0;
        self.tokens.retain(|_, token| is_live(token, now));
        self.families.retain(|_, family| family.is_live_at(now));
        self.login_records
            .retain(|_, record| now < record.expires_at);
        let tokens = &self.tokens;
        self.used_records.retain(|hash| tokens.contains_key(hash));
        self.kept_by_last_sweep = self.tokens.len() + self.login_records.len();
    }

    /// Keeps a used-refresh-token record, forgetting the oldest past [`USED_RECORDS_KEPT`].
    fn remember_used(&mut self, used: UsedRefreshToken) {
        self.used_records.push_back(used.token_hash.clone());
        self.tokens
            .insert(used.token_hash.clone(), StoredToken::UsedRefresh(used));
        while self.used_records.len() > USED_RECORDS_KEPT {
            if let Some(oldest) = self.used_records.pop_front()
                && matches!(self.tokens.get(&oldest), Some(StoredToken::UsedRefresh(_)))
            {
                self.tokens.remove(&oldest);
            }
        }
    }
}

/// A family and the tokens it currently has.
struct FamilyRecord {
    family: TokenFamily,
    current_access: TokenHash,
    current_refresh: Option<TokenHash>,
}

impl FamilyRecord {
    fn is_live_at(&self, now: UnixSeconds) -> bool {
        self.family
            .expires_at
            .is_none_or(|expires_at| now < expires_at)
    }
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

impl GrantStore for MemoryStore {
    async fn client(&self, client_id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(self.lock()?.clients.get(client_id).cloned())
    }

    async fn password_grant_context(
        &self,
        client_id: &ClientId,
        username: &Username,
    ) -> Result<PasswordGrantContext, StoreError> {
        let data = self.lock()?;
        Ok(PasswordGrantContext {
            client: data.clients.get(client_id).cloned(),
            user: data.users.get(username).cloned(),
        })
    }

    async fn token_context(
        &self,
        client_id: &ClientId,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<TokenContext, StoreError> {
        let data = self.lock()?;
        Ok(TokenContext {
            client: data.clients.get(client_id).cloned(),
            token: data
                .tokens
                .get(token)
                .filter(|token| is_live(token, now))
                .cloned(),
        })
    }

    async fn issue_token_pair(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
    ) -> Result<(), StoreError> {
        if let Some(login) = login {
            self.settle_login_attempt(login).await?;
        }
        let mut data = self.lock()?;
        ensure_unused(&data, pair)?;
        // As the DynamoDB adapter's conditional put of the family record: never overwrite one.
        if data.families.contains_key(&pair.refresh.family_id) {
            return Err(StoreError::KeyCollision(
                "a new token family's id is already stored".into(),
            ));
        }
        insert_pair(&mut data, pair);
        data.families.insert(
            pair.refresh.family_id.clone(),
            FamilyRecord {
                family: TokenFamily {
                    family_id: pair.refresh.family_id.clone(),
                    client_id: pair.refresh.client_id.clone(),
                    username: Some(pair.refresh.username.clone()),
                    scope: pair.refresh.scope.clone(),
                    created_at: pair.refresh.issued_at,
                    refreshed_at: pair.refresh.issued_at,
                    expires_at: pair.refresh.expires_at,
                },
                current_access: pair.access.token_hash.clone(),
                current_refresh: Some(pair.refresh.token_hash.clone()),
            },
        );
        data.wrote(pair.access.issued_at);
        Ok(())
    }

    async fn issue_access_token(&self, access: &AccessTokenRecord) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        if data.tokens.contains_key(&access.token_hash)
            || data.families.contains_key(&access.family_id)
        {
            return Err(StoreError::KeyCollision(
                "a new token's hash is already stored".into(),
            ));
        }
        data.tokens.insert(
            access.token_hash.clone(),
            StoredToken::Access(access.clone()),
        );
        data.families.insert(
            access.family_id.clone(),
            FamilyRecord {
                family: TokenFamily {
                    family_id: access.family_id.clone(),
                    client_id: access.client_id.clone(),
                    username: access.username.clone(),
                    scope: access.scope.clone(),
                    created_at: access.issued_at,
                    refreshed_at: access.issued_at,
                    expires_at: Some(access.expires_at),
                },
                current_access: access.token_hash.clone(),
                current_refresh: None,
            },
        );
        data.wrote(access.issued_at);
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
            data.tokens.get(&used.token_hash),
            Some(StoredToken::Refresh(stored))
                if stored.client_id == used.client_id && stored.is_live_at(now)
        ) && data.users.get(&used.username).is_some_and(|user| {
            user.created_at <= used.issued_at.saturating_add(CREATION_CLOCK_SKEW)
        }) && data
            .families
            .get(&used.family_id)
            .is_some_and(|family| family.current_refresh.as_ref() == Some(&used.token_hash));
        if !usable {
            return Ok(Rotation::Refused);
        }
        ensure_unused(&data, replacement)?;
        data.remember_used(UsedRefreshToken::after_rotation(
            used,
            replacement,
            now,
            used_record_expires_at,
        ));
        data.tokens.remove(&used.access_token_hash);
        insert_pair(&mut data, replacement);
        advance_family(&mut data, replacement);
        data.wrote(now);
        Ok(Rotation::Rotated)
    }

    async fn read_tokens(
        &self,
        tokens: &[&TokenHash],
        now: UnixSeconds,
    ) -> Result<Vec<Option<StoredToken>>, StoreError> {
        let data = self.lock()?;
        Ok(tokens
            .iter()
            .map(|token| {
                data.tokens
                    .get(*token)
                    .filter(|stored| is_live(stored, now))
                    .cloned()
            })
            .collect())
    }

    async fn revoke_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let mut data = self.lock()?;
        let Some(family) = data.families.remove(family_id) else {
            return Ok(0);
        };
        let mut removed = usize::from(data.tokens.remove(&family.current_access).is_some());
        if let Some(refresh) = family.current_refresh {
            removed += usize::from(data.tokens.remove(&refresh).is_some());
        }
        Ok(removed)
    }

    async fn replace_client_secret_hash(
        &self,
        client_id: &ClientId,
        expected: &str,
        new_hash: &str,
    ) -> Result<HashReplacement, StoreError> {
        let mut data = self.lock()?;
        Ok(replace_if_unchanged(
            data.clients
                .get_mut(client_id)
                .map(|client| &mut client.secret_hash),
            expected,
            new_hash,
        ))
    }

    async fn replace_user_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> Result<HashReplacement, StoreError> {
        let mut data = self.lock()?;
        Ok(replace_if_unchanged(
            data.users
                .get_mut(username)
                .map(|user| &mut user.password_hash),
            expected,
            new_hash,
        ))
    }
}

impl AccessTokenStore for MemoryStore {
    async fn access_token(
        &self,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let data = self.lock()?;
        Ok(match data.tokens.get(token) {
            Some(StoredToken::Access(record)) if record.is_live_at(now) => Some(record.clone()),
            _ => None,
        })
    }
}

impl AdminStore for MemoryStore {
    async fn user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        Ok(self.lock()?.users.get(username).cloned())
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        if data.clients.contains_key(&client.client_id) {
            return Err(StoreError::AlreadyExists(format!(
                "client {}",
                client.client_id
            )));
        }
        let id = client.client_id.to_string();
        if data.users.contains_key(&Username::from_stored(id.clone())) {
            return Err(StoreError::AlreadyExists(namesake_user(&id)));
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
        let name = user.username.to_string();
        if data
            .clients
            .contains_key(&ClientId::from_stored(name.clone()))
        {
            return Err(StoreError::AlreadyExists(namesake_client(&name)));
        }
        data.users.insert(user.username.clone(), user.clone());
        Ok(())
    }

    async fn set_client_secret_hash(
        &self,
        client_id: &ClientId,
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
        username: &Username,
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

    async fn update_client(
        &self,
        client_id: &ClientId,
        changes: &ClientChanges,
    ) -> Result<Client, StoreError> {
        let mut data = self.lock()?;
        let client = data
            .clients
            .get_mut(client_id)
            .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
        changes.apply_to(client);
        Ok(client.clone())
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut clients: Vec<Client> = self.lock()?.clients.values().cloned().collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(clients)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut users: Vec<User> = self.lock()?.users.values().cloned().collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(users)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        data.clients
            .remove(client_id)
            .map(drop)
            .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))
    }

    async fn delete_user(&self, username: &Username) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        data.users
            .remove(username)
            .map(drop)
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))
    }

    async fn token_families(
        &self,
        owner: &FamilyOwner,
        now: UnixSeconds,
    ) -> Result<Vec<TokenFamily>, StoreError> {
        let data = self.lock()?;
        let mut families: Vec<TokenFamily> = data
            .families
            .values()
            .filter(|record| record.is_live_at(now))
            .map(|record| &record.family)
            .filter(|family| match owner {
                FamilyOwner::User(username) => family.username.as_ref() == Some(username),
                FamilyOwner::Client(client_id) => family.client_id == *client_id,
            })
            .cloned()
            .collect();
        families.sort_by(|a, b| (a.created_at, &a.family_id).cmp(&(b.created_at, &b.family_id)));
        Ok(families)
    }
}

impl KeySetStore for MemoryStore {
    async fn signing_keys(&self) -> Result<KeySet, StoreError> {
        Ok(self.lock()?.signing_keys.clone())
    }

    async fn save_signing_keys(&self, keys: &KeySet) -> Result<KeySetSaved, StoreError> {
        let mut data = self.lock()?;
        // As the DynamoDB adapter's conditional put: only over the version it follows.
        if keys.version.checked_sub(1) != Some(data.signing_keys.version) {
            return Ok(KeySetSaved::Conflict);
        }
        data.signing_keys = keys.clone();
        Ok(KeySetSaved::Saved)
    }
}

/// A compare-and-set, as the DynamoDB adapter's conditional update.
fn replace_if_unchanged(
    stored: Option<&mut String>,
    expected: &str,
    new_hash: &str,
) -> HashReplacement {
    match stored {
        Some(stored) if stored == expected => {
            new_hash.clone_into(stored);
            HashReplacement::Replaced
        }
        _ => HashReplacement::Stale,
    }
}

/// Refuses to overwrite, as the DynamoDB adapter's conditional puts do. With 178-bit tokens a
/// collision means a broken random source, not bad luck.
fn ensure_unused(data: &Data, pair: &TokenPair) -> Result<(), StoreError> {
    if data.tokens.contains_key(&pair.access.token_hash)
        || data.tokens.contains_key(&pair.refresh.token_hash)
    {
        return Err(StoreError::KeyCollision(
            "a new token's hash is already stored".into(),
        ));
    }
    Ok(())
}

fn insert_pair(data: &mut Data, pair: &TokenPair) {
    data.tokens.insert(
        pair.access.token_hash.clone(),
        StoredToken::Access(pair.access.clone()),
    );
    data.tokens.insert(
        pair.refresh.token_hash.clone(),
        StoredToken::Refresh(pair.refresh.clone()),
    );
}

/// Points the family at its newest pair.
fn advance_family(data: &mut Data, pair: &TokenPair) {
    if let Some(family) = data.families.get_mut(&pair.refresh.family_id) {
        family.current_access = pair.access.token_hash.clone();
        family.current_refresh = Some(pair.refresh.token_hash.clone());
        family.family.refreshed_at = pair.refresh.issued_at;
        family.family.expires_at = pair.refresh.expires_at;
    }
}

/// Expired tokens read as absent even before anything removes them, as in DynamoDB.
fn is_live(token: &StoredToken, now: UnixSeconds) -> bool {
    match token {
        StoredToken::Access(access) => access.is_live_at(now),
        StoredToken::Refresh(refresh) => refresh.is_live_at(now),
        StoredToken::UsedRefresh(used) => now < used.expires_at,
    }
}

mod replay;

pub use replay::REPLAY_RECORDS_KEPT;

mod login_attempts;
#[cfg(test)]
mod tests;
