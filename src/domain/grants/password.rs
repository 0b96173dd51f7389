//! The resource owner password credentials grant (RFC 6749 §4.3), with the attempt counting of
//! [`crate::domain::login_throttle`]: a burst of guesses cannot check more passwords than the
//! lockout policy allows.

use super::{GrantContext, GrantParameters, MissingParameter, required};
use crate::domain::clock::UnixSeconds;
use crate::domain::credentials::Verification;
use crate::domain::error::GrantError;
use crate::domain::issuer::{
    DpopBinding, IssuedTokens, NewPair, log_upgrade, narrow, new_family_id,
};
use crate::domain::login_throttle::{Admission, AttemptKeys, Outcome, Settlement, Ticket};
use crate::domain::model::{Client, GrantType, User};
use crate::domain::names::{NameError, Username};
use crate::domain::scope::Scope;
use crate::domain::secret::Secret;
use crate::domain::store::{
    CredentialVersion, GrantStore, LoginAttemptStore, LoginIssue, StoreError,
};
use crate::domain::token::{FamilySecret, new_token_in};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRequest {
    /// As presented: a malformed one ([`Username::parse`]) can belong to no user.
    pub username: Result<Username, NameError>,
    pub password: Secret,
    /// The raw `scope` parameter, parsed at its turn in the grant's order of checks.
    pub scope: Option<String>,
}

impl PasswordRequest {
    pub const PARAMETERS: &[&str] = &["username", "password", "scope"];

    pub fn parse(params: &dyn GrantParameters) -> Result<Self, MissingParameter> {
        Ok(Self {
            username: Username::parse(required(
                params,
                "username",
                "Request is missing username parameter.",
            )?),
            password: required(params, "password", "Request is missing password parameter.")?
                .into(),
            scope: params.get("scope").map(str::to_owned),
        })
    }
}

/// Order of checks: client, grant permission, lockout, user, scope. The grant permission comes
/// before the password so that a client not allowed this grant learns nothing about users'
/// passwords.
///
/// The attempt is taken from the source's and the username's budgets while the client and user
/// are read, in the same round trip, so that a burst of guesses cannot check more passwords
/// than the policy allows. Every answer after the password costs one more write, whatever the
/// reason: a wrong password, an unknown user and a lock take the same time.
pub async fn issue<S: GrantStore + LoginAttemptStore>(
    context: &GrantContext<'_, S>,
    request: PasswordRequest,
) -> Result<IssuedTokens, GrantError> {
    let username = match &request.username {
        Ok(username) => username,
        Err(_) => return malformed_username(context).await,
    };
    let attempt = Attempt {
        context,
        username,
        keys: AttemptKeys::new(username, context.source),
        now: context.issuer.now(),
    };
    let Admitted {
        client,
        user,
        ticket,
        credential,
        binding,
    } = attempt.admit().await?;
    let verifier = context.issuer.verifier();
    let verification = match verifier
        .verify_password(user.as_ref(), &request.password)
        .await
    {
        Ok(verification) => verification,
        Err(error) => return Err(attempt.unchecked(ticket, error).await),
    };
    if !verification.matched() {
        return Err(attempt.record_failure(ticket).await);
    }
    if let (Verification::MatchedOutdated { replacement }, Some(user)) = (verification, &user) {
        upgrade_password_hash(context.store, user, &replacement).await;
    }
    let scope = match narrow(request.scope.as_deref(), &client.scope) {
        Ok(scope) => scope,
        // The password was right; the request fails on its scope, which is no guess.
        Err(error) => return Err(attempt.unchecked(ticket, error).await),
    };
    attempt
        .log_in(&client, scope, (ticket, binding), &credential)
        .await
}

/// The answer to a username no user can have: the client is checked as for any attempt, then
/// the answer is a wrong password's. No attempt is counted, as there is no account to guard.
async fn malformed_username<S: GrantStore>(
    context: &GrantContext<'_, S>,
) -> Result<IssuedTokens, GrantError> {
    let client = context
        .issuer
        .authenticate_client(context.store, context.client)
        .await?;
    if !client.allows(GrantType::Password) {
        return Err(GrantError::UnauthorizedClient);
    }
    Err(GrantError::InvalidCredentials)
}

/// One password attempt's bookkeeping: how it ends when it is not a success.
struct Attempt<'a, S> {
    context: &'a GrantContext<'a, S>,
    username: &'a Username,
    keys: AttemptKeys,
    now: UnixSeconds,
}

/// An attempt that may check its password, and what was read with it.
struct Admitted {
    client: Client,
    /// `None` for an unknown username, checked against a dummy hash all the same.
    user: Option<User>,
    ticket: Ticket,
    /// The user's credential version, which the pair is issued under.
    credential: CredentialVersion,
    /// What the login's tokens are bound to.
    binding: DpopBinding,
}

impl<S: GrantStore + LoginAttemptStore> Attempt<'_, S> {
    /// Takes the attempt from the source's and the username's budgets while the client and the
    /// user are read, in the same round trip; then authenticates the client and decides
    /// whether the password may be checked. An attempt that may not is ended here.
    async fn admit(&self) -> Result<Admitted, GrantError> {
        let GrantContext {
            issuer,
            store,
            lockout,
            client: credentials,
            ..
        } = *self.context;
        let attempt_request = lockout.attempt_request(self.keys.clone(), self.now);
        let (read, taken) = tokio::join!(
            store.password_grant_context(&credentials.client_id, self.username),
            store.take_login_attempt(&attempt_request),
        );
        // Store unavailable: nothing is checked. A failed attempt-taking may or may not have
        // counted (its hold then ends by itself); a failed read gives back the attempt it took.
        let admission = taken?;
        let ticket = match admission {
            Admission::Admitted(ticket) => Some(ticket),
            Admission::Locked { .. } | Admission::Busy => None,
        };
        let checked = async {
            let read = read?;
            let client = issuer.authenticate(store, read.client, credentials).await?;
            if !client.allows(GrantType::Password) {
                return Err(GrantError::UnauthorizedClient);
            }
            let binding = issuer.dpop_binding(&client, self.context.dpop)?;
            Ok((client, read.user, read.credential, binding))
        };
        let (client, user, credential, binding) = match checked.await {
            Ok(read) => read,
            Err(error) => {
                return Err(match ticket {
                    Some(ticket) => self.unchecked(ticket, error).await,
                    None => error,
                });
            }
        };
        match admission {
            Admission::Admitted(ticket) => Ok(Admitted {
                client,
                user,
                ticket,
                credential,
                binding,
            }),
            // Not a failure, and told apart from one: attempts in flight held every slot for
            // as long as the request could wait. The caller may retry.
            Admission::Busy => Err(GrantError::AttemptsInFlight),
            Admission::Locked { username_wide } => {
                // No password is checked while locked, so guessing burns no CPU; the answer
                // takes as long as a verification and the write after it would, as a wrong
                // password's does, so the lock is not visible in the timing either.
                issuer.verifier().imitate_verification().await?;
                if let Err(error) = store.note_refused_login_attempt(&self.keys, self.now).await {
                    tracing::error!(error = %error, "could not note a refused password attempt");
                }
                Err(GrantError::LockedOut { username_wide })
            }
        }
    }

    /// Issues a new login's pair, which starts a family, under the user's credential version
    /// as read, and settles the attempt beside it, in the same round trip.
    async fn log_in(
        &self,
        client: &Client,
        scope: Scope,
        (ticket, binding): (Ticket, DpopBinding),
        credential: &CredentialVersion,
    ) -> Result<IssuedTokens, GrantError> {
        let (issuer, now) = (self.context.issuer, self.now);
        // The refresh token carries the scope granted here, not everything the client may ask
        // for, so a later refresh cannot widen it (RFC 6749 §6).
        let family_id = new_family_id()?;
        let tokens = (new_token_in(&family_id)?, new_token_in(&family_id)?);
        let new_pair = NewPair {
            client,
            username: self.username,
            access_scope: scope.clone(),
            grant_scope: scope,
            family_id,
            family_secret: FamilySecret::generate()?,
            issued_at: now,
            binding,
            client_version: Some(client.credential_version),
        };
        let (issued, pair) = match issuer
            .new_pair(new_pair, tokens, self.context.issuance)
            .await
        {
            Ok(made) => made,
            Err(error) => return Err(self.unchecked(ticket, error).await),
        };
        let success = self.context.lockout.success(self.keys.clone(), ticket, now);
        let outcome = self
            .context
            .store
            .issue_login(&pair, Some(&success), credential)
            .await?;
        match outcome {
            LoginIssue::Issued => Ok(issued),
            // The password was changed (or the user's logins ended) while this one was checked.
            LoginIssue::CredentialChanged => Err(GrantError::InvalidCredentials),
        }
    }
}

impl<S: LoginAttemptStore> Attempt<'_, S> {
    /// Gives back an attempt whose password did not count as a guess, and returns the error to
    /// answer. A failure to write is logged, not answered: the answer is decided already, and
    /// at worst the attempt stays counted in flight until its hold ends.
    async fn unchecked(&self, ticket: Ticket, error: impl Into<GrantError>) -> GrantError {
        let (lockout, now) = (self.context.lockout, self.now);
        let given_back = lockout.unchecked(self.keys.clone(), ticket, now);
        if let Err(error) = self.settle(&given_back).await {
            tracing::error!(error = %error, "could not end a password attempt");
        }
        error.into()
    }

    async fn settle(&self, settlement: &Settlement) -> Result<u32, StoreError> {
        self.context.store.settle_login_attempt(settlement).await
    }

    /// Records a wrong password, for a username known or not (counting only known users would
    /// reveal which exist), and returns the error to answer. A failure to record is logged,
    /// not answered: the credentials were wrong either way, and the attempt stays counted in
    /// flight until its hold ends.
    async fn record_failure(&self, ticket: Ticket) -> GrantError {
        let (lockout, now) = (self.context.lockout, self.now);
        let failure = lockout.failure(self.keys.clone(), ticket, now);
        match self.settle(&failure).await {
            Err(error) => tracing::error!(error = %error, "could not record a failed login"),
            Ok(failures) if failures == lockout.username_ceiling => {
                tracing::warn!(
                    failures,
                    "password grant: consecutive failures for a username, from many addresses, \
                     reached the ceiling; past it, one attempt every {} s except from its known \
                     addresses",
                    lockout.username_lock_seconds
                );
                return GrantError::CeilingReached;
            }
            Ok(_) => {
                if let Outcome::Failed { locked_until, .. } = failure.outcome
                    && locked_until > now
                {
                    tracing::info!(
                        attempt = ticket.number,
                        locked_for_seconds = locked_until - now,
                        "password grant locked for a username from one address after repeated \
                         failures"
                    );
                }
            }
        }
        GrantError::InvalidCredentials
    }
}

/// Stores the replacement of a user's outdated hash (imported from Django, or made with older
/// Argon2 settings), which just verified.
async fn upgrade_password_hash<S: GrantStore>(store: &S, user: &User, replacement: &str) {
    let outcome = store
        .replace_user_password_hash(&user.username, &user.password_hash, replacement)
        .await;
    log_upgrade(outcome, "password", None);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        ALICE, ALICE_PASSWORD, APP, Grants, OTHER_APP, address, credentials, password_request,
        scope,
    };
    use crate::domain::error::GrantError;
    use crate::domain::login_throttle::LockoutPolicy;
    use crate::domain::model::GrantType;
    use crate::domain::store::prelude::*;
    use crate::domain::token::TokenKey;

    fn is_locked_out(result: &Result<impl std::fmt::Debug, GrantError>, wide: bool) -> bool {
        matches!(result, Err(GrantError::LockedOut { username_wide }) if *username_wide == wide)
    }

    #[tokio::test]
    async fn the_right_password_gets_a_pair_for_the_clients_scope() {
        let grants = Grants::new().await;
        let issued = grants.alice_logs_in().await;
        assert!(issued.refresh_token.is_some());
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(issued.scope, scope("read write"));
        let narrowed = grants
            .run(
                APP,
                password_request(ALICE, ALICE_PASSWORD, Some("write")),
                address(1),
            )
            .await;
        assert_eq!(
            narrowed.map(|issued| issued.scope).ok(),
            Some(scope("write"))
        );
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_user_are_told_apart_by_nothing() {
        let grants = Grants::new().await;
        let wrong = grants.password_from(APP, "guess", address(1)).await;
        let unknown = grants
            .run(
                APP,
                password_request("mallory", ALICE_PASSWORD, None),
                address(1),
            )
            .await;
        assert!(
            matches!(wrong, Err(GrantError::InvalidCredentials)),
            "{wrong:?}"
        );
        assert!(
            matches!(unknown, Err(GrantError::InvalidCredentials)),
            "{unknown:?}"
        );
    }

    #[tokio::test]
    async fn a_username_no_user_can_have_is_a_wrong_password_after_the_client_check() {
        let grants = Grants::new().await;
        for malformed in [" alice", "a\u{7}b", &"u".repeat(151)] {
            let refused = grants
                .run(
                    APP,
                    password_request(malformed, ALICE_PASSWORD, None),
                    address(1),
                )
                .await;
            assert!(
                matches!(refused, Err(GrantError::InvalidCredentials)),
                "{refused:?}"
            );
            let wrong_client = grants
                .run_as(
                    Some(credentials(APP, "not-the-secret")),
                    password_request(malformed, ALICE_PASSWORD, None),
                    address(1),
                )
                .await;
            assert!(
                matches!(wrong_client, Err(GrantError::InvalidClient)),
                "{wrong_client:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_client_is_checked_before_the_password_and_costs_no_attempt() {
        let grants = Grants::new().await;
        grants
            .add_client("machines", "read", &[GrantType::ClientCredentials])
            .await;
        for _ in 0..10 {
            let refused = grants.password_from("machines", "guess", address(1)).await;
            assert!(
                matches!(refused, Err(GrantError::UnauthorizedClient)),
                "{refused:?}"
            );
            let wrong_secret = grants
                .run_as(
                    Some(credentials(APP, "not-the-secret")),
                    password_request(ALICE, "guess", None),
                    address(1),
                )
                .await;
            assert!(
                matches!(wrong_secret, Err(GrantError::InvalidClient)),
                "{wrong_secret:?}"
            );
        }
        let anonymous = grants
            .run_as(
                None,
                password_request(ALICE, ALICE_PASSWORD, None),
                address(1),
            )
            .await;
        assert!(
            matches!(anonymous, Err(GrantError::InvalidClient)),
            "{anonymous:?}"
        );
        // None of those counted as a guess from that address.
        grants.alice_logs_in().await;
    }

    #[tokio::test]
    async fn a_scope_wider_than_the_clients_is_refused_after_the_password() {
        let grants = Grants::new().await;
        let wider = grants
            .run(
                OTHER_APP,
                password_request(ALICE, ALICE_PASSWORD, Some("write")),
                address(1),
            )
            .await;
        assert!(matches!(wider, Err(GrantError::InvalidScope)), "{wider:?}");
    }

    #[tokio::test]
    async fn repeated_failures_lock_the_address_even_for_the_right_password_until_the_lock_ends() {
        let grants = Grants::new().await;
        let free = LockoutPolicy::default().free_failures;
        // The free failures, then one more, which sets the first lock (1 s).
        for _ in 0..=free {
            let wrong = grants.password_from(APP, "guess", address(1)).await;
            assert!(
                matches!(wrong, Err(GrantError::InvalidCredentials)),
                "{wrong:?}"
            );
        }
        let locked = grants.password_from(APP, ALICE_PASSWORD, address(1)).await;
        assert!(is_locked_out(&locked, false), "{locked:?}");
        // Another address is not held back by this one's failures.
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(2))
                .await
                .is_ok()
        );
        grants.advance(2);
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(1))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_success_clears_the_addresss_failures() {
        let grants = Grants::new().await;
        let free = LockoutPolicy::default().free_failures;
        for _ in 0..2 {
            for _ in 0..free {
                let wrong = grants.password_from(APP, "guess", address(1)).await;
                assert!(
                    matches!(wrong, Err(GrantError::InvalidCredentials)),
                    "{wrong:?}"
                );
            }
            grants.alice_logs_in().await;
        }
    }

    #[tokio::test]
    async fn failures_from_many_addresses_lock_the_username_except_for_known_addresses() {
        let lockout = LockoutPolicy {
            username_ceiling: 3,
            ..LockoutPolicy::default()
        };
        let grants = Grants::with_lockout(lockout).await;
        // Address 1 logged in before: it is known.
        grants.alice_logs_in().await;
        for n in 10..12 {
            let wrong = grants.password_from(APP, "guess", address(n)).await;
            assert!(
                matches!(wrong, Err(GrantError::InvalidCredentials)),
                "{wrong:?}"
            );
        }
        // The failure that reaches the ceiling is answered as any wrong password.
        let third = grants.password_from(APP, "guess", address(12)).await;
        assert!(
            matches!(third, Err(GrantError::CeilingReached)),
            "{third:?}"
        );
        let stranger = grants.password_from(APP, ALICE_PASSWORD, address(20)).await;
        assert!(is_locked_out(&stranger, true), "{stranger:?}");
        // Past the lock, one attempt: the right password gets in, and ends the run.
        grants.advance(lockout.username_lock_seconds);
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(20))
                .await
                .is_ok()
        );
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(21))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_known_address_passes_a_username_lock() {
        let lockout = LockoutPolicy {
            username_ceiling: 3,
            ..LockoutPolicy::default()
        };
        let grants = Grants::with_lockout(lockout).await;
        grants.alice_logs_in().await;
        for n in 10..13 {
            let _ = grants.password_from(APP, "guess", address(n)).await;
        }
        let stranger = grants.password_from(APP, ALICE_PASSWORD, address(20)).await;
        assert!(is_locked_out(&stranger, true), "{stranger:?}");
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(1))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_pair_is_stored_for_the_user_and_the_client() {
        let grants = Grants::new().await;
        let issued = grants.alice_logs_in().await;
        let access = grants
            .store
            .access_token(&TokenKey::of(&issued.access_token), grants.now())
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|| panic!("the access token is stored"));
        assert_eq!(access.client_id, APP);
        assert_eq!(access.username.as_deref(), Some(ALICE));
    }
}
