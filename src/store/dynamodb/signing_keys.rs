//! The JWT signing key set: one item of the credentials table, replaced whole by a put on the
//! condition that it still has the version that was read, so that of two rotations made at
//! once only one is saved. A set holds a few keys of about 2 KB each (rotations prune the
//! keys retired long ago), far below DynamoDB's 400 KB an item.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::errors::{invalid, unavailable};
use super::item::Item;
use super::keys::{PK, key, signing_keys_key};
use super::mapping::{n, number, s, string};
use crate::domain::signing::{
    KeySet, KeySetSaved, KeySetStore, PublicJwk, SealedPrivateKey, SigningKeyRecord,
};
use crate::domain::store::StoreError;

const VERSION: &str = "version";
const KEYS: &str = "keys";
const SEALED_PRIVATE: &str = "sealed_private";

impl KeySetStore for DynamoStore {
    async fn signing_keys(&self) -> Result<KeySet, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(signing_keys_key())))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output
            .item
            .map_or_else(|| Ok(KeySet::default()), |item| key_set_from(&item))
    }

    async fn save_signing_keys(&self, keys: &KeySet) -> Result<KeySetSaved, StoreError> {
        // Version 0 is the set never saved: no save makes it.
        let Some(expected) = keys.version.checked_sub(1) else {
            return Ok(KeySetSaved::Conflict);
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.tables.credentials)
            .set_item(Some(key_set_item(keys)));
        let put = if expected == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#version = :expected")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", n(expected))
        };
        let error = match put.send().await {
            Ok(_) => return Ok(KeySetSaved::Saved),
            Err(error) => error,
        };
        let code = error.as_service_error().and_then(|e| e.code());
        match code {
            Some("ConditionalCheckFailedException") => Ok(KeySetSaved::Conflict),
            Some("ValidationException") => Err(invalid(&error)),
            _ => Err(unavailable(error)),
        }
    }
}

fn key_set_item(keys: &KeySet) -> Item {
    HashMap::from([
        (PK.to_owned(), s(&signing_keys_key())),
        (VERSION.to_owned(), n(keys.version)),
        (
            KEYS.to_owned(),
            AttributeValue::L(keys.keys.iter().map(key_value).collect()),
        ),
    ])
}

fn key_value(key: &SigningKeyRecord) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("kid".to_owned(), s(&key.kid)),
        ("n".to_owned(), s(&key.public.n)),
        ("e".to_owned(), s(&key.public.e)),
        (
            SEALED_PRIVATE.to_owned(),
            AttributeValue::B(Blob::new(key.sealed_private.0.clone())),
        ),
        ("created_at".to_owned(), n(key.created_at)),
        ("signs_from".to_owned(), n(key.signs_from)),
    ]))
}

fn key_set_from(item: &Item) -> Result<KeySet, StoreError> {
    let keys = match item.get(KEYS) {
        Some(AttributeValue::L(values)) => {
            values.iter().map(key_from).collect::<Result<Vec<_>, _>>()?
        }
        _ => {
            return Err(StoreError::Malformed(format!(
                "missing list attribute {KEYS} of the signing key set"
            )));
        }
    };
    Ok(KeySet {
        version: number(item, VERSION)?,
        keys,
    })
}

fn key_from(value: &AttributeValue) -> Result<SigningKeyRecord, StoreError> {
    let AttributeValue::M(key) = value else {
        return Err(StoreError::Malformed(
            "an entry of the signing key set is not a map".into(),
        ));
    };
    let Some(AttributeValue::B(sealed)) = key.get(SEALED_PRIVATE) else {
        return Err(StoreError::Malformed(format!(
            "missing binary attribute {SEALED_PRIVATE} of a signing key"
        )));
    };
    Ok(SigningKeyRecord {
        kid: string(key, "kid")?,
        public: PublicJwk {
            n: string(key, "n")?,
            e: string(key, "e")?,
        },
        sealed_private: SealedPrivateKey(sealed.as_ref().to_vec()),
        created_at: number(key, "created_at")?,
        signs_from: number(key, "signs_from")?,
    })
}
