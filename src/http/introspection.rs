//! `POST /o/introspect/`: token introspection (RFC 7662).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::deadline::within_deadline;
use super::json::{no_store_json_headers, python_style_json};
use super::response::failed;
use super::token_operation::TokenOperation;
use crate::domain::TokenService;
use crate::domain::model::AccessTokenRecord;
use crate::domain::store::GrantStore;

const ENDPOINT: &str = "introspection";

pub(super) async fn introspection_endpoint<S: GrantStore>(
    State(service): State<Arc<TokenService<S>>>,
    request: Request,
) -> Response {
    let operation = match TokenOperation::read(ENDPOINT, request).await {
        Ok(operation) => operation,
        Err(response) => return response,
    };
    match within_deadline(service.introspect(
        &operation.client,
        &operation.token,
        operation.issuer.as_deref(),
    ))
    .await
    {
        Ok(Some(access)) => operation
            .outcome("active")
            .on(answer(&Introspection::active(&access))),
        Ok(None) => operation
            .outcome("inactive")
            .on(answer(&Introspection::inactive())),
        Err(failure) => failed(operation.outcome("failed"), failure),
    }
}

/// RFC 7662 §2.2. An inactive token gets `active` alone: nothing about why.
#[derive(Serialize)]
struct Introspection<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    /// Absent for a client's own token (client credentials grant).
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    /// The API the token is for: a JWT's `aud`, or the `resource` an opaque token was
    /// requested for; absent for an opaque token any API may accept.
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    /// The DPoP key a bound token is for (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation<'a>>,
}

#[derive(Serialize)]
struct Confirmation<'a> {
    jkt: &'a str,
}

impl<'a> Introspection<'a> {
    fn active(access: &'a AccessTokenRecord) -> Self {
        Self {
            active: true,
            scope: Some(access.scope.to_string()),
            client_id: Some(&access.client_id),
            username: access.username.as_deref(),
            token_type: Some(if access.jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }),
            exp: Some(access.expires_at),
            iat: Some(access.issued_at),
            aud: access.audience.as_deref(),
            cnf: access
                .jkt
                .as_ref()
                .map(|jkt| Confirmation { jkt: jkt.as_str() }),
        }
    }

    fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            username: None,
            token_type: None,
            exp: None,
            iat: None,
            aud: None,
            cnf: None,
        }
    }
}

fn answer(introspection: &Introspection<'_>) -> Response {
    (
        StatusCode::OK,
        no_store_json_headers(),
        python_style_json(introspection),
    )
        .into_response()
}
