//! Conditional writes to the credentials table: provisioning clients and users (each name
//! claimed first, so that no user and client share it), and replacing an imported Django hash,
//! each refused rather than creating or overwriting the wrong item. Single-item writes only, as
//! a multi-Region strongly consistent table requires.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use super::errors::{conditional, unavailable, written};
use super::item::Item;
use super::keys::key;
use super::mapping::s;
use crate::domain::store::{HashReplacement, StoreError};

/// The item that gives a name to one kind of party (`client` or `user`): a client id and a
/// username are never the same, so a JWT's `sub` names one or the other.
fn name_key(name: &str) -> String {
    format!("NAME#{name}")
}

const CLAIMED_BY: &str = "claimed_by";

impl DynamoStore {
    /// Creates a credentials item for `name`, a party of `kind`, if its key is free and no
    /// party of the other kind has the name (the item keyed `namesake`).
    ///
    /// The name is claimed first by one conditional put, which among concurrent creations of a
    /// client and a user of one name exactly one wins; a namesake made before names were
    /// claimed is looked for after. [`StoreError::AlreadyExists`] names `what` or
    /// `namesake_what`, whichever is taken.
    pub(super) async fn put_if_name_free(
        &self,
        item: Item,
        (name, kind): (&str, &str),
        what: String,
        (namesake, namesake_what): (String, String),
    ) -> Result<(), StoreError> {
        let claim = self
            .client
            .put_item()
            .table_name(&self.tables.credentials)
            .item("pk", s(&name_key(name)))
            .item(CLAIMED_BY, s(kind))
            .condition_expression("attribute_not_exists(pk) OR claimed_by = :kind")
            .expression_attribute_values(":kind", s(kind))
            .send()
            .await;
        if conditional(claim)?.is_none() {
            return Err(StoreError::AlreadyExists(namesake_what));
        }
        let legacy_namesake = self
            .client
            .get_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(namesake)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        if legacy_namesake.item.is_some() {
            self.release_name(name, kind).await?;
            return Err(StoreError::AlreadyExists(namesake_what));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.credentials)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written(put)? {
            true => Ok(()),
            false => Err(StoreError::AlreadyExists(what)),
        }
    }

    /// Gives up `name`'s claim by a party of `kind` (its item was deleted), so that the other
    /// kind may take the name.
    pub(super) async fn release_name(&self, name: &str, kind: &str) -> Result<(), StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(name_key(name))))
            .condition_expression("claimed_by = :kind")
            .expression_attribute_values(":kind", s(kind))
            .send()
            .await;
        written(outcome).map(drop)
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
