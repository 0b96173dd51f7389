//! `POST /o/token/`: the grants (RFC 6749 §4.3, §4.4 and §6).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::client_auth;
use super::deadline::within_deadline;
use super::discovery::discovery_of;
use super::error::OAuthError;
use super::json::{no_store_json_headers, python_style_json};
use super::observe::EndpointOutcome;
use super::params::Params;
use super::response::{failed, refused};
use super::source_address::source_of;
use crate::domain::grants::DpopPresentation;
use crate::domain::jose::JoseError;
use crate::domain::jose::dpop::{DpopError, ProofRefusal};
use crate::domain::login_throttle::SourceAddress;
use crate::domain::store::{GrantStore, LoginAttemptStore, ReplayStore, StoreError};
use crate::domain::{
    GrantError, GrantRequest, GrantType, IssuedTokens, Secret, TokenRequest, TokenService,
};
use crate::domain::{Issuance, IssuanceRefused};
use crate::telemetry::store_timing;

/// The request header that carries a DPoP proof (RFC 9449 §4.1).
pub(super) const DPOP_HEADER: &str = "dpop";

const ENDPOINT: &str = "token";

pub(super) async fn token_endpoint<S: GrantStore + LoginAttemptStore + ReplayStore>(
    State(service): State<Arc<TokenService<S>>>,
    request: Request,
) -> Response {
    let source = source_of(&request);
    let (parts, body) = request.into_parts();
    let read = async {
        let params = Params::read(&parts.uri, &parts.headers, body).await?;
        let token_request = token_request(&parts.headers, &params)?;
        let issuance = issuance(&parts, &params);
        let dpop = dpop_presentation(&parts)?;
        let mut token_request = TokenRequest {
            source,
            issuance,
            dpop,
            ..token_request
        };
        if let Some(client) = &mut token_request.client {
            client_auth::assertion_audiences(client, &parts);
        }
        Ok(token_request)
    };
    let token_request = match read.await {
        Ok(token_request) => token_request,
        Err(error) => return refused(ENDPOINT, error),
    };
    let grant_type = token_request.grant.grant_type();
    let without_source_address =
        grant_type == GrantType::Password && token_request.source.0.is_none();
    if without_source_address {
        warn_once_of_requests_without_address();
    }
    let outcome = EndpointOutcome {
        grant_type: Some(grant_type.as_str()),
        without_source_address,
        client_id: token_request
            .client
            .as_ref()
            .map(|c| c.client_id.to_string()),
        ..EndpointOutcome::new(ENDPOINT, "issued")
    };
    match within_deadline(grant_work(service, token_request)).await {
        Ok(issued) => outcome.on(success(&issued)),
        Err(failure) => failed(outcome, failure),
    }
}

/// Says once per instance that password requests arrive without a source address: the
/// integration in front (an ALB not trusted for `X-Forwarded-For`, a custom integration, a
/// direct invoke) gives none, so each username is held to its username-wide count alone and a
/// stranger's guesses spend the real user's budget. The metric counts every such request.
fn warn_once_of_requests_without_address() {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "a password request came without a source address: password guessing is limited by \
             each username's consecutive failures alone (no per-address lock). Pass the \
             caller's address (API Gateway does; an ALB needs TRUSTED_PROXIES), see \
             docs/security.md"
        );
    });
}

/// The grant's work. Its future holds every flow's state and is several kilobytes: boxed here,
/// it is not copied through each layer of the router on its way to its first poll. A password
/// grant runs as a task of its own: once it has taken a login attempt it must settle it, even
/// if the client hangs up (which drops a request's future on the local server) or the deadline
/// answers first; an abandoned attempt would hold its slot until its hold expired.
fn grant_work<S: GrantStore + LoginAttemptStore>(
    service: Arc<TokenService<S>>,
    request: TokenRequest,
) -> Pin<Box<dyn Future<Output = Result<IssuedTokens, GrantError>> + Send>> {
    if request.grant.grant_type() != GrantType::Password {
        return Box::pin(async move { service.grant(request).await });
    }
    let task = store_timing::spawn_measured(async move { service.grant(request).await });
    Box::pin(async move {
        match task.await {
            Ok(issued) => issued,
            Err(failed) => match failed.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Cancelled: only a runtime shutting down cancels a task.
                Err(_) => Err(GrantError::Store(StoreError::Unavailable(
                    "the server is shutting down".into(),
                ))),
            },
        }
    })
}

/// Who issues the request's tokens (the configured issuer, or the request's own) and for whom:
/// the `resource` it names (RFC 8707), one of the configured audiences, or the default one.
fn issuance(parts: &Parts, params: &Params) -> Result<Issuance, IssuanceRefused> {
    let discovery = discovery_of(parts);
    let mut resources = params.all("resource");
    let resource = resources.next();
    if resources.next().is_some() {
        return Err(IssuanceRefused::InvalidTarget);
    }
    let issuer = discovery
        .issuer(parts)
        .map_err(|_| IssuanceRefused::NoIssuer)?;
    let audience = discovery
        .audiences
        .audience_for(resource, &issuer)
        .map_err(|_| IssuanceRefused::InvalidTarget)?;
    Ok(Issuance {
        issuer,
        audience,
        resource_named: resource.is_some(),
    })
}

/// The request's `DPoP` header (RFC 9449 §4.1), with the URL its proof must name: the
/// issuer's (configured, or this request's) and the path the request reached. More than one
/// header is an invalid proof.
fn dpop_presentation(parts: &Parts) -> Result<Option<DpopPresentation>, OAuthError> {
    let mut headers = parts.headers.get_all(DPOP_HEADER).iter();
    let Some(proof) = headers.next() else {
        return Ok(None);
    };
    let proof = match (headers.next(), proof.to_str()) {
        (None, Ok(proof)) => Secret::new(proof.trim()),
        (Some(_), _) => {
            return Err(GrantError::from(DpopError::from(ProofRefusal::Repeated)).into());
        }
        (None, Err(_)) => {
            return Err(GrantError::from(DpopError::from(ProofRefusal::from(
                JoseError::Malformed,
            )))
            .into());
        }
    };
    let issuer = discovery_of(parts).issuer(parts)?;
    Ok(Some(DpopPresentation {
        proof,
        url: format!("{issuer}{}", parts.uri.path()),
    }))
}

/// Turns a token request's headers and body into a [`TokenRequest`], or the OAuth error the
/// request deserves. Pure and synchronous: the fuzz target drives it directly.
pub fn parse_token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    token_request(headers, &Params::from_body(headers, body)?)
}

/// Checks the request's shape, in the documented endpoint's order: `grant_type`, the grant's
/// required parameters, then the client's credentials.
fn token_request(headers: &HeaderMap, params: &Params) -> Result<TokenRequest, OAuthError> {
    let grant_type: GrantType = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("Request is missing grant_type parameter."))?
        .parse()?;
    let grant = GrantRequest::parse(grant_type, params)
        .map_err(|missing| OAuthError::invalid_request(missing.description))?;
    Ok(TokenRequest {
        client: client_auth::client_credentials(headers, params)?,
        grant,
        // The endpoint fills these in from the request's extensions.
        source: SourceAddress::default(),
        issuance: Err(IssuanceRefused::NoIssuer),
        dpop: None,
    })
}

/// RFC 6749 §5.1, in the documented endpoint's key order. The client credentials grant has
/// no refresh token (§4.4.3), and the key is left out.
#[derive(Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    expires_in: u64,
    token_type: &'static str,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

fn success(issued: &IssuedTokens) -> Response {
    let body = python_style_json(&TokenBody {
        access_token: issued.access_token.expose(),
        expires_in: issued.expires_in,
        token_type: if issued.dpop_bound { "DPoP" } else { "Bearer" },
        scope: issued.scope.to_string(),
        refresh_token: issued.refresh_token.as_ref().map(|token| token.expose()),
    });
    (StatusCode::OK, no_store_json_headers(), body).into_response()
}
