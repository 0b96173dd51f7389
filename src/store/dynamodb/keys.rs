//! The partition key both tables share, and the key of each kind of item.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::Item;

/// The partition key of both tables.
pub(super) const PK: &str = "pk";

/// DynamoDB refuses partition keys over 2048 bytes; such an item cannot exist, so it is not
/// looked up.
pub(super) const MAX_KEY_BYTES: usize = 2048;

/// The key prefixes of the two kinds of item in the credentials table.
pub(super) const CLIENT_PREFIX: &str = "CLIENT#";
pub(super) const USER_PREFIX: &str = "USER#";

pub(super) fn client_key(client_id: &str) -> String {
    format!("{CLIENT_PREFIX}{client_id}")
}

pub(super) fn user_key(username: &str) -> String {
    format!("{USER_PREFIX}{username}")
}

/// Token items are keyed by a token hash (43 base64url characters, never a `#`), so these
/// prefixed keys cannot collide with them.
pub(super) fn family_key(family_id: &str) -> String {
    format!("FAMILY#{family_id}")
}

/// The one credentials item that holds the JWT signing key set. It starts with neither
/// [`CLIENT_PREFIX`] nor [`USER_PREFIX`], so no client or user can be keyed so, and the
/// listings, which scan by those prefixes, skip it.
pub(super) fn signing_keys_key() -> String {
    "SIGNING_KEYS".to_owned()
}

/// The key of the item whose partition key is `pk`, in either table.
pub(super) fn key(pk: String) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk))])
}
