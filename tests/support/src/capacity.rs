//! What DynamoDB would charge for the calls a client sends, priced from the items themselves:
//! moto's `ConsumedCapacity` is not accurate (a 3 KB put reports 1.0, a transaction nothing).
//!
//! DynamoDB's published rules, as applied here:
//! - an item's size is the sum of its attribute names and values (a string's UTF-8 bytes, a
//!   number's ≈ 1 byte per two digits plus 1, a list or map 3 bytes plus each element and 1
//!   byte each);
//! - a write costs 1 write unit per KB (rounded up) of the larger of the item before and after
//!   (`PutItem` over an item, `UpdateItem`), a `DeleteItem` that of the item deleted, at least 1;
//! - a strongly consistent read costs 1 read unit per 4 KB (rounded up) of each item read, at
//!   least 1 even for an item that is not there; an eventually consistent one half that;
//! - a transaction costs double, for each item it names.
//!
//! [`CapacityMeter`] records each request's body; [`CapacityMeter::price`] prices them against
//! the tables as they were before and after, read with [`Snapshot::of`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde_json::Value;

/// Write and read units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub write: f64,
    pub read: f64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, other: Self) {
        self.write += other.write;
        self.read += other.read;
    }
}

/// Records the operation and body of every request a client sends.
#[derive(Debug, Default, Clone)]
pub struct CapacityMeter(Arc<Mutex<Vec<(String, Value)>>>);

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context
            .request()
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        if let (Some(metadata), Ok(mut calls)) = (cfg.load::<Metadata>(), self.0.lock()) {
            calls.push((metadata.name().to_owned(), body));
        }
        Ok(())
    }
}

/// Every item of some tables, by table and partition key, with its size in bytes.
#[derive(Debug, Default, Clone)]
pub struct Snapshot(HashMap<(String, String), usize>);

impl Snapshot {
    /// The items of `tables`, read from moto directly.
    pub async fn of(tables: &[&str]) -> Self {
        let client = crate::dynamodb_client();
        let mut sizes = HashMap::new();
        for table in tables {
            let scan = client
                .scan()
                .table_name(*table)
                .consistent_read(true)
                .send()
                .await
                .unwrap_or_else(|error| panic!("scanning {table}: {error}"));
            for item in scan.items() {
                if let Some(AttributeValue::S(pk)) = item.get("pk") {
                    let size = item
                        .iter()
                        .map(|(name, value)| name.len() + sdk_value_size(value))
                        .sum();
                    sizes.insert(((*table).to_owned(), pk.clone()), size);
                }
            }
        }
        Self(sizes)
    }

    fn size(&self, table: &str, pk: &str) -> usize {
        self.0
            .get(&(table.to_owned(), pk.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl CapacityMeter {
    /// A client for the moto server that records its requests here.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        let config = crate::dynamodb_config(crate::moto_endpoint())
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// Forgets the requests recorded so far.
    pub fn reset(&self) {
        if let Ok(mut calls) = self.0.lock() {
            calls.clear();
        }
    }

    /// What the requests recorded since the last reset cost, the tables being `before` and
    /// `after` them; forgets them.
    pub fn price(&self, before: &Snapshot, after: &Snapshot) -> Units {
        let calls = self
            .0
            .lock()
            .map(|mut calls| std::mem::take(&mut *calls))
            .unwrap_or_default();
        let mut units = Units::default();
        for (operation, body) in &calls {
            units += price_call(operation, body, before, after);
        }
        units
    }
}

fn price_call(operation: &str, body: &Value, before: &Snapshot, after: &Snapshot) -> Units {
    let table = body["TableName"].as_str().unwrap_or_default();
    let write = |table: &str, pk: &str, new_size: Option<usize>| Units {
        write: kb_units(
            before
                .size(table, pk)
                .max(new_size.unwrap_or_else(|| after.size(table, pk))),
            1024,
        ),
        read: 0.0,
    };
    match operation {
        "PutItem" => write(
            table,
            pk_of(&body["Item"]),
            Some(json_item_size(&body["Item"])),
        ),
        "UpdateItem" => write(table, pk_of(&body["Key"]), None),
        "DeleteItem" => write(table, pk_of(&body["Key"]), Some(0)),
        "GetItem" => read(before, table, pk_of(&body["Key"]), &body["ConsistentRead"]),
        "BatchGetItem" => {
            let mut units = Units::default();
            for (table, request) in body["RequestItems"].as_object().into_iter().flatten() {
                for key in request["Keys"].as_array().into_iter().flatten() {
                    units += read(before, table, pk_of(key), &request["ConsistentRead"]);
                }
            }
            units
        }
        "TransactWriteItems" => {
            let mut units = Units::default();
            for entry in body["TransactItems"].as_array().into_iter().flatten() {
                let (kind, request) = entry
                    .as_object()
                    .and_then(|entry| entry.iter().next())
                    .unwrap_or_else(|| panic!("an empty transaction item: {entry}"));
                let table = request["TableName"].as_str().unwrap_or_default();
                let one = match kind.as_str() {
                    "Put" => write(
                        table,
                        pk_of(&request["Item"]),
                        Some(json_item_size(&request["Item"])),
                    ),
                    "Delete" => write(table, pk_of(&request["Key"]), Some(0)),
                    "Update" => write(table, pk_of(&request["Key"]), None),
                    // A condition check is priced as a write of the item it checks.
                    _ => write(table, pk_of(&request["Key"]), Some(0)),
                };
                units.write += 2.0 * one.write;
            }
            units
        }
        "TransactGetItems" => {
            let mut units = Units::default();
            for entry in body["TransactItems"].as_array().into_iter().flatten() {
                let request = &entry["Get"];
                let table = request["TableName"].as_str().unwrap_or_default();
                units.read +=
                    2.0 * read(before, table, pk_of(&request["Key"]), &Value::Bool(true)).read;
            }
            units
        }
        other => panic!("no price for {other}"),
    }
}

fn read(before: &Snapshot, table: &str, pk: &str, consistent: &Value) -> Units {
    let units = kb_units(before.size(table, pk), 4096);
    Units {
        write: 0.0,
        read: if consistent.as_bool() == Some(true) {
            units
        } else {
            units / 2.0
        },
    }
}

/// Units of `block` bytes each for `size` bytes, rounded up, at least one.
fn kb_units(size: usize, block: usize) -> f64 {
    size.div_ceil(block).max(1) as f64
}

fn pk_of(key: &Value) -> &str {
    key["pk"]["S"].as_str().unwrap_or_default()
}

fn json_item_size(item: &Value) -> usize {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() + json_value_size(value))
        .sum()
}

fn number_size(digits: &str) -> usize {
    digits.trim_start_matches('-').len().div_ceil(2) + 1
}

/// A value in DynamoDB's JSON form (`{"S": …}`).
fn json_value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|value| value.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(0, number_size),
        "BOOL" | "NULL" => 1,
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|element| json_value_size(element) + 1)
                .sum::<usize>()
        }
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, element)| name.len() + json_value_size(element) + 1)
                .sum::<usize>()
        }
        _ => inner.to_string().len(),
    }
}

fn sdk_value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| sdk_value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| name.len() + sdk_value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::Ss(strings) => strings.iter().map(String::len).sum(),
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        other => format!("{other:?}").len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_names_and_values() {
        let item = serde_json::json!({"pk": {"S": "abc"}, "n": {"N": "1234"}});
        assert_eq!(json_item_size(&item), 2 + 3 + 1 + 3);
        assert_eq!(kb_units(1024, 1024), 1.0);
        assert_eq!(kb_units(1025, 1024), 2.0);
        assert_eq!(kb_units(0, 4096), 1.0);
    }
}
