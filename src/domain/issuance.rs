//! Who issues a request's JWT access tokens and whom they are for, as the HTTP layer tells it
//! from the request: a JWT's `iss` and `aud`.

/// A JWT's `iss` and `aud` for one request.
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
