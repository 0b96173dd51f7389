//! Conditional writes to the credentials table: provisioning clients and users (each with a
//! check that no user or client has its name, in one transaction), and replacing an imported
//! Django hash, each refused rather than creating or overwriting the wrong item.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem,
};

use super::DynamoStore;
use super::errors::{built, conditional, written};
use super::item::Item;
use super::keys::key;
use super::mapping::s;
use super::transactions::Transaction;
use crate::domain::store::{HashReplacement, StoreError};

impl DynamoStore {
    /// Creates a credentials item if its key is free, provided no item has the key `namesake`
    /// either: a client and a user of one name are refused in one transaction, so
    /// that a token's `sub` names one or the other. [`StoreError::AlreadyExists`] names
    /// `what` or `namesake_what`, whichever is taken.
    pub(super) async fn put_if_name_free(
        &self,
        item: Item,
        what: String,
        namesake: String,
        namesake_what: String,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.credentials)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let check = ConditionCheck::builder()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(namesake)))
            .condition_expression("attribute_not_exists(pk)")
            .build();
        let items = vec![
            TransactWriteItem::builder().put(built(put)?).build(),
            TransactWriteItem::builder()
                .condition_check(built(check)?)
                .build(),
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(()),
            Transaction::ConditionFailed(failed) if failed.first() == Some(&true) => {
                Err(StoreError::AlreadyExists(what))
            }
            Transaction::ConditionFailed(_) => Err(StoreError::AlreadyExists(namesake_what)),
        }
    }

    /// Sets an attribute of a credentials item; [`StoreError::NotFound`] if there is none.
    pub(super) async fn set_if_present(
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
        if written(outcome)? {
            Ok(())
        } else {
            Err(StoreError::NotFound(what))
        }
    }

    /// Sets attributes of a credentials item in one write and returns the whole item as it
    /// is afterwards; [`StoreError::NotFound`] if there is none (the condition keeps the write
    /// from creating one). `values` must not be empty: `SET` needs an attribute.
    pub(super) async fn update_if_present(
        &self,
        pk: String,
        values: Vec<(&str, AttributeValue)>,
        what: String,
    ) -> Result<Item, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(pk)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew);
        let mut assignments = Vec::with_capacity(values.len());
        for (index, (attribute, value)) in values.into_iter().enumerate() {
            assignments.push(format!("#a{index} = :v{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), attribute)
                .expression_attribute_values(format!(":v{index}"), value);
        }
        let outcome = update
            .update_expression(format!("SET {}", assignments.join(", ")))
            .send()
            .await;
        match conditional(outcome)? {
            Some(output) => output.attributes.ok_or_else(|| {
                StoreError::Malformed(format!("the update of {what} returned no item"))
            }),
            None => Err(StoreError::NotFound(what)),
        }
    }

    /// Sets a credentials item's `attribute` to `new_value` if it is `expected` now. A missing
    /// item fails the condition too, so nothing is created.
    pub(super) async fn replace_if_unchanged(
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
        Ok(if written(outcome)? {
            HashReplacement::Replaced
        } else {
            HashReplacement::Stale
        })
    }

    /// Deletes a credentials item; [`StoreError::NotFound`] if there is none.
    pub(super) async fn delete_if_present(
        &self,
        pk: String,
        what: String,
    ) -> Result<(), StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(pk)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        if written(outcome)? {
            Ok(())
        } else {
            Err(StoreError::NotFound(what))
        }
    }
}
