//! Logs and metrics.
//!
//! - Logs are JSON lines on stdout (what CloudWatch Logs ingests), level from `RUST_LOG`.
//! - Every request ends in one [`RequestRecord`]: a log line locally, and on Lambda one line in
//!   CloudWatch Embedded Metric Format, which is both that log line and the service's metrics
//!   (see [`emf`]).
//! - [`store_timing`] adds up the DynamoDB calls a request makes and the time they take.

use std::sync::OnceLock;
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

use crate::config::TelemetrySettings;

pub mod emf;
pub mod store_timing;

pub use store_timing::StoreTime;

/// How request records are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestLog {
    /// A tracing event, subject to `RUST_LOG`.
    Tracing,
    /// A CloudWatch Embedded Metric Format line, always written: metrics must not depend on the
    /// log level.
    Emf { function_name: String },
}

static REQUEST_LOG: OnceLock<RequestLog> = OnceLock::new();

/// Installs the global subscriber, level from `RUST_LOG`. Safe to call more than once; later
/// calls do nothing.
///
/// Other crates log at most at `debug`, whatever `RUST_LOG` says: at `trace` the Lambda runtime
/// logs each raw invocation event (with its `Authorization` header and the body holding the
/// password) and the AWS SDK each response body (with password hashes). This crate never logs
/// a secret at any level.
pub fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .with_filter(filter)
        .with_filter(filter_fn(|metadata| {
            *metadata.level() <= Level::DEBUG || is_own_target(metadata.target())
        }));
    let _ = tracing_subscriber::registry().with(logs).try_init();
}

/// Whether `target` is this crate's (the library or one of its binaries).
fn is_own_target(target: &str) -> bool {
    let crate_name = target.split("::").next().unwrap_or_default();
    matches!(crate_name, "token_endpoint" | "oauth_admin")
}

/// Chooses how request records are written: EMF on Lambda (where the runtime sets the
/// function's name), unless `METRICS=off`. The first choice stays.
pub fn init_request_log(settings: &TelemetrySettings) {
    let _ = REQUEST_LOG.set(match &settings.aws_lambda_function_name {
        Some(function_name) if settings.metrics_on_lambda => RequestLog::Emf {
            function_name: function_name.clone(),
        },
        _ => RequestLog::Tracing,
    });
}

/// What one request did. Client ids are public; nothing here is a secret, a username or a
/// token.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord<'a> {
    /// `token`, `revocation`, `introspection`, `metadata`, or `other` for unrouted paths.
    pub endpoint: &'static str,
    pub grant_type: Option<&'static str>,
    pub client_id: Option<&'a str>,
    /// `issued`, `revoked`, `active`… on success, otherwise the OAuth error code.
    pub outcome: &'static str,
    /// Why, where the error code alone does not say (e.g. `locked` for a refused password).
    pub reason: Option<&'static str>,
    /// A password request without a source address (counted by the username alone).
    pub without_source_address: bool,
    pub status: u16,
    pub latency: Duration,
    pub store: StoreTime,
    /// The Lambda request id (as in the function's REPORT lines) and API Gateway's.
    pub request_id: Option<&'a str>,
    pub api_request_id: Option<&'a str>,
}

/// Writes the request's one line.
pub fn record_request(record: &RequestRecord<'_>) {
    match REQUEST_LOG.get().unwrap_or(&RequestLog::Tracing) {
        RequestLog::Emf { function_name } => emf::write(record, function_name),
        RequestLog::Tracing => tracing::info!(
            endpoint = record.endpoint,
            grant_type = record.grant_type,
            client_id = record.client_id,
            outcome = record.outcome,
            reason = record.reason,
            without_source_address = record.without_source_address,
            status = record.status,
            latency_ms = millis(record.latency),
            dynamodb_ms = millis(record.store.elapsed),
            dynamodb_calls = record.store.calls,
            request_id = record.request_id,
            api_request_id = record.api_request_id,
            "request"
        ),
    }
}

/// Milliseconds with microsecond precision.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_crates_targets_may_log_at_trace() {
        for own in [
            "token_endpoint",
            "token_endpoint::http::router",
            "oauth_admin",
        ] {
            assert!(is_own_target(own), "{own}");
        }
        for other in [
            "lambda_runtime::layers::api_response",
            "aws_smithy_runtime::client::orchestrator::http",
            "hyper",
            "token_endpoint_x",
        ] {
            assert!(!is_own_target(other), "{other}");
        }
    }
}
