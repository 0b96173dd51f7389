//! The storage port implemented on DynamoDB: `impl Store for DynamoStore`.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::DynamoStore;
use super::errors::{built, unavailable};
use super::item::Item;
use super::keys::{
    CLIENT_PREFIX, MAX_KEY_BYTES, USER_PREFIX, client_key, family_key, key, user_key,
};
use super::mapping::{
    ACCESS, REFRESH, access_family_item, access_from, access_item, client_changes, client_from,
    client_item, family_from, family_item, kind_of, n, optional_string, s, stored_token_from,
    string, used_refresh_item, user_from, user_item,
};
use super::schema::{FAMILIES_BY_CLIENT_INDEX, FAMILIES_BY_USER_INDEX};
use super::transactions::{TRANSACTION_ATTEMPTS, Transaction};
use crate::domain::clock::UnixSeconds;
use crate::domain::login_throttle::{Admission, AttemptKeys, AttemptRequest, Settlement};
use crate::domain::model::{
    AccessTokenRecord, CREATION_CLOCK_SKEW, Client, FamilyOwner, RefreshTokenRecord, StoredToken,
    TokenFamily, TokenPair, UsedRefreshToken, User,
};
use crate::domain::names::{ClientId, Username};
use crate::domain::store::{
    AccessTokenStore, AdminStore, ClientChanges, GrantStore, HashReplacement, LoginAttemptStore,
    PasswordGrantContext, Rotation, StoreError, TokenContext, namesake_client, namesake_user,
};
use crate::domain::token::TokenHash;

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
        Ok(PasswordGrantContext {
            client: found.remove(&client_pk).map(client_from).transpose()?,
            user: found.remove(&user_pk).map(user_from).transpose()?,
        })
    }

    async fn token_context(
        &self,
        client_id: &ClientId,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<TokenContext, StoreError> {
        let client_pk = client_key(client_id);
        let token_pk = token.as_str().to_owned();
        let mut found = self
            .batch_get(vec![
                (&self.tables.credentials, client_pk.clone()),
                (&self.tables.tokens, token_pk.clone()),
            ])
            .await?;
        Ok(TokenContext {
            client: found.remove(&client_pk).map(client_from).transpose()?,
            token: found
                .remove(&token_pk)
                .map(|item| stored_token_from(item, now))
                .transpose()?
                .flatten(),
        })
    }

    async fn issue_token_pair(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
    ) -> Result<(), StoreError> {
        let mut items: Vec<TransactWriteItem> = self.pair_puts(pair)?.into();
        items.push(self.put_new(family_item(pair))?);
        // Settling the login is one conditional update beside the transaction, in the same
        // round trip: if it fails, the attempt's count just waits for its hold to end.
        let settle = async {
            match login {
                Some(login) => self.settle_attempt(login).await.map(drop),
                None => Ok(()),
            }
        };
        let refresh = &pair.refresh;
        let (transaction, settled) = tokio::join!(
            self.transact_storing(items, &refresh.token_hash, &refresh.family_id),
            settle
        );
        if let Err(error) = settled {
            tracing::warn!(error = %error, "could not clear a username's password failures after a login");
        }
        match transaction? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_) => Err(new_key_taken()),
        }
    }

    async fn issue_access_token(&self, access: &AccessTokenRecord) -> Result<(), StoreError> {
        let items = vec![
            self.put_new(access_item(access))?,
            self.put_new(access_family_item(access))?,
        ];
        match self
            .transact_storing(items, &access.token_hash, &access.family_id)
            .await?
        {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_) => Err(new_key_taken()),
        }
    }

    async fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
        used_record_expires_at: UnixSeconds,
    ) -> Result<Rotation, StoreError> {
        let tokens = &self.tables.tokens;
        // Overwrites the live token with its used-token record, on the condition that it is
        // still a live refresh token of this client: the single-use claim.
        let claim_used = Put::builder()
            .table_name(tokens)
            .set_item(Some(used_refresh_item(&UsedRefreshToken::after_rotation(
                used,
                replacement,
                now,
                used_record_expires_at,
            ))))
            .condition_expression(
                "attribute_exists(pk) AND kind = :refresh AND client_id = :client_id \
                 AND (attribute_not_exists(expires_at) OR expires_at > :now)",
            )
            .expression_attribute_values(":refresh", s(REFRESH))
            .expression_attribute_values(":client_id", s(&used.client_id))
            .expression_attribute_values(":now", n(now))
            .build();
        let [put_access, put_refresh] = self.pair_puts(replacement)?;
        let items = vec![
            TransactWriteItem::builder().put(built(claim_used)?).build(),
            self.delete_token_item(used.access_token_hash.as_str().to_owned())?,
            put_access,
            put_refresh,
            self.user_still_exists(
                &used.username,
                used.issued_at.saturating_add(CREATION_CLOCK_SKEW),
            )?,
            // A revoked family has no record, which refuses the rotation.
            self.advance_family(&used.family_id, &used.token_hash, replacement)?,
        ];
        // The access token tells this request's write from a duplicate's: a duplicate derives
        // the same refresh token, but a JWT access token differs with its scope, audience and
        // issue time.
        let access = &replacement.access;
        match self
            .transact_storing(items, &access.token_hash, &access.family_id)
            .await?
        {
            Transaction::Committed => Ok(Rotation::Rotated),
            // Item 0 claims the used token: refused, someone used it first.
            Transaction::ConditionFailed(failed) if failed.first().copied().unwrap_or(false) => {
                Ok(Rotation::Refused)
            }
            // Items 2 and 3 put the new pair.
            Transaction::ConditionFailed(failed)
                if failed.get(2).copied().unwrap_or(false)
                    || failed.get(3).copied().unwrap_or(false) =>
            {
                Err(new_key_taken())
            }
            Transaction::ConditionFailed(_) => Ok(Rotation::Refused),
        }
    }

    async fn read_tokens(
        &self,
        tokens: &[&TokenHash],
        now: UnixSeconds,
    ) -> Result<Vec<Option<StoredToken>>, StoreError> {
        let keys = tokens
            .iter()
            .map(|token| (self.tables.tokens.as_str(), token.as_str().to_owned()))
            .collect();
        let mut found = self.batch_get(keys).await?;
        tokens
            .iter()
            .map(|token| match found.remove(token.as_str()) {
                Some(item) => stored_token_from(item, now),
                None => Ok(None),
            })
            .collect()
    }

    async fn revoke_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let family_pk = family_key(family_id);
        for _ in 0..TRANSACTION_ATTEMPTS {
            let Some(family) = self.token_item(family_pk.clone()).await? else {
                return Ok(0);
            };
            let current_access = string(&family, "current_access")?;
            let current_refresh = optional_string(&family, "current_refresh")?;
            // Only if the family did not move on meanwhile; otherwise read it again.
            let forget_family = Delete::builder()
                .table_name(&self.tables.tokens)
                .set_key(Some(key(family_pk.clone())))
                .condition_expression("current_access = :access")
                .expression_attribute_values(":access", s(&current_access))
                .build();
            let mut items = vec![
                TransactWriteItem::builder()
                    .delete(built(forget_family)?)
                    .build(),
            ];
            let tokens: Vec<String> = [Some(current_access), current_refresh]
                .into_iter()
                .flatten()
                .collect();
            for token in &tokens {
                items.push(self.delete_token_item(token.clone())?);
            }
            if let Transaction::Committed = self.transact(items).await? {
                return Ok(tokens.len());
            }
        }
        Err(StoreError::Unavailable(
            "the token family kept changing while being revoked".into(),
        ))
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
        token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        match self.token_item(token.as_str().to_owned()).await? {
            Some(item) if kind_of(&item) == Some(ACCESS) => {
                Ok(Some(access_from(item)?).filter(|record| record.is_live_at(now)))
            }
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
        self.put_if_name_free(client_item(client), what, user_key(id), namesake)
            .await
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let name = &user.username;
        let (what, namesake) = (format!("user {name}"), namesake_client(name));
        self.put_if_name_free(user_item(user), what, client_key(name), namesake)
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
            .await
    }

    async fn delete_user(&self, username: &Username) -> Result<(), StoreError> {
        self.delete_if_present(user_key(username), format!("user {username}"))
            .await
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

/// What the adapter answers when a write of new tokens fails the condition that their keys
/// are free.
fn new_key_taken() -> StoreError {
    StoreError::KeyCollision("a new token's hash is already stored".into())
}
