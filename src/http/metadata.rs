//! `GET /.well-known/oauth-authorization-server`: authorization server metadata (RFC 8414).
//!
//! The issuer is configured (`ISSUER`) or, if not, derived from the request: the scheme API
//! Gateway reports in `X-Forwarded-Proto`, the `Host` header, and the API Gateway stage the
//! Lambda adapter found in front of the path (`BasePath`). Behind a named stage the document
//! is served at `https://host/stage/.well-known/oauth-authorization-server`, with the stage in
//! every URL, because API Gateway cannot route RFC 8414's `/.well-known/…/stage` form.

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::discovery::{Discovery, issuer_of};
use super::json::python_style_json;
use super::observe::EndpointOutcome;
use super::paths::{INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, TOKEN_PATH};
use super::response::refused;
use crate::domain::GrantType;
use crate::domain::jose::assertion::ASSERTION_ALGORITHMS;
use crate::domain::jose::dpop::PROOF_ALGORITHMS;

const ENDPOINT: &str = "metadata";

/// Client authentication methods every endpoint accepts (RFC 8414 §2, RFC 7591 §2).
const AUTH_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// RFC 8414 §2, with the fields that apply to a server without an authorization endpoint.
#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    token_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    /// Where the keys of JWT access tokens are (RFC 8414 §2; OpenID Connect discovery).
    jwks_uri: String,
    grant_types_supported: Vec<&'static str>,
    /// Required by RFC 8414; empty because there is no authorization endpoint.
    response_types_supported: [&'static str; 0],
    token_endpoint_auth_methods_supported: [&'static str; 3],
    /// RFC 8414 §2: what private_key_jwt assertions may be signed with.
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    introspection_endpoint_auth_methods_supported: [&'static str; 3],
    /// RFC 9449 §5.1: the algorithms DPoP proofs may be signed with.
    dpop_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scopes_supported: Option<Vec<&'a str>>,
}

pub(super) async fn metadata_endpoint(
    State(discovery): State<Arc<Discovery>>,
    parts: Parts,
) -> Response {
    let issuer = match &discovery.issuer {
        Some(issuer) => issuer.clone(),
        None => match issuer_of(&parts) {
            Ok(issuer) => issuer,
            Err(error) => return refused(ENDPOINT, error),
        },
    };
    let metadata = Metadata {
        issuer: &issuer,
        token_endpoint: format!("{issuer}{TOKEN_PATH}"),
        revocation_endpoint: format!("{issuer}{REVOCATION_PATH}"),
        introspection_endpoint: format!("{issuer}{INTROSPECTION_PATH}"),
        jwks_uri: format!("{issuer}{JWKS_PATH}"),
        grant_types_supported: GrantType::ALL.iter().map(|grant| grant.as_str()).collect(),
        response_types_supported: [],
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS
            .iter()
            .map(|a| a.as_str())
            .collect(),
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        scopes_supported: discovery
            .scopes_supported
            .as_ref()
            .map(|scope| scope.tokens().collect()),
        dpop_signing_alg_values_supported: PROOF_ALGORITHMS.iter().map(|a| a.as_str()).collect(),
    };
    let mut response = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        python_style_json(&metadata),
    )
        .into_response();
    let headers = response.headers_mut();
    if discovery.issuer.is_some() {
        // The document changes only with a deployment.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
    } else {
        // Derived from the request's Host: a shared cache that did not key on it could serve
        // one caller's issuer to everyone, so only the caller may keep it.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=3600"),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Host, X-Forwarded-Proto"),
        );
    }
    EndpointOutcome::new(ENDPOINT, "served").on(response)
}
