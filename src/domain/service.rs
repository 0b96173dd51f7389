//! The token service the HTTP layer serves: the issuer, the store and the lockout policy
//! together, with one entry point per endpoint. It decides nothing itself: grants, revocation
//! and introspection each live in their own module.

use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::credentials::CredentialVerifier;
use super::error::GrantError;
use super::grants::{self, TokenRequest};
use super::issuer::{ClientCredentials, IssuedTokens, Issuer, Lifetimes};
use super::jose::nonce::DpopNonces;
use super::lifecycle::TokenOperations;
use super::login_throttle::LockoutPolicy;
use super::model::AccessTokenRecord;
use super::secret::Secret;
use super::signing::{KeyRing, SigningKeyRecord};
use super::store::{GrantStore, LoginAttemptStore, ReplayStore};

/// The longest a request's work may take before it is answered 503, which the HTTP layer
/// enforces: under the Lambda function's 10 s timeout, so a slow or stuck DynamoDB gives the
/// client an OAuth error, not a gateway error. A grant still running then is answered nothing,
/// so no token issued later is ever handed out; an operator's change waits this long for the
/// grants in flight (see `Admin`).
pub const GRANT_DEADLINE: Duration = Duration::from_secs(8);

/// How long after a write the families index may still not list the family, on top of the
/// grant deadline. DynamoDB propagates a global secondary index asynchronously, usually within
/// a second; a few seconds more keep the wait short while covering a slow propagation.
pub const INDEX_LAG_MARGIN: Duration = Duration::from_secs(5);

/// How long after a grant starts the families index surely lists the login it wrote: by then
/// the grant has been answered or never will be ([`GRANT_DEADLINE`]), and the index follows
/// within [`INDEX_LAG_MARGIN`]. Ending a client's logins waits this long before it revokes
/// again what the index lists; a user's item keeps a login's registration this long.
pub const GRANTS_IN_FLIGHT_WAIT: Duration = GRANT_DEADLINE.saturating_add(INDEX_LAG_MARGIN);

/// Runs grants, revocation and introspection against a store.
pub struct TokenService<S> {
    store: S,
    issuer: Issuer,
    lockout: LockoutPolicy,
}

impl<S> TokenService<S> {
    pub fn new(
        store: S,
        verifier: CredentialVerifier,
        lifetimes: Lifetimes,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            issuer: Issuer::new(verifier, lifetimes, clock),
            lockout: LockoutPolicy::default(),
        }
    }

    /// Signs JWT access tokens with the keys of `key_ring`.
    pub fn with_signing_keys(mut self, key_ring: KeyRing) -> Self {
        self.issuer = self.issuer.with_signing_keys(key_ring);
        self
    }

    /// Demands that DPoP proofs carry a nonce of `nonces` (RFC 9449 §8).
    pub fn with_dpop_nonces(mut self, nonces: DpopNonces) -> Self {
        self.issuer = self.issuer.with_dpop_nonces(nonces);
        self
    }

    pub fn with_lockout(mut self, lockout: LockoutPolicy) -> Self {
        self.lockout = lockout;
        self
    }

    /// The key ring JWT access tokens are signed with, if any.
    pub fn signing_keys(&self) -> Option<&KeyRing> {
        self.issuer.signing_keys()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn verifier(&self) -> &CredentialVerifier {
        self.issuer.verifier()
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }
}

impl<S: GrantStore + LoginAttemptStore + ReplayStore> TokenService<S> {
    /// `POST /o/token/`: runs the request's grant.
    pub async fn grant(&self, request: TokenRequest) -> Result<IssuedTokens, GrantError> {
        grants::grant(&self.issuer, &self.store, &self.lockout, request).await
    }
}

impl<S: GrantStore> TokenService<S> {
    /// RFC 7009: revokes `token`'s family; how many tokens that ended.
    pub async fn revoke(
        &self,
        credentials: &ClientCredentials,
        token: &Secret,
    ) -> Result<usize, GrantError> {
        self.operations().revoke(credentials, token).await
    }

    /// RFC 7662: the live access token `token` names, if any.
    pub async fn introspect(
        &self,
        credentials: &ClientCredentials,
        token: &Secret,
        issuer: Option<&str>,
    ) -> Result<Option<AccessTokenRecord>, GrantError> {
        self.operations()
            .introspect(credentials, token, issuer)
            .await
    }

    /// The keys a verifier needs now (RFC 7517 JWK Set).
    pub async fn published_keys(&self) -> Result<Vec<SigningKeyRecord>, GrantError> {
        self.operations().published_keys().await
    }

    fn operations(&self) -> TokenOperations<'_, S> {
        TokenOperations {
            issuer: &self.issuer,
            store: &self.store,
        }
    }
}
