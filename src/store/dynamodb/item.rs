//! An item as the SDK holds it: attribute names to values.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub(super) type Item = HashMap<String, AttributeValue>;
