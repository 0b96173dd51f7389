//! CloudWatch Embedded Metric Format: on Lambda each request's record is one JSON line that
//! CloudWatch keeps as a log line and also turns into metrics, with no API call and no agent.
//!
//! Metrics, in the `TokenEndpoint` namespace:
//! - by `FunctionName`: `Requests`, `Latency` and `DynamoDBTime` (ms), `ServerErrors` (5xx
//!   answers), `Lockouts` (password requests refused because their source address is locked
//!   for the username), `UsernameLockouts` (the wrong password that brought a username's
//!   consecutive failures to the ceiling, and requests refused past it: an attack spread over
//!   addresses, alarmed on), `UsernameCeilingReached` (that wrong password alone) and
//!   `PasswordRequestsWithoutAddress` (password requests the edge gave no source address, held
//!   to the username-wide count alone);
//! - by `FunctionName`, `Endpoint`, `GrantType` and `Outcome`: `Requests`, so grants issued by
//!   type and failures by error code.
//!
//! Dimension values are bounded (endpoints, grant types, OAuth error codes), so the metric
//! count stays near 25; client ids go into the line but never into a dimension.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{RequestRecord, millis};

pub const NAMESPACE: &str = "TokenEndpoint";

/// Writes `record` to stdout as one EMF line.
pub fn write(record: &RequestRecord<'_>, function: &str) {
    println!("{}", document(record, function, now_millis()));
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or_default()
}

/// The EMF document for `record`.
pub fn document(record: &RequestRecord<'_>, function: &str, timestamp_ms: u128) -> Value {
    let by_function = json!({
        "Namespace": NAMESPACE,
        "Dimensions": [["FunctionName"]],
        "Metrics": [
            {"Name": "Requests", "Unit": "Count"},
            {"Name": "Latency", "Unit": "Milliseconds"},
            {"Name": "DynamoDBTime", "Unit": "Milliseconds"},
            {"Name": "ServerErrors", "Unit": "Count"},
            {"Name": "Lockouts", "Unit": "Count"},
            {"Name": "UsernameLockouts", "Unit": "Count"},
            {"Name": "UsernameCeilingReached", "Unit": "Count"},
            {"Name": "PasswordRequestsWithoutAddress", "Unit": "Count"},
        ],
    });
    let by_outcome = json!({
        "Namespace": NAMESPACE,
        "Dimensions": [["FunctionName", "Endpoint", "GrantType", "Outcome"]],
        "Metrics": [{"Name": "Requests", "Unit": "Count"}],
    });
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [by_function, by_outcome],
        },
        "FunctionName": function,
        "Endpoint": record.endpoint,
        "GrantType": record.grant_type.unwrap_or("none"),
        "Outcome": record.outcome,
        "Requests": 1,
        "Latency": millis(record.latency),
        "DynamoDBTime": millis(record.store.elapsed),
        "ServerErrors": u8::from(record.status >= 500),
        "Lockouts": u8::from(record.reason == Some("locked")),
        "UsernameLockouts": u8::from(matches!(
            record.reason,
            Some("username_locked" | "username_ceiling_reached")
        )),
        "UsernameCeilingReached": u8::from(record.reason == Some("username_ceiling_reached")),
        "PasswordRequestsWithoutAddress": u8::from(record.without_source_address),
        "level": "INFO",
        "message": "request",
        "client_id": record.client_id,
        "reason": record.reason,
        "status": record.status,
        "dynamodb_calls": record.store.calls,
        "request_id": record.request_id,
        "api_request_id": record.api_request_id,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::telemetry::StoreTime;

    fn record(
        status: u16,
        outcome: &'static str,
        reason: Option<&'static str>,
    ) -> RequestRecord<'static> {
        RequestRecord {
            endpoint: "token",
            grant_type: Some("password"),
            client_id: Some("app"),
            outcome,
            reason,
            without_source_address: false,
            status,
            latency: Duration::from_micros(48_250),
            store: StoreTime {
                calls: 2,
                elapsed: Duration::from_micros(12_500),
            },
            request_id: Some("lambda-id"),
            api_request_id: Some("api-id"),
        }
    }

    /// Every dimension and metric a directive names must be a member of the document's root,
    /// or CloudWatch drops the metrics.
    #[test]
    fn directives_name_only_root_members() {
        let document = document(&record(200, "issued", None), "fn", 1);
        let directives = document["_aws"]["CloudWatchMetrics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(directives.len(), 2);
        for directive in directives {
            let dimensions = directive["Dimensions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for name in dimensions
                .iter()
                .flat_map(|set| set.as_array().cloned().unwrap_or_default())
            {
                let name = name.as_str().unwrap_or_default();
                assert!(
                    document[name].is_string(),
                    "dimension {name} must be a string member"
                );
            }
            for metric in directive["Metrics"].as_array().cloned().unwrap_or_default() {
                let name = metric["Name"].as_str().unwrap_or_default();
                assert!(
                    document[name].is_number(),
                    "metric {name} must be a number member"
                );
            }
        }
    }

    #[test]
    fn values_follow_the_record() {
        let issued = document(&record(200, "issued", None), "token-fn", 1_764_000_000_000);
        assert_eq!(issued["_aws"]["Timestamp"], 1_764_000_000_000u64);
        assert_eq!(issued["FunctionName"], "token-fn");
        assert_eq!(issued["Outcome"], "issued");
        assert_eq!(issued["GrantType"], "password");
        assert_eq!(issued["Latency"], 48.25);
        assert_eq!(issued["DynamoDBTime"], 12.5);
        assert_eq!(issued["dynamodb_calls"], 2);
        assert_eq!(
            (issued["ServerErrors"].clone(), issued["Lockouts"].clone()),
            (json!(0), json!(0))
        );
        let locked = document(&record(400, "invalid_grant", Some("locked")), "f", 1);
        assert_eq!(
            (
                locked["Lockouts"].clone(),
                locked["UsernameLockouts"].clone()
            ),
            (json!(1), json!(0))
        );
        let everywhere = document(
            &record(400, "invalid_grant", Some("username_locked")),
            "f",
            1,
        );
        assert_eq!(
            (
                everywhere["Lockouts"].clone(),
                everywhere["UsernameLockouts"].clone()
            ),
            (json!(0), json!(1))
        );
        let crossing = document(
            &record(400, "invalid_grant", Some("username_ceiling_reached")),
            "f",
            1,
        );
        assert_eq!(
            (
                crossing["UsernameLockouts"].clone(),
                crossing["UsernameCeilingReached"].clone()
            ),
            (json!(1), json!(1)),
            "the alarm fires when the ceiling is reached, not only on refusals"
        );
        let mut unaddressed = record(200, "issued", None);
        unaddressed.without_source_address = true;
        assert_eq!(
            document(&unaddressed, "f", 1)["PasswordRequestsWithoutAddress"],
            1
        );
        let unavailable = document(&record(503, "temporarily_unavailable", None), "f", 1);
        assert_eq!(unavailable["ServerErrors"], 1);
        let mut metadata = record(200, "metadata", None);
        metadata.grant_type = None;
        assert_eq!(document(&metadata, "f", 1)["GrantType"], "none");
    }
}
