//! Logs and metrics.
//!
//! - Logs are JSON lines on stdout (what CloudWatch Logs ingests), level from `RUST_LOG`.
//! - Every request ends in one [`RequestRecord`]: a log line locally, and on Lambda one line in
//!   CloudWatch Embedded Metric Format, which is both that log line and the service's metrics
//!   (see [`emf`]).
//! - [`store_timing`] adds up the DynamoDB calls a request makes and the time they take.

use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

pub mod emf;
pub mod store_timing;

pub use store_timing::StoreTime;

/// How request records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLog {
    /// A tracing event, subject to `RUST_LOG`.
    Tracing,
    /// A CloudWatch Embedded Metric Format line, always written: metrics must not depend on the
    /// log level.
    Emf,
}

static REQUEST_LOG: OnceLock<RequestLog> = OnceLock::new();

/// Installs the global subscriber and chooses how request records are written: EMF on Lambda
/// (`AWS_LAMBDA_FUNCTION_NAME` is set), unless `METRICS=off`. Safe to call more than once;
/// later calls do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .try_init();
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let metrics_off = std::env::var("METRICS").is_ok_and(|value| value.trim() == "off");
    let _ = REQUEST_LOG.set(if on_lambda && !metrics_off {
        RequestLog::Emf
    } else {
        RequestLog::Tracing
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
    pub status: u16,
    pub latency: Duration,
    pub store: StoreTime,
    /// The Lambda request id (as in the function's REPORT lines) and API Gateway's.
    pub request_id: Option<&'a str>,
    pub api_request_id: Option<&'a str>,
}

/// Writes the request's one line.
pub fn record_request(record: &RequestRecord<'_>) {
    match REQUEST_LOG.get().copied().unwrap_or(RequestLog::Tracing) {
        RequestLog::Emf => emf::write(record),
        RequestLog::Tracing => tracing::info!(
            endpoint = record.endpoint,
            grant_type = record.grant_type,
            client_id = record.client_id,
            outcome = record.outcome,
            reason = record.reason,
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
