//! Who issues a request's JWT access tokens and whom they are for, as the HTTP layer tells it
//! from the request: a JWT's `iss` and `aud`.

#[cfg(doc)]
use super::model::AccessTokenRecord;
use super::model::TokenFormat;

/// A JWT's `iss` and `aud` for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    pub issuer: String,
    pub audience: String,
    /// The request named the audience as its `resource` (RFC 8707), rather than getting the
    /// default: an opaque token is then for it alone too.
    pub resource_named: bool,
}

impl Issuance {
    /// The audience an access token's record keeps ([`AccessTokenRecord::audience`]): for an
    /// opaque token, the `resource` its request named, if this server knows it. Otherwise
    /// none, as django-oauth-toolkit ignores `resource`: an opaque client that names none, or
    /// one this server does not know, is answered as it always was. A JWT carries its own.
    pub fn recorded_audience(
        format: TokenFormat,
        issuance: Result<&Issuance, IssuanceRefused>,
    ) -> Option<String> {
        if format != TokenFormat::Opaque {
            return None;
        }
        issuance
            .ok()
            .filter(|issuance| issuance.resource_named)
            .map(|issuance| issuance.audience.clone())
    }
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
