//! `POST /o/revoke_token/`: token revocation (RFC 7009).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Outcome, failure, read_token_operation, refused, within_deadline};
use crate::domain::TokenService;
use crate::store::Store;

const ENDPOINT: &str = "revocation";

/// Answers 200 with an empty body whether or not the token existed (RFC 7009 §2.2), as
/// django-oauth-toolkit does. `token_type_hint` is accepted and not needed: one lookup finds
/// every kind of token.
pub(super) async fn revocation_endpoint<S: Store>(
    State(service): State<Arc<TokenService<S>>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (client, token) = match read_token_operation(&parts.uri, &parts.headers, body).await {
        Ok(operation) => operation,
        Err(error) => return refused(ENDPOINT, error),
    };
    let outcome = Outcome {
        client_id: Some(client.client_id.clone()),
        ..Outcome::new(ENDPOINT, "revoked")
    };
    match within_deadline(service.revoke(&client, &token)).await {
        Ok(0) => Outcome {
            outcome: "nothing_to_revoke",
            ..outcome
        }
        .on(revoked()),
        Ok(_) => outcome.on(revoked()),
        Err(error) => failure(outcome, error),
    }
}

fn revoked() -> Response {
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response()
}
