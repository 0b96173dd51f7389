//! The grants, one file each: password (RFC 6749 §4.3), refresh token (§6) and client
//! credentials (§4.4). Each file holds its request (the parameters it reads), its flow (a
//! plain function over the [`Issuer`] and the storage ports it needs) and its unit tests.
//!
//! The set of grants is declared once, in `grants!` below: the request enum, the parameter
//! names the HTTP layer knows and the dispatch derive from it. A grant missing from it, or a
//! [`GrantType`] without a grant, does not compile.

pub mod client_credentials;
pub mod password;
pub mod refresh;

use super::error::GrantError;
use super::issuance::{Issuance, IssuanceRefused};
use super::issuer::{ClientCredentials, IssuedTokens, Issuer};
use super::jose::Thumbprint;
use super::jose::dpop::{ProofRequest, accept_proof};
use super::login_throttle::{LockoutPolicy, SourceAddress};
use super::model::GrantType;
use super::secret::Secret;
use super::store::{GrantStore, LoginAttemptStore, ReplayStore};

/// A token request, parsed and checked for shape by the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `None` when the request carried no client credentials at all.
    pub client: Option<ClientCredentials>,
    pub grant: GrantRequest,
    /// Where the request came from; password attempts are counted per username and source.
    pub source: SourceAddress,
    /// Who issues the tokens and for whom, for JWT access tokens, or why that could not be
    /// told, which only a JWT client's request fails for.
    pub issuance: Result<Issuance, IssuanceRefused>,
    /// The request's DPoP proof (RFC 9449), if it carries one.
    pub dpop: Option<DpopPresentation>,
}

/// A DPoP proof as presented to the token endpoint, with the URL it must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopPresentation {
    /// Printed as a secret: a proof is no credential once used, but it is a signed request.
    pub proof: Secret,
    /// The token endpoint's URL as this request reached it, without query.
    pub url: String,
}

/// A request's parameters as a grant reads them. An empty value counts as absent (RFC 6749
/// §3.1).
pub trait GrantParameters {
    fn get(&self, name: &str) -> Option<&str>;
}

/// A parameter the grant requires is absent; the description is the documented endpoint's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct MissingParameter {
    pub description: &'static str,
}

/// `name`'s value, or the grant's description of its absence.
pub fn required<'p>(
    params: &'p dyn GrantParameters,
    name: &str,
    description: &'static str,
) -> Result<&'p str, MissingParameter> {
    params.get(name).ok_or(MissingParameter { description })
}

/// What every grant flow is given besides its own request.
pub struct GrantContext<'a, S> {
    pub issuer: &'a Issuer,
    pub store: &'a S,
    pub lockout: &'a LockoutPolicy,
    pub client: &'a ClientCredentials,
    pub source: SourceAddress,
    pub issuance: Result<&'a Issuance, IssuanceRefused>,
    /// The key the request's DPoP proof proved possession of, checked and recorded as used.
    pub dpop: Option<&'a Thumbprint>,
}

/// Declares the grants: `Variant => module::Request`. Each module has
/// `Request::PARAMETERS`, `Request::parse` and `issue(&GrantContext, Request)`.
macro_rules! grants {
    ($($variant:ident => $module:ident :: $request:ident),+ $(,)?) => {
        /// A grant's request, as its grant type's file parses it.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum GrantRequest {
            $($variant($module::$request)),+
        }

        impl GrantRequest {
            pub fn grant_type(&self) -> GrantType {
                match self {
                    $(GrantRequest::$variant(_) => GrantType::$variant),+
                }
            }

            /// Reads `grant_type`'s own parameters.
            pub fn parse(
                grant_type: GrantType,
                params: &dyn GrantParameters,
            ) -> Result<Self, MissingParameter> {
                match grant_type {
                    $(GrantType::$variant => $module::$request::parse(params).map(GrantRequest::$variant)),+
                }
            }

            /// The parameters `grant_type`'s request reads.
            pub fn parameters(grant_type: GrantType) -> &'static [&'static str] {
                match grant_type {
                    $(GrantType::$variant => $module::$request::PARAMETERS),+
                }
            }

            /// Runs the grant's flow.
            async fn issue<S: GrantStore + LoginAttemptStore>(
                self,
                context: &GrantContext<'_, S>,
            ) -> Result<IssuedTokens, GrantError> {
                match self {
                    $(GrantRequest::$variant(request) => $module::issue(context, request).await),+
                }
            }
        }

        /// The parameters each grant reads, beside `grant_type` and the client's credentials.
        pub const GRANT_PARAMETERS: &[&[&str]] = &[$($module::$request::PARAMETERS),+];
    };
}

grants! {
    Password => password::PasswordRequest,
    RefreshToken => refresh::RefreshRequest,
    ClientCredentials => client_credentials::ClientCredentialsRequest,
}

/// Runs `request`'s grant: the one place that picks a grant's flow. A DPoP proof is checked
/// first, before the client: a bad one is refused whoever sends it.
pub async fn grant<S: GrantStore + LoginAttemptStore + ReplayStore>(
    issuer: &Issuer,
    store: &S,
    lockout: &LockoutPolicy,
    request: TokenRequest,
) -> Result<IssuedTokens, GrantError> {
    let proven = match &request.dpop {
        Some(presented) => {
            let proof_request = ProofRequest {
                method: "POST",
                url: &presented.url,
                access_token: None,
                now: issuer.now(),
            };
            let nonces = issuer.dpop_nonces();
            Some(accept_proof(store, presented.proof.expose(), &proof_request, nonces).await?)
        }
        None => None,
    };
    let credentials = request.client.ok_or(GrantError::InvalidClient)?;
    let context = GrantContext {
        dpop: proven.as_ref(),
        issuer,
        store,
        lockout,
        client: &credentials,
        source: request.source,
        issuance: request.issuance.as_ref().map_err(|refused| *refused),
    };
    request.grant.issue(&context).await
}

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Answers every parameter, and notes which ones a grant asked for.
    #[derive(Default)]
    struct Recording(RefCell<Vec<String>>);

    impl GrantParameters for Recording {
        fn get(&self, name: &str) -> Option<&str> {
            self.0.borrow_mut().push(name.to_owned());
            Some("value")
        }
    }

    /// `PARAMETERS` is what the HTTP layer knows (and refuses repeated), so a grant that read a
    /// parameter it does not declare would let that one repeat unnoticed.
    #[test]
    fn each_grant_reads_only_the_parameters_it_declares() {
        for &grant_type in GrantType::ALL {
            let declared = GrantRequest::parameters(grant_type);
            let asked = Recording::default();
            assert!(
                GrantRequest::parse(grant_type, &asked).is_ok(),
                "{grant_type}"
            );
            for name in asked.0.borrow().iter() {
                assert!(
                    declared.contains(&name.as_str()),
                    "{grant_type} reads {name}"
                );
            }
        }
    }
}
