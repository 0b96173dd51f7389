//! The password and refresh-token grants (RFC 6749 §4.3 and §6).

use std::sync::Arc;

use super::clock::{Clock, UnixSeconds};
use super::credentials::CredentialVerifier;
use super::error::GrantError;
use super::model::{AccessTokenRecord, Client, GrantType, RefreshTokenRecord, TokenPair};
use super::scope::Scope;
use super::secret::Secret;
use super::token::{TokenHash, new_token, random_alphanumeric};
use crate::store::{Rotation, Store};

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access_token: u64,
    /// `None`: a refresh token lasts until it is used.
    pub refresh_token: Option<u64>,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: 3600,
            refresh_token: None,
        }
    }
}

/// The credentials a client presented: an id and one or more readings of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    /// More than one when the presentation is ambiguous (a Basic header can carry the secret
    /// form-encoded, as RFC 6749 §2.3.1 says, or raw, as curl and most libraries send it).
    pub secret_candidates: Vec<Secret>,
}

/// A token request, parsed and checked for shape by the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `None` when the request carried no client credentials at all.
    pub client: Option<ClientCredentials>,
    pub grant: GrantRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRequest {
    Password {
        username: String,
        password: Secret,
        /// The raw `scope` parameter, parsed at its turn in the grant's order of checks.
        scope: Option<String>,
    },
    RefreshToken {
        refresh_token: Secret,
        scope: Option<String>,
    },
}

impl GrantRequest {
    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::Password { .. } => GrantType::Password,
            GrantRequest::RefreshToken { .. } => GrantType::RefreshToken,
        }
    }
}

/// A successful grant: what goes into the RFC 6749 §5.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_in: u64,
    pub scope: Scope,
}

/// Runs grants against a [`Store`].
pub struct TokenService<S> {
    store: S,
    verifier: CredentialVerifier,
    lifetimes: Lifetimes,
    clock: Arc<dyn Clock>,
}

impl<S: Store> TokenService<S> {
    pub fn new(
        store: S,
        verifier: CredentialVerifier,
        lifetimes: Lifetimes,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            verifier,
            lifetimes,
            clock,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn verifier(&self) -> &CredentialVerifier {
        &self.verifier
    }

    pub async fn grant(&self, request: TokenRequest) -> Result<IssuedTokens, GrantError> {
        let credentials = request.client.ok_or(GrantError::InvalidClient)?;
        match request.grant {
            GrantRequest::Password {
                username,
                password,
                scope,
            } => {
                self.password_grant(&credentials, &username, &password, scope.as_deref())
                    .await
            }
            GrantRequest::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh_grant(&credentials, &refresh_token, scope.as_deref())
                    .await
            }
        }
    }

    /// RFC 6749 §4.3. Order of checks: client, grant permission, user, scope. The grant
    /// permission comes before the password so that a client not allowed this grant learns
    /// nothing about users' passwords.
    async fn password_grant(
        &self,
        credentials: &ClientCredentials,
        username: &str,
        password: &Secret,
        requested_scope: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let context = self
            .store
            .password_grant_context(&credentials.client_id, username)
            .await?;
        let client = self.authenticate(context.client, credentials).await?;
        if !client.allows(GrantType::Password) {
            return Err(GrantError::UnauthorizedClient);
        }
        if !self
            .verifier
            .verify_password(context.user.as_ref(), password)
            .await?
        {
            return Err(GrantError::InvalidCredentials);
        }
        let scope = narrow(requested_scope, &client.scope)?;

        let now = self.clock.now();
        let family_id = random_alphanumeric(22)?;
        // The refresh token carries the scope granted here, not everything the client may ask
        // for, so a later refresh cannot widen it (RFC 6749 §6).
        let (issued, pair) =
            self.new_pair(&client, username, scope.clone(), scope, family_id, now)?;
        self.store.issue_token_pair(&pair).await?;
        Ok(issued)
    }

    /// RFC 6749 §6. Order of checks: client, grant permission, token, scope. A refused request
    /// leaves the refresh token usable.
    async fn refresh_grant(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &Secret,
        requested_scope: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let now = self.clock.now();
        let context = self
            .store
            .refresh_grant_context(&credentials.client_id, &TokenHash::of(refresh_token), now)
            .await?;
        let client = self.authenticate(context.client, credentials).await?;
        if !client.allows(GrantType::RefreshToken) {
            return Err(GrantError::UnauthorizedClient);
        }
        // Another client's token is refused without being used up (RFC 6749 §6: the token must
        // have been issued to the authenticated client).
        let used = context
            .refresh_token
            .filter(|token| token.client_id == client.client_id && token.is_live_at(now))
            .ok_or(GrantError::InvalidRefreshToken)?;
        let scope = narrow(requested_scope, &used.scope)?;

        let (issued, pair) = self.new_pair(
            &client,
            &used.username,
            scope,
            used.scope.clone(),
            used.family_id.clone(),
            now,
        )?;
        match self.store.rotate_refresh_token(&used, &pair, now).await? {
            Rotation::Rotated => Ok(issued),
            Rotation::Refused => Err(GrantError::InvalidRefreshToken),
        }
    }

    async fn authenticate(
        &self,
        client: Option<Client>,
        credentials: &ClientCredentials,
    ) -> Result<Client, GrantError> {
        // Client ids are not secret, so an unknown client may answer faster than a wrong secret.
        let client = client.ok_or(GrantError::InvalidClient)?;
        if self
            .verifier
            .verify_client_secret(&client, &credentials.secret_candidates)
            .await?
        {
            Ok(client)
        } else {
            Err(GrantError::InvalidClient)
        }
    }

    /// A new access token with `access_scope` and a refresh token that carries `grant_scope`,
    /// the scope of the original grant.
    fn new_pair(
        &self,
        client: &Client,
        username: &str,
        access_scope: Scope,
        grant_scope: Scope,
        family_id: String,
        now: UnixSeconds,
    ) -> Result<(IssuedTokens, TokenPair), GrantError> {
        let access_token = new_token()?;
        let refresh_token = new_token()?;
        let access = AccessTokenRecord {
            token_hash: TokenHash::of(&access_token),
            client_id: client.client_id.clone(),
            username: username.to_owned(),
            scope: access_scope.clone(),
            issued_at: now,
            expires_at: now + self.lifetimes.access_token,
        };
        let refresh = RefreshTokenRecord {
            token_hash: TokenHash::of(&refresh_token),
            client_id: client.client_id.clone(),
            username: username.to_owned(),
            scope: grant_scope,
            access_token_hash: access.token_hash.clone(),
            family_id,
            issued_at: now,
            expires_at: self.lifetimes.refresh_token.map(|lifetime| now + lifetime),
        };
        let issued = IssuedTokens {
            access_token,
            refresh_token,
            expires_in: self.lifetimes.access_token,
            scope: access_scope,
        };
        Ok((issued, TokenPair { access, refresh }))
    }
}

/// The scope to grant: `requested` if it lies within `allowed`, or all of `allowed` if none was
/// requested. An empty or all-space `scope` counts as none (RFC 6749 §3.1).
fn narrow(requested: Option<&str>, allowed: &Scope) -> Result<Scope, GrantError> {
    let requested = match requested {
        None => return Ok(allowed.clone()),
        Some(text) => Scope::parse(text).map_err(|_| GrantError::InvalidScope)?,
    };
    if requested.is_empty() {
        Ok(allowed.clone())
    } else if requested.is_subset_of(allowed) {
        Ok(requested)
    } else {
        Err(GrantError::InvalidScope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Scope {
        Scope::parse("read write payouts").unwrap_or_default()
    }

    #[test]
    fn no_scope_means_everything_allowed() {
        assert_eq!(narrow(None, &allowed()).ok(), Some(allowed()));
        assert_eq!(narrow(Some(" "), &allowed()).ok(), Some(allowed()));
    }

    #[test]
    fn a_subset_is_granted_as_requested() {
        let granted = narrow(Some("write read"), &allowed()).ok();
        assert_eq!(
            granted.map(|s| s.to_string()).as_deref(),
            Some("write read")
        );
    }

    #[test]
    fn wider_unknown_or_malformed_scopes_are_refused() {
        for requested in ["read admin", "READ", "read,write", "read\"x"] {
            assert!(
                matches!(
                    narrow(Some(requested), &allowed()),
                    Err(GrantError::InvalidScope)
                ),
                "{requested:?}"
            );
        }
    }
}
