//! Why a grant was refused. `http::error` maps each variant to its RFC 6749 §5.2 response.

use super::credentials::CredentialError;
use super::issuance::IssuanceRefused;
use super::jose::dpop::DpopError;
use super::signing::KeyError;
use super::store::StoreError;
use super::token::RandomnessUnavailable;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// No client credentials, an unknown client, or a wrong secret.
    #[error("client authentication failed")]
    InvalidClient,
    /// The client is not registered for this grant type.
    #[error("the client may not use this grant type")]
    UnauthorizedClient,
    /// Unknown user or wrong password; the two are deliberately indistinguishable.
    #[error("invalid resource owner credentials")]
    InvalidCredentials,
    /// Too many failed passwords: from this source address, or (`username_wide`) from so many
    /// addresses that the username is locked everywhere. No password was checked. Unknown
    /// usernames are counted like real ones, so the answer reveals nothing about which exist.
    #[error("too many failed password attempts")]
    LockedOut { username_wide: bool },
    /// A wrong password, the one that brought the username's consecutive failures from every
    /// source to the ceiling: answered exactly as [`GrantError::InvalidCredentials`], and
    /// counted apart for the alarm.
    #[error("invalid resource owner credentials; the username's failures reached the ceiling")]
    CeilingReached,
    /// Password attempts in flight for the username held every slot for as long as the request
    /// could wait for their outcome. Not a failure: the caller may retry.
    #[error("password attempts in flight held every slot")]
    AttemptsInFlight,
    /// The refresh token is unknown, used, expired, or was issued to another client.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// A client asked to revoke a token issued to another client (RFC 7009 §2.1).
    #[error("the token was issued to another client")]
    TokenOfAnotherClient,
    /// The requested scope is malformed, unknown, or wider than allowed.
    #[error("invalid scope")]
    InvalidScope,
    /// A JWT access token was due but its issuer or audience could not be named.
    #[error(transparent)]
    Issuance(#[from] IssuanceRefused),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Signing(#[from] KeyError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    /// A DPoP proof is missing, invalid, replayed or for another key, or lacks the nonce this
    /// server demands (never [`DpopError::Store`]: that is [`GrantError::Store`]).
    #[error(transparent)]
    Dpop(DpopError),
}

impl From<DpopError> for GrantError {
    fn from(error: DpopError) -> Self {
        match error {
            DpopError::Store(error) => GrantError::Store(error),
            refused => GrantError::Dpop(refused),
        }
    }
}
