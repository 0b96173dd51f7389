//! The HTTP face of the service: one axum router, served by the Lambda runtime, by the local
//! server and by the tests.
//!
//! - `POST /o/token/`: grants (RFC 6749), in [`token`];
//! - `POST /o/revoke_token/`: revocation (RFC 7009), in [`revocation`];
//! - `POST /o/introspect/`: introspection (RFC 7662), in [`introspection`];
//! - `GET /.well-known/oauth-authorization-server`: metadata (RFC 8414), in [`metadata`].
//!
//! The OAuth endpoints answer with and without their trailing slash (a redirect would turn a
//! client's POST into a GET and lose the body).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::domain::grant::ClientCredentials;
use crate::domain::store::{Store, StoreError};
use crate::domain::{GrantError, Secret, TokenService};
use crate::telemetry::{self, RequestRecord, store_timing};

pub mod client_auth;
pub mod error;
pub mod introspection;
pub mod json;
pub mod metadata;
pub mod params;
pub mod revocation;
pub mod token;

pub use error::OAuthError;
pub use metadata::Discovery;
use params::Params;
pub use token::parse_token_request;

/// The longest a request may take before it is answered 503: under the Lambda function's
/// 10 s timeout, so a slow or stuck DynamoDB gives the client an OAuth error, not a gateway
/// error.
pub const GRANT_DEADLINE: Duration = Duration::from_secs(8);

/// Token requests are a few hundred bytes; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the POST endpoints allow.
pub const POST_METHODS: &str = "POST, OPTIONS";

/// Paths of the endpoints, relative to the issuer.
pub const TOKEN_PATH: &str = "/o/token/";
pub const REVOCATION_PATH: &str = "/o/revoke_token/";
pub const INTROSPECTION_PATH: &str = "/o/introspect/";
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// The router for every endpoint. `discovery` says how the metadata document names the
/// server.
pub fn router<S: Store>(service: Arc<TokenService<S>>, discovery: Discovery) -> Router {
    let token = allowing(post(token::token_endpoint::<S>), POST_METHODS);
    let revocation = allowing(post(revocation::revocation_endpoint::<S>), POST_METHODS);
    let introspection = allowing(
        post(introspection::introspection_endpoint::<S>),
        POST_METHODS,
    );
    let metadata = allowing(get(metadata::metadata_endpoint), metadata::ALLOWED_METHODS)
        .with_state(Arc::new(discovery));
    Router::new()
        .route(TOKEN_PATH, token.clone())
        .route(TOKEN_PATH.trim_end_matches('/'), token)
        .route(REVOCATION_PATH, revocation.clone())
        .route(REVOCATION_PATH.trim_end_matches('/'), revocation)
        .route(INTROSPECTION_PATH, introspection.clone())
        .route(INTROSPECTION_PATH.trim_end_matches('/'), introspection)
        .route_service(METADATA_PATH, metadata)
        .fallback(not_found)
        .with_state(service)
        .layer(middleware::from_fn(observe))
}

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
pub struct Outcome {
    pub endpoint: &'static str,
    pub grant_type: Option<&'static str>,
    pub client_id: Option<String>,
    /// `issued`, `revoked`, `active`… or the OAuth error code.
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
}

impl Outcome {
    pub fn new(endpoint: &'static str, outcome: &'static str) -> Self {
        Self {
            endpoint,
            grant_type: None,
            client_id: None,
            outcome,
            reason: None,
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
async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let ids = request
        .extensions()
        .get::<RequestIds>()
        .cloned()
        .unwrap_or_default();
    let (mut response, store) = store_timing::measure(next.run(request)).await;
    response.extensions_mut().insert(store);
    let status = response.status();
    let fallback = Outcome::new(
        "other",
        match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            _ if status.is_success() => "ok",
            _ => "invalid_request",
        },
    );
    let outcome = response.extensions().get::<Outcome>().unwrap_or(&fallback);
    telemetry::record_request(&RequestRecord {
        endpoint: outcome.endpoint,
        grant_type: outcome.grant_type,
        client_id: outcome.client_id.as_deref(),
        outcome: outcome.outcome,
        reason: outcome.reason,
        status: status.as_u16(),
        latency: started.elapsed(),
        store,
        request_id: ids.lambda.as_deref(),
        api_request_id: ids.api_gateway.as_deref(),
    });
    response
}

/// Runs a request's domain work under [`GRANT_DEADLINE`]; past it the answer is 503.
async fn within_deadline<T>(
    work: impl Future<Output = Result<T, GrantError>>,
) -> Result<T, GrantError> {
    tokio::time::timeout(GRANT_DEADLINE, work)
        .await
        .unwrap_or_else(|_| {
            Err(GrantError::Store(StoreError::Unavailable(
                "the request did not finish within its deadline".into(),
            )))
        })
}

/// The response to a failed request, with its outcome.
fn failure(mut outcome: Outcome, error: GrantError) -> Response {
    outcome.reason = error::reason(&error);
    let error = OAuthError::from(error);
    outcome.outcome = error.code;
    outcome.on(error.into_response())
}

/// The response to a request refused before it reached the domain.
fn refused(endpoint: &'static str, error: OAuthError) -> Response {
    Outcome::new(endpoint, error.code).on(error.into_response())
}

/// Reads the parameters of a POST to an OAuth endpoint. Parameters in the query string are
/// refused before the body is read: credentials in a URL end up in access logs, and the
/// documented endpoint refuses them too.
async fn read_params(uri: &Uri, headers: &HeaderMap, body: Body) -> Result<Params, OAuthError> {
    if uri.query().is_some_and(|query| !query.is_empty()) {
        return Err(OAuthError::invalid_request(
            "URL query parameters are not allowed",
        ));
    }
    let body = read_body(body).await?;
    parse_body(headers, &body)
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

/// `endpoint`, with OPTIONS answering which methods it allows and any other method a 405
/// saying the same.
fn allowing<State: Clone + Send + Sync + 'static>(
    endpoint: MethodRouter<State>,
    allow: &'static str,
) -> MethodRouter<State> {
    endpoint
        .options(move || async move { (StatusCode::OK, [(header::ALLOW, allow)]) })
        .fallback(move || async move { OAuthError::method_not_allowed(allow) })
}

async fn not_found() -> OAuthError {
    OAuthError::not_found()
}

/// A request about one token (revocation, introspection): the token and the client asking.
struct TokenOperation {
    endpoint: &'static str,
    client: ClientCredentials,
    token: Secret,
}

impl TokenOperation {
    /// Reads the request, or answers it: checked in the order django-oauth-toolkit's endpoints
    /// check, the token parameter, then the client's credentials, which are required.
    async fn read(endpoint: &'static str, request: Request) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let read = async {
            let params = read_params(&parts.uri, &parts.headers, body).await?;
            let token = params
                .get("token")
                .ok_or_else(|| OAuthError::invalid_request("Missing token parameter."))?;
            let client = client_auth::client_credentials(&parts.headers, &params)?
                .ok_or_else(|| OAuthError::from(GrantError::InvalidClient))?;
            Ok((client, Secret::new(token)))
        };
        match read.await {
            Ok((client, token)) => Ok(Self {
                endpoint,
                client,
                token,
            }),
            Err(error) => Err(refused(endpoint, error)),
        }
    }

    fn outcome(&self, outcome: &'static str) -> Outcome {
        Outcome {
            client_id: Some(self.client.client_id.clone()),
            ..Outcome::new(self.endpoint, outcome)
        }
    }
}
