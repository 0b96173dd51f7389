//! The DynamoDB [`ReplayStore`]: a used `jti` is an item of the tokens table keyed
//! `REPLAY#<hash>`, written by one conditional `PutItem` (1 write unit) that succeeds only if
//! no live record of it exists. The item carries the TTL attribute, so DynamoDB deletes it
//! after it expires; until then the condition compares `expires_at` with now.

use std::collections::HashMap;

use super::DynamoStore;
use super::errors::written;
use super::keys::PK;
use super::mapping::{n, s};
use super::schema::TTL_ATTRIBUTE;
use crate::domain::clock::UnixSeconds;
use crate::domain::jose::ReplayKey;
use crate::domain::store::{ReplayStore, StoreError};

/// A replay key is 43 base64url characters, never a `#`, so this cannot collide with tokens.
fn replay_key(key: &ReplayKey) -> String {
    format!("REPLAY#{}", key.as_str())
}

impl ReplayStore for DynamoStore {
    async fn record_once(
        &self,
        key: &ReplayKey,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let item = HashMap::from([
            (PK.to_owned(), s(&replay_key(key))),
            (TTL_ATTRIBUTE.to_owned(), n(expires_at)),
        ]);
        let outcome = self
            .client
            .put_item()
            .table_name(&self.tables.tokens)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(outcome)
    }
}
