//! The storage port implemented on DynamoDB: `impl Store for DynamoStore`.

use super::DynamoStore;
use super::errors::unavailable;
use super::families::{
    FamilyWrite, NewFamily, access_family_item, family_token, is_previous_form, pair_family_item,
    previous_form_tokens, tokens_named,
};
use super::item::Item;
use super::keys::{
    CLIENT_PREFIX, MAX_KEY_BYTES, USER_PREFIX, client_key, family_key, key, user_key,
};
use super::logins::credential_of;
use super::mapping::{
    client_changes, client_from, client_item, family_from, s, stored_token_from, used_refresh_item,
    user_from, user_item,
};
use super::schema::{FAMILIES_BY_CLIENT_INDEX, FAMILIES_BY_USER_INDEX};
use crate::domain::clock::UnixSeconds;
use crate::domain::login_throttle::{Admission, AttemptKeys, AttemptRequest, Settlement};
use crate::domain::model::{
    AccessTokenRecord, Client, FamilyOwner, RefreshTokenRecord, StoredToken, TokenFamily,
    TokenPair, UsedRefreshToken, User,
};
use crate::domain::names::{ClientId, Username};
use crate::domain::store::{
    AccessTokenStore, AdminStore, ClientChanges, CredentialVersion, GrantStore, HashReplacement,
    LoginAttemptStore, LoginIssue, PasswordGrantContext, Rotation, StoreError, TokenContext,
    namesake_client, namesake_user,
};
use crate::domain::token::TokenKey;

impl GrantStore for DynamoStore {
    async fn client(&self, client_id: &ClientId) -> Result<Option<Client>, StoreError> {
        let pk = client_key(client_id);
        let mut found = self
            .batch_get(vec![(&self.tables.credentials, pk.clone())])
            .await?;
        found.remove(&pk).map(client_from).transpose()
    }

    async fn password_grant_context(
        &self,
        client_id: &ClientId,
        username: &Username,
    ) -> Result<PasswordGrantContext, StoreError> {
        let (client_pk, user_pk) = (client_key(client_id), user_key(username));
        let mut found = self
            .batch_get(vec![
                (&self.tables.credentials, client_pk.clone()),
                (&self.tables.credentials, user_pk.clone()),
            ])
            .await?;
        let credential = credential_of(found.get(&user_pk));
        Ok(PasswordGrantContext {
            credential,
            client: found.remove(&client_pk).map(client_from).transpose()?,
            user: found.remove(&user_pk).map(user_from).transpose()?,
        })
    }

    async fn token_context(
        &self,
        client_id: &ClientId,
        token: &TokenKey<'_>,
        now: UnixSeconds,
    ) -> Result<TokenContext, StoreError> {
        let client_pk = client_key(client_id);
        let token_pk = token_pk(token);
        let mut found = self
            .batch_get(vec![
                (&self.tables.credentials, client_pk.clone()),
                (&self.tables.tokens, token_pk.clone()),
            ])
            .await?;
        let client = found.remove(&client_pk).map(client_from).transpose()?;
        let token = self.token_in(token, found.remove(&token_pk), now).await?;
        Ok(TokenContext { client, token })
    }

    async fn issue_token_pair(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
    ) -> Result<(), StoreError> {
        let access = &pair.access;
        let (stored, settled) = tokio::join!(
            self.put_new_family(
                pair_family_item(pair),
                &access.family_id,
                &access.token_hash
            ),
            self.settle_login(login)
        );
        if let Err(error) = settled {
            tracing::warn!(error = %error, "could not settle a successful password attempt");
        }
        match stored? {
            NewFamily::Written => Ok(()),
            NewFamily::Barred | NewFamily::Taken => Err(family_id_taken()),
        }
    }

    async fn issue_login(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
        credential: &CredentialVersion,
    ) -> Result<LoginIssue, StoreError> {
        let (access, refresh) = (&pair.access, &pair.refresh);
        // The registration, the family and the attempt's settlement go together: one round
        // trip.
        let (registered, stored, settled) = tokio::join!(
            self.register_login(
                &refresh.username,
                &refresh.family_id,
                refresh.issued_at,
                credential
            ),
            self.put_new_family(
                pair_family_item(pair),
                &access.family_id,
                &access.token_hash
            ),
            self.settle_login(login)
        );
        if let Err(error) = settled {
            tracing::warn!(error = %error, "could not settle a successful password attempt");
        }
        // A family written but not registered (or registered after its logins ended) is never
        // answered, so no one holds its tokens; it is withdrawn all the same.
        match (registered?, stored?) {
            (true, NewFamily::Written) => Ok(LoginIssue::Issued),
            (false, NewFamily::Written) => {
                if let Err(error) = self
                    .withdraw_family(&access.family_id, &access.token_hash)
                    .await
                {
                    tracing::warn!(error = %error, "could not withdraw a login whose credentials changed");
                }
                Ok(LoginIssue::CredentialChanged)
            }
            (_, NewFamily::Barred) => Ok(LoginIssue::CredentialChanged),
            (_, NewFamily::Taken) => Err(family_id_taken()),
        }
    }

    async fn issue_access_token(
        &self,
        access: &AccessTokenRecord,
        client_version: u64,
    ) -> Result<(), StoreError> {
        let item = access_family_item(access, client_version);
        match self
            .put_new_family(item, &access.family_id, &access.token_hash)
            .await?
        {
            NewFamily::Written => Ok(()),
            NewFamily::Barred | NewFamily::Taken => Err(family_id_taken()),
        }
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
        used_record_expires_at: UnixSeconds,
    ) -> Result<Rotation, StoreError> {
        if replacement.refresh.family_id != used.family_id {
            return Ok(Rotation::Refused);
        }
        let before = match self
            .advance_family(used, replacement, now, used_record_expires_at)
            .await?
        {
            FamilyWrite::Refused => return Ok(Rotation::Refused),
            FamilyWrite::Written(before) => before,
        };
        if before.as_ref().is_some_and(is_previous_form) {
            // The family's first refresh since the upgrade: its used token's own item becomes
            // a used-token record (a replay of it is recognised) and its access token's goes.
            // The family has moved on already, so a failure here only leaves the old access
            // token live until it expires.
            let record = UsedRefreshToken::after_rotation(
                used.clone(),
                replacement,
                now,
                used_record_expires_at,
            );
            let (recorded, deleted) = tokio::join!(
                self.put_token_item(used_refresh_item(&record)),
                self.delete_token_item(used.access_token_hash.as_str().to_owned())
            );
            if let Err(error) = recorded.and(deleted) {
                tracing::warn!(error = %error, "could not retire a previous version's token items");
            }
        }
        Ok(Rotation::Rotated)
    }

    async fn read_tokens(
        &self,
        tokens: &[&TokenKey<'_>],
        now: UnixSeconds,
    ) -> Result<Vec<Option<StoredToken>>, StoreError> {
        let mut keys: Vec<(&str, String)> = Vec::with_capacity(tokens.len());
        for token in tokens {
            let pk = token_pk(token);
            if !keys.iter().any(|(_, known)| *known == pk) {
                keys.push((self.tables.tokens.as_str(), pk));
            }
        }
        let found = self.batch_get(keys).await?;
        let mut read = Vec::with_capacity(tokens.len());
        for token in tokens {
            let item = found.get(&token_pk(token)).cloned();
            read.push(self.token_in(token, item, now).await?);
        }
        Ok(read)
    }

    async fn revoke_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let Some(family) = self.delete_family(family_id).await? else {
            return Ok(0);
        };
        if is_previous_form(&family) {
            // Its tokens have items of their own: they go too, so that they stop at once.
            let mut tokens = previous_form_tokens(&family)?.into_iter();
            let (access, refresh) = (tokens.next(), tokens.next());
            let delete = |pk: Option<String>| async move {
                match pk {
                    Some(pk) => self.delete_token_item(pk).await,
                    None => Ok(()),
                }
            };
            let (access, refresh) = tokio::join!(delete(access), delete(refresh));
            access.and(refresh)?;
        }
        Ok(tokens_named(&family))
    }

    async fn replace_client_secret_hash(
        &self,
        client_id: &ClientId,
        expected: &str,
        new_hash: &str,
    ) -> Result<HashReplacement, StoreError> {
        self.replace_if_unchanged(client_key(client_id), "secret_hash", expected, new_hash)
            .await
    }

    async fn replace_user_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> Result<HashReplacement, StoreError> {
        self.replace_if_unchanged(user_key(username), "password_hash", expected, new_hash)
            .await
    }
}

impl LoginAttemptStore for DynamoStore {
    async fn take_login_attempt(&self, attempt: &AttemptRequest) -> Result<Admission, StoreError> {
        self.take_attempt(attempt).await
    }

    async fn settle_login_attempt(&self, settlement: &Settlement) -> Result<u32, StoreError> {
        self.settle_attempt(settlement).await
    }

    async fn note_refused_login_attempt(
        &self,
        keys: &AttemptKeys,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.note_refused(keys, now).await
    }
}

impl AccessTokenStore for DynamoStore {
    async fn access_token(
        &self,
        token: &TokenKey<'_>,
        now: UnixSeconds,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let item = self.token_item(token_pk(token)).await?;
        match self.token_in(token, item, now).await? {
            Some(StoredToken::Access(record)) => Ok(Some(record)),
            _ => Ok(None),
        }
    }
}

impl AdminStore for DynamoStore {
    async fn user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let pk = user_key(username);
        let mut found = self
            .batch_get(vec![(&self.tables.credentials, pk.clone())])
            .await?;
        found.remove(&pk).map(user_from).transpose()
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let id = &client.client_id;
        let (what, namesake) = (format!("client {id}"), namesake_user(id));
        self.put_if_name_free(
            client_item(client),
            (id, "client"),
            what,
            (user_key(id), namesake),
        )
        .await
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let name = &user.username;
        let (what, namesake) = (format!("user {name}"), namesake_client(name));
        self.put_if_name_free(
            user_item(user),
            (name, "user"),
            what,
            (client_key(name), namesake),
        )
        .await
    }

    async fn set_client_secret_hash(
        &self,
        client_id: &ClientId,
        secret_hash: &str,
    ) -> Result<(), StoreError> {
        self.set_if_present(
            client_key(client_id),
            "secret_hash",
            secret_hash,
            format!("client {client_id}"),
        )
        .await
    }

    async fn set_user_password_hash(
        &self,
        username: &Username,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        self.set_if_present(
            user_key(username),
            "password_hash",
            password_hash,
            format!("user {username}"),
        )
        .await
    }

    async fn update_client(
        &self,
        client_id: &ClientId,
        changes: &ClientChanges,
    ) -> Result<Client, StoreError> {
        let what = format!("client {client_id}");
        if changes.is_empty() {
            return self
                .client(client_id)
                .await?
                .ok_or(StoreError::NotFound(what));
        }
        let item = self
            .update_if_present(client_key(client_id), client_changes(changes), what)
            .await?;
        client_from(item)
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        self.list_credentials(CLIENT_PREFIX, client_from, |client| &client.client_id)
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.list_credentials(USER_PREFIX, user_from, |user| &user.username)
            .await
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<(), StoreError> {
        self.delete_if_present(client_key(client_id), format!("client {client_id}"))
            .await?;
        self.release_name(client_id, "client").await
    }

    async fn delete_user(&self, username: &Username) -> Result<(), StoreError> {
        self.delete_if_present(user_key(username), format!("user {username}"))
            .await?;
        self.release_name(username, "user").await?;
        // Their logins end with them: no refresh reads the user, so the families go now.
        let owner = FamilyOwner::User(username.clone());
        for family in self.token_families(&owner, 0).await? {
            self.revoke_family(&family.family_id).await?;
        }
        Ok(())
    }

    async fn end_logins(&self, owner: &FamilyOwner) -> Result<Vec<String>, StoreError> {
        match owner {
            FamilyOwner::User(username) => self.end_user_logins(username).await,
            FamilyOwner::Client(client_id) => {
                self.end_client_logins(client_id).await?;
                Ok(Vec::new())
            }
        }
    }

    async fn bar_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let Some(before) = self.put_barrier(family_id).await? else {
            return Ok(0);
        };
        if is_previous_form(&before) {
            let mut tokens = previous_form_tokens(&before)?.into_iter();
            for pk in [tokens.next(), tokens.next()].into_iter().flatten() {
                self.delete_token_item(pk).await?;
            }
        }
        Ok(tokens_named(&before))
    }

    async fn token_families(
        &self,
        owner: &FamilyOwner,
        now: UnixSeconds,
    ) -> Result<Vec<TokenFamily>, StoreError> {
        let (index, value) = match owner {
            FamilyOwner::User(username) => (&FAMILIES_BY_USER_INDEX, username.as_str()),
            FamilyOwner::Client(client_id) => (&FAMILIES_BY_CLIENT_INDEX, client_id.as_str()),
        };
        if value.is_empty() || value.len() > MAX_KEY_BYTES {
            // No family can be indexed under such a name, and DynamoDB refuses to look it up.
            return Ok(Vec::new());
        }
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.tokens)
            .index_name(index.name)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", index.key.partition.name)
            .expression_attribute_values(":owner", s(value))
            .into_paginator()
            .items()
            .send();
        let mut families = Vec::new();
        while let Some(item) = pages.next().await {
            let family = family_from(item.map_err(unavailable)?)?;
            if family.expires_at.is_none_or(|expires_at| now < expires_at) {
                families.push(family);
            }
        }
        Ok(families)
    }
}

impl DynamoStore {
    /// The records under `prefix` in the credentials table, read with `from`, ordered by `id`
    /// (a scan returns them in hash order).
    async fn list_credentials<T>(
        &self,
        prefix: &str,
        from: fn(Item) -> Result<T, StoreError>,
        id: fn(&T) -> &str,
    ) -> Result<Vec<T>, StoreError> {
        let items = self.credentials_with_prefix(prefix).await?;
        let mut records = items.into_iter().map(from).collect::<Result<Vec<_>, _>>()?;
        records.sort_by(|a, b| id(a).cmp(id(b)));
        Ok(records)
    }
}

/// What the adapter answers when a new family's item finds its key taken.
fn family_id_taken() -> StoreError {
    StoreError::KeyCollision("a new token family's id is already stored".into())
}

/// The key of the item that holds `token`: its family's, or, for a token of the previous
/// version, its own.
fn token_pk(token: &TokenKey<'_>) -> String {
    match token.family_id() {
        Some(family_id) => family_key(family_id),
        None => token.hash.as_str().to_owned(),
    }
}

impl DynamoStore {
    /// What `token` is, given the item its key found: classified by its family's item, or
    /// read from its own item where the token, or its family, is of the previous form.
    async fn token_in(
        &self,
        token: &TokenKey<'_>,
        item: Option<Item>,
        now: UnixSeconds,
    ) -> Result<Option<StoredToken>, StoreError> {
        let Some(item) = item else {
            return Ok(None);
        };
        if token.family_id().is_none() {
            return stored_token_from(item, now);
        }
        if is_previous_form(&item) {
            let own = self.token_item(token.hash.as_str().to_owned()).await?;
            return own
                .map(|own| stored_token_from(own, now))
                .transpose()
                .map(Option::flatten);
        }
        family_token(&item, &token.hash, now)
    }

    /// Puts an item into the tokens table, whatever is there.
    async fn put_token_item(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.tokens)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Deletes an item of the tokens table, whether or not it exists.
    async fn delete_token_item(&self, pk: String) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk)))
            .send()
            .await
            .map(drop)
            .map_err(unavailable)
    }
}
