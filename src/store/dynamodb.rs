//! The DynamoDB adapter.
//!
//! Two tables, both keyed by a string `pk`:
//! - credentials: clients (`CLIENT#<client_id>`) and users (`USER#<username>`); the token
//!   function only reads them, except to replace an imported Django hash with Argon2id;
//! - tokens: access and refresh tokens keyed by the SHA-256 of the token, with the TTL attribute
//!   `expires_at` (epoch seconds). TTL deletion lags, so every read also compares `expires_at`
//!   with now. Each grant also writes a family record (`FAMILY#<id>`) naming its current
//!   tokens; two sparse indexes find a user's or a client's families.
//!
//! A grant is two round trips: one `BatchGetItem` for everything it reads, one
//! `TransactWriteItems` for everything it writes.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck,
    CreateGlobalSecondaryIndexAction, Delete, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    IndexStatus, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
    Update,
};

use crate::domain::clock::UnixSeconds;
use crate::domain::model::{
    AccessTokenRecord, Client, FamilyOwner, GrantType, LoginFailures, RefreshTokenRecord,
    StoredToken, TokenFamily, TokenPair, UsedRefreshToken, User,
};
use crate::domain::scope::Scope;
use crate::domain::store::{
    HashReplacement, PasswordGrantContext, Rotation, Store, StoreError, TokenContext,
};
use crate::domain::token::TokenHash;

type Item = HashMap<String, AttributeValue>;

/// The partition key of both tables.
const PK: &str = "pk";
/// The TTL attribute of the tokens table.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The tokens table's index of families by user: keyed by `family_user`, which only family
/// records carry (a sparse index), sorted by `created_at`.
pub const FAMILIES_BY_USER: &str = "families_by_user";
/// The same by client, keyed by `family_client`.
pub const FAMILIES_BY_CLIENT: &str = "families_by_client";
const FAMILY_USER: &str = "family_user";
const FAMILY_CLIENT: &str = "family_client";
const CREATED_AT: &str = "created_at";
/// DynamoDB refuses partition keys over 2048 bytes; such an item cannot exist, so it is not
/// looked up.
const MAX_KEY_BYTES: usize = 2048;
/// Attempts for a transaction that DynamoDB cancelled because another transaction held an item.
const TRANSACTION_ATTEMPTS: u32 = 4;
/// Attempts for a `BatchGetItem` that left keys unprocessed (throttling).
const BATCH_GET_ATTEMPTS: u32 = 4;
/// How long `create_tables` waits for DynamoDB to build an index over an existing table.
const INDEX_CREATION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The names of the two tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub credentials: String,
    pub tokens: String,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: DynamoClient,
    tables: TableNames,
}

impl DynamoStore {
    pub fn new(client: DynamoClient, tables: TableNames) -> Self {
        Self { client, tables }
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Opens the connection to DynamoDB (DNS, TCP, TLS) with one cheap read, so the first
    /// request does not pay for it. On Lambda this runs during init, which has the full CPU;
    /// at small memory sizes the TLS handshake otherwise adds hundreds of milliseconds to the
    /// first request. Failure is not fatal: the first request will connect instead.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        // The tokens table: the authorizer function may read only that one.
        self.client
            .get_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key("WARMUP#connection".to_owned())))
            .send()
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Creates both tables if they do not exist and enables TTL on the tokens table.
    /// Safe to run again.
    /// Tables created by an earlier version get the family indexes added.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        self.create_table(&self.tables.credentials, &[]).await?;
        let indexes = [
            (FAMILIES_BY_USER, FAMILY_USER),
            (FAMILIES_BY_CLIENT, FAMILY_CLIENT),
        ];
        self.create_table(&self.tables.tokens, &indexes).await?;
        self.add_missing_indexes(&indexes).await?;
        self.enable_ttl().await
    }

    /// Creates `table` keyed by `pk`, with sparse indexes `(name, partition attribute)` sorted
    /// by `created_at`.
    async fn create_table(&self, table: &str, indexes: &[(&str, &str)]) -> Result<(), StoreError> {
        let mut attributes = vec![attribute_definition(PK, ScalarAttributeType::S)?];
        let mut global_indexes = Vec::new();
        if !indexes.is_empty() {
            attributes.push(attribute_definition(CREATED_AT, ScalarAttributeType::N)?);
        }
        for (name, partition) in indexes {
            attributes.push(attribute_definition(partition, ScalarAttributeType::S)?);
            global_indexes.push(built(
                GlobalSecondaryIndex::builder()
                    .index_name(*name)
                    .set_key_schema(Some(index_key_schema(partition)?))
                    .projection(all_attributes())
                    .build(),
            )?);
        }
        let created = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .key_schema(key_schema_element(PK, KeyType::Hash)?)
            .set_global_secondary_indexes((!global_indexes.is_empty()).then_some(global_indexes))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(error) => return Err(unavailable(error)),
        }
        self.client
            .wait_until_table_exists()
            .table_name(table)
            .wait(Duration::from_secs(120))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Adds the indexes a tokens table created by an earlier version lacks. DynamoDB builds
    /// one index at a time and refuses `UpdateTable` while the table is updating, so each
    /// creation waits until the table and every index are `ACTIVE`, and so does the end: the
    /// indexes are usable once this returns.
    async fn add_missing_indexes(&self, indexes: &[(&str, &str)]) -> Result<(), StoreError> {
        for (name, partition) in indexes {
            let present = self.active_index_names().await?;
            if present.iter().any(|index| index == name) {
                continue;
            }
            let create = built(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name(*name)
                    .set_key_schema(Some(index_key_schema(partition)?))
                    .projection(all_attributes())
                    .build(),
            )?;
            self.client
                .update_table()
                .table_name(&self.tables.tokens)
                .attribute_definitions(attribute_definition(partition, ScalarAttributeType::S)?)
                .attribute_definitions(attribute_definition(CREATED_AT, ScalarAttributeType::N)?)
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder().create(create).build(),
                )
                .send()
                .await
                .map_err(unavailable)?;
        }
        self.active_index_names().await.map(drop)
    }

    /// The names of the tokens table's indexes, once the table and all of them are `ACTIVE`
    /// (polling `DescribeTable`; building an index over existing items takes minutes).
    async fn active_index_names(&self) -> Result<Vec<String>, StoreError> {
        let deadline = tokio::time::Instant::now() + INDEX_CREATION_TIMEOUT;
        let mut delay = Duration::from_millis(250);
        loop {
            let description = self
                .client
                .describe_table()
                .table_name(&self.tables.tokens)
                .send()
                .await
                .map_err(unavailable)?;
            let table = description.table();
            let table_status = table.and_then(|table| table.table_status());
            let indexes = table
                .map(|table| table.global_secondary_indexes())
                .unwrap_or_default();
            let all_active = table_status == Some(&TableStatus::Active)
                && indexes
                    .iter()
                    .all(|index| index.index_status() == Some(&IndexStatus::Active));
            if all_active {
                return Ok(indexes
                    .iter()
                    .filter_map(|index| index.index_name())
                    .map(str::to_owned)
                    .collect());
            }
            if tokio::time::Instant::now() + delay > deadline {
                let statuses: Vec<String> = indexes
                    .iter()
                    .map(|index| {
                        format!(
                            "{} {:?}",
                            index.index_name().unwrap_or("?"),
                            index.index_status()
                        )
                    })
                    .collect();
                return Err(StoreError::Unavailable(
                    format!(
                        "table {} is not ACTIVE yet (table {table_status:?}, indexes {statuses:?}); \
                         run again later",
                        self.tables.tokens
                    )
                    .into(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(15));
        }
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.tables.tokens)
            .send()
            .await
            .map_err(unavailable)?;
        let status = current
            .time_to_live_description()
            .and_then(|description| description.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        self.client
            .update_time_to_live()
            .table_name(&self.tables.tokens)
            .time_to_live_specification(built(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build(),
            )?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// One `BatchGetItem` with strongly consistent reads, so a token issued a moment ago is
    /// seen. Keys DynamoDB left unprocessed (throttling) are asked for again.
    async fn batch_get(
        &self,
        keys: Vec<(&str, String)>,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut by_table: HashMap<String, Vec<Item>> = HashMap::new();
        for (table, pk) in keys {
            if pk.len() <= MAX_KEY_BYTES {
                by_table.entry(table.to_owned()).or_default().push(key(pk));
            }
        }
        let mut pending = HashMap::new();
        for (table, keys) in by_table {
            pending.insert(
                table,
                built(
                    KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(true)
                        .build(),
                )?,
            );
        }
        let mut found = HashMap::new();
        for attempt in 0..BATCH_GET_ATTEMPTS {
            if pending.is_empty() {
                return Ok(found);
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            let output = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.responses.unwrap_or_default().into_values().flatten() {
                if let Some(AttributeValue::S(pk)) = item.get(PK) {
                    found.insert(pk.clone(), item);
                }
            }
            pending = output.unprocessed_keys.unwrap_or_default();
        }
        if pending.is_empty() {
            Ok(found)
        } else {
            Err(StoreError::Unavailable(
                "BatchGetItem left keys unprocessed after retries".into(),
            ))
        }
    }

    /// Runs a transaction, retrying while DynamoDB cancels it for a conflict with another
    /// transaction on the same items. A conflict is not a verdict: the retry's conditions
    /// decide.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transaction, StoreError> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
            }
            let outcome = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match outcome {
                Ok(_) => return Ok(Transaction::Committed),
                Err(error) => error,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            else {
                return Err(unavailable(error));
            };
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect();
            if codes.contains(&"ConditionalCheckFailed") {
                return Ok(Transaction::ConditionFailed(
                    codes
                        .iter()
                        .map(|code| *code == "ConditionalCheckFailed")
                        .collect(),
                ));
            }
            if !codes.contains(&"TransactionConflict") {
                return Err(unavailable(error));
            }
        }
        Err(StoreError::Unavailable(
            "transaction kept conflicting with concurrent transactions".into(),
        ))
    }

    /// After a transaction was refused: did an earlier attempt of this very write commit?
    ///
    /// When an attempt commits but its answer is lost (a dropped connection, a timeout), the
    /// SDK sends it again, and the retry fails its conditions against the committed state.
    /// DynamoDB itself recognises the retry by its idempotency token, but not every compatible
    /// server does. A new token's hash is 256 random bits: if `new_token` is stored, in
    /// `family_id`, it was stored by this request.
    async fn was_committed(
        &self,
        new_token: &TokenHash,
        family_id: &str,
    ) -> Result<bool, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(new_token.as_str().to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item.is_some_and(|item| {
            matches!(item.get("family_id"), Some(AttributeValue::S(family)) if family == family_id)
        }))
    }

    /// Deletes an item of the tokens table, whether or not it exists.
    fn delete_token_item(&self, pk: String) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk)))
            .build();
        Ok(TransactWriteItem::builder().delete(built(delete)?).build())
    }

    /// Points a family's record at its newest pair, provided its current refresh token is
    /// still `current_refresh`: the family follows its newest pair, so a replay can revoke it,
    /// and lives as long as that pair's refresh token.
    fn advance_family(
        &self,
        family_id: &str,
        current_refresh: &TokenHash,
        replacement: &TokenPair,
    ) -> Result<TransactWriteItem, StoreError> {
        const SET: &str = "SET current_refresh = :refresh, current_access = :access, \
                           refreshed_at = :refreshed_at";
        let update = Update::builder()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(family_key(family_id))))
            .condition_expression("current_refresh = :current")
            .expression_attribute_values(":current", s(current_refresh.as_str()))
            .expression_attribute_values(":refresh", s(replacement.refresh.token_hash.as_str()))
            .expression_attribute_values(":access", s(replacement.access.token_hash.as_str()))
            .expression_attribute_values(":refreshed_at", n(replacement.refresh.issued_at));
        let update = match replacement.refresh.expires_at {
            Some(expires_at) => update
                .update_expression(format!("{SET}, expires_at = :expires_at"))
                .expression_attribute_values(":expires_at", n(expires_at)),
            None => update.update_expression(format!("{SET} REMOVE expires_at")),
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    /// Refuses the transaction once the user is deleted: a deleted user's tokens stop working.
    fn user_still_exists(&self, username: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(user_key(username))))
            .condition_expression("attribute_exists(pk)")
            .build();
        Ok(TransactWriteItem::builder()
            .condition_check(built(check)?)
            .build())
    }

    fn put_new(&self, table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(built(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?)
            .build())
    }

    fn pair_puts(&self, pair: &TokenPair) -> Result<[TransactWriteItem; 2], StoreError> {
        Ok([
            self.put_new(&self.tables.tokens, access_item(&pair.access))?,
            self.put_new(&self.tables.tokens, refresh_item(&pair.refresh))?,
        ])
    }

    async fn put_if_absent(&self, item: Item, what: String) -> Result<(), StoreError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.tables.credentials)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(StoreError::AlreadyExists(what)),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn set_if_present(
        &self,
        pk: String,
        attribute: &str,
        value: &str,
        what: String,
    ) -> Result<(), StoreError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(pk)))
            .update_expression("SET #attribute = :value")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_values(":value", s(value))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(StoreError::NotFound(what)),
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Sets a credentials item's `attribute` to `new_value` if it is `expected` now. A missing
    /// item fails the condition too, so nothing is created.
    async fn replace_if_unchanged(
        &self,
        pk: String,
        attribute: &str,
        expected: &str,
        new_value: &str,
    ) -> Result<HashReplacement, StoreError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(pk)))
            .update_expression("SET #attribute = :new")
            .condition_expression("#attribute = :expected")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_values(":new", s(new_value))
            .expression_attribute_values(":expected", s(expected))
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(HashReplacement::Replaced),
            Err(error) if failed_condition(&error) => Ok(HashReplacement::Stale),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn delete_if_present(&self, pk: String, what: String) -> Result<(), StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(pk)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(StoreError::NotFound(what)),
            Err(error) => Err(unavailable(error)),
        }
    }
}

enum Transaction {
    Committed,
    /// Which of the transaction's items failed their condition, in order.
    ConditionFailed(Vec<bool>),
}

impl Store for DynamoStore {
    async fn password_grant_context(
        &self,
        client_id: &str,
        username: &str,
        now: UnixSeconds,
    ) -> Result<PasswordGrantContext, StoreError> {
        let (client_pk, user_pk) = (client_key(client_id), user_key(username));
        let failures_pk = login_failures_key(username);
        let mut found = self
            .batch_get(vec![
                (&self.tables.credentials, client_pk.clone()),
                (&self.tables.credentials, user_pk.clone()),
                (&self.tables.tokens, failures_pk.clone()),
            ])
            .await?;
        let failures = match found.remove(&failures_pk) {
            Some(item) if number(&item, TTL_ATTRIBUTE)? > now => LoginFailures {
                count: u32::try_from(number(&item, "failures")?).unwrap_or(u32::MAX),
                locked_until: number(&item, "locked_until")?,
            },
            _ => LoginFailures::default(),
        };
        Ok(PasswordGrantContext {
            client: found.remove(&client_pk).map(client_from).transpose()?,
            user: found.remove(&user_pk).map(user_from).transpose()?,
            failures,
        })
    }

    async fn record_login_failure(
        &self,
        username: &str,
        now: UnixSeconds,
        locked_until: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Result<(), StoreError> {
        let pk = login_failures_key(username);
        if pk.len() > MAX_KEY_BYTES {
            // No such user can exist, and the key cannot be stored.
            return Ok(());
        }
        // ADD counts atomically, so concurrent failures all count.
        let counted = self
            .client
            .update_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk.clone())))
            .update_expression(
                "SET kind = :kind, locked_until = :locked_until, expires_at = :expires_at \
                 ADD failures :one",
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at > :now")
            .expression_attribute_values(":kind", s(LOGIN_FAILURES))
            .expression_attribute_values(":locked_until", n(locked_until))
            .expression_attribute_values(":expires_at", n(expires_at))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match counted {
            Ok(_) => Ok(()),
            // The record expired but TTL has not deleted it yet: start again from one.
            Err(error) if failed_condition(&error) => self
                .client
                .put_item()
                .table_name(&self.tables.tokens)
                .set_item(Some(HashMap::from([
                    (PK.to_owned(), s(&pk)),
                    ("kind".to_owned(), s(LOGIN_FAILURES)),
                    ("failures".to_owned(), n(1)),
                    ("locked_until".to_owned(), n(locked_until)),
                    (TTL_ATTRIBUTE.to_owned(), n(expires_at)),
                ])))
                .send()
                .await
                .map(drop)
                .map_err(unavailable),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let pk = client_key(client_id);
        let mut found = self
            .batch_get(vec![(&self.tables.credentials, pk.clone())])
            .await?;
        found.remove(&pk).map(client_from).transpose()
    }

    async fn token_context(
        &self,
        client_id: &str,
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
        clear_login_failures: bool,
    ) -> Result<(), StoreError> {
        let mut items: Vec<TransactWriteItem> = self.pair_puts(pair)?.into();
        items.push(self.put_new(&self.tables.tokens, family_item(pair))?);
        if clear_login_failures {
            items.push(self.delete_token_item(login_failures_key(&pair.refresh.username))?);
        }
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_)
                if self
                    .was_committed(&pair.refresh.token_hash, &pair.refresh.family_id)
                    .await? =>
            {
                Ok(())
            }
            Transaction::ConditionFailed(_) => Err(StoreError::Malformed(
                "a new token's hash is already stored".into(),
            )),
        }
    }

    async fn issue_access_token(&self, access: &AccessTokenRecord) -> Result<(), StoreError> {
        let items = vec![
            self.put_new(&self.tables.tokens, access_item(access))?,
            self.put_new(&self.tables.tokens, access_family_item(access))?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(_)
                if self
                    .was_committed(&access.token_hash, &access.family_id)
                    .await? =>
            {
                Ok(())
            }
            Transaction::ConditionFailed(_) => Err(StoreError::Malformed(
                "a new token's hash is already stored".into(),
            )),
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
            self.user_still_exists(&used.username)?,
            // A revoked family has no record, which refuses the rotation.
            self.advance_family(&used.family_id, &used.token_hash, replacement)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(Rotation::Rotated),
            Transaction::ConditionFailed(_)
                if self
                    .was_committed(
                        &replacement.refresh.token_hash,
                        &replacement.refresh.family_id,
                    )
                    .await? =>
            {
                Ok(Rotation::Rotated)
            }
            Transaction::ConditionFailed(failed)
                if failed.get(2).copied().unwrap_or(false)
                    || failed.get(3).copied().unwrap_or(false) =>
            {
                Err(StoreError::Malformed(
                    "a new token's hash is already stored".into(),
                ))
            }
            Transaction::ConditionFailed(_) => Ok(Rotation::Refused),
        }
    }

    async fn reissue_successor(
        &self,
        used: &UsedRefreshToken,
        replacement: &TokenPair,
        now: UnixSeconds,
    ) -> Result<Rotation, StoreError> {
        let tokens = &self.tables.tokens;
        // Once only: the record must be as read, and not re-issued before.
        let mark_reissued = Update::builder()
            .table_name(tokens)
            .set_key(Some(key(used.token_hash.as_str().to_owned())))
            .update_expression(
                "SET reissued = :true, successor_refresh = :new_refresh, successor_access = :new_access",
            )
            .condition_expression(
                "kind = :used AND reissued = :false AND successor_refresh = :successor \
                 AND expires_at > :now",
            )
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":used", s(USED_REFRESH))
            .expression_attribute_values(":successor", s(used.successor_refresh.as_str()))
            .expression_attribute_values(":new_refresh", s(replacement.refresh.token_hash.as_str()))
            .expression_attribute_values(":new_access", s(replacement.access.token_hash.as_str()))
            .expression_attribute_values(":now", n(now))
            .build();
        // The lost successor must not have been used meanwhile.
        let drop_successor_refresh = Delete::builder()
            .table_name(tokens)
            .set_key(Some(key(used.successor_refresh.as_str().to_owned())))
            .condition_expression("kind = :refresh")
            .expression_attribute_values(":refresh", s(REFRESH))
            .build();
        let [put_access, put_refresh] = self.pair_puts(replacement)?;
        let items = vec![
            TransactWriteItem::builder()
                .update(built(mark_reissued)?)
                .build(),
            TransactWriteItem::builder()
                .delete(built(drop_successor_refresh)?)
                .build(),
            self.delete_token_item(used.successor_access.as_str().to_owned())?,
            put_access,
            put_refresh,
            self.advance_family(&used.family_id, &used.successor_refresh, replacement)?,
            self.user_still_exists(&used.username)?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(Rotation::Rotated),
            Transaction::ConditionFailed(_)
                if self
                    .was_committed(
                        &replacement.refresh.token_hash,
                        &replacement.refresh.family_id,
                    )
                    .await? =>
            {
                Ok(Rotation::Rotated)
            }
            Transaction::ConditionFailed(_) => Ok(Rotation::Refused),
        }
    }

    async fn revoke_family(&self, family_id: &str) -> Result<usize, StoreError> {
        let family_pk = family_key(family_id);
        for _ in 0..TRANSACTION_ATTEMPTS {
            let output = self
                .client
                .get_item()
                .table_name(&self.tables.tokens)
                .set_key(Some(key(family_pk.clone())))
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            let Some(family) = output.item else {
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

    async fn token_families(
        &self,
        owner: &FamilyOwner,
        now: UnixSeconds,
    ) -> Result<Vec<TokenFamily>, StoreError> {
        let (index, partition, value) = match owner {
            FamilyOwner::User(username) => (FAMILIES_BY_USER, FAMILY_USER, username),
            FamilyOwner::Client(client_id) => (FAMILIES_BY_CLIENT, FAMILY_CLIENT, client_id),
        };
        if value.is_empty() || value.len() > MAX_KEY_BYTES {
            // No family can be indexed under such a name, and DynamoDB refuses to look it up.
            return Ok(Vec::new());
        }
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.tokens)
            .index_name(index)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", partition)
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

    async fn access_token(
        &self,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(token.as_str().to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        match output.item {
            Some(item) if kind_of(&item) == Some(ACCESS) => {
                Ok(Some(access_from(item)?).filter(|record| record.is_live_at(now)))
            }
            _ => Ok(None),
        }
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        self.put_if_absent(client_item(client), format!("client {}", client.client_id))
            .await
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.put_if_absent(user_item(user), format!("user {}", user.username))
            .await
    }

    async fn set_client_secret_hash(
        &self,
        client_id: &str,
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
        username: &str,
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

    async fn replace_client_secret_hash(
        &self,
        client_id: &str,
        expected: &str,
        new_hash: &str,
    ) -> Result<HashReplacement, StoreError> {
        self.replace_if_unchanged(client_key(client_id), "secret_hash", expected, new_hash)
            .await
    }

    async fn replace_user_password_hash(
        &self,
        username: &str,
        expected: &str,
        new_hash: &str,
    ) -> Result<HashReplacement, StoreError> {
        self.replace_if_unchanged(user_key(username), "password_hash", expected, new_hash)
            .await
    }

    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        self.delete_if_present(client_key(client_id), format!("client {client_id}"))
            .await
    }

    async fn delete_user(&self, username: &str) -> Result<(), StoreError> {
        self.delete_if_present(user_key(username), format!("user {username}"))
            .await
    }
}

// Item mapping.

const ACCESS: &str = "access";
const REFRESH: &str = "refresh";
const USED_REFRESH: &str = "used_refresh";
const FAMILY: &str = "family";
const LOGIN_FAILURES: &str = "login_failures";

fn client_key(client_id: &str) -> String {
    format!("CLIENT#{client_id}")
}

fn user_key(username: &str) -> String {
    format!("USER#{username}")
}

/// Token items are keyed by a token hash (43 base64url characters, never a `#`), so these
/// prefixed keys cannot collide with them.
fn family_key(family_id: &str) -> String {
    format!("FAMILY#{family_id}")
}

fn login_failures_key(username: &str) -> String {
    format!("LOGIN_FAILURES#{username}")
}

fn key(pk: String) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk))])
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn client_item(client: &Client) -> Item {
    HashMap::from([
        (PK.to_owned(), s(&client_key(&client.client_id))),
        ("client_id".to_owned(), s(&client.client_id)),
        ("name".to_owned(), s(&client.name)),
        ("secret_hash".to_owned(), s(&client.secret_hash)),
        ("scope".to_owned(), s(&client.scope.to_string())),
        (
            "grant_types".to_owned(),
            AttributeValue::L(client.grant_types.iter().map(|g| s(g.as_str())).collect()),
        ),
    ])
}

fn user_item(user: &User) -> Item {
    HashMap::from([
        (PK.to_owned(), s(&user_key(&user.username))),
        ("username".to_owned(), s(&user.username)),
        ("password_hash".to_owned(), s(&user.password_hash)),
    ])
}

fn access_item(token: &AccessTokenRecord) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), s(token.token_hash.as_str())),
        ("kind".to_owned(), s(ACCESS)),
        ("client_id".to_owned(), s(&token.client_id)),
        ("scope".to_owned(), s(&token.scope.to_string())),
        ("family_id".to_owned(), s(&token.family_id)),
        ("issued_at".to_owned(), n(token.issued_at)),
        (TTL_ATTRIBUTE.to_owned(), n(token.expires_at)),
    ]);
    if let Some(username) = &token.username {
        item.insert("username".to_owned(), s(username));
    }
    item
}

fn refresh_item(token: &RefreshTokenRecord) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), s(token.token_hash.as_str())),
        ("kind".to_owned(), s(REFRESH)),
        ("client_id".to_owned(), s(&token.client_id)),
        ("username".to_owned(), s(&token.username)),
        ("scope".to_owned(), s(&token.scope.to_string())),
        (
            "access_token_hash".to_owned(),
            s(token.access_token_hash.as_str()),
        ),
        ("family_id".to_owned(), s(&token.family_id)),
        ("issued_at".to_owned(), n(token.issued_at)),
    ]);
    if let Some(expires_at) = token.expires_at {
        item.insert(TTL_ATTRIBUTE.to_owned(), n(expires_at));
    }
    item
}

fn used_refresh_item(token: &UsedRefreshToken) -> Item {
    HashMap::from([
        (PK.to_owned(), s(token.token_hash.as_str())),
        ("kind".to_owned(), s(USED_REFRESH)),
        ("client_id".to_owned(), s(&token.client_id)),
        ("username".to_owned(), s(&token.username)),
        ("scope".to_owned(), s(&token.scope.to_string())),
        ("family_id".to_owned(), s(&token.family_id)),
        ("used_at".to_owned(), n(token.used_at)),
        (TTL_ATTRIBUTE.to_owned(), n(token.expires_at)),
        (
            "successor_refresh".to_owned(),
            s(token.successor_refresh.as_str()),
        ),
        (
            "successor_access".to_owned(),
            s(token.successor_access.as_str()),
        ),
        ("reissued".to_owned(), AttributeValue::Bool(token.reissued)),
    ])
}

/// A family's record points at its newest pair; it lives as long as that refresh token.
fn family_item(pair: &TokenPair) -> Item {
    let refresh = &pair.refresh;
    let mut item = family_base_item(
        &refresh.family_id,
        &refresh.client_id,
        Some(&refresh.username),
        &refresh.scope,
        &pair.access.token_hash,
        refresh.issued_at,
    );
    item.insert("current_refresh".to_owned(), s(refresh.token_hash.as_str()));
    if let Some(expires_at) = refresh.expires_at {
        item.insert(TTL_ATTRIBUTE.to_owned(), n(expires_at));
    }
    item
}

/// The family of an access token issued alone ends with it.
fn access_family_item(access: &AccessTokenRecord) -> Item {
    let mut item = family_base_item(
        &access.family_id,
        &access.client_id,
        access.username.as_deref(),
        &access.scope,
        &access.token_hash,
        access.issued_at,
    );
    item.insert(TTL_ATTRIBUTE.to_owned(), n(access.expires_at));
    item
}

fn family_base_item(
    family_id: &str,
    client_id: &str,
    username: Option<&str>,
    scope: &Scope,
    current_access: &TokenHash,
    issued_at: UnixSeconds,
) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), s(&family_key(family_id))),
        ("kind".to_owned(), s(FAMILY)),
        ("family_id".to_owned(), s(family_id)),
        ("client_id".to_owned(), s(client_id)),
        (FAMILY_CLIENT.to_owned(), s(client_id)),
        ("scope".to_owned(), s(&scope.to_string())),
        ("current_access".to_owned(), s(current_access.as_str())),
        (CREATED_AT.to_owned(), n(issued_at)),
        ("refreshed_at".to_owned(), n(issued_at)),
    ]);
    if let Some(username) = username {
        item.insert("username".to_owned(), s(username));
        item.insert(FAMILY_USER.to_owned(), s(username));
    }
    item
}

fn kind_of(item: &Item) -> Option<&str> {
    match item.get("kind") {
        Some(AttributeValue::S(kind)) => Some(kind),
        _ => None,
    }
}

fn optional_string(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    item.contains_key(name)
        .then(|| string(item, name))
        .transpose()
}

fn optional_number(item: &Item, name: &str) -> Result<Option<u64>, StoreError> {
    item.contains_key(name)
        .then(|| number(item, name))
        .transpose()
}

fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Malformed(format!(
            "missing string attribute {name}"
        ))),
    }
}

fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::Malformed(format!("attribute {name} is not a whole number"))),
        _ => Err(StoreError::Malformed(format!(
            "missing number attribute {name}"
        ))),
    }
}

fn scope(item: &Item) -> Result<Scope, StoreError> {
    Scope::parse(&string(item, "scope")?)
        .map_err(|_| StoreError::Malformed("attribute scope is not a scope".into()))
}

fn client_from(item: Item) -> Result<Client, StoreError> {
    // Unknown grant type names are skipped, so an item written by a newer version still reads.
    let grant_types = match item.get("grant_types") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .filter_map(|value| match value {
                AttributeValue::S(name) => name.parse().ok(),
                _ => None,
            })
            .collect::<Vec<GrantType>>(),
        _ => {
            return Err(StoreError::Malformed(
                "missing list attribute grant_types".into(),
            ));
        }
    };
    Ok(Client {
        client_id: string(&item, "client_id")?,
        name: string(&item, "name")?,
        secret_hash: string(&item, "secret_hash")?,
        scope: scope(&item)?,
        grant_types,
    })
}

fn user_from(item: Item) -> Result<User, StoreError> {
    Ok(User {
        username: string(&item, "username")?,
        password_hash: string(&item, "password_hash")?,
    })
}

/// A token item of any kind, or `None` if it is not a token or no longer live at `now`.
fn stored_token_from(item: Item, now: UnixSeconds) -> Result<Option<StoredToken>, StoreError> {
    Ok(match kind_of(&item) {
        Some(ACCESS) => Some(access_from(item)?)
            .filter(|token| token.is_live_at(now))
            .map(StoredToken::Access),
        Some(REFRESH) => Some(refresh_from(item)?)
            .filter(|token| token.is_live_at(now))
            .map(StoredToken::Refresh),
        Some(USED_REFRESH) => Some(used_refresh_from(item)?)
            .filter(|used| now < used.expires_at)
            .map(StoredToken::UsedRefresh),
        _ => None,
    })
}

fn access_from(item: Item) -> Result<AccessTokenRecord, StoreError> {
    Ok(AccessTokenRecord {
        token_hash: TokenHash::from_stored(string(&item, PK)?),
        client_id: string(&item, "client_id")?,
        username: optional_string(&item, "username")?,
        scope: scope(&item)?,
        family_id: string(&item, "family_id")?,
        issued_at: number(&item, "issued_at")?,
        expires_at: number(&item, TTL_ATTRIBUTE)?,
    })
}

fn refresh_from(item: Item) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_hash: TokenHash::from_stored(string(&item, PK)?),
        client_id: string(&item, "client_id")?,
        username: string(&item, "username")?,
        scope: scope(&item)?,
        access_token_hash: TokenHash::from_stored(string(&item, "access_token_hash")?),
        family_id: string(&item, "family_id")?,
        issued_at: number(&item, "issued_at")?,
        expires_at: optional_number(&item, TTL_ATTRIBUTE)?,
    })
}

fn used_refresh_from(item: Item) -> Result<UsedRefreshToken, StoreError> {
    Ok(UsedRefreshToken {
        token_hash: TokenHash::from_stored(string(&item, PK)?),
        client_id: string(&item, "client_id")?,
        username: string(&item, "username")?,
        scope: scope(&item)?,
        family_id: string(&item, "family_id")?,
        used_at: number(&item, "used_at")?,
        expires_at: number(&item, TTL_ATTRIBUTE)?,
        successor_refresh: TokenHash::from_stored(string(&item, "successor_refresh")?),
        successor_access: TokenHash::from_stored(string(&item, "successor_access")?),
        reissued: matches!(item.get("reissued"), Some(AttributeValue::Bool(true))),
    })
}

fn family_from(item: Item) -> Result<TokenFamily, StoreError> {
    Ok(TokenFamily {
        family_id: string(&item, "family_id")?,
        client_id: string(&item, "client_id")?,
        username: optional_string(&item, "username")?,
        scope: scope(&item)?,
        created_at: number(&item, CREATED_AT)?,
        refreshed_at: number(&item, "refreshed_at")?,
        expires_at: optional_number(&item, TTL_ATTRIBUTE)?,
    })
}

// Table definitions.

fn attribute_definition(
    name: &str,
    kind: ScalarAttributeType,
) -> Result<AttributeDefinition, StoreError> {
    built(
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build(),
    )
}

fn key_schema_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    built(
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build(),
    )
}

/// A family index: partitioned by owner, oldest family first.
fn index_key_schema(partition: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        key_schema_element(partition, KeyType::Hash)?,
        key_schema_element(CREATED_AT, KeyType::Range)?,
    ])
}

fn all_attributes() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

/// A single-item write refused by its condition expression.
fn failed_condition<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.code() == Some("ConditionalCheckFailedException"))
}

fn unavailable(error: impl std::error::Error) -> StoreError {
    // `DisplayErrorContext` prints the whole cause chain; SdkError's own Display says only
    // "service error".
    StoreError::Unavailable(DisplayErrorContext(error).to_string().into())
}

fn built<T>(request: Result<T, BuildError>) -> Result<T, StoreError> {
    request.map_err(|error| StoreError::Malformed(format!("could not build a request: {error}")))
}
