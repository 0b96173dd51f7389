//! Request observation: what an endpoint did with a request ([`EndpointOutcome`]), the ids it
//! arrived with ([`RequestIds`]), and the middleware that times it and writes its record.

use std::time::Instant;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::telemetry::{self, RequestRecord, store_timing};

/// The request ids a request carries, put into its extensions by the Lambda adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestIds {
    /// The Lambda invocation's request id, as in the function's START and REPORT lines.
    pub lambda: Option<String>,
    /// API Gateway's request id, as in its access logs.
    pub api_gateway: Option<String>,
}

/// What an endpoint did with a request, attached to its response for the logging middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointOutcome {
    pub endpoint: &'static str,
    pub grant_type: Option<&'static str>,
    pub client_id: Option<String>,
    /// `issued`, `revoked`, `active`… or the OAuth error code.
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    /// A password request that came with no source address: held to the username-wide
    /// count alone (see `login_throttle`).
    pub without_source_address: bool,
}

impl EndpointOutcome {
    pub fn new(endpoint: &'static str, outcome: &'static str) -> Self {
        Self {
            endpoint,
            grant_type: None,
            client_id: None,
            outcome,
            reason: None,
            without_source_address: false,
        }
    }

    /// Attaches the outcome to `response`.
    pub fn on(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// Times every request, with the DynamoDB calls it makes, and writes its one log line (and
/// on Lambda its metrics): the one place that does, whatever the endpoint. The DynamoDB tally
/// also goes into the response's extensions, for tests and benchmarks.
pub(super) async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let ids = request
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_default();
    let (mut response, store) = store_timing::measure(next.run(request)).await;
    response.extensions_mut().insert(store);
    let status = response.status();
    // Answers no endpoint gave an outcome (404, 405, OPTIONS) are named by their status.
    let fallback = EndpointOutcome::new(
        "other",
        match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            _ if status.is_success() => "ok",
            _ => "invalid_request",
        },
    );
    let outcome = response
        .extensions()
        .get::<EndpointOutcome>()
        .unwrap_or(&fallback);
    telemetry::record_request(&RequestRecord {
        endpoint: outcome.endpoint,
        grant_type: outcome.grant_type,
        client_id: outcome.client_id.as_deref(),
        outcome: outcome.outcome,
        reason: outcome.reason,
        without_source_address: outcome.without_source_address,
        status: status.as_u16(),
        latency: started.elapsed(),
        store,
        request_id: ids.lambda.as_deref(),
        api_request_id: ids.api_gateway.as_deref(),
    });
    response
}
