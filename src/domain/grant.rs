//! The grants: password (RFC 6749 §4.3), refresh token (§6) and client credentials (§4.4).

use std::sync::Arc;

use super::clock::{Clock, UnixSeconds};
use super::credentials::{CredentialVerifier, Verification};
use super::error::GrantError;
use super::login_throttle::{
    Admission, AttemptKeys, KNOWN_SOURCE_SECONDS, LockoutPolicy, SourceAddress, TakenAttempt,
    UncheckedAttempt,
};
use super::minting::{AccessGrant, Issuance, IssuanceRefused};
use super::model::{AccessTokenRecord, Client, GrantType, RefreshTokenRecord, TokenPair, User};
use super::scope::Scope;
use super::secret::Secret;
use super::signing::KeyRing;
use super::store::{HashReplacement, Store, StoreError};
use super::token::{FamilySecret, TokenHash, new_token, random_alphanumeric};

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
    /// concurrent duplicate). Later it is a replay. Capped at the access token's lifetime.
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
    /// Where the request came from; password attempts are counted per username and source.
    pub source: SourceAddress,
    /// Who issues the tokens and for whom, for JWT access tokens, or why that could not be
    /// told, which only a JWT client's request fails for.
    pub issuance: Result<Issuance, IssuanceRefused>,
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
    ClientCredentials {
        scope: Option<String>,
    },
}

impl GrantRequest {
    pub fn grant_type(&self) -> GrantType {
        match self {
            GrantRequest::Password { .. } => GrantType::Password,
            GrantRequest::RefreshToken { .. } => GrantType::RefreshToken,
            GrantRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

/// A successful grant: what goes into the RFC 6749 §5.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub access_token: Secret,
    /// `None` for the client credentials grant, which issues none (RFC 6749 §4.4.3).
    pub refresh_token: Option<Secret>,
    pub expires_in: u64,
    pub scope: Scope,
}

/// A password grant's resource owner credentials and where they came from.
struct PasswordAttempt<'a> {
    username: &'a str,
    password: &'a Secret,
    source: SourceAddress,
}

/// Runs grants against a [`Store`].
pub struct TokenService<S> {
    pub(super) store: S,
    verifier: CredentialVerifier,
    pub(super) lifetimes: Lifetimes,
    lockout: LockoutPolicy,
    pub(super) clock: Arc<dyn Clock>,
    /// Signs JWT access tokens; `None`: JWT clients get a server error.
    pub(super) signing: Option<KeyRing>,
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
            lockout: LockoutPolicy::default(),
            clock,
            signing: None,
        }
    }

    /// Signs JWT access tokens with the keys of `key_ring`.
    pub fn with_signing_keys(mut self, key_ring: KeyRing) -> Self {
        self.signing = Some(key_ring);
        self
    }

    /// The key ring JWT access tokens are signed with, if any.
    pub fn signing_keys(&self) -> Option<&KeyRing> {
        self.signing.as_ref()
    }

    pub fn with_lockout(mut self, lockout: LockoutPolicy) -> Self {
        self.lockout = lockout;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn verifier(&self) -> &CredentialVerifier {
        &self.verifier
    }

    pub async fn grant(&self, request: TokenRequest) -> Result<IssuedTokens, GrantError> {
        let credentials = request.client.ok_or(GrantError::InvalidClient)?;
        let issuance = request.issuance.as_ref().map_err(|refused| *refused);
        match request.grant {
            GrantRequest::Password {
                username,
                password,
                scope,
            } => {
                let attempt = PasswordAttempt {
                    username: &username,
                    password: &password,
                    source: request.source,
                };
                self.password_grant(&credentials, attempt, scope.as_deref(), issuance)
                    .await
            }
            GrantRequest::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh_grant(&credentials, &refresh_token, scope.as_deref(), issuance)
                    .await
            }
            GrantRequest::ClientCredentials { scope } => {
                self.client_credentials_grant(&credentials, scope.as_deref(), issuance)
                    .await
            }
        }
    }

    /// RFC 6749 §4.4: the client acts on its own behalf. The access token has no user and no
    /// refresh token comes with it: the client can always authenticate again.
    async fn client_credentials_grant(
        &self,
        credentials: &ClientCredentials,
        requested_scope: Option<&str>,
        issuance: Result<&Issuance, IssuanceRefused>,
    ) -> Result<IssuedTokens, GrantError> {
        let now = self.clock.now();
        let client = self.authenticate_client(credentials).await?;
        if !client.allows(GrantType::ClientCredentials) {
            return Err(GrantError::UnauthorizedClient);
        }
        let scope = narrow(requested_scope, &client.scope)?;
        let lifetime = self.access_lifetime(&client);
        let grant = AccessGrant {
            client: &client,
            username: None,
            scope: &scope,
            issued_at: now,
            expires_at: now + lifetime,
        };
        let access_token = self.access_token(&grant, new_token()?, issuance).await?;
        let access = AccessTokenRecord {
            token_hash: TokenHash::of(&access_token),
            client_id: client.client_id.clone(),
            username: None,
            scope: scope.clone(),
            family_id: new_family_id()?,
            issued_at: now,
            expires_at: grant.expires_at,
        };
        self.store.issue_access_token(&access).await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token: None,
            expires_in: lifetime,
            scope,
        })
    }

    /// RFC 6749 §4.3. Order of checks: client, grant permission, lockout, user, scope. The
    /// grant permission comes before the password so that a client not allowed this grant
    /// learns nothing about users' passwords.
    ///
    /// The attempt is taken from the source's budget while the client and user are read, in
    /// the same round trip, so that a burst of guesses cannot check more passwords than the
    /// policy allows. Every answer that is not a token costs one more write, whatever the
    /// reason: a wrong password, an unknown user and a lock take the same time.
    async fn password_grant(
        &self,
        credentials: &ClientCredentials,
        attempt: PasswordAttempt<'_>,
        requested_scope: Option<&str>,
        issuance: Result<&Issuance, IssuanceRefused>,
    ) -> Result<IssuedTokens, GrantError> {
        let now = self.clock.now();
        let keys = AttemptKeys::new(attempt.username, attempt.source);
        let attempt_request = self.lockout.attempt_request(keys.clone(), now);
        let (context, admission) = tokio::join!(
            self.store
                .password_grant_context(&credentials.client_id, attempt.username, &keys, now),
            self.store.take_login_attempt(&attempt_request),
        );
        // Store unavailable: nothing is checked. A failed attempt-taking may or may not have
        // counted; a failed read gives back the attempt it took.
        let TakenAttempt {
            admission,
            known_source,
        } = admission?;
        let context = match context {
            Ok(context) => context,
            Err(error) => return Err(self.unchecked(&keys, admission, now, error).await),
        };
        let client = self
            .authenticate(context.client, credentials)
            .await
            .and_then(|client| match client.allows(GrantType::Password) {
                true => Ok(client),
                false => Err(GrantError::UnauthorizedClient),
            });
        let client = match client {
            Ok(client) => client,
            Err(error) => return Err(self.unchecked(&keys, admission, now, error).await),
        };
        let number = match admission {
            Admission::Admitted { number }
                if known_source
                    || !self.lockout.username_locked(context.username_failures, now) =>
            {
                number
            }
            Admission::Admitted { .. } | Admission::Refused => {
                // No password is checked while locked, so guessing burns no CPU; the answer
                // takes as long as a verification and the write after it would, as a wrong
                // password's does, so the lock is not visible in the timing either.
                let username_wide = matches!(admission, Admission::Admitted { .. });
                self.verifier.imitate_verification().await?;
                self.end_unchecked(&keys, admission, now).await;
                return Err(GrantError::LockedOut { username_wide });
            }
        };
        let verification = self
            .verifier
            .verify_password(context.user.as_ref(), attempt.password)
            .await?;
        if !verification.matched() {
            self.record_failure(keys, number, now).await;
            return Err(GrantError::InvalidCredentials);
        }
        if let (Verification::MatchedOutdated { replacement }, Some(user)) =
            (verification, &context.user)
        {
            self.upgrade_password_hash(user, &replacement).await;
        }
        let scope = match narrow(requested_scope, &client.scope) {
            Ok(scope) => scope,
            // The password was right; the request fails on its scope, which is no guess.
            Err(error) => return Err(self.unchecked(&keys, admission, now, error).await),
        };

        let family_id = new_family_id()?;
        // The refresh token carries the scope granted here, not everything the client may ask
        // for, so a later refresh cannot widen it (RFC 6749 §6).
        let tokens = (new_token()?, new_token()?);
        let new_pair = NewPair {
            client: &client,
            username: attempt.username,
            access_scope: scope.clone(),
            grant_scope: scope,
            family_id,
            family_secret: FamilySecret::generate()?,
            issued_at: now,
        };
        let (issued, pair) = self.new_pair(new_pair, tokens, issuance).await?;
        let known_until = now.saturating_add(KNOWN_SOURCE_SECONDS);
        self.store
            .issue_token_pair(&pair, Some((&keys, known_until)))
            .await?;
        Ok(issued)
    }

    /// Ends an attempt that fails with `error` before its password counts as a guess, and
    /// returns the error to answer.
    async fn unchecked(
        &self,
        keys: &AttemptKeys,
        admission: Admission,
        now: UnixSeconds,
        error: impl Into<GrantError>,
    ) -> GrantError {
        self.end_unchecked(keys, admission, now).await;
        error.into()
    }

    /// Gives back an attempt whose password was not checked. A failure to write is logged, not
    /// answered: the answer is decided already, and at worst the source waits for its hold.
    async fn end_unchecked(&self, keys: &AttemptKeys, admission: Admission, now: UnixSeconds) {
        let ended = match admission {
            Admission::Refused => UncheckedAttempt::Refused,
            Admission::Admitted { number } => UncheckedAttempt::Admitted {
                held: self.lockout.holds_source(number),
            },
        };
        if let Err(error) = self
            .store
            .end_unchecked_login_attempt(keys, ended, now)
            .await
        {
            tracing::error!(error = %error, "could not end a password attempt");
        }
    }

    /// Records that the `number`th attempt from a source had a wrong password, for a username
    /// known or not (counting only known users would reveal which exist). A failure to record
    /// is logged, not answered: the credentials were wrong either way, and the source stays
    /// held until the hold ends.
    async fn record_failure(&self, keys: AttemptKeys, number: u32, now: UnixSeconds) {
        let failure = self.lockout.failure(keys, number, now);
        let recorded = self
            .store
            .record_login_failure(
                &failure,
                self.lockout.username_ceiling,
                self.lockout.username_lock_ends(now),
            )
            .await;
        match recorded {
            Err(error) => tracing::error!(error = %error, "could not record a failed login"),
            Ok(username) if username.count == self.lockout.username_ceiling => {
                tracing::warn!(
                    failures = username.count,
                    locked_for_seconds = username.expires_at.saturating_sub(now),
                    "password grant locked for a username everywhere: failures from many \
                     addresses reached the ceiling"
                );
            }
            Ok(_) if failure.locked_until > now => tracing::info!(
                attempt = number,
                locked_for_seconds = failure.locked_until - now,
                "password grant locked for a username from one address after repeated failures"
            ),
            Ok(_) => {}
        }
    }

    /// Reads the client and authenticates it, for requests that need nothing else read with
    /// it.
    pub(super) async fn authenticate_client(
        &self,
        credentials: &ClientCredentials,
    ) -> Result<Client, GrantError> {
        let client = self.store.client(&credentials.client_id).await?;
        self.authenticate(client, credentials).await
    }

    pub(super) async fn authenticate(
        &self,
        client: Option<Client>,
        credentials: &ClientCredentials,
    ) -> Result<Client, GrantError> {
        // Client ids are not secret, so an unknown client may answer faster than a wrong secret.
        let client = client.ok_or(GrantError::InvalidClient)?;
        match self
            .verifier
            .verify_client_secret(&client, &credentials.secret_candidates)
            .await?
        {
            Verification::Mismatch => Err(GrantError::InvalidClient),
            Verification::Match => Ok(client),
            Verification::MatchedOutdated { replacement } => {
                let outcome = self
                    .store
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

    /// Stores the replacement of a user's outdated hash (imported from Django, or made with
    /// older Argon2 settings), which just verified.
    async fn upgrade_password_hash(&self, user: &User, replacement: &str) {
        let outcome = self
            .store
            .replace_user_password_hash(&user.username, &user.password_hash, replacement)
            .await;
        log_upgrade(outcome, "password", None);
    }

    /// The pair `(access_token, refresh_token)` from their unique values: the access token
    /// in the client's format with `access_scope`, the refresh token carrying `grant_scope`,
    /// the scope of the original grant, and the family's secret, which derives its successor.
    pub(super) async fn new_pair(
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
        };
        let access_token = self.access_token(&grant, access_value, issuance).await?;
        let client_id = &new.client.client_id;
        let access = AccessTokenRecord {
            token_hash: TokenHash::of(&access_token),
            client_id: client_id.clone(),
            username: Some(new.username.to_owned()),
            scope: new.access_scope.clone(),
            family_id: new.family_id.clone(),
            issued_at: new.issued_at,
            expires_at: grant.expires_at,
        };
        let refresh = RefreshTokenRecord {
            token_hash: TokenHash::of(&refresh_token),
            client_id: client_id.clone(),
            username: new.username.to_owned(),
            scope: new.grant_scope,
            access_token_hash: access.token_hash.clone(),
            family_id: new.family_id,
            family_secret: Some(new.family_secret),
            issued_at: new.issued_at,
            expires_at: (self.lifetimes.refresh_token).map(|lifetime| new.issued_at + lifetime),
        };
        let issued = IssuedTokens {
            access_token,
            refresh_token: Some(refresh_token),
            expires_in: lifetime,
            scope: new.access_scope,
        };
        Ok((issued, TokenPair { access, refresh }))
    }
}

/// What a new pair is issued for: everything but the tokens' values.
pub(super) struct NewPair<'a> {
    pub client: &'a Client,
    pub username: &'a str,
    pub access_scope: Scope,
    pub grant_scope: Scope,
    pub family_id: String,
    pub family_secret: FamilySecret,
    pub issued_at: UnixSeconds,
}

/// The end of a hash upgrade. A failure is logged, not answered: the secret was right, and the
/// outdated hash keeps working until a later use replaces it. Usernames are not logged.
fn log_upgrade(outcome: Result<HashReplacement, StoreError>, what: &str, client_id: Option<&str>) {
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
fn new_family_id() -> Result<String, GrantError> {
    Ok(random_alphanumeric(22)?)
}

/// The scope to grant: `requested` if it lies within `allowed`, or all of `allowed` if none was
/// requested. An empty or all-space `scope` counts as none (RFC 6749 §3.1).
pub(super) fn narrow(requested: Option<&str>, allowed: &Scope) -> Result<Scope, GrantError> {
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
