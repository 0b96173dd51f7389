//! `POST /o/revoke_token/`: token revocation (RFC 7009).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::deadline::within_deadline;
use super::response::failed;
use super::token_operation::TokenOperation;
use crate::domain::TokenService;
use crate::domain::store::GrantStore;

const ENDPOINT: &str = "revocation";

/// Answers 200 with an empty body whether or not the token existed (RFC 7009 §2.2), as
/// django-oauth-toolkit does. `token_type_hint` is accepted and not needed: one lookup finds
/// every kind of token.
pub(super) async fn revocation_endpoint<S: GrantStore>(
    State(service): State<Arc<TokenService<S>>>,
    request: Request,
) -> Response {
    let operation = match TokenOperation::read(ENDPOINT, request).await {
        Ok(operation) => operation,
        Err(response) => return response,
    };
    match within_deadline(service.revoke(&operation.client, &operation.token)).await {
        Ok(0) => operation.outcome("nothing_to_revoke").on(revoked()),
        Ok(_) => operation.outcome("revoked").on(revoked()),
        Err(failure) => failed(operation.outcome("failed"), failure),
    }
}

fn revoked() -> Response {
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response()
}
