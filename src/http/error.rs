//! The one place where failures become RFC 6749 §5.2 responses.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::json::python_style_json;
use crate::domain::GrantError;
use crate::domain::store::StoreError;

/// The realm named in `WWW-Authenticate` when client authentication fails.
pub const REALM: &str = "oauth";

/// An error response: status, RFC 6749 error code and optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: Option<Cow<'static, str>>,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: Option<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            description,
            allow: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some(description.into()),
        )
    }

    pub fn payload_too_large(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            Some(description.into()),
        )
    }

    pub fn unsupported_grant_type() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", None)
    }

    /// A 405 naming the methods the resource allows.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                Some(format!("Allowed methods: {allow}.").into()),
            )
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request",
            Some("Not found.".into()),
        )
    }
}

/// Why a request failed, for logs and metrics only, where the error code alone does not say.
pub fn reason(error: &GrantError) -> Option<&'static str> {
    match error {
        GrantError::LockedOut => Some("locked"),
        GrantError::InvalidCredentials => Some("invalid_credentials"),
        GrantError::Store(StoreError::Unavailable(_)) => Some("store_unavailable"),
        GrantError::Store(_) | GrantError::Credentials(_) | GrantError::Randomness(_) => {
            Some("internal")
        }
        _ => None,
    }
}

impl From<GrantError> for OAuthError {
    fn from(error: GrantError) -> Self {
        use GrantError as E;
        let bad_request = StatusCode::BAD_REQUEST;
        match error {
            E::InvalidClient => Self::new(StatusCode::UNAUTHORIZED, "invalid_client", None),
            E::UnauthorizedClient => Self::new(bad_request, "unauthorized_client", None),
            // The exact description the documented endpoint gives, for unknown users and locked
            // usernames too.
            E::InvalidCredentials | E::LockedOut => Self::new(
                bad_request,
                "invalid_grant",
                Some("Invalid credentials given.".into()),
            ),
            E::InvalidRefreshToken => Self::new(bad_request, "invalid_grant", None),
            E::InvalidScope => Self::new(bad_request, "invalid_scope", None),
            E::TokenOfAnotherClient => Self::new(
                bad_request,
                "unauthorized_client",
                Some("The token was not issued to this client.".into()),
            ),
            E::Store(StoreError::Unavailable(source)) => {
                tracing::error!(error = %source, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    None,
                )
            }
            internal => {
                // Details go to the log only; the client learns nothing about internals.
                tracing::error!(error = %internal, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None)
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = python_style_json(&ErrorBody {
            error: self.code,
            error_description: self.description.as_deref(),
        });
        let mut response = (self.status, super::no_store_json_headers(), body).into_response();
        let headers = response.headers_mut();
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="oauth", charset="UTF-8""#),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
