//! The client credentials grant (RFC 6749 §4.4): the client acts on its own behalf. The access
//! token has no user and no refresh token comes with it: the client can always authenticate
//! again.

use super::{GrantContext, GrantParameters, MissingParameter};
use crate::domain::error::GrantError;
use crate::domain::issuer::{AccessGrant, IssuedTokens, narrow, new_family_id};
use crate::domain::model::{AccessTokenRecord, GrantType};
use crate::domain::store::GrantStore;
use crate::domain::token::{TokenHash, new_token};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsRequest {
    /// The raw `scope` parameter.
    pub scope: Option<String>,
}

impl ClientCredentialsRequest {
    pub const PARAMETERS: &[&str] = &["scope"];

    pub fn parse(params: &dyn GrantParameters) -> Result<Self, MissingParameter> {
        Ok(Self {
            scope: params.get("scope").map(str::to_owned),
        })
    }
}

/// Order of checks: client, grant permission, scope.
pub async fn issue<S: GrantStore>(
    context: &GrantContext<'_, S>,
    request: ClientCredentialsRequest,
) -> Result<IssuedTokens, GrantError> {
    let issuer = context.issuer;
    let now = issuer.now();
    let client = issuer
        .authenticate_client(context.store, context.client)
        .await?;
    if !client.allows(GrantType::ClientCredentials) {
        return Err(GrantError::UnauthorizedClient);
    }
    let scope = narrow(request.scope.as_deref(), &client.scope)?;
    let lifetime = issuer.access_lifetime(&client);
    let grant = AccessGrant {
        client: &client,
        username: None,
        scope: &scope,
        issued_at: now,
        expires_at: now + lifetime,
    };
    let access_token = issuer
        .access_token(&grant, new_token()?, context.issuance)
        .await?;
    let access = AccessTokenRecord {
        token_hash: TokenHash::of(&access_token),
        client_id: client.client_id.clone(),
        username: None,
        scope: scope.clone(),
        family_id: new_family_id()?,
        issued_at: now,
        expires_at: grant.expires_at,
    };
    context.store.issue_access_token(&access).await?;
    Ok(IssuedTokens {
        access_token,
        refresh_token: None,
        expires_in: lifetime,
        scope,
    })
}
