//! The HTTP face of the token endpoint: one axum router, served by the Lambda runtime, by the
//! local server and by the tests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Serialize;

use crate::domain::{GrantError, GrantRequest, IssuedTokens, TokenRequest, TokenService};
use crate::store::{Store, StoreError};

pub mod client_auth;
pub mod error;
pub mod json;
pub mod params;

pub use error::OAuthError;
use json::python_style_json;
use params::Params;

/// The longest a grant may take before it is answered 503: under the Lambda function's 10 s
/// timeout, so a slow or stuck DynamoDB gives the client an OAuth error, not a gateway error.
pub const GRANT_DEADLINE: Duration = Duration::from_secs(8);

/// Token requests are a few hundred bytes; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const ALLOWED_METHODS: &str = "POST, OPTIONS";

/// The router: `POST /o/token/`, and `/o/token` without the slash (answered directly: a
/// redirect would turn the client's POST into a GET and lose the body).
pub fn router<S: Store>(service: Arc<TokenService<S>>) -> Router {
    let token: MethodRouter<Arc<TokenService<S>>> = post(token_endpoint::<S>)
        .options(allowed_methods)
        .fallback(method_not_allowed);
    Router::new()
        .route("/o/token/", token.clone())
        .route("/o/token", token)
        .fallback(not_found)
        .with_state(service)
}

async fn token_endpoint<S: Store>(
    State(service): State<Arc<TokenService<S>>>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let token_request = match read_token_request(&parts.uri, &parts.headers, body).await {
        Ok(token_request) => token_request,
        Err(error) => {
            log_outcome(None, None, error.code, started);
            return error.into_response();
        }
    };
    let grant_type = token_request.grant.grant_type();
    let client_id = token_request.client.as_ref().map(|c| c.client_id.clone());
    let outcome = tokio::time::timeout(GRANT_DEADLINE, service.grant(token_request))
        .await
        .unwrap_or_else(|_| {
            Err(GrantError::Store(StoreError::Unavailable(
                "the grant did not finish within its deadline".into(),
            )))
        });
    match outcome {
        Ok(issued) => {
            log_outcome(
                Some(grant_type.as_str()),
                client_id.as_deref(),
                "issued",
                started,
            );
            success(&issued)
        }
        Err(error) => {
            let error = OAuthError::from(error);
            log_outcome(
                Some(grant_type.as_str()),
                client_id.as_deref(),
                error.code,
                started,
            );
            error.into_response()
        }
    }
}

/// One line per request. Client ids are public; secrets, passwords, usernames and tokens
/// never appear.
fn log_outcome(grant_type: Option<&str>, client_id: Option<&str>, outcome: &str, started: Instant) {
    tracing::info!(
        grant_type,
        client_id,
        outcome,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "token request"
    );
}

/// Checks the request's shape, in the documented endpoint's order: query string, body,
/// `grant_type`, the grant's required parameters, then the client's credentials.
async fn read_token_request(
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenRequest, OAuthError> {
    // Credentials in a URL end up in access logs; the documented endpoint refuses them too.
    // Checked before the body is read, as the documented endpoint does.
    if uri.query().is_some_and(|query| !query.is_empty()) {
        return Err(OAuthError::invalid_request(
            "URL query parameters are not allowed",
        ));
    }
    let body = read_body(body).await?;
    parse_token_request(headers, &body)
}

/// Turns a token request's headers and body into a [`TokenRequest`], or the OAuth error the
/// request deserves. Pure and synchronous: the fuzz target drives it directly.
pub fn parse_token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let params = parse_body(headers, body)?;

    let grant = match params.get("grant_type") {
        None => {
            return Err(OAuthError::invalid_request(
                "Request is missing grant_type parameter.",
            ));
        }
        Some("password") => GrantRequest::Password {
            username: params
                .get("username")
                .ok_or_else(|| {
                    OAuthError::invalid_request("Request is missing username parameter.")
                })?
                .to_owned(),
            password: params
                .get("password")
                .ok_or_else(|| {
                    OAuthError::invalid_request("Request is missing password parameter.")
                })?
                .into(),
            scope: params.get("scope").map(str::to_owned),
        },
        Some("refresh_token") => GrantRequest::RefreshToken {
            refresh_token: params
                .get("refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("Missing refresh token parameter."))?
                .into(),
            scope: params.get("scope").map(str::to_owned),
        },
        Some(_) => return Err(OAuthError::unsupported_grant_type()),
    };
    Ok(TokenRequest {
        client: client_auth::client_credentials(headers, &params)?,
        grant,
    })
}

async fn read_body(body: Body) -> Result<Bytes, OAuthError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                OAuthError::payload_too_large(format!(
                    "The request body exceeds {MAX_BODY_BYTES} bytes."
                ))
            } else {
                OAuthError::invalid_request("The request body could not be read.")
            }
        })
}

/// Form bodies (what the documentation's samples send) and JSON bodies (what its table says)
/// carry the same fields. A body without a Content-Type is read as a form.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| {
            // A header that is not visible ASCII names no media type we know.
            let value = value.to_str().unwrap_or("unreadable/unreadable");
            let essence = value.split(';').next().unwrap_or_default();
            essence.trim().to_ascii_lowercase()
        })
        .unwrap_or_default();
    match media_type.as_str() {
        "" | "application/x-www-form-urlencoded" => Params::from_form(body),
        "application/json" => Params::from_json(body),
        json if json.starts_with("application/") && json.ends_with("+json") => {
            Params::from_json(body)
        }
        _ => Err(OAuthError::invalid_request(
            "Unsupported Content-Type: send application/x-www-form-urlencoded or application/json.",
        )),
    }
}

/// RFC 6749 §5.1, in the documented endpoint's key order.
#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    expires_in: u64,
    token_type: &'static str,
    scope: String,
    refresh_token: &'a str,
}

fn success(issued: &IssuedTokens) -> Response {
    let body = python_style_json(&TokenBody {
        access_token: issued.access_token.expose(),
        expires_in: issued.expires_in,
        token_type: "Bearer",
        scope: issued.scope.to_string(),
        refresh_token: issued.refresh_token.expose(),
    });
    (StatusCode::OK, no_store_json_headers(), body).into_response()
}

/// Token responses must not be cached (RFC 6749 §5.1); errors get the same headers.
fn no_store_json_headers() -> [(header::HeaderName, HeaderValue); 4] {
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

async fn allowed_methods() -> impl IntoResponse {
    (StatusCode::OK, [(header::ALLOW, ALLOWED_METHODS)])
}

async fn method_not_allowed() -> OAuthError {
    OAuthError::method_not_allowed()
}

async fn not_found() -> OAuthError {
    OAuthError::not_found()
}
