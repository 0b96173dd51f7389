//! The client credentials grant (RFC 6749 §4.4): the client acts on its own behalf. The access
//! token has no user and no refresh token comes with it: the client can always authenticate
//! again.

use super::{GrantContext, GrantParameters, MissingParameter};
use crate::domain::error::GrantError;
use crate::domain::issuance::Issuance;
use crate::domain::issuer::{AccessGrant, IssuedTokens, narrow, new_family_id};
use crate::domain::model::{AccessTokenRecord, GrantType};
use crate::domain::store::GrantStore;
use crate::domain::token::{TokenHash, new_token_in};

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
    let binding = issuer.dpop_binding(&client, context.dpop)?;
    let scope = narrow(request.scope.as_deref(), &client.scope)?;
    let lifetime = issuer.access_lifetime(&client);
    let grant = AccessGrant {
        client: &client,
        username: None,
        scope: &scope,
        issued_at: now,
        expires_at: now + lifetime,
        jkt: binding.access.as_ref(),
    };
    let family_id = new_family_id()?;
    let access_token = issuer
        .access_token(&grant, new_token_in(&family_id)?, context.issuance)
        .await?;
    let access = AccessTokenRecord {
        token_hash: TokenHash::of(&access_token),
        client_id: client.client_id.clone(),
        username: None,
        scope: scope.clone(),
        family_id,
        issued_at: now,
        expires_at: grant.expires_at,
        jkt: binding.access.clone(),
        audience: Issuance::recorded_audience(client.access_tokens.format, context.issuance),
    };
    (context.store)
        .issue_access_token(&access, client.credential_version)
        .await?;
    Ok(IssuedTokens {
        access_token,
        refresh_token: None,
        expires_in: lifetime,
        scope,
        dpop_bound: binding.access.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{APP, Grants, OTHER_APP, scope};
    use crate::domain::error::GrantError;
    use crate::domain::model::GrantType;
    use crate::domain::store::prelude::*;
    use crate::domain::token::TokenKey;

    #[tokio::test]
    async fn a_client_gets_an_access_token_of_its_own_and_no_refresh_token() {
        let grants = Grants::new().await;
        let issued = grants.client_credentials(APP, None).await;
        let issued = issued.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(issued.refresh_token, None);
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(issued.scope, scope("read write"), "all the client may have");
        let stored = grants
            .store
            .access_token(&TokenKey::of(&issued.access_token), grants.now())
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|| panic!("the token is stored"));
        assert_eq!((stored.client_id.as_str(), stored.username), (APP, None));
        assert_eq!(stored.expires_at, grants.now() + 3600);
    }

    #[tokio::test]
    async fn the_scope_may_narrow_but_never_widen() {
        let grants = Grants::new().await;
        let narrowed = grants.client_credentials(APP, Some("read")).await;
        assert_eq!(
            narrowed.map(|issued| issued.scope).ok(),
            Some(scope("read"))
        );
        let widened = grants
            .client_credentials(OTHER_APP, Some("read write"))
            .await;
        assert!(
            matches!(widened, Err(GrantError::InvalidScope)),
            "{widened:?}"
        );
    }

    #[tokio::test]
    async fn only_a_client_registered_for_it_with_its_secret_gets_one() {
        let grants = Grants::new().await;
        grants
            .add_client("passwords-only", "read", &[GrantType::Password])
            .await;
        let not_allowed = grants.client_credentials("passwords-only", None).await;
        assert!(
            matches!(not_allowed, Err(GrantError::UnauthorizedClient)),
            "{not_allowed:?}"
        );
        let unknown = grants.client_credentials("nobody", None).await;
        assert!(
            matches!(unknown, Err(GrantError::InvalidClient)),
            "{unknown:?}"
        );
    }
}
