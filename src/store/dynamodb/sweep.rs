//! Removal of expired items where the table has no TTL (a multi-Region strongly consistent
//! global table supports none). Expiry never depends on it: every read compares the expiries
//! with the clock; this only keeps the table from growing.

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::errors::{conditional, unavailable};
use super::keys::{PK, key};
use super::mapping::n;
use super::schema::TTL_ATTRIBUTE;
use crate::domain::clock::UnixSeconds;
use crate::domain::store::StoreError;

/// Deletes sent at once while sweeping.
const CONCURRENT_DELETES: usize = 16;

impl DynamoStore {
    /// Deletes every item of the tokens table whose `expires_at` has passed at `now`: token
    /// families whose refresh token (or, for a client's own token, whose access token)
    /// expired, password attempt records, used DPoP proofs' and client assertions' `jti`s,
    /// and items of the previous version. Each delete is
    /// conditional on the item still being expired, so a family refreshed meanwhile stays.
    /// Reads the whole table once (a `Scan`, eventually consistent: half a read unit per 4 KB)
    /// and writes one unit per item deleted. Returns how many it deleted.
    pub async fn sweep_expired(&self, now: UnixSeconds) -> Result<usize, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.tables.tokens)
            .filter_expression("#expires <= :now")
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now))
            .projection_expression("#pk")
            .expression_attribute_names("#pk", PK)
            .into_paginator()
            .send();
        let mut deleted = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(unavailable)?;
            let keys: Vec<String> = page
                .items()
                .iter()
                .filter_map(|item| match item.get(PK) {
                    Some(AttributeValue::S(pk)) => Some(pk.clone()),
                    _ => None,
                })
                .collect();
            for chunk in keys.chunks(CONCURRENT_DELETES) {
                let mut deletes = tokio::task::JoinSet::new();
                for pk in chunk {
                    let (store, pk) = (self.clone(), pk.clone());
                    deletes.spawn(async move { store.delete_if_expired(pk, now).await });
                }
                while let Some(outcome) = deletes.join_next().await {
                    let removed =
                        outcome.map_err(|error| StoreError::Unavailable(Box::new(error)))??;
                    deleted += usize::from(removed);
                }
            }
        }
        Ok(deleted)
    }

    async fn delete_if_expired(&self, pk: String, now: UnixSeconds) -> Result<bool, StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk)))
            .condition_expression("#expires <= :now")
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        Ok(conditional(outcome)?.is_some())
    }
}
