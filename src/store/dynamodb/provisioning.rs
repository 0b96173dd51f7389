//! `create_tables`: makes the tables that `schema` describes exist, with their indexes and
//! TTL, for local runs, tests and `oauth-admin` (in AWS, template.yaml creates them).

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters as _;
use aws_sdk_dynamodb::types::{
    GlobalSecondaryIndexUpdate, IndexStatus, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::DynamoStore;
use super::errors::{built, unavailable};
use super::schema::{CREDENTIALS, TOKENS, TableSchema};
use crate::domain::store::StoreError;

/// How long `create_tables` waits for DynamoDB to build an index over an existing table.
const INDEX_CREATION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl DynamoStore {
    /// Creates both tables if they do not exist and enables TTL on the tokens table.
    /// Safe to run again.
    /// Tables created by an earlier version get the family indexes added.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        let tables = [
            (&self.tables.credentials, &CREDENTIALS),
            (&self.tables.tokens, &TOKENS),
        ];
        for (table, schema) in tables {
            self.create_table(table, schema).await?;
            if !schema.indexes.is_empty() {
                self.add_missing_indexes(table, schema).await?;
            }
            if let Some(attribute) = schema.ttl_attribute {
                self.enable_ttl(table, attribute).await?;
            }
        }
        Ok(())
    }

    async fn create_table(&self, table: &str, schema: &TableSchema) -> Result<(), StoreError> {
        let indexes = schema
            .indexes
            .iter()
            .map(|index| index.definition())
            .collect::<Result<Vec<_>, _>>()?;
        let created = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(schema.billing_mode.clone())
            .set_attribute_definitions(Some(schema.attribute_definitions()?))
            .set_key_schema(Some(schema.key.schema()?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
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

    /// Adds the indexes a table created by an earlier version lacks. DynamoDB builds one
    /// index at a time and refuses `UpdateTable` while the table is updating, so each
    /// creation waits until the table and every index are `ACTIVE`, and so does the end: the
    /// indexes are usable once this returns.
    async fn add_missing_indexes(
        &self,
        table: &str,
        schema: &TableSchema,
    ) -> Result<(), StoreError> {
        for index in schema.indexes {
            let present = self.active_index_names(table).await?;
            if present.iter().any(|name| name == index.name) {
                continue;
            }
            self.client
                .update_table()
                .table_name(table)
                .set_attribute_definitions(Some(index.key.attribute_definitions()?))
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .create(index.creation()?)
                        .build(),
                )
                .send()
                .await
                .map_err(unavailable)?;
        }
        self.active_index_names(table).await.map(drop)
    }

    /// The names of the table's indexes, once the table and all of them are `ACTIVE`
    /// (polling `DescribeTable`; building an index over existing items takes minutes).
    async fn active_index_names(&self, table_name: &str) -> Result<Vec<String>, StoreError> {
        let deadline = tokio::time::Instant::now() + INDEX_CREATION_TIMEOUT;
        let mut delay = Duration::from_millis(250);
        loop {
            let description = self
                .client
                .describe_table()
                .table_name(table_name)
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
                        "table {table_name} is not ACTIVE yet (table {table_status:?}, indexes \
                         {statuses:?}); run again later",
                    )
                    .into(),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(15));
        }
    }

    async fn enable_ttl(&self, table: &str, attribute: &str) -> Result<(), StoreError> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(table)
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
            .table_name(table)
            .time_to_live_specification(built(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build(),
            )?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
