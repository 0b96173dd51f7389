//! An in-memory store, every port of [`crate::domain::store`] and [`KeySetStore`], for `make run`
//! and fast tests. One mutex makes every operation atomic, which gives the same single-use and
//! all-or-nothing semantics as the DynamoDB adapter.
//!
//! A login is one record (its family) holding its current tokens and the refresh token it used
//! last, as in the DynamoDB adapter, so a refresh replaces one record in place.
//!
//! It forgets what DynamoDB's TTL would delete: every so many writes (at least as many as the
//! last sweep kept families and attempt counters), one sweep drops expired families and
//! attempt counters. So memory stays flat under any load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::domain::clock::UnixSeconds;
use crate::domain::jose::Thumbprint;
use crate::domain::login_record::LoginRecord;
use crate::domain::login_throttle::Settlement;
use crate::domain::model::{
    AccessTokenRecord, Client, FamilyOwner, RefreshTokenRecord, StoredToken, SupersededToken,
    TokenFamily, TokenPair, UsedRefreshToken, User,
};
use crate::domain::names::{ClientId, Username};
use crate::domain::signing::{KeySet, KeySetSaved, KeySetStore};
use crate::domain::store::{
    AccessTokenStore, AdminStore, ClientChanges, CredentialVersion, GrantStore, HashReplacement,
    LoginAttemptStore, LoginIssue, PasswordGrantContext, Rotation, StoreError, TokenContext,
    namesake_client, namesake_user,
};
use crate::domain::token::{TokenHash, TokenKey};

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
    /// Users' credential versions, where moved on from 0.
    credential_versions: HashMap<Username, u64>,
    /// Every login by family id, with its current tokens, as the DynamoDB adapter's family
    /// items.
    families: HashMap<String, FamilyRecord>,
    /// Password attempts by username (its digest).
    login_records: HashMap<String, LoginRecord>,
    /// Writes since the last sweep.
    writes_since_sweep: usize,
    /// Families and attempt counters the last sweep kept: the next one waits for as many
    /// writes.
    kept_by_last_sweep: usize,
    /// The JWT signing key set; version 0 until saved.
    signing_keys: KeySet,
}

/// The fewest writes between two sweeps of what has expired. A sweep looks at everything, so
/// after one that kept more records the next waits for as many writes: a sweep then costs
/// each write a few records looked at, however large the store (a fixed spacing made it grow
/// with the store: 4.6 µs per refresh with 100,000 used records kept, more as tokens piled up).
const WRITES_PER_SWEEP: usize = 4096;

impl Data {
    /// Counts a write at `now`, and drops what has expired every [`WRITES_PER_SWEEP`] writes,
    /// or every as many as the last sweep kept families and attempt counters if that is more.
    fn wrote(&mut self, now: UnixSeconds) {
        self.writes_since_sweep += 1;
        if self.writes_since_sweep < WRITES_PER_SWEEP.max(self.kept_by_last_sweep) {
            return;
        }
        self.writes_since_sweep = 0;
        self.families.retain(|_, family| family.is_live_at(now));
        self.login_records
            .retain(|_, record| now < record.expires_at);
        self.kept_by_last_sweep = self.families.len() + self.login_records.len();
    }

    fn credential_version(&self, username: &Username) -> u64 {
        self.credential_versions.get(username).copied().unwrap_or(0)
    }

    /// What `key` finds, live at `now`.
    fn token(&self, key: &TokenKey<'_>, now: UnixSeconds) -> Option<StoredToken> {
        let family = self.families.get(key.family_id()?)?;
        family.token(&key.hash, now)
    }
}

/// A login: its current tokens, the refresh token it used last and its secret, in one record,
/// as the DynamoDB adapter's family item.
struct FamilyRecord {
    family: TokenFamily,
    /// Kept without its `jkt`, which is the family's [`FamilyRecord::jkt`].
    access: AccessTokenRecord,
    /// `None` for a client's own token. Kept without its `jkt`, as `access`.
    refresh: Option<RefreshTokenRecord>,
    previous: Option<UsedRefreshToken>,
    /// The login's DPoP binding, kept once as on the DynamoDB adapter's family item: the key
    /// its current access token is bound to, and whether its refresh token is bound to it too
    /// (a bound refresh token's access tokens always are).
    jkt: Option<Thumbprint>,
    refresh_bound: bool,
    /// The client's credential version the login was issued under, kept by the family as on
    /// the DynamoDB adapter's family item: a refresh carries it forward.
    client_version: Option<u64>,
}

impl FamilyRecord {
    /// The record of a family whose current tokens are `access` and `refresh`, issued under
    /// the client's credential version `client_version`.
    fn new(
        family: TokenFamily,
        mut access: AccessTokenRecord,
        mut refresh: Option<RefreshTokenRecord>,
        client_version: Option<u64>,
    ) -> Self {
        let jkt = access.jkt.take();
        let refresh_bound = refresh
            .as_mut()
            .is_some_and(|refresh| refresh.jkt.take().is_some());
        Self {
            family,
            access,
            refresh,
            previous: None,
            jkt,
            refresh_bound,
            client_version,
        }
    }

    /// Moves the family on to `replacement`, remembering its refresh token as `previous`.
    fn advance(&mut self, replacement: &TokenPair, previous: Option<UsedRefreshToken>) {
        let family = TokenFamily {
            refreshed_at: replacement.refresh.issued_at,
            expires_at: replacement.refresh.expires_at,
            ..self.family.clone()
        };
        let (access, refresh) = (replacement.access.clone(), replacement.refresh.clone());
        *self = Self {
            previous,
            ..Self::new(family, access, Some(refresh), self.client_version)
        };
    }

    fn is_live_at(&self, now: UnixSeconds) -> bool {
        self.family
            .expires_at
            .is_none_or(|expires_at| now < expires_at)
    }

    /// The token whose hash is `hash`, as of `now`: one of the family's, or what the family
    /// tells of a value that is none of them.
    fn token(&self, hash: &TokenHash, now: UnixSeconds) -> Option<StoredToken> {
        if !self.is_live_at(now) {
            return None;
        }
        if let Some(refresh) = self.refresh.as_ref().filter(|r| r.token_hash == *hash) {
            return Some(StoredToken::Refresh(RefreshTokenRecord {
                jkt: self.jkt.clone().filter(|_| self.refresh_bound),
                client_version: self.client_version,
                ..refresh.clone()
            }));
        }
        if self.access.token_hash == *hash {
            return self.access.is_live_at(now).then(|| {
                StoredToken::Access(AccessTokenRecord {
                    jkt: self.jkt.clone(),
                    ..self.access.clone()
                })
            });
        }
        match &self.previous {
            Some(used) if used.token_hash == *hash => (now < used.expires_at).then(|| {
                StoredToken::UsedRefresh(UsedRefreshToken {
                    client_version: self.client_version,
                    ..used.clone()
                })
            }),
            previous => Some(StoredToken::Superseded(SupersededToken {
                family_id: self.family.family_id.clone(),
                client_id: self.family.client_id.clone(),
                family_secret: self.refresh.as_ref().and_then(|r| r.family_secret.clone()),
                current_refresh: self.refresh.as_ref().map(|r| r.token_hash.clone()),
                previous_refresh: previous.as_ref().map(|used| used.token_hash.clone()),
                rotated_at: previous.as_ref().map_or(0, |used| used.used_at),
            })),
        }
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
            credential: CredentialVersion {
                version: data.credential_version(username),
                registered_logins: Vec::new(),
            },
        })
    }

    async fn token_context(
        &self,
        client_id: &ClientId,
        token: &TokenKey<'_>,
        now: UnixSeconds,
    ) -> Result<TokenContext, StoreError> {
        let data = self.lock()?;
        Ok(TokenContext {
            client: data.clients.get(client_id).cloned(),
            token: data.token(token, now),
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
        self.issue_pair_if(pair, None).await.map(drop)
    }

    async fn issue_login(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
        credential: &CredentialVersion,
    ) -> Result<LoginIssue, StoreError> {
        if let Some(login) = login {
            self.settle_login_attempt(login).await?;
        }
        self.issue_pair_if(pair, Some(credential.version))
            .await
            .map(|issued| match issued {
                true => LoginIssue::Issued,
                false => LoginIssue::CredentialChanged,
            })
    }

    async fn issue_access_token(
        &self,
        access: &AccessTokenRecord,
        client_version: u64,
    ) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        if data.families.contains_key(&access.family_id) {
            return Err(StoreError::KeyCollision(
                "a new token family's id is already stored".into(),
            ));
        }
        data.families.insert(
            access.family_id.clone(),
            FamilyRecord::new(
                TokenFamily {
                    family_id: access.family_id.clone(),
                    client_id: access.client_id.clone(),
                    username: access.username.clone(),
                    scope: access.scope.clone(),
                    created_at: access.issued_at,
                    refreshed_at: access.issued_at,
                    expires_at: Some(access.expires_at),
                },
                access.clone(),
                None,
                Some(client_version),
            ),
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
        let Some(family) = data.families.get_mut(&used.family_id) else {
            return Ok(Rotation::Refused);
        };
        // As the DynamoDB adapter's one conditional update of the family.
        let usable = family.is_live_at(now)
            && family.family.client_id == used.client_id
            && replacement.refresh.family_id == used.family_id
            && family.refresh.as_ref().is_some_and(|current| {
                current.token_hash == used.token_hash && current.is_live_at(now)
            });
        if !usable {
            return Ok(Rotation::Refused);
        }
        // The current record becomes the used one: moved, not copied.
        let previous = family.refresh.take().map(|current| {
            UsedRefreshToken::after_rotation(current, replacement, now, used_record_expires_at)
        });
        family.advance(replacement, previous);
        data.wrote(now);
        Ok(Rotation::Rotated)
    }

    async fn read_tokens(
        &self,
        tokens: &[&TokenKey<'_>],
        now: UnixSeconds,
    ) -> Result<Vec<Option<StoredToken>>, StoreError> {
        let data = self.lock()?;
        Ok(tokens.iter().map(|token| data.token(token, now)).collect())
    }

    async fn revoke_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let mut data = self.lock()?;
        Ok(data
            .families
            .remove(family_id)
            .map_or(0, |family| 1 + usize::from(family.refresh.is_some())))
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
        token: &TokenKey<'_>,
        now: UnixSeconds,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let data = self.lock()?;
        Ok(match data.token(token, now) {
            Some(StoredToken::Access(record)) => Some(record),
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
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))?;
        // Their logins end with them, as the DynamoDB adapter revokes them.
        data.families
            .retain(|_, family| family.family.username.as_ref() != Some(username));
        Ok(())
    }

    async fn end_logins(&self, owner: &FamilyOwner) -> Result<Vec<String>, StoreError> {
        let mut data = self.lock()?;
        match owner {
            FamilyOwner::User(username) if data.users.contains_key(username) => {
                *data
                    .credential_versions
                    .entry(username.clone())
                    .or_default() += 1;
            }
            FamilyOwner::Client(client_id) => {
                if let Some(client) = data.clients.get_mut(client_id) {
                    client.credential_version += 1;
                }
            }
            FamilyOwner::User(_) => {}
        }
        // Logins are issued under the same lock as this, so the listing finds every one
        // issued before: none is registered apart.
        Ok(Vec::new())
    }

    async fn bar_family(&self, family_id: &str) -> Result<usize, StoreError> {
        self.revoke_family(family_id).await
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

impl MemoryStore {
    /// Stores a pair that starts a family, provided (with `version`) the user's credential
    /// version is still `version`: `false` if it moved on, and nothing is written.
    async fn issue_pair_if(
        &self,
        pair: &TokenPair,
        version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut data = self.lock()?;
        let username = &pair.refresh.username;
        if version.is_some_and(|version| {
            !data.users.contains_key(username) || data.credential_version(username) != version
        }) {
            return Ok(false);
        }
        // As the DynamoDB adapter's conditional put of the family item: never overwrite one.
        if data.families.contains_key(&pair.refresh.family_id) {
            return Err(StoreError::KeyCollision(
                "a new token family's id is already stored".into(),
            ));
        }
        data.families.insert(
            pair.refresh.family_id.clone(),
            FamilyRecord::new(
                TokenFamily {
                    family_id: pair.refresh.family_id.clone(),
                    client_id: pair.refresh.client_id.clone(),
                    username: Some(pair.refresh.username.clone()),
                    scope: pair.refresh.scope.clone(),
                    created_at: pair.refresh.issued_at,
                    refreshed_at: pair.refresh.issued_at,
                    expires_at: pair.refresh.expires_at,
                },
                pair.access.clone(),
                Some(pair.refresh.clone()),
                pair.refresh.client_version,
            ),
        );
        data.wrote(pair.access.issued_at);
        Ok(true)
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

mod replay;

pub use replay::REPLAY_RECORDS_KEPT;

mod login_attempts;
#[cfg(test)]
mod tests;
