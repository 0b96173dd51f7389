//! Access token values in the client's format: the random or derived value itself (opaque),
//! or an RFC 9068 JWT whose `jti` it is, signed with the key the key set names for the issue
//! time. Both are stored by their hash, so introspection, revocation and the authorizer find
//! either kind by one lookup.

use super::clock::UnixSeconds;
use super::error::GrantError;
use super::grant::TokenService;
use super::model::{Client, TokenFormat};
use super::scope::Scope;
use super::secret::Secret;
use super::signing::{AccessTokenClaims, KeyError, encode_access_token};
use super::store::Store;

/// Who issues a request's tokens and whom they are for: a JWT's `iss` and `aud`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    pub issuer: String,
    pub audience: String,
}

/// Why a request's JWT could not name its issuer or audience. Only a JWT client's request
/// fails for it: an opaque token names neither, so its clients are answered as they always
/// were, whatever they send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssuanceRefused {
    /// No configured issuer, and none derivable from the request (no usable `Host`).
    #[error("the issuer could not be derived from the request")]
    NoIssuer,
    /// The `resource` (RFC 8707) is not one this server issues tokens for, or more than one
    /// was named.
    #[error("the resource is not one this server issues tokens for")]
    InvalidTarget,
}

/// What an access token is issued for, and when.
pub(super) struct AccessGrant<'a> {
    pub client: &'a Client,
    /// `None` for a client's own token.
    pub username: Option<&'a str>,
    pub scope: &'a Scope,
    pub issued_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

impl<S: Store> TokenService<S> {
    /// How long `client`'s access tokens live: its own lifetime, never longer than the
    /// server's.
    pub(super) fn access_lifetime(&self, client: &Client) -> u64 {
        client
            .access_tokens
            .lifetime_within(self.lifetimes.access_token)
    }

    /// The access token for `grant` whose unique value is `value`: `value` itself for an
    /// opaque client, a JWT with `value` as its `jti` for a JWT client. The same inputs give
    /// the same token, so a retried refresh is answered with the identical one.
    pub(super) async fn access_token(
        &self,
        grant: &AccessGrant<'_>,
        value: Secret,
        issuance: Result<&Issuance, IssuanceRefused>,
    ) -> Result<Secret, GrantError> {
        if grant.client.access_tokens.format == TokenFormat::Opaque {
            return Ok(value);
        }
        let issuance = issuance?;
        let key_ring = self.signing.as_ref().ok_or(KeyError::NoVault)?;
        let key = key_ring.signing_key_at(grant.issued_at).await?;
        let client_id = &grant.client.client_id;
        let claims = AccessTokenClaims {
            iss: issuance.issuer.clone(),
            sub: grant.username.unwrap_or(client_id).to_owned(),
            aud: issuance.audience.clone(),
            exp: grant.expires_at,
            iat: grant.issued_at,
            jti: value.expose().to_owned(),
            client_id: client_id.clone(),
            scope: grant.scope.to_string(),
        };
        Ok(encode_access_token(&key, &claims)?)
    }
}
