//! What the endpoints answer with besides their own bodies: the headers of JSON answers, and
//! the answers to failed and refused requests, with their [`Outcome`].

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::{self, Failure, OAuthError};
use super::observe::Outcome;

/// Token responses must not be cached (RFC 6749 §5.1); errors get the same headers.
pub(super) fn no_store_json_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ]
}

/// The response to a request whose domain work failed, with its outcome.
pub(super) fn failed(mut outcome: Outcome, failure: Failure) -> Response {
    outcome.reason = error::reason(&failure);
    let error = OAuthError::from(failure);
    outcome.outcome = error.code.as_str();
    outcome.on(error.into_response())
}

/// The response to a request refused before it reached the domain.
pub(super) fn refused(endpoint: &'static str, error: OAuthError) -> Response {
    Outcome::new(endpoint, error.code.as_str()).on(error.into_response())
}
