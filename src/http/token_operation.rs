//! The request shared by revocation and introspection: one token, and the client asking
//! about it.

use axum::extract::Request;
use axum::response::Response;

use super::client_auth;
use super::discovery::discovery_of;
use super::error::OAuthError;
use super::observe::EndpointOutcome;
use super::params::Params;
use super::response::refused;
use crate::domain::ClientCredentials;
use crate::domain::{GrantError, Secret};

/// A request about one token (revocation, introspection): the token and the client asking.
pub(super) struct TokenOperation {
    endpoint: &'static str,
    pub(super) client: ClientCredentials,
    pub(super) token: Secret,
    /// The issuer a JWT must name; `None` if it cannot be told.
    pub(super) issuer: Option<String>,
}

impl TokenOperation {
    /// Reads the request, or answers it: checked in the order django-oauth-toolkit's endpoints
    /// check, the token parameter, then the client's credentials, which are required.
    pub(super) async fn read(endpoint: &'static str, request: Request) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let issuer = discovery_of(&parts).issuer(&parts).ok();
        let read = async {
            let params = Params::read(&parts.uri, &parts.headers, body).await?;
            let token = params
                .get("token")
                .ok_or_else(|| OAuthError::invalid_request("Missing token parameter."))?;
            let mut client = client_auth::client_credentials(&parts.headers, &params)?
                .ok_or_else(|| OAuthError::from(GrantError::InvalidClient))?;
            client_auth::assertion_audiences(&mut client, &parts);
            Ok((client, Secret::new(token)))
        };
        match read.await {
            Ok((client, token)) => Ok(Self {
                endpoint,
                client,
                token,
                issuer,
            }),
            Err(error) => Err(refused(endpoint, error)),
        }
    }

    /// The outcome of this operation, naming its client.
    pub(super) fn outcome(&self, outcome: &'static str) -> EndpointOutcome {
        EndpointOutcome {
            client_id: Some(self.client.client_id.to_string()),
            ..EndpointOutcome::new(self.endpoint, outcome)
        }
    }
}
