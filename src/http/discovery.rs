//! How the server names itself and what its tokens are for: the issuer URL (configured, or
//! derived from each request) and the audiences a JWT access token may name.

use std::str::FromStr;
use std::sync::Arc;

use axum::http::header;
use axum::http::request::Parts;
use axum::http::uri::Authority;

use super::error::OAuthError;
use crate::config::{AudienceUris, DiscoveryConfig};
use crate::domain::Scope;

/// How the metadata names the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The issuer URL, without a trailing slash; `None`: derived from each request.
    pub issuer: Option<String>,
    /// Published as `scopes_supported`; `None`: left out (each client's scopes are its own).
    pub scopes_supported: Option<Scope>,
    /// What JWT access tokens may be for.
    pub audiences: Audiences,
}

/// The path prefix in front of the service's routes (an API Gateway stage such as `/prod`),
/// put into the request's extensions by the Lambda adapter after it removed it from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasePath(pub String);

/// The router's [`Discovery`] (a request that did not come through it gets the default one).
pub(super) fn discovery_of(parts: &Parts) -> Arc<Discovery> {
    parts
        .extensions
        .get::<Arc<Discovery>>()
        .cloned()
        .unwrap_or_default()
}

impl From<DiscoveryConfig> for Discovery {
    fn from(config: DiscoveryConfig) -> Self {
        Self {
            issuer: config.issuer,
            scopes_supported: config.scopes_supported,
            audiences: config.audiences.into(),
        }
    }
}

impl Discovery {
    /// The issuer of a request: the configured one, or `scheme://host[/stage]` of the request.
    pub fn issuer(&self, parts: &Parts) -> Result<String, OAuthError> {
        match &self.issuer {
            Some(issuer) => Ok(issuer.clone()),
            None => issuer_of(parts),
        }
    }
}

/// The audiences a JWT access token may name (RFC 8707 resource indicators): absolute URIs
/// without a fragment. The first is the default; none configured, the issuer is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audiences(Vec<String>);

/// A `resource` parameter that is not an absolute URI, or not one this server issues tokens
/// for (RFC 8707 §2: `invalid_target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the resource is not one this server issues tokens for")]
pub struct InvalidTarget;

impl Audiences {
    /// The `aud` of a token requested with `resource` (one value, or none).
    pub fn audience_for(
        &self,
        resource: Option<&str>,
        issuer: &str,
    ) -> Result<String, InvalidTarget> {
        let default = self.0.first().map_or(issuer, String::as_str);
        match resource {
            None => Ok(default.to_owned()),
            Some(resource)
                if resource == default || self.0.iter().any(|known| known == resource) =>
            {
                Ok(resource.to_owned())
            }
            Some(_) => Err(InvalidTarget),
        }
    }
}

impl From<AudienceUris> for Audiences {
    fn from(uris: AudienceUris) -> Self {
        Self(uris.0)
    }
}

impl FromStr for Audiences {
    type Err = String;

    /// As `ACCESS_TOKEN_AUDIENCES` is written: space-separated absolute URIs.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse::<AudienceUris>().map(Self::from)
    }
}

/// `scheme://host[/stage]` of the request.
pub(super) fn issuer_of(parts: &Parts) -> Result<String, OAuthError> {
    let forwarded_proto = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(|value| value.trim().to_ascii_lowercase());
    let scheme = match forwarded_proto.as_deref() {
        Some("https") => "https",
        Some("http") => "http",
        _ => parts.uri.scheme_str().unwrap_or("http"),
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| parts.uri.authority().map(Authority::as_str))
        .and_then(|host| Authority::from_str(host).ok())
        // An authority with user information is not a server's name.
        .filter(|authority| !authority.as_str().contains('@'))
        .ok_or_else(|| OAuthError::invalid_request("The Host header is missing or malformed."))?;
    let base_path = parts
        .extensions
        .get::<BasePath>()
        .map(|base| base.0.as_str())
        .unwrap_or_default();
    Ok(format!("{scheme}://{}{base_path}", host.as_str()))
}
