//! The issuer every grant shares: it authenticates clients, narrows scopes and mints tokens
//! (an access token in the client's format, or a pair with its refresh token), with the
//! verifier, the lifetimes, the signing keys and the clock it holds. Grants decide *whether*
//! to issue; the issuer decides *what* is issued.

use std::sync::Arc;

use super::clock::{Clock, UnixSeconds};
use super::credentials::{CredentialVerifier, Verification};
use super::error::GrantError;
use super::issuance::{Issuance, IssuanceRefused};
use super::jose::assertion::{AssertionContext, AssertionRefusal, check_assertion};
use super::jose::dpop::{DpopError, ProofRefusal};
use super::jose::nonce::DpopNonces;
use super::jose::{JoseError, Thumbprint};
use super::model::{
    AccessTokenRecord, Client, DpopPolicy, RefreshTokenRecord, TokenFormat, TokenPair,
};
use super::names::{ClientId, Username};
use super::scope::Scope;
use super::secret::Secret;
use super::signing::{AccessTokenClaims, Confirmation, KeyError, KeyRing, encode_access_token};
use super::store::{GrantStore, HashReplacement, StoreError};
use super::token::{FamilySecret, TokenHash, random_alphanumeric};

/// Token lifetimes and windows, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access_token: u64,
    /// `None`: a refresh token lasts until it is used.
    pub refresh_token: Option<u64>,
    /// How long a used refresh token is remembered, so that presenting it again is recognised
    /// as a replay and revokes its family. Later it reads as unknown.
    pub used_refresh_token_record: u64,
    /// Presented again within this many seconds of its successor's use, a used refresh token
    /// is taken for a duplicate still in flight (refused, no revocation). At most 2 s.
    pub refresh_reuse_leeway: u64,
    /// Presented again within this many seconds of its use, while its successor is unused, a
    /// used refresh token gets the identical pair again (an answer that was lost, or a
    /// concurrent duplicate). Later it is a replay. Capped at the access token's lifetime; 0:
    /// a used refresh token is always refused.
    pub refresh_retry_window: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: 3600,
            refresh_token: None,
            used_refresh_token_record: 30 * 24 * 3600,
            refresh_reuse_leeway: 2,
            refresh_retry_window: 60,
        }
    }
}

/// The credentials a client presented: an id and one or more readings of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: ClientId,
    /// More than one when the presentation is ambiguous (a Basic header can carry the secret
    /// form-encoded, as RFC 6749 §2.3.1 says, or raw, as curl and most libraries send it).
    /// Empty with an assertion.
    pub secret_candidates: Vec<Secret>,
    /// A private_key_jwt client assertion (RFC 7523 §2.2), instead of a secret.
    pub assertion: Option<ClientAssertion>,
}

/// A JWT a client signed to authenticate, and what its `aud` may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    pub jwt: Secret,
    /// The endpoint's URL, the token endpoint's and the issuer, as the HTTP layer tells them.
    pub audiences: Vec<String>,
}

/// A successful grant: what goes into the RFC 6749 §5.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub access_token: Secret,
    /// `None` for the client credentials grant, which issues none (RFC 6749 §4.4.3).
    pub refresh_token: Option<Secret>,
    pub expires_in: u64,
    pub scope: Scope,
    /// Whether the access token is bound to a DPoP key (`token_type` `DPoP`).
    pub dpop_bound: bool,
}

/// What a grant's tokens are bound to, by the client's DPoP policy and the key the request
/// proved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DpopBinding {
    pub access: Option<Thumbprint>,
    pub refresh: Option<Thumbprint>,
}

/// What an access token is issued for, and when.
pub struct AccessGrant<'a> {
    pub client: &'a Client,
    /// `None` for a client's own token.
    pub username: Option<&'a Username>,
    pub scope: &'a Scope,
    pub issued_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    /// The DPoP key the token is bound to.
    pub jkt: Option<&'a Thumbprint>,
}

/// What a new pair is issued for: everything but the tokens' values.
pub struct NewPair<'a> {
    pub client: &'a Client,
    pub username: &'a Username,
    pub access_scope: Scope,
    pub grant_scope: Scope,
    pub family_id: String,
    pub family_secret: FamilySecret,
    pub issued_at: UnixSeconds,
    pub binding: DpopBinding,
    /// The client's credential version the login is issued under: the one the grant read for
    /// a new login, the family's for a refresh ([`RefreshTokenRecord::client_version`]).
    pub client_version: Option<u64>,
}

/// Authenticates clients and mints tokens for every grant.
pub struct Issuer {
    verifier: CredentialVerifier,
    lifetimes: Lifetimes,
    clock: Arc<dyn Clock>,
    /// Signs JWT access tokens; `None`: JWT clients get a server error.
    signing: Option<KeyRing>,
    /// Demands DPoP nonces (RFC 9449 §8); `None`: proofs need none.
    dpop_nonces: Option<DpopNonces>,
}

impl Issuer {
    pub fn new(verifier: CredentialVerifier, lifetimes: Lifetimes, clock: Arc<dyn Clock>) -> Self {
        Self {
            verifier,
            lifetimes,
            clock,
            signing: None,
            dpop_nonces: None,
        }
    }

    /// Demands that DPoP proofs carry a nonce of `nonces`.
    pub fn with_dpop_nonces(mut self, nonces: DpopNonces) -> Self {
        self.dpop_nonces = Some(nonces);
        self
    }

    /// The nonces DPoP proofs must carry, if any.
    pub fn dpop_nonces(&self) -> Option<&DpopNonces> {
        self.dpop_nonces.as_ref()
    }

    /// What `client`'s tokens are bound to when the request proved possession of `proven`:
    /// its access token unless its policy is off, its refresh token too if it requires DPoP
    /// (RFC 9449 §5 binds a public client's; here every client is confidential). A client that
    /// requires DPoP and proved nothing is refused.
    pub fn dpop_binding(
        &self,
        client: &Client,
        proven: Option<&Thumbprint>,
    ) -> Result<DpopBinding, GrantError> {
        Ok(match (client.access_tokens.dpop, proven) {
            (DpopPolicy::Off, _) | (DpopPolicy::Allowed, None) => DpopBinding::default(),
            (DpopPolicy::Required, None) => {
                return Err(DpopError::Invalid(ProofRefusal::Missing).into());
            }
            (DpopPolicy::Allowed, Some(key)) => DpopBinding {
                access: Some(key.clone()),
                refresh: None,
            },
            (DpopPolicy::Required, Some(key)) => DpopBinding {
                access: Some(key.clone()),
                refresh: Some(key.clone()),
            },
        })
    }

    /// Signs JWT access tokens with the keys of `key_ring`.
    pub fn with_signing_keys(mut self, key_ring: KeyRing) -> Self {
        self.signing = Some(key_ring);
        self
    }

    pub fn now(&self) -> UnixSeconds {
        self.clock.now()
    }

    pub fn lifetimes(&self) -> &Lifetimes {
        &self.lifetimes
    }

    pub fn verifier(&self) -> &CredentialVerifier {
        &self.verifier
    }

    /// The key ring JWT access tokens are signed with, if any.
    pub fn signing_keys(&self) -> Option<&KeyRing> {
        self.signing.as_ref()
    }

    /// Reads the client and authenticates it, for requests that need nothing else read with
    /// it.
    pub async fn authenticate_client<S: GrantStore>(
        &self,
        store: &S,
        credentials: &ClientCredentials,
    ) -> Result<Client, GrantError> {
        let client = store.client(&credentials.client_id).await?;
        self.authenticate(store, client, credentials).await
    }

    /// Authenticates `client`, as read, with the presented credentials. An outdated hash that
    /// just verified is replaced in `store`.
    pub async fn authenticate<S: GrantStore>(
        &self,
        store: &S,
        client: Option<Client>,
        credentials: &ClientCredentials,
    ) -> Result<Client, GrantError> {
        // Client ids are not secret, so an unknown client may answer faster than a wrong secret.
        let client = client.ok_or(GrantError::InvalidClient)?;
        if let Some(assertion) = &credentials.assertion {
            return self
                .authenticate_by_assertion(store, client, assertion)
                .await;
        }
        if !client.has_secret() {
            return Err(GrantError::InvalidClient);
        }
        match self
            .verifier
            .verify_client_secret(&client, &credentials.secret_candidates)
            .await?
        {
            Verification::Mismatch => Err(GrantError::InvalidClient),
            Verification::Match => Ok(client),
            Verification::MatchedOutdated { replacement } => {
                let outcome = store
                    .replace_client_secret_hash(
                        &client.client_id,
                        &client.secret_hash,
                        &replacement,
                    )
                    .await;
                log_upgrade(outcome, "client secret", Some(client.client_id.as_str()));
                Ok(client)
            }
        }
    }

    /// Authenticates `client` by its assertion: signed by one of its keys, naming it and
    /// this server, short-lived, and used for the first time (recorded now).
    async fn authenticate_by_assertion<S: GrantStore>(
        &self,
        store: &S,
        client: Client,
        assertion: &ClientAssertion,
    ) -> Result<Client, GrantError> {
        let now = self.now();
        let audiences: Vec<&str> = assertion.audiences.iter().map(String::as_str).collect();
        let context = AssertionContext {
            client_id: client.client_id.as_str(),
            audiences: &audiences,
            now,
        };
        let checked = match &client.jwks {
            Some(keys) => check_assertion(assertion.jwt.expose(), keys, &context),
            None => Err(AssertionRefusal::Jose(JoseError::BadKey)),
        };
        let recorded = match checked {
            Ok(checked) => {
                store
                    .record_once(&checked.replay_key, checked.remember_until, now)
                    .await?
            }
            Err(refusal) => {
                tracing::info!(client_id = %client.client_id, %refusal, "client assertion refused");
                return Err(GrantError::InvalidClient);
            }
        };
        if !recorded {
            let refusal = AssertionRefusal::Replayed;
            tracing::info!(client_id = %client.client_id, %refusal, "client assertion refused");
            return Err(GrantError::InvalidClient);
        }
        Ok(client)
    }

    /// How long `client`'s access tokens live: its own lifetime, never longer than the
    /// server's.
    pub fn access_lifetime(&self, client: &Client) -> u64 {
        client
            .access_tokens
            .lifetime_within(self.lifetimes.access_token)
    }

    /// The access token for `grant` whose unique value is `value`: `value` itself for an
    /// opaque client, an RFC 9068 JWT with `value` as its `jti` for a JWT client, signed with
    /// the key the key set names for the issue time. The same inputs give the same token, so
    /// a retried refresh is answered with the identical one. Both kinds are stored by their
    /// hash, so introspection, revocation and the authorizer find either by one lookup.
    pub async fn access_token(
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
            sub: grant
                .username
                .map_or(client_id.as_str(), Username::as_str)
                .to_owned(),
            aud: issuance.audience.clone(),
            exp: grant.expires_at,
            iat: grant.issued_at,
            jti: value.expose().to_owned(),
            client_id: client_id.to_string(),
            scope: grant.scope.to_string(),
            cnf: grant.jkt.map(|jkt| Confirmation {
                jkt: jkt.as_str().to_owned(),
            }),
        };
        Ok(encode_access_token(&key, &claims)?)
    }

    /// The pair `(access_token, refresh_token)` from their unique values: the access token
    /// in the client's format with `access_scope`, the refresh token carrying `grant_scope`,
    /// the scope of the original grant, and the family's secret, which derives its successor.
    pub async fn new_pair(
        &self,
        new: NewPair<'_>,
        (access_value, refresh_token): (Secret, Secret),
        issuance: Result<&Issuance, IssuanceRefused>,
    ) -> Result<(IssuedTokens, TokenPair), GrantError> {
        let lifetime = self.access_lifetime(new.client);
        let grant = AccessGrant {
            client: new.client,
            username: Some(new.username),
            scope: &new.access_scope,
            issued_at: new.issued_at,
            expires_at: new.issued_at + lifetime,
            jkt: new.binding.access.as_ref(),
        };
        let access_token = self.access_token(&grant, access_value, issuance).await?;
        let client_id = &new.client.client_id;
        let access = AccessTokenRecord {
            token_hash: TokenHash::of(&access_token),
            client_id: client_id.clone(),
            username: Some(new.username.clone()),
            scope: new.access_scope.clone(),
            family_id: new.family_id.clone(),
            issued_at: new.issued_at,
            expires_at: grant.expires_at,
            jkt: new.binding.access.clone(),
            audience: Issuance::recorded_audience(new.client.access_tokens.format, issuance),
        };
        let refresh = RefreshTokenRecord {
            token_hash: TokenHash::of(&refresh_token),
            client_id: client_id.clone(),
            username: new.username.clone(),
            scope: new.grant_scope,
            access_token_hash: access.token_hash.clone(),
            family_id: new.family_id,
            family_secret: Some(new.family_secret),
            issued_at: new.issued_at,
            expires_at: (self.lifetimes.refresh_token).map(|lifetime| new.issued_at + lifetime),
            jkt: new.binding.refresh.clone(),
            client_version: new.client_version,
        };
        let issued = IssuedTokens {
            access_token,
            refresh_token: Some(refresh_token),
            expires_in: lifetime,
            scope: new.access_scope,
            dpop_bound: new.binding.access.is_some(),
        };
        Ok((issued, TokenPair { access, refresh }))
    }
}

/// The end of a hash upgrade. A failure is logged, not answered: the secret was right, and the
/// outdated hash keeps working until a later use replaces it. Usernames are not logged.
pub fn log_upgrade(
    outcome: Result<HashReplacement, StoreError>,
    what: &str,
    client_id: Option<&str>,
) {
    match outcome {
        Ok(HashReplacement::Replaced) => {
            tracing::info!(
                client_id,
                "outdated {what} hash replaced with one under the current Argon2id settings"
            );
        }
        // A concurrent request replaced it first, or an operator set a new one meanwhile.
        Ok(HashReplacement::Stale) => {
            tracing::info!(
                client_id,
                "outdated {what} hash already changed; left as it is"
            );
        }
        Err(error) => {
            tracing::error!(client_id, error = %error, "could not replace an outdated {what} hash");
        }
    }
}

/// Family ids are random and unguessable, like tokens, though they are never presented.
pub fn new_family_id() -> Result<String, GrantError> {
    Ok(random_alphanumeric(22)?)
}

/// The scope to grant: `requested` if it lies within `allowed`, or all of `allowed` if none was
/// requested. An empty or all-space `scope` counts as none (RFC 6749 §3.1).
pub fn narrow(requested: Option<&str>, allowed: &Scope) -> Result<Scope, GrantError> {
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
