//! The one place where failures become RFC 6749 §5.2 responses: the error codes
//! ([`ErrorCode`]), the error response ([`OAuthError`]), and how a `DomainFailure` of a
//! request's domain work maps to one.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};

use super::deadline::{DomainFailure, GRANT_DEADLINE};
use super::json::{no_store_json_headers, python_style_json};
use crate::domain::GrantError;
use crate::domain::IssuanceRefused;
use crate::domain::jose::dpop::{DpopError, ProofRefusal};
use crate::domain::model::UnsupportedGrantType;
use crate::domain::signing::{KeyError, VaultError};
use crate::domain::store::StoreError;

/// The `error` member of an error response, serialised as its registered name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// RFC 6749 §5.2. Also the code of this server's 404, 405 and 413 answers.
    InvalidRequest,
    /// RFC 6749 §5.2, also for revocation and introspection (RFC 7009 §2.2.1, RFC 7662 §2.1).
    InvalidClient,
    /// RFC 6749 §5.2.
    InvalidGrant,
    /// RFC 6749 §5.2; also a revocation of another client's token (RFC 7009 §2.1).
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §5.2.
    InvalidScope,
    /// RFC 7009 §2.2.1. Never sent: one lookup finds every kind of token, so every
    /// `token_type_hint` is supported.
    UnsupportedTokenType,
    /// RFC 8707 §2: a `resource` that is malformed or not one this server issues tokens for.
    InvalidTarget,
    /// RFC 9449 §4.3: a DPoP proof that is missing (where the client requires one), malformed,
    /// stale, replayed or for another key.
    InvalidDpopProof,
    /// RFC 9449 §8: the proof must carry the nonce in the `DPoP-Nonce` header.
    UseDpopNonce,
    /// RFC 6749 §4.1.2.1 defines it for the authorization endpoint; here, a 500.
    ServerError,
    /// RFC 6749 §4.1.2.1 defines it for the authorization endpoint; here, a 503.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The registered name, as sent in the `error` member.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An error response: status, error code and optional description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub description: Option<Cow<'static, str>>,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
    /// The `DPoP-Nonce` header of a `use_dpop_nonce` answer.
    dpop_nonce: Option<String>,
}

impl OAuthError {
    fn new(status: StatusCode, code: ErrorCode, description: Option<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            description,
            allow: None,
            dpop_nonce: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            Some(description.into()),
        )
    }

    pub fn invalid_target(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidTarget,
            Some(description.into()),
        )
    }

    pub fn payload_too_large(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            Some(description.into()),
        )
    }

    /// A 405 naming the methods the resource allows.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::InvalidRequest,
                Some(format!("Allowed methods: {allow}.").into()),
            )
        }
    }

    /// A 503: the client may try again (`Retry-After` is set on the response).
    fn temporarily_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            None,
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::InvalidRequest,
            Some("Not found.".into()),
        )
    }
}

/// The response header that hands out a DPoP nonce (RFC 9449 §8.1).
pub const DPOP_NONCE_HEADER: &str = "dpop-nonce";

/// What a locked caller is told.
pub const LOCKED_OUT_DESCRIPTION: &str = "Too many failed attempts; try again later.";

/// Why a request failed, for logs and metrics only, where the error code alone does not say.
pub fn reason(failure: &DomainFailure) -> Option<&'static str> {
    match failure {
        DomainFailure::Grant(GrantError::LockedOut {
            username_wide: false,
        }) => Some("locked"),
        DomainFailure::Grant(GrantError::LockedOut {
            username_wide: true,
        }) => Some("username_locked"),
        DomainFailure::Grant(GrantError::InvalidCredentials) => Some("invalid_credentials"),
        DomainFailure::Grant(GrantError::CeilingReached) => Some("username_ceiling_reached"),
        DomainFailure::Grant(GrantError::AttemptsInFlight) => Some("attempts_in_flight"),
        // Counted with the store's failures: what runs out of time is waiting on DynamoDB.
        DomainFailure::Grant(
            GrantError::Store(StoreError::Unavailable(_))
            | GrantError::Signing(KeyError::Store(StoreError::Unavailable(_))),
        )
        | DomainFailure::DeadlineExceeded => Some("store_unavailable"),
        DomainFailure::Grant(GrantError::Signing(KeyError::Vault(VaultError::Unavailable(_)))) => {
            Some("vault_unavailable")
        }
        DomainFailure::Grant(
            GrantError::Store(_)
            | GrantError::Credentials(_)
            | GrantError::Randomness(_)
            | GrantError::Signing(_),
        ) => Some("internal"),
        DomainFailure::Grant(_) => None,
    }
}

impl From<DomainFailure> for OAuthError {
    fn from(failure: DomainFailure) -> Self {
        match failure {
            DomainFailure::Grant(error) => error.into(),
            DomainFailure::DeadlineExceeded => {
                tracing::error!(
                    deadline = ?GRANT_DEADLINE,
                    "the request did not finish within its deadline"
                );
                Self::temporarily_unavailable()
            }
        }
    }
}

impl From<UnsupportedGrantType> for OAuthError {
    fn from(_: UnsupportedGrantType) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedGrantType,
            None,
        )
    }
}

impl From<GrantError> for OAuthError {
    fn from(error: GrantError) -> Self {
        use GrantError as E;
        let bad_request = StatusCode::BAD_REQUEST;
        match error {
            E::InvalidClient => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidClient, None),
            E::UnauthorizedClient => Self::new(bad_request, ErrorCode::UnauthorizedClient, None),
            // The exact description the documented endpoint gives, for unknown users too, and
            // for the failure that reaches the username's ceiling.
            E::InvalidCredentials | E::CeilingReached => Self::new(
                bad_request,
                ErrorCode::InvalidGrant,
                Some("Invalid credentials given.".into()),
            ),
            // Says what is happening, so a locked-out integration's operator can tell; the same
            // for both kinds of lock and for real and unknown usernames alike.
            E::LockedOut { .. } => Self::new(
                bad_request,
                ErrorCode::InvalidGrant,
                Some(LOCKED_OUT_DESCRIPTION.into()),
            ),
            // Never "Too many failed attempts": none failed. Retry-After says when to try again.
            E::AttemptsInFlight => Self::temporarily_unavailable(),
            E::InvalidRefreshToken => Self::new(bad_request, ErrorCode::InvalidGrant, None),
            E::InvalidScope => Self::new(bad_request, ErrorCode::InvalidScope, None),
            E::TokenOfAnotherClient => Self::new(
                bad_request,
                ErrorCode::UnauthorizedClient,
                Some("The token was not issued to this client.".into()),
            ),
            E::Dpop(DpopError::UseNonce { nonce }) => Self {
                dpop_nonce: Some(nonce),
                ..Self::new(
                    bad_request,
                    ErrorCode::UseDpopNonce,
                    Some("Authorization server requires nonce in DPoP proof.".into()),
                )
            },
            E::Dpop(DpopError::Invalid(refusal)) => Self::new(
                bad_request,
                ErrorCode::InvalidDpopProof,
                Some(dpop_description(refusal).into()),
            ),
            E::Issuance(IssuanceRefused::NoIssuer) => {
                Self::invalid_request("The Host header is missing or malformed.")
            }
            E::Issuance(IssuanceRefused::InvalidTarget) => {
                Self::invalid_target("Unknown resource, or more than one.")
            }
            E::Store(StoreError::Unavailable(source))
            | E::Signing(KeyError::Store(StoreError::Unavailable(source))) => {
                tracing::error!(error = %source, "store unavailable");
                Self::temporarily_unavailable()
            }
            E::Signing(KeyError::Vault(VaultError::Unavailable(source))) => {
                tracing::error!(error = %source, "key vault unavailable");
                Self::temporarily_unavailable()
            }
            internal => {
                // Details go to the log only; the client learns nothing about internals.
                tracing::error!(error = %internal, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    None,
                )
            }
        }
    }
}

/// What a client is told about its refused proof: enough to fix its code, nothing more.
fn dpop_description(refusal: ProofRefusal) -> &'static str {
    match refusal {
        ProofRefusal::Missing => "A DPoP proof is required.",
        ProofRefusal::Repeated => "More than one DPoP header.",
        ProofRefusal::Stale => "The DPoP proof is too old or from the future (iat).",
        ProofRefusal::Replayed => "The DPoP proof was used before (jti).",
        ProofRefusal::WrongMethod | ProofRefusal::WrongUrl => {
            "The DPoP proof is for another request (htm, htu)."
        }
        ProofRefusal::WrongKey => "The DPoP proof is signed with another key than the token's.",
        _ => "Invalid DPoP proof.",
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = python_style_json(&ErrorBody {
            error: self.code,
            error_description: self.description.as_deref(),
        });
        let mut response = (self.status, no_store_json_headers(), body).into_response();
        let headers = response.headers_mut();
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert(DPOP_NONCE_HEADER, nonce);
        }
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="oauth", charset="UTF-8""#),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_out_of_time_is_answered_like_an_unavailable_store() {
        let unavailable =
            DomainFailure::Grant(GrantError::Store(StoreError::Unavailable("down".into())));
        assert_eq!(
            reason(&DomainFailure::DeadlineExceeded),
            reason(&unavailable)
        );
        let late = OAuthError::from(DomainFailure::DeadlineExceeded);
        assert_eq!(late, OAuthError::from(unavailable));
        assert_eq!(late.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(late.code.as_str(), "temporarily_unavailable");
        let response = late.into_response();
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from_static("1"))
        );
    }

    #[test]
    fn logins_that_waited_too_long_for_each_other_are_told_to_retry_not_that_they_failed() {
        let busy = DomainFailure::Grant(GrantError::AttemptsInFlight);
        assert_eq!(reason(&busy), Some("attempts_in_flight"));
        let answer = OAuthError::from(GrantError::AttemptsInFlight);
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.code.as_str(), "temporarily_unavailable");
        assert_ne!(answer.description.as_deref(), Some(LOCKED_OUT_DESCRIPTION));
        assert!(
            answer
                .into_response()
                .headers()
                .contains_key(header::RETRY_AFTER)
        );
        // The failure that reaches the username's ceiling is told as any wrong password.
        assert_eq!(
            OAuthError::from(GrantError::CeilingReached),
            OAuthError::from(GrantError::InvalidCredentials)
        );
    }
}
