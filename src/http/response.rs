//! The answers to failed and refused requests, with their [`EndpointOutcome`].

use axum::response::{IntoResponse, Response};

use super::deadline::DomainFailure;
use super::error::{self, OAuthError};
use super::observe::EndpointOutcome;

/// The response to a request whose domain work failed, with its outcome.
pub(super) fn failed(mut outcome: EndpointOutcome, failure: DomainFailure) -> Response {
    outcome.reason = error::reason(&failure);
    let error = OAuthError::from(failure);
    outcome.outcome = error.code.as_str();
    outcome.on(error.into_response())
}

/// The response to a request refused before it reached the domain.
pub(super) fn refused(endpoint: &'static str, error: OAuthError) -> Response {
    EndpointOutcome::new(endpoint, error.code.as_str()).on(error.into_response())
}
