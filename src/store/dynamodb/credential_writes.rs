//! Single-item conditional writes to the credentials table: provisioning clients and users,
//! and replacing an imported Django hash, each refused rather than creating or overwriting the
//! wrong item.

use super::keys::key;
use super::mapping::s;
use super::{DynamoStore, Item, written};
use crate::domain::store::{HashReplacement, StoreError};

impl DynamoStore {
    /// Creates a credentials item; [`StoreError::AlreadyExists`], naming `what`, if its key is
    /// taken.
    pub(super) async fn put_if_absent(&self, item: Item, what: String) -> Result<(), StoreError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.tables.credentials)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if written(outcome)? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(what))
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
