//! The adapter's reads: a grant's single batched read of everything it needs, the read of one
//! item of the tokens table, and the scan that lists clients or users. All are strongly
//! consistent, so a token issued or a client created a moment ago is seen.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::DynamoStore;
use super::errors::{built, unavailable};
use super::item::Item;
use super::keys::{MAX_KEY_BYTES, PK, key};
use super::mapping::s;
use crate::domain::store::StoreError;

/// Attempts for a `BatchGetItem` that left keys unprocessed (throttling).
const BATCH_GET_ATTEMPTS: u32 = 4;

impl DynamoStore {
    /// One `BatchGetItem` for `(table, pk)` pairs, the items found keyed by `pk`. Keys
    /// DynamoDB left unprocessed (throttling) are asked for again.
    pub(super) async fn batch_get(
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

    /// The item of the tokens table keyed `pk`, if any.
    pub(super) async fn token_item(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    /// Every item of the credentials table whose key starts with `prefix`. A `Scan` reads one
    /// page at a time (at most 1 MB, or `scan_page_items` items, before the filter), and the
    /// paginator asks for the next page from each page's `LastEvaluatedKey` until there is
    /// none; a page may hold no match at all.
    pub(super) async fn credentials_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.tables.credentials)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .set_limit(self.scan_page_items)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(item.map_err(unavailable)?);
        }
        Ok(items)
    }
}
